"""Annotations burnt into the photograph: the microscope software's scale bar.

The challenge photographs carry a scale bar near the bottom-left corner: a thin,
perfectly straight dark horizontal line (with end ticks) and, under its left end, a
light grey label box with dark text ("50 um"). On a dark or bluish rock the label box
looks like a shiny grey body, the line's ticks like small black bodies. They are not
rock. The rule, on the decoded pixels (``annotations`` config node):

1. **The line.** In the bottom ``search`` share of the rows, a pixel is line-dark when
   its grey level is ``line_dark`` below the mean of the pixels ``2`` rows above and
   below. In each row the line-dark pixels are joined over gaps up to ``gap`` of the
   width (the line crosses dark grains, where it is invisible); the line is the longest
   joined run, over all those rows, that is between ``min_len`` and ``max_len`` of the
   width, does not touch the picture's left or right edge (an edge of the frame is no
   scale bar: the examples carry a dark frame line along their bottom row, which hid
   their scale bar when only each row's longest run was judged) and is line-dark over
   at least ``min_fill`` of its length.
2. **The zone.** The line (``pad`` px around it, end ticks included) and the label box
   under its left end: ``box_width`` of the width from the line's start, from the line
   down to ``box_height`` of the height below it.

The zone is found once per image (``thinseg.pipeline.prepare``, kept on the working
image) and is no rock to any later step:

* the scene model sees its pixels in the colour of their nearest neighbours
  (``thinseg.imagemaps``): the bar's line and label are no texture of a mount they cross
  (held-out challenge photograph 0euljn: the epoxy below the bar, cut off from the
  mount, glowed as a blob);
* the blob decision neither seeds nor grows a blob on it (``zone_at``, the zone at the
  working size; ``annotated`` of ``clusters_to_instances`` / ``blob_map_to_instances``):
  its dark line is a clear contrast, and a blob seeded there grew over a faint grey
  patch the line crosses, which stayed a blob once the line's pixels were cut out
  (0ed8kf);
* no small body is sought on it (``thinseg.specks``): its line filled the per-image cap
  of small bodies before it was cut out, and real small bodies were lost (0nldci 35 ->
  41 blobs with it left out);
* at the end, blobs lose their pixels in the zone and are dropped when more than half of
  them lay there (``drop_annotated``).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .instances import drop_blobs


def scale_bar_zone(rgb: np.ndarray, cfg) -> np.ndarray:
    """(H, W) bool: the scale bar and its label (module docstring), all False when none.

    Args: rgb: (H, W, 3) float32 RGB in [0, 1]; cfg: the ``annotations`` node."""
    H, W = rgb.shape[:2]
    zone = np.zeros((H, W), bool)
    if not cfg.enabled or H < 40 or W < 40:
        return zone
    y0 = max(2, int(H * (1 - float(cfg.search))))
    g = rgb[y0 - 2:, :, :3].mean(-1)
    dark = ((g[:-4] + g[4:]) / 2 - g[2:-2]) > float(cfg.line_dark)  # rows y0 .. H-3
    gap = max(1, int(round(float(cfg.gap) * W)))
    # closing along the rows (max then min filter; outside the picture counts as not dark)
    joined = ndi.minimum_filter1d(ndi.maximum_filter1d(dark.astype(np.uint8), gap, axis=1, mode="constant"),
                                  gap, axis=1, mode="constant").astype(bool)
    best = None  # the longest run that can be the line (a frame along the border cannot)
    for r in range(joined.shape[0]):
        edges = np.flatnonzero(np.diff(np.r_[0, joined[r].astype(np.int8), 0]))
        for x0, x1 in zip(edges[::2].tolist(), edges[1::2].tolist()):
            if ((best is None or x1 - x0 > best[2] - best[1]) and cfg.min_len * W <= x1 - x0 <= cfg.max_len * W
                    and x0 > 1 and x1 < W - 1 and dark[r, x0:x1].mean() >= float(cfg.min_fill)):
                best = (r, x0, x1)
    if best is None:
        return zone
    r, x0, x1 = best
    y = y0 + r
    pad = int(cfg.pad)
    zone[max(0, y - pad):min(H, y + pad + 1), max(0, x0 - pad):min(W, x1 + pad)] = True
    zone[y:min(H, y + int(round(float(cfg.box_height) * H))), max(0, x0 - pad):min(W, x0 + int(round(float(cfg.box_width) * W)))] = True
    return zone


def drop_annotated(mask: np.ndarray, zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the zone's pixels from the blobs; drop a blob that had more than half of
    its pixels there. mask: (H, W) int32 ids 1..N; zone: (H, W) bool.
    Returns ((H, W) int32 consecutive ids 1..M, (M,) int64 the old id of each kept blob)."""
    n = int(mask.max())
    if n == 0 or not zone.any():
        return mask, np.arange(1, n + 1)
    area = np.bincount(mask.ravel(), minlength=n + 1)[1:]
    inside = np.bincount(mask[zone], minlength=n + 1)[1:]
    out, kept = drop_blobs(mask, (area == 0) | (inside * 2 > area))
    return np.where(zone, 0, out).astype(np.int32), kept


def zone_at(zone: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: ``zone`` ((H, W) bool) at a smaller working size, True in every cell
    that holds a zone pixel (any-pooling, so a 1 px line survives the reduction)."""
    H, W = zone.shape
    h, w = shape
    if not zone.any():
        return np.zeros((h, w), bool)
    rows = np.minimum((np.arange(H) * h) // H, h - 1)
    cols = np.minimum((np.arange(W) * w) // W, w - 1)
    ys, xs = np.nonzero(zone)
    out = np.zeros((h, w), bool)
    out[rows[ys], cols[xs]] = True
    return out
