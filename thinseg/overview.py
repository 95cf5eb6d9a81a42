"""Pictures for people: blob outlines over the image, and a grid of them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries


def overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.35, seed: int = 0) -> np.ndarray:
    """Blobs tinted with one random colour each and outlined in white.

    Args:
        rgb: (H, W, 3) float32 in [0, 1] (or uint8). mask: (H, W) int instance ids.
    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    img = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    n = int(mask.max())
    if n == 0:
        return img
    colours = np.random.default_rng(seed).uniform(0.2, 1.0, (n + 1, 3)).astype(np.float32)
    sel = mask > 0
    out = img.copy()
    out[sel] = (1 - alpha) * img[sel] + alpha * colours[mask[sel]]
    out[find_boundaries(mask, mode="inner")] = (1.0, 1.0, 1.0)
    return out


def save_overview(rows: list[tuple[str, np.ndarray, np.ndarray]], path, max_side: int = 480, cols: int = 4) -> Path:
    """Save a grid of overlays: ``rows`` holds (title, rgb (H, W, 3), mask (H, W)).

    Images are downscaled to ``max_side`` for the picture. Returns the PNG path.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend (e.g. a notebook's) is left alone

    from .features import working_size
    from .instances import resize_nearest

    n = len(rows)
    cols = max(1, min(cols, n))
    nrows = max(1, -(-n // cols))
    fig = Figure(figsize=(4 * cols, 3.3 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, rgb, mask) in zip(axes.flat, rows):
        h, w = working_size(*mask.shape, max_side)
        small_mask = resize_nearest(mask, (h, w))
        small_rgb = resize_nearest(rgb, (h, w))
        ax.imshow(overlay(small_rgb, small_mask))
        ax.set_title(f"{title} ({int(mask.max())} blobs)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path

