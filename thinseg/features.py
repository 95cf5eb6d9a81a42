"""Per-pixel features at a working resolution, computed with torch/kornia.

Channels (``FEATURE_NAMES``), each multiplied by its weight from the config:

* ``L, a, b``: CIE Lab of the lightly smoothed image (``sigma_fine``), scaled by
  1/100 so that one unit is roughly one "large" colour difference;
* ``L_ctx, a_ctx, b_ctx``: Lab smoothed at ``sigma_context`` (neighbourhood colour);
* ``grad``: Sobel gradient magnitude of L (edges);
* ``texture``: local standard deviation of L over ``sigma_context`` (roughness).

The first three channels are always the plain Lab colour: the shared
post-processing uses them to describe clusters (see ``thinseg.instances``).
The same code runs on CPU and GPU.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import kornia

FEATURE_NAMES = ("L", "a", "b", "L_ctx", "a_ctx", "b_ctx", "grad", "texture")


MIN_WORKING_SIDE = 32  # px: very elongated images keep this much of their short side


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) at which an (height, width) image is processed: long side <= max_side,
    aspect kept, never upscaled; a very elongated image keeps a short side of at least
    ``MIN_WORKING_SIDE`` px (or its own, if smaller), so its long side may exceed max_side."""
    scale = min(1.0, max_side / max(height, width))
    scale = max(scale, min(1.0, MIN_WORKING_SIDE / min(height, width)))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def to_working_tensor(rgb: np.ndarray, max_side: int, device: torch.device | str = "cpu",
                      full_shape: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W, 3) float32 RGB in [0, 1] -> (1, 3, h, w) float32 tensor at working size
    (area-averaged downscale, which also removes aliasing). ``full_shape``: the stored
    image's (H, W) when ``rgb`` was decoded reduced (``load_image(min_size=...)``); the
    working size is always that of the stored image."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
    h, w = working_size(*(full_shape or rgb.shape[:2]), max_side)
    if (h, w) != tuple(rgb.shape[:2]):
        t = F.interpolate(t, size=(h, w), mode="area")
    return t.clamp_(0, 1)


def _blur(t: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return t
    k = 2 * int(round(3 * sigma)) + 1
    return kornia.filters.gaussian_blur2d(t, (k, k), (sigma, sigma), border_type="replicate")  # any size


def feature_maps(images: torch.Tensor, cfg) -> torch.Tensor:
    """Batched per-pixel features.

    Args:
        images: (B, 3, h, w) float32 RGB in [0, 1] (any device).
        cfg: the ``features`` config node (sigma_fine, sigma_context, weights).
    Returns:
        (B, C, h, w) float32 tensor on the same device, C = len(FEATURE_NAMES).
    """
    w = cfg.weights
    lab = kornia.color.rgb_to_lab(_blur(images, cfg.sigma_fine)) / 100.0
    lab_ctx = _blur(lab, cfg.sigma_context)
    L = lab[:, :1]
    grad = kornia.filters.sobel(L)
    mean = _blur(L, cfg.sigma_context)
    var = (_blur(L * L, cfg.sigma_context) - mean * mean).clamp_min(0)
    return torch.cat([lab * w.color, lab_ctx * w.context, grad * w.grad, var.sqrt() * w.texture], dim=1)


def pixel_features(image: torch.Tensor, cfg) -> torch.Tensor:
    """Per-pixel features of one working-size image.

    Args:
        image: (1, 3, h, w) float32 RGB in [0, 1] (any device).
        cfg: the ``features`` config node.
    Returns:
        (h, w, C) float32 tensor on the image's device, C = len(FEATURE_NAMES).
    """
    return feature_maps(image, cfg)[0].permute(1, 2, 0).contiguous()


def smoothed_rgb(image: torch.Tensor, cfg) -> np.ndarray:
    """(h, w, 3) float32 numpy RGB of a (1, 3, h, w) working image, smoothed at ``sigma_fine``
    as the Lab features are (``cfg``: the ``features`` node)."""
    return _blur(image, cfg.sigma_fine)[0].permute(1, 2, 0).cpu().numpy()


def lab_of(features: torch.Tensor | np.ndarray, cfg) -> np.ndarray:
    """Recover Lab (L in 0..100) from the first three feature channels: (..., 3) float32."""
    arr = features[..., :3]
    arr = arr.cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
    return arr * (100.0 / cfg.weights.color)
