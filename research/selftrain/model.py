"""A light U-Net for ``method=selftrain``: per-pixel logits of the blob-map classes.

Input (``network_input``): the working image's RGB (3 channels, [0, 1]) and the shared
features (``thinseg.features``, C = 8 channels: Lab / 100 and context at their config
weights, already of order 1, so no further normalisation), stacked: 3 + C channels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thinseg.features import feature_maps


def network_input(images: torch.Tensor, feature_cfg, features: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3, h, w) RGB in [0, 1] -> (B, 3 + C, h, w): RGB and the shared features (computed
    here unless given as (B, C, h, w))."""
    return torch.cat([images, feature_maps(images, feature_cfg) if features is None else features], dim=1)


def _block(c_in: int, c_out: int, convs: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net with ``levels`` resolutions (2x2 max-pool down, bilinear up, skip concatenation).

    Full resolution is kept light for CPU speed: one 3x3 conv + BatchNorm + ReLU of
    ``base // 2`` channels on the way down and on the way up; each coarser level i
    (1/2, 1/4, ...) has two such convs of ``base * 2 ** (i - 1)`` channels. A 1x1 conv gives
    ``n_classes`` logits. Any input size (padded to a multiple of 2^(levels-1) inside
    ``forward``). levels=4, base=16: ~1.5 GMAC at 512 x 384."""

    def __init__(self, in_channels: int, n_classes: int = 4, base: int = 16, levels: int = 4):
        super().__init__()
        if levels < 2:
            raise ValueError("UNet needs at least two levels")
        widths = [max(4, base // 2)] + [base * 2 ** i for i in range(levels - 1)]
        convs = [1] + [2] * (levels - 1)
        self.down = nn.ModuleList([_block(in_channels, widths[0], 1)]
                                  + [_block(widths[i - 1], widths[i], convs[i]) for i in range(1, levels)])
        self.up = nn.ModuleList([_block(widths[i] + widths[i - 1], widths[i - 1], convs[i - 1])
                                 for i in range(levels - 1, 0, -1)])
        self.head = nn.Conv2d(widths[0], n_classes, 1)
        self.in_channels, self.n_classes, self.base, self.levels = in_channels, n_classes, base, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, h, w) float32 -> (B, n_classes, h, w) logits."""
        h, w = x.shape[-2:]
        m = 2 ** (self.levels - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)[..., :h, :w]
