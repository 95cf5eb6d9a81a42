"""The STEGO segmentation head: a linear 1x1 projection plus a small non-linear branch."""
from __future__ import annotations

import torch
from torch import nn


class SegmentationHead(nn.Module):
    """(B, D, h, w) features -> (B, K, h, w) codes = linear(f) + mlp(f), K = ``code_dim``."""

    def __init__(self, in_dim: int, code_dim: int = 70, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout2d(dropout)
        self.linear = nn.Conv2d(in_dim, code_dim, 1)
        self.nonlinear = nn.Sequential(nn.Conv2d(in_dim, in_dim, 1), nn.ReLU(inplace=True), nn.Conv2d(in_dim, code_dim, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        f = self.dropout(feats)
        return self.linear(f) + self.nonlinear(f)
