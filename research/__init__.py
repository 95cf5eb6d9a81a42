"""Deep unsupervised segmentation methods (registered as ``method=dfc``, ...)."""
from .dfc import segmenter as _dfc  # noqa: F401  (registers method=dfc)
from .stego import segmenter as _stego  # noqa: F401  (registers method=stego)
