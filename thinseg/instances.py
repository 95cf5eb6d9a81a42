"""From cluster labels to blob instances (shared by every method).

1. **Which clusters are blobs.** Each cluster gets a *blob score* from its mean
   Lab colour, by light type:

   * ``plain`` light, blobs are black / dark-grey opaque grains: score = 100 - L
     (darkness);
   * ``uv`` light, blobs fluoresce yellow / green / orange: score = L + max(b, 0)
     (brightness plus yellowness; b > 0 is yellow in Lab).

   ``background_rule=midpoint`` (default): the largest cluster is the matrix; a
   cluster is a blob cluster when its score is above the midpoint between the
   matrix score and the highest score. ``background_rule=otsu``: Otsu's threshold
   on the pixel-weighted histogram of cluster scores. Either way, no cluster is a
   blob cluster when the highest score exceeds the matrix (largest cluster) score
   by less than ``min_contrast`` (an image without blobs).
2. **Blob mask.** Union of blob clusters, morphological opening (``open_radius``),
   holes up to ``max_hole_area`` filled, pieces under ``min_area`` dropped.
3. **Instances.** Touching blobs are split by a watershed on the distance
   transform, seeded by its h-maxima: a core becomes a marker of its own when it
   rises above the neck to its neighbour by at least ``split_depth`` px and by
   ``split_rel`` times the half-width of its connected piece (so two touching
   grains split, while a large irregular blob or a long streak stays one id).
   Every connected piece without a marker keeps an id of its own.
4. **Full size.** Ids are made consecutive 1..N and the mask is resized to the
   original H x W with nearest-neighbour sampling. Each blob keeps the cluster
   (class) that covers most of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import disk, h_maxima, remove_small_holes, remove_small_objects
from skimage.segmentation import relabel_sequential, watershed

from .light import UV


def blob_scores(lab_means: np.ndarray, light: str) -> np.ndarray:
    """(K,) blob-likeness of clusters from their (K, 3) mean Lab (L in 0..100)."""
    L, b = lab_means[:, 0], lab_means[:, 2]
    if light == UV:
        return L + np.maximum(b, 0.0)
    return 100.0 - L


@dataclass
class ClusterDecision:
    """Which clusters are blobs. All arrays are indexed by cluster id (length K)."""

    foreground: np.ndarray  # (K,) bool
    scores: np.ndarray  # (K,) float64 blob scores
    counts: np.ndarray  # (K,) int64 pixels per cluster
    threshold: float


def choose_foreground(labels: np.ndarray, lab: np.ndarray, light: str, cfg) -> ClusterDecision:
    """Decide the blob clusters of one image.

    Args:
        labels: (h, w) int cluster ids 0..K-1.
        lab: (h, w, 3) float32 Lab of the same pixels (L in 0..100).
        light: ``uv`` or ``plain``.
        cfg: the ``instances`` config node.
    """
    k = int(labels.max()) + 1 if labels.size else 0
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=k)
    sums = np.stack([np.bincount(flat, weights=lab[..., c].ravel(), minlength=k) for c in range(3)], 1)
    means = sums / np.maximum(counts, 1)[:, None]
    scores = blob_scores(means, light)
    present = counts > 0
    scores_present = np.where(present, scores, -np.inf)
    ref = scores[int(np.argmax(counts))]
    top = float(scores_present.max()) if k else ref
    if top - ref < cfg.min_contrast or present.sum() < 2:
        return ClusterDecision(np.zeros(k, bool), scores, counts, np.inf)
    if cfg.background_rule == "midpoint":
        threshold = 0.5 * (ref + top)
    elif cfg.background_rule == "otsu":
        order = np.argsort(scores[present])
        threshold = float(threshold_otsu(hist=(counts[present][order], scores[present][order])))
    else:
        raise ValueError(f"instances.background_rule must be midpoint or otsu, got {cfg.background_rule!r}")
    foreground = present & (scores > threshold)
    return ClusterDecision(foreground, scores, counts, float(threshold))


def blob_mask(labels: np.ndarray, foreground: np.ndarray, cfg) -> np.ndarray:
    """(h, w) bool mask of blob pixels after opening, hole filling and size filtering."""
    fg = foreground[labels]
    if cfg.open_radius > 0:
        fg = ndi.binary_opening(fg, structure=disk(int(cfg.open_radius)).astype(bool))
    if cfg.max_hole_area > 0:
        fg = remove_small_holes(fg, max_size=int(cfg.max_hole_area))
    if cfg.min_area > 1:
        fg = remove_small_objects(fg, max_size=int(cfg.min_area) - 1)
    return fg


def split_instances(fg: np.ndarray, cfg) -> np.ndarray:
    """(h, w) int32 instance ids 1..N of a bool blob mask; touching blobs split when
    ``cfg.split`` (distance-transform watershed seeded by h-maxima)."""
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    if not cfg.split:
        return ndi.label(fg)[0].astype(np.int32)
    dist = ndi.gaussian_filter(ndi.distance_transform_edt(fg), 1.0)
    # depth needed for a separate marker: split_depth px, or split_rel of the
    # component's half-width, whichever is larger (big irregular blobs stay whole)
    comp, n = ndi.label(fg)
    half_width = np.zeros(n + 1)
    half_width[1:] = ndi.maximum(dist, comp, np.arange(1, n + 1))
    depth = np.maximum(float(cfg.split_depth), float(cfg.split_rel) * half_width)[comp]
    scaled = np.where(fg, dist / np.maximum(depth, 1e-6), 0.0)
    markers = ndi.label(h_maxima(scaled, 1.0) & fg)[0]
    ids = watershed(-dist, markers, mask=fg)
    orphans = fg & (ids == 0)  # pieces too thin to hold a marker keep their own id
    if orphans.any():
        extra, _ = ndi.label(orphans)
        ids = np.where(orphans, extra + ids.max(), ids)
    if cfg.min_area > 1:  # watershed slivers
        sizes = np.bincount(ids.ravel())
        ids[sizes[ids] < int(cfg.min_area)] = 0
    return relabel_sequential(ids.astype(np.int32))[0]


def resize_nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (h, w) or (h, w, C) array to ``shape`` (H, W), pixel centres aligned."""
    h, w = mask.shape[:2]
    H, W = shape
    if (h, w) == (H, W):
        return mask
    rows = np.minimum(((np.arange(H) + 0.5) * (h / H)).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(W) + 0.5) * (w / W)).astype(np.int64), w - 1)
    return mask[rows[:, None], cols[None, :]]


def blob_clusters(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) int64: the majority cluster of each blob 1..N (index 0 is blob 1)."""
    n = int(ids.max())
    if n == 0:
        return np.zeros(0, np.int64)
    k = int(labels.max()) + 1
    sel = ids > 0
    hist = np.bincount(ids[sel].astype(np.int64) * k + labels[sel], minlength=(n + 1) * k).reshape(n + 1, k)
    return hist[1:].argmax(1).astype(np.int64)


def clusters_to_instances(labels: np.ndarray, lab: np.ndarray, light: str, cfg, out_shape: tuple[int, int]):
    """The whole post-processing for one image.

    Args:
        labels: (h, w) int cluster ids at working resolution.
        lab: (h, w, 3) float32 Lab at working resolution.
        light: ``uv`` or ``plain``. cfg: the ``instances`` node.
        out_shape: (H, W) of the original image.
    Returns:
        mask: (H, W) int32, 0 = background, 1..N consecutive blob ids;
        classes: (N,) int64 cluster of each blob; decision: :class:`ClusterDecision`.
    """
    decision = choose_foreground(labels, lab, light, cfg)
    ids = split_instances(blob_mask(labels, decision.foreground, cfg), cfg)
    classes = blob_clusters(ids, labels)
    # The working size never exceeds the original, so nearest upsampling keeps every id.
    return resize_nearest(ids, out_shape).astype(np.int32), classes, decision
