"""The STEGO correlation loss (Hamilton et al., ICLR 2022, eq. 3-4), written from the paper.

For two images with backbone features f1, f2 (B, D, S, S) and head codes c1, c2
(B, K, S, S) at S x S sampled positions:

* F = cosine correlation of f1 and f2 at every pair of positions, centred per
  image the way STEGO does (the mean over the partner's positions is removed, the
  global mean is restored);
* S = cosine correlation of c1 and c2, clamped at 0;
* loss = mean(-(F - b) * S): code correlations are pulled up where the features
  agree more than the shift b, pushed down where they agree less.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine correlation: (B, C, h, w) x (B, C, i, j) -> (B, h, w, i, j)."""
    return torch.einsum("nchw,ncij->nhwij", F.normalize(a, dim=1, eps=1e-10), F.normalize(b, dim=1, eps=1e-10))


def centred_feature_correlation(f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """STEGO's per-image centring of the feature correlation: (B, h, w, i, j), no gradient."""
    with torch.no_grad():
        fd = correlation(f1, f2)
        overall = fd.mean()
        fd = fd - fd.mean(dim=(3, 4), keepdim=True)
        return fd - fd.mean() + overall


def correlation_loss(f1, f2, c1, c2, shift: float) -> torch.Tensor:
    """Scalar loss -(F - shift) * clamp(S, 0) averaged over all position pairs.

    Args:
        f1, f2: (B, D, h, w) backbone features (no gradient needed).
        c1, c2: (B, K, h, w) codes (gradients flow through both).
        shift: b; larger values push more pairs apart.
    """
    fd = centred_feature_correlation(f1, f2)
    cd = correlation(c1, c2).clamp(min=0.0)
    return -(cd * (fd - shift)).mean()


def sample_positions(x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of (B, C, h, w) at coords (B, S, S, 2) in [-1, 1] -> (B, C, S, S)."""
    return F.grid_sample(x, coords, mode="bilinear", align_corners=False)


def random_coords(batch: int, samples: int, generator: torch.Generator, device) -> torch.Tensor:
    """(B, S, S, 2) uniform positions in [-1, 1] (x, y order for grid_sample)."""
    return (torch.rand(batch, samples, samples, 2, generator=generator) * 2 - 1).to(device)
