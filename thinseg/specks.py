"""Small bodies found at the decoded image's resolution (shared by every method).

The blob decision runs at the working resolution, where a body a few pixels across
in a 1360 x 1024 photograph covers one or two working cells: area-averaged and
smoothed, its contrast falls below a seed's, and it is under the minimum area
anyway. Small orange fluorescent spots under UV and small black opaque grains in
plain light are lost that way. This step looks for them where they are sharp:

1. **Score at full detail, cheaply.** The blob score of the light type (UV: ``L +
   uv_chroma_weight x chroma``; plain: darkness ``100 - L``) is fitted per image as a
   linear function of RGB on the working pixels (least squares), and that function
   is applied to the decoded pixels (one 3-term sum per pixel instead of a Lab
   conversion). The matrix reference is the blob decision's own
   (``thinseg.instances.matrix_reference``: local, bounded, without clipped pixels in
   plain light), interpolated.
2. **Candidates.** Rock pixels at least ``specks.contrast`` clear contrasts above the
   reference, away from the mount (``instances.halo``) and from every blob already
   found (``specks.gap`` px), form connected pieces. A piece is a small body when its
   area lies between ``specks.min_px`` decoded pixels (smaller ones are sensor noise,
   dust and the specks of a textured matrix) and the working minimum blob area
   (larger ones were seen, and judged, by the blob decision), and it is compact
   (it fills at least ``specks.min_fill`` of its bounding box).
3. **Checked exactly.** The Lab of the piece's own pixels is computed: its median
   score must be ``specks.contrast`` above the reference; under UV its chroma must
   reach ``uv_min_chroma`` (no glare, no white label) and its colour must not be the
   mount's epoxy. A piece cut by the picture's edge is not taken.
4. At most ``specks.max_count`` small bodies per image, the most contrasted first
   (a heavily specked matrix does not become hundreds of blobs). Each gets the next
   id, and the class of the light type (``fluorescent`` or ``opaque_dark``).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2lab

from .instances import FLUORESCENT, OPAQUE_DARK, blob_score, contrast_unit, matrix_reference, min_area_px, resize_nearest
from .light import UV
from .scene import MOUNT


def find_small_bodies(mask: np.ndarray, rgb: np.ndarray, work_rgb: np.ndarray, lab: np.ndarray,
                      region: np.ndarray, light: str, cfg,
                      reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Add the small bodies of one image to its instance mask (module docstring).

    Args:
        mask: (H, W) int32 instance ids 1..N at the decoded resolution.
        rgb: (H, W, 3) float32 RGB in [0, 1], the decoded image.
        work_rgb: (h, w, 3) float32 RGB of the working image (smoothed as the features are).
        lab: (h, w, 3) float32 working Lab. region: (h, w) uint8 scene map.
        light: ``uv`` or ``plain``. cfg: the ``instances`` node (``specks`` inside; its
            ``enabled`` switch is read by the pipeline).
        reference: (h, w) float32 ``matrix_reference`` of the blob decision (computed here
            when not given).
    Returns:
        ((H, W) int32 ids 1..N+k with the k small bodies appended, (k, 2) int64 one
        (row, col) pixel of each of them, in id order).
    """
    sc = cfg.specks
    none = np.zeros((0, 2), np.int64)
    h, w = lab.shape[:2]
    H, W = mask.shape
    if (H * W) < 2 * h * w:  # decoded barely finer than the working size
        return mask, none
    rock = region != MOUNT
    chroma_weight, min_chroma = float(cfg.uv_chroma_weight), float(cfg.uv_min_chroma)
    min_px, min_fill, contrast = float(sc.min_px), float(sc.min_fill), float(sc.contrast)
    score = blob_score(lab, light, chroma_weight).astype(np.float32)
    unit = contrast_unit(light, cfg)
    ref = matrix_reference(lab, light, rock, cfg) if reference is None else reference
    X = np.c_[work_rgb.reshape(-1, 3), np.ones(h * w, np.float32)]
    coef, *_ = np.linalg.lstsq(X[::7], score.reshape(-1)[::7], rcond=None)
    s_full = rgb[..., :3] @ coef[:3].astype(np.float32) + np.float32(coef[3])
    # the reference is smooth at the scale of blocks: nearest upsampling is exact enough
    level = resize_nearest(ref + np.float32(contrast * unit), (H, W))
    pieces, n = ndi.label(s_full >= level)
    if n == 0:
        return mask, none
    halo = int(round(float(cfg.halo) * max(h, w)))
    blocked = ~rock
    if halo > 0 and blocked.any():
        blocked = ndi.binary_dilation(blocked, iterations=halo)
    max_px = min_area_px((h, w), cfg) * (H * W) / float(h * w)
    area = np.bincount(pieces.ravel(), minlength=n + 1)
    gap = int(sc.gap)
    epoxy_dE = float(cfg.uv_epoxy_dE)
    epoxy = lab[~rock].mean(0) if (light == UV and epoxy_dE > 0 and (~rock).any()) else None
    found = []
    for i, box in enumerate(ndi.find_objects(pieces), start=1):
        if box is None or not (min_px <= area[i] < max_px):
            continue
        piece = pieces[box] == i
        if piece.mean() < min_fill:
            continue
        if box[0].start == 0 or box[1].start == 0 or box[0].stop == H or box[1].stop == W:
            continue  # cut by the picture's edge: not told from the edge's own shading
        r, c = np.argwhere(piece)[0]
        r, c = box[0].start + r, box[1].start + c
        if blocked[(r * h) // H, (c * w) // W]:  # on the mount or within its halo
            continue
        near = (slice(max(box[0].start - gap, 0), box[0].stop + gap), slice(max(box[1].start - gap, 0), box[1].stop + gap))
        if (mask[near] > 0).any():  # touches (or nearly) a blob already found: part of its rim
            continue
        px_lab = rgb2lab(np.clip(rgb[box][piece][:, None, :3], 0, 1))[:, 0, :]
        exact = float(np.median(blob_score(px_lab, light, chroma_weight).astype(np.float32)))
        strength = (exact - float(np.median(level[box][piece]))) / unit + contrast
        if strength < contrast:
            continue
        if light == UV and float(np.median(np.hypot(px_lab[:, 1], px_lab[:, 2]))) < min_chroma:
            continue
        if epoxy is not None and float(np.linalg.norm(np.median(px_lab, 0) - epoxy)) < epoxy_dE:
            continue
        found.append((strength, i, (r, c)))
    found.sort(reverse=True)
    found = found[: int(sc.max_count)]
    if not found:
        return mask, none
    lut = np.zeros(n + 1, np.int32)
    lut[[i for _, i, _ in found]] = int(mask.max()) + np.arange(1, len(found) + 1, dtype=np.int32)
    new = lut[pieces]
    return np.where(new > 0, new, mask).astype(np.int32), np.array([at for _, _, at in found], np.int64)


def speck_class(light: str) -> int:
    """Blob class of the small bodies of a light type (``BLOB_CLASSES`` index)."""
    return FLUORESCENT if light == UV else OPAQUE_DARK
