"""Metrics of one image's segmentation.

Internal (no labels): silhouette score and Davies-Bouldin index of the pixel
clustering, on a seeded sample of pixels in the shared feature space
(``thinseg.features``), so every method is judged in the same space.

Against ground truth (instance masks, 0 = unlabeled/background):
ARI over all pixels (instance ids as labels), and per true blob the best IoU of
any predicted blob: its mean over true blobs and the share >= 0.5 (recall@0.5);
precision@0.5 is the share of predicted blobs whose best IoU with a true blob
is >= 0.5.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score


def internal_scores(features: np.ndarray, labels: np.ndarray, sample_size: int = 2000, seed: int = 0) -> dict:
    """Silhouette (higher is better, -1..1) and Davies-Bouldin (lower is better, >= 0).

    Args:
        features: (N, C) float32 pixel features. labels: (N,) int cluster ids.
        sample_size: pixels drawn without replacement (seeded) before scoring.
    Returns:
        {"silhouette": float, "davies_bouldin": float}; NaN when fewer than two
        clusters are present in the sample.
    """
    n = features.shape[0]
    if n > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
        features, labels = features[idx], labels[idx]
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return {"silhouette": float("nan"), "davies_bouldin": float("nan")}
    return {
        "silhouette": float(silhouette_score(features, labels)),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
    }


def _overlaps(true: np.ndarray, pred: np.ndarray):
    """Pairs (t, p) of overlapping true/pred blobs with their intersection sizes."""
    sel = (true > 0) & (pred > 0)
    t = true[sel].astype(np.int64)
    p = pred[sel].astype(np.int64)
    if t.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = t * (int(pred.max()) + 1) + p
    uniq, inter = np.unique(key, return_counts=True)
    return uniq // (int(pred.max()) + 1), uniq % (int(pred.max()) + 1), inter


def best_iou_per_blob(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best IoU of each true blob with any predicted blob, and of each predicted blob
    with any true blob.

    Args:
        true, pred: (H, W) integer instance masks, 0 = background.
    Returns:
        (T,) float64 for true ids present (ascending), (P,) float64 for predicted ids present.
    """
    if true.shape != pred.shape:
        raise ValueError(f"mask shapes differ: truth {true.shape} vs prediction {pred.shape}")
    t_ids, t_area = np.unique(true[true > 0], return_counts=True)
    p_ids, p_area = np.unique(pred[pred > 0], return_counts=True)
    t_area_of = dict(zip(t_ids.tolist(), t_area.tolist()))
    p_area_of = dict(zip(p_ids.tolist(), p_area.tolist()))
    best_t = dict.fromkeys(t_ids.tolist(), 0.0)
    best_p = dict.fromkeys(p_ids.tolist(), 0.0)
    for t, p, inter in zip(*_overlaps(true, pred)):
        iou = inter / (t_area_of[int(t)] + p_area_of[int(p)] - inter)
        best_t[int(t)] = max(best_t[int(t)], iou)
        best_p[int(p)] = max(best_p[int(p)], iou)
    return np.array(list(best_t.values()), float), np.array(list(best_p.values()), float)


def truth_scores(true: np.ndarray, pred: np.ndarray) -> dict:
    """Ground-truth scores of one predicted instance mask (see module docstring).

    Returns a dict: ari, mean_best_iou, recall50, precision50, n_true, n_pred.
    """
    best_t, best_p = best_iou_per_blob(true, pred)
    return {
        "ari": float(adjusted_rand_score(true.ravel(), pred.ravel())),
        "mean_best_iou": float(best_t.mean()) if best_t.size else float("nan"),
        "recall50": float((best_t >= 0.5).mean()) if best_t.size else float("nan"),
        "precision50": float((best_p >= 0.5).mean()) if best_p.size else float("nan"),
        "n_true": int(best_t.size),
        "n_pred": int(best_p.size),
    }
