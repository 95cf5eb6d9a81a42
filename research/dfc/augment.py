"""Kornia augmentations for dataset-mode training, applied on the model's device.

Geometric (flips, 90-degree rotations) are replayable on the response map for the
equivariance term; photometric jitter is mild (brightness / contrast / a little
saturation, no hue shift) so that the colour that separates UV blobs survives.
Scale/crop changes happen when crops are sampled (``RandomResizedCrop``).
"""
from __future__ import annotations

import kornia.augmentation as K
from torch import nn


def geometric(cfg) -> K.AugmentationSequential:
    """Flips and 90-degree rotations; call ``aug(x)`` then ``aug(y, params=aug._params)``
    to apply the same transform to another (B, *, h, w) tensor."""
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=float(cfg.hflip)),
        K.RandomVerticalFlip(p=float(cfg.vflip)),
        K.RandomRotation90(times=(0, 3), p=float(cfg.rot90)),
    )


def photometric(cfg) -> nn.Module:
    """Mild colour jitter on (B, 3, h, w) RGB in [0, 1]."""
    return K.ColorJitter(brightness=float(cfg.brightness), contrast=float(cfg.contrast),
                         saturation=float(cfg.saturation), hue=0.0, p=1.0)


def resized_crop(size: int, cfg) -> nn.Module:
    """Random crop of ``scale`` of the area, resized to (size, size)."""
    return K.RandomResizedCrop((size, size), scale=tuple(cfg.scale), ratio=(0.9, 1.1))
