"""Deep unsupervised segmentation methods: ``method=dfc`` (``dfc/``), ``method=stego`` (``stego/``).
Methods are found by ``experiments.config.discover_methods``."""
