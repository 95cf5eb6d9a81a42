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
   Under UV the redness contrast of the blob decision (``uv_red_contrast``: a* and L
   above the rock's local medians) is computed the same way (a* and L fitted as linear
   functions of RGB) and counts where it is the larger: small orange spots are dimmer
   than yellow ones. A spot found by its redness must also stand ``specks.red_ring``
   contrasts above its own surroundings (the ring 3 to 8 px around it, beyond its
   blurred edge): the local medians are taken over blocks of a quarter of the picture,
   and a smooth, brighter orange zone of the matrix is redder than its block's median
   all over, its JPEG noise cutting it into dozens of spot-sized pieces (0sb5pc: 3 -> 33
   blobs without the ring test, 5 with it; jeffroth_example1 16 -> 20, 0pe3b9 9 -> 12,
   0tkcnf 29 -> 42, image1 30 -> 33 with its IoU unchanged).
2. **Candidates.** Rock pixels at least ``specks.contrast`` clear contrasts above the
   reference (per light type: UV 1.0 as for the blobs; plain light 0.85, since a small
   dark grain seen sharp on the decoded pixels needs less than the working decision's
   averaged cells; 0.75 made image2's dark matrix specks bodies), away from the mount (``instances.halo``) and from every blob already
   found (``specks.gap`` px), form connected pieces. A piece is a small body when its
   area lies between ``specks.min_px`` decoded pixels (smaller ones are sensor noise,
   dust and the specks of a textured matrix) and the working minimum blob area
   (larger ones were seen, and judged, by the blob decision), and it is compact
   (it fills at least ``specks.min_fill`` of its bounding box).
3. **Checked exactly.** The Lab of the piece's own pixels is computed: its median
   score must be ``specks.contrast`` above the reference; under UV its chroma must
   reach ``uv_min_chroma`` (no glare, no white label) and its colour must not be the
   mount's epoxy. A piece cut by the picture's edge is not taken. Every piece must stand
   ``specks.ring`` clear contrasts (per light type; UV 0.15, plain light off) above its
   own surroundings (3-8 px away, as for ``red_ring``): on an evenly glowing zone of the
   matrix just under a clear contrast, JPEG noise reaches the detection level in pieces
   that stand 0.04-0.11 above theirs (0sb5pc, once its diffuse glow is no blob: 6 such
   pieces; image1's speck at its top right), while the small bodies of the other UV
   photographs stand 0.23-0.89 above theirs.
4. At most ``specks.max_count`` small bodies per image, the most contrasted first
   (a heavily specked matrix does not become hundreds of blobs). Each gets the next
   id, and the class of the light type (``fluorescent`` or ``opaque_dark``).
5. **Outlined at the edge** (``specks.outline``, 0 = off): the detected piece is the
   pixels at the detection level above the matrix, which is only the core of a faint or
   blurred body and more than the whole of a strongly contrasted one. Each body becomes
   the connected pixels that hold its core and lie ``outline`` of the way from its
   surroundings (a ring around it) to its own contrast (0.5 = half maximum, the edge of
   a blurred step), within its own radius of the core.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2lab

from .instances import (FLUORESCENT, OPAQUE_DARK, above_ring, blob_score, contrast_unit, dyed_epoxy,
                        matrix_reference, min_area_px, redness_contrast, redness_references, resize_nearest)
from .light import UV, per_light
from .scene import MOUNT


def find_small_bodies(mask: np.ndarray, rgb: np.ndarray, work_rgb: np.ndarray, lab: np.ndarray,
                      region: np.ndarray, light: str, cfg,
                      reference: np.ndarray | None = None, red_refs: tuple | None = None,
                      dye: np.ndarray | None = None,
                      annotated: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
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
        red_refs, dye: the blob decision's ``redness_references`` (UV) and ``dyed_epoxy``
            (plain light) (``RockMaps.red_refs`` / ``.dye``; computed here when not given).
        annotated: (H, W) bool pixels burnt in over the rock (the scale bar) or None: no
            small body is sought there (the bar's dark line would fill the per-image cap).
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
    min_px, min_fill, contrast = float(sc.min_px), float(sc.min_fill), per_light(sc.contrast, light)
    score = blob_score(lab, light, chroma_weight).astype(np.float32)
    unit = contrast_unit(light, cfg)
    ref = matrix_reference(lab, light, rock, cfg) if reference is None else reference
    X = np.c_[work_rgb.reshape(-1, 3), np.ones(h * w, np.float32)]
    coef, *_ = np.linalg.lstsq(X[::7], score.reshape(-1)[::7], rcond=None)
    s_full = rgb[..., :3] @ coef[:3].astype(np.float32) + np.float32(coef[3])
    # the reference is smooth at the scale of blocks: nearest upsampling is exact enough
    ref_full = resize_nearest(ref, (H, W))
    redness = None
    if light == UV and float(cfg.uv_red_contrast) > 0:  # orange spots: redder and brighter than the rock
        redness = _redness_refs(lab, rock, X, (H, W), cfg, red_refs)
        red_full = redness_contrast(rgb[..., :3] @ redness[0][:3] + redness[0][3],
                                    rgb[..., :3] @ redness[1][:3] + redness[1][3], redness[2], redness[3], cfg)
        s_full = np.maximum(s_full, ref_full + red_full * np.float32(unit))  # as a score: contrast x unit above the reference
    level = ref_full + np.float32(contrast * unit)
    candidates = s_full >= level
    if annotated is not None:
        candidates &= ~annotated
    pieces, n = ndi.label(candidates)
    if n == 0:
        return mask, none
    halo = int(round(float(cfg.halo) * max(h, w)))
    blocked = ~rock
    if halo > 0 and blocked.any():
        blocked = ndi.binary_dilation(blocked, iterations=halo)
    if light != UV:
        blocked = blocked | (dyed_epoxy(lab, cfg) if dye is None else dye)  # blue-dyed pore epoxy
    max_px = min_area_px((h, w), cfg) * (H * W) / float(h * w)
    area = np.bincount(pieces.ravel(), minlength=n + 1)
    gap = int(sc.gap)
    epoxy_dE = float(cfg.uv_epoxy_dE)
    epoxy = lab[~rock].mean(0) if (light == UV and epoxy_dE > 0 and (~rock).any()) else None
    ring_level = float(per_light(sc.get("ring", 0.0), light)) * unit
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
        exact = blob_score(px_lab, light, chroma_weight).astype(np.float32)
        if ring_level > 0 and above_ring(s_full, pieces, i, box) < ring_level:  # a spot, not noise on a glow
            continue
        if redness is not None:
            red = redness_contrast(px_lab[:, 1], px_lab[:, 0], redness[2][box][piece], redness[3][box][piece], cfg)
            if np.median(red) > np.median((exact - ref_full[box][piece]) / unit):  # found by its redness:
                if above_ring(s_full, pieces, i, box) < float(sc.red_ring) * unit:  # a spot, not a redder zone
                    continue
            exact = np.maximum(exact, ref_full[box][piece] + red * np.float32(unit))
        exact = float(np.median(exact))
        strength = (exact - float(np.median(level[box][piece]))) / unit + contrast
        if strength < contrast:
            continue
        if light == UV and float(np.median(np.hypot(px_lab[:, 1], px_lab[:, 2]))) < min_chroma:
            continue
        if epoxy is not None and float(np.linalg.norm(np.median(px_lab, 0) - epoxy)) < epoxy_dE:
            continue
        found.append((strength, i))
    found.sort(reverse=True)
    found = found[: int(sc.max_count)]
    if not found:
        return mask, none
    lut = np.zeros(n + 1, np.int32)
    lut[[i for _, i in found]] = int(mask.max()) + np.arange(1, len(found) + 1, dtype=np.int32)
    new = lut[pieces]
    if float(sc.outline) > 0:  # outlines at the body's edge, not at the detection level
        new = _outline_small_bodies(new, mask, pieces, found, s_full, ref_full, unit, float(sc.outline))
    base = int(mask.max())
    at = [(box[0].start + int(r), box[1].start + int(c))  # one pixel of each body, as outlined
          for k, box in enumerate(ndi.find_objects(np.where(new > base, new - base, 0)), start=1)
          for r, c in [np.argwhere(new[box] == base + k)[0]]]
    return np.where(new > 0, new, mask).astype(np.int32), np.array(at, np.int64).reshape(-1, 2)


def _redness_refs(lab: np.ndarray, rock: np.ndarray, X: np.ndarray, shape: tuple[int, int], cfg,
                  red_refs: tuple | None = None) -> tuple:
    """Under UV, what the redness contrast (``thinseg.instances.redness_contrast``) needs at
    the decoded resolution: Lab a* and L fitted as linear functions of RGB on the working
    pixels ((4,) float32 coefficients each, for RGB and a constant), and the rock's local
    medians of a* and L (``red_refs``, or ``redness_references``) nearest-upsampled to
    ``shape`` ((H, W) float32 each)."""
    refs = redness_references(lab, rock, cfg) if red_refs is None else red_refs
    fits = [np.linalg.lstsq(X[::7], lab[..., channel].reshape(-1)[::7], rcond=None)[0].astype(np.float32)
            for channel in (1, 0)]  # a*, L
    return fits[0], fits[1], resize_nearest(refs[0], shape), resize_nearest(refs[1], shape)


def _outline_small_bodies(new: np.ndarray, mask: np.ndarray, pieces: np.ndarray, found: list,
                          s_full: np.ndarray, ref_full: np.ndarray, unit: float, share: float) -> np.ndarray:
    """(H, W) int32 small-body ids grown from their detected pieces to their outline.

    A detected piece holds the pixels at least ``specks.contrast`` above the matrix: the
    body's core (for a faint or blurred body a fraction of it). Its outline lies where the
    contrast falls to ``share`` of the way from its surroundings (median of a ring around
    it) to its own (median over the core): 0.5 = half maximum, the edge of a blurred
    step. The body is the connected pixels above that level that hold the core: grown
    (a faint body) or trimmed (a strongly contrasted one, whose detection level lies far
    below its half maximum), at most its own equivalent radius beyond the core (a faint
    halo does not become a field), never over another blob or body.

    new: (H, W) int32 ids of the kept pieces; mask: (H, W) int32 blobs; pieces: (H, W)
    int32 labels of all candidates; found: [(strength, piece id)]; s_full: (H, W) float32
    score; ref_full: (H, W) float32 matrix reference (nearest-upsampled); unit: score units
    of one contrast."""
    H, W = new.shape
    boxes = ndi.find_objects(pieces)
    out = new.copy()
    for _, i in found:
        b = boxes[i - 1]
        core = pieces[b] == i
        reach = max(1, int(np.ceil(np.sqrt(core.sum() / np.pi))))
        r0, r1 = max(b[0].start - reach, 0), min(b[0].stop + reach, H)
        c0, c1 = max(b[1].start - reach, 0), min(b[1].stop + reach, W)
        excess = (s_full[r0:r1, c0:c1] - ref_full[r0:r1, c0:c1]) / unit
        k = out[b][core][0]
        own = out[r0:r1, c0:c1] == k
        free = (mask[r0:r1, c0:c1] == 0) & ((out[r0:r1, c0:c1] == 0) | own)
        near = ndi.binary_dilation(own, iterations=reach)
        ring = free & ~near
        background = float(np.median(excess[ring])) if ring.any() else 0.0
        peak = float(np.median(excess[own]))
        level = background + share * (peak - background)  # between its surroundings and its own contrast
        above = free & (near | own) & (excess >= level)
        parts, _ = ndi.label(above)
        body = np.isin(parts, np.unique(parts[own & above])) & (parts > 0)
        if body.any():  # the parts above the level that hold the core: grown or trimmed to the edge
            out[r0:r1, c0:c1][own & ~body] = 0
            out[r0:r1, c0:c1][body] = k
    return out


def speck_class(light: str) -> int:
    """Blob class of the small bodies of a light type (``BLOB_CLASSES`` index)."""
    return FLUORESCENT if light == UV else OPAQUE_DARK
