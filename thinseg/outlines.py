"""Blob outlines redrawn at the decoded image's resolution (shared by every method).

The blob decision runs at the working resolution (``features.max_side``, 512 px on the
long side): a 1360 x 1024 photograph is decided on 2.7 x 2.7 px cells, and nearest
upsampling draws every outline as a staircase of such cells, off by up to a cell. This
step keeps the decision (which blobs, which id) and moves only the outline:

1. A band around every outline: pixels within one working cell of it, inside or out
   (the instances grown by one cell minus the instances shrunk by one cell), upsampled
   to the decoded size. Inside the band nothing is decided yet; outside it the
   upsampled ids stand.
2. In the band the blob contrast (``thinseg.instances.blob_contrast``) is taken at full
   detail: the working contrast, bilinearly interpolated, plus the full-resolution
   detail of the score it was computed from, ``(score(full) - score(working,
   interpolated)) / unit``: darkness ``100 - L`` for an opaque body (unit
   ``dark_contrast``), ``L + uv_chroma_weight x chroma`` for a fluorescent one (unit
   ``uv_contrast``). A shiny grey body is told by smoothed blueness, which has no finer
   detail: its outline keeps the interpolated contrast.
3. A band pixel belongs to the blob it touches (the grown id) when its contrast reaches
   ``refine.threshold`` of the light type, and is background otherwise; mount pixels
   never belong. A blob left with no pixel keeps its upsampled cells, so the ids stay
   1..N and keep their classes.
"""
from __future__ import annotations

import numpy as np
from skimage.color import rgb2lab
from skimage.segmentation import expand_labels

from .instances import FLUORESCENT, OPAQUE_DARK, label_median, blob_score, resize_nearest
from .light import PLAIN, UV, per_light
from .scene import MOUNT


def _shrink(ids: np.ndarray) -> np.ndarray:
    """(h, w) int32: ``ids`` without the pixels whose 4-neighbours are not all of the same id."""
    pad = np.pad(ids, 1, mode="edge")
    same = ((pad[:-2, 1:-1] == ids) & (pad[2:, 1:-1] == ids) & (pad[1:-1, :-2] == ids) & (pad[1:-1, 2:] == ids))
    return np.where(same, ids, 0).astype(np.int32)


def _score(lab: np.ndarray, blob_class: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Score and contrast unit per pixel for its blob's class. lab: (N, 3) float; blob_class:
    (N,) int. Returns (score (N,) float32, unit (N,) float32; unit inf = no detail)."""
    score = np.where(blob_class == FLUORESCENT, blob_score(lab, UV, cfg.uv_chroma_weight),
                     blob_score(lab, PLAIN, cfg.uv_chroma_weight))
    unit = np.select([blob_class == FLUORESCENT, blob_class == OPAQUE_DARK],
                     [float(cfg.uv_contrast), float(cfg.dark_contrast)], np.inf)
    return score.astype(np.float32), unit.astype(np.float32)


def _bilinear_at(a: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples of an (h, w) or (h, w, C) array at float pixel coordinates y, x (N,),
    clamped to the array: (N,) or (N, C) float32."""
    h, w = a.shape[:2]
    y, x = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
    y0, x0 = np.minimum(y.astype(np.int64), h - 2 if h > 1 else 0), np.minimum(x.astype(np.int64), w - 2 if w > 1 else 0)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    if a.ndim == 3:
        fy, fx = fy[:, None], fx[:, None]
    top = a[y0, x0] * (1 - fx) + a[y0, x1] * fx
    bottom = a[y1, x0] * (1 - fx) + a[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def refine_outlines(ids: np.ndarray, contrast: np.ndarray, lab: np.ndarray, blob_classes: np.ndarray,
                    rgb: np.ndarray, region: np.ndarray, light: str, cfg) -> np.ndarray:
    """Instances at the decoded resolution with outlines redrawn there (module docstring).

    Args:
        ids: (h, w) int32 instance ids 1..N at working resolution.
        contrast: (h, w) float32 blob contrast; lab: (h, w, 3) float32 working Lab.
        blob_classes: (N,) int class of each blob (``BLOB_CLASSES`` index).
        rgb: (H, W, 3) float32 RGB in [0, 1], the decoded image (H >= h, W >= w).
        region: (h, w) uint8 scene map. light: ``uv`` or ``plain``. cfg: the ``instances`` node.
    Returns:
        (H, W) int32 instance ids, the same 1..N.
    """
    h, w = ids.shape
    H, W = rgb.shape[:2]
    up = resize_nearest(ids, (H, W)).astype(np.int32)
    n = int(ids.max())
    if n == 0 or (H, W) == (h, w):
        return up
    grown = resize_nearest(np.where(region != MOUNT, expand_labels(ids, 1), 0), (H, W))
    inner = resize_nearest(_shrink(ids), (H, W))
    ys, xs = np.nonzero(grown != inner)
    wy, wx = (ys + 0.5) * (h / H) - 0.5, (xs + 0.5) * (w / W) - 0.5
    owner = grown[ys, xs]
    cls = np.asarray(blob_classes, np.int64)[np.maximum(owner, 1) - 1]
    c_up = _bilinear_at(contrast, wy, wx)
    work_lab = _bilinear_at(lab, wy, wx)
    full_lab = rgb2lab(np.clip(rgb[ys, xs, :3], 0, 1)[:, None, :])[:, 0, :]
    s_full, unit = _score(full_lab, cls, cfg)
    s_work, _ = _score(work_lab, cls, cfg)
    c_full = c_up + (s_full - s_work) / unit
    level = per_light(cfg.refine.threshold, light)
    if cfg.refine.relative:  # a share of the blob's own median contrast (half maximum = 0.5)
        level = level * label_median(contrast, ids, n)[owner]
    out = inner.copy()
    out[ys, xs] = np.where((owner > 0) & (c_full >= level), owner, 0)
    lost = np.bincount(out.ravel(), minlength=n + 1)[1:] == 0
    if lost.any():  # a blob thinner than the band keeps its upsampled cells
        keep = np.r_[False, lost][up]
        out[keep] = up[keep]
    return out
