"""Halos of glare are no shiny grey bodies (plain light; shared by every method).

A white, overexposed grain (glare) photographed slightly out of focus spreads a bluish
grey fringe around it (chromatic aberration and scatter in the optics): a crescent or
ring hugging the grain, bluer than the brownish rock and not lighter than the matrix,
which is what the shiny grey test of the blob decision looks for (``thinseg.instances``,
step 1). 1lfusq showed seven such crescents beside its white grains; the chip's glittering
rim did the same in 0nldci and 0oy8vd. A shiny grey body is told from a fringe by where
it lies: a blob of the shiny grey class is dropped when more than ``glare.max_share`` of
its pixels lie within its own equivalent radius of a glare pixel (lightness L at least
``glare.min_L`` on the decoded image). Real shiny grey bodies (image2's streaks, the
grains of 1lfusq's lower band) lie mostly away from glare; dark opaque bodies and
fluorescent ones are not tested (a dark grain inside overexposed white rock, 0oy8vd, is
all surrounded by glare and is a body).

The test runs on the decoded pixels in each candidate's bounding box grown by its
radius (a few boxes per picture: no full-size Lab or distance transform).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2lab

from .instances import SHINY_GREY


def glare_fringes(mask: np.ndarray, classes: np.ndarray, rgb: np.ndarray, cfg) -> np.ndarray:
    """(N,) bool: which blobs of ``mask`` are glare fringes (module docstring).

    Args:
        mask: (H, W) int32 ids 1..N at the decoded resolution.
        classes: (N,) int class of each blob (``BLOB_CLASSES`` index).
        rgb: (H, W, 3) float32 RGB in [0, 1], the decoded image.
        cfg: the ``glare`` node (``enabled``, ``min_L``, ``max_share``).
    """
    n = int(mask.max())
    fringe = np.zeros(n, bool)
    if n == 0 or not cfg.enabled:
        return fringe
    H, W = mask.shape
    boxes = ndi.find_objects(mask)
    for i in np.flatnonzero(np.asarray(classes)[:n] == SHINY_GREY) + 1:
        box = boxes[i - 1]
        if box is None:
            continue
        area = int((mask[box] == i).sum())
        reach = int(np.ceil(np.sqrt(area / np.pi)))
        r0, r1 = max(box[0].start - reach, 0), min(box[0].stop + reach, H)
        c0, c1 = max(box[1].start - reach, 0), min(box[1].stop + reach, W)
        L = rgb2lab(np.clip(rgb[r0:r1, c0:c1, :3], 0, 1))[..., 0]
        glare = L >= float(cfg.min_L)
        if not glare.any():
            continue
        near = ndi.distance_transform_edt(~glare) <= reach
        fringe[i - 1] = near[mask[r0:r1, c0:c1] == i].mean() > float(cfg.max_share)
    return fringe

