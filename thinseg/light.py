"""Light-type classification: ``uv`` (fluorescence) or ``plain`` light.

Rule: UV fluorescence images are taken through a barrier filter that blocks the
blue/UV excitation, so what reaches the camera is yellow / green / orange emission
(whether the field is dark or, as in the Stranger Sections images, a bright
yellow-green). Plain (transmitted or reflected white) light keeps a roughly even
share of blue, including in brown, grey and blue-epoxy sections.

So: take the pixels that are not near-black (max channel > ``min_value``), and
compute the median *blue fraction* ``B / (R + G + B)``. The image is ``uv`` when
that median is below ``threshold`` (0.15). On the 24 real images in
``shared/data/images`` UV images lie at 0.04 to 0.07, plain-light ones at 0.23 to
0.37, so the threshold sits in a wide gap.
"""
from __future__ import annotations

import numpy as np

UV = "uv"
PLAIN = "plain"
THRESHOLD = 0.15


def blue_fraction(rgb: np.ndarray, min_value: float = 0.08, max_pixels: int = 200_000) -> float:
    """Median B / (R + G + B) over pixels brighter than ``min_value``.

    Args:
        rgb: (H, W, 3) float32 in [0, 1].
    Returns:
        a float in [0, 1]; 1/3 for a neutral grey image.
    """
    flat = rgb.reshape(-1, 3)
    if flat.shape[0] > max_pixels:  # deterministic subsample, evenly spaced
        flat = flat[:: flat.shape[0] // max_pixels + 1]
    bright = flat[flat.max(axis=1) > min_value]
    if bright.shape[0] < 16:  # an almost black image: no evidence of emission
        return 1.0 / 3.0
    total = bright.sum(axis=1)
    return float(np.median(bright[:, 2] / total))


def classify_light(rgb: np.ndarray, threshold: float = THRESHOLD, min_value: float = 0.08,
                   max_pixels: int = 200_000) -> str:
    """``"uv"`` or ``"plain"`` for an (H, W, 3) float32 RGB image in [0, 1] (the settings:
    the ``light`` node of base.yaml)."""
    return UV if blue_fraction(rgb, min_value, max_pixels) < threshold else PLAIN


def per_light(value, light: str) -> float:
    """A setting given once (a number) or per light type (``{plain: x, uv: y}``), as float."""
    return float(value[light]) if hasattr(value, "keys") else float(value)
