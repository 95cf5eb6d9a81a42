"""The DFC network: M blocks of 3x3 conv + ReLU + BatchNorm, then a 1x1 conv to
q channels + BatchNorm (the normalisation before the argmax)."""
from __future__ import annotations

import torch
from torch import nn


class DFCNet(nn.Module):
    """Fully convolutional feature extractor whose argmax is the pixel label.

    Args:
        in_channels: input channels (3 for RGB, 8 for the shared features).
        channels: p, the width of the 3x3 blocks (paper: 100).
        n_classes: q, the response channels (paper: 100); labels are 0..q-1.
        n_blocks: M, the number of 3x3 conv blocks (reference code: 2).
    """

    def __init__(self, in_channels: int, channels: int = 100, n_classes: int = 100, n_blocks: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for _ in range(n_blocks):
            layers += [nn.Conv2d(c_in, channels, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(channels)]
            c_in = channels
        layers += [nn.Conv2d(c_in, n_classes, 1), nn.BatchNorm2d(n_classes)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, h, w) float32 -> (B, q, h, w) float32 response."""
        return self.body(x)
