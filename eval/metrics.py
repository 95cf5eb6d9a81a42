"""Metrics of one image's segmentation.

Internal (no labels): silhouette score and Davies-Bouldin index of the pixel
clustering, on a seeded sample of pixels in the shared feature space
(``thinseg.features``), so every method is judged in the same space.

Against ground truth (instance masks, 0 = unlabeled/background):
ARI over all pixels (instance ids as labels), and per true blob the best IoU of
any predicted blob: its mean over true blobs and the share >= 0.5 (recall@0.5);
precision@0.5 is the share of predicted blobs whose best IoU with a true blob
is >= 0.5; the merge rate is the share of true blobs whose main predicted blob
(largest overlap) is also the main predicted blob of another true blob.
Semantic scores (``hungarian_scores``): clusters matched one-to-one to truth
classes by the Hungarian algorithm on the pixel confusion matrix, then pixel
accuracy and mean IoU over the truth classes (unmatched classes score 0).
Cross-method agreement (``agreement``): ARI between two labelings of the same
image on a seeded pixel sample.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, confusion_matrix, davies_bouldin_score, silhouette_score

from thinseg.sampling import sample_indices


def internal_scores(features: np.ndarray, labels: np.ndarray, sample_size: int = 2000, seed: int = 0) -> dict:
    """Silhouette (higher is better, -1..1) and Davies-Bouldin (lower is better, >= 0).

    Args:
        features: (N, C) float32 pixel features. labels: (N,) int cluster ids.
        sample_size: pixels drawn without replacement (seeded) before scoring.
    Returns:
        {"silhouette": float, "davies_bouldin": float}; NaN when fewer than two
        clusters are present in the sample.
    """
    idx = sample_indices(features.shape[0], sample_size, seed)
    if idx is not None:
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


def merge_rate(true: np.ndarray, pred: np.ndarray) -> float:
    """Share of true blobs merged with another: their main predicted blob (largest
    overlap) is the main predicted blob of at least one other true blob.

    Args: true, pred: (H, W) integer instance masks, 0 = background.
    Returns: float in [0, 1]; NaN without true blobs.
    """
    t_ids = np.unique(true[true > 0])
    if t_ids.size == 0:
        return float("nan")
    t, p, inter = _overlaps(true, pred)
    if t.size == 0:
        return 0.0
    order = np.lexsort((-inter, t))  # per true blob, the largest overlap first
    t, p = t[order], p[order]
    first = np.r_[True, t[1:] != t[:-1]]
    main = p[first]
    _, counts = np.unique(main, return_counts=True)
    return float((counts[counts > 1]).sum() / t_ids.size)


def hungarian_scores(true_classes: np.ndarray, pred_clusters: np.ndarray) -> dict:
    """Unsupervised pixel accuracy and mIoU after one-to-one Hungarian matching.

    Args:
        true_classes: (H, W) or (N,) int truth class per pixel (0 = background is a class).
        pred_clusters: same shape, int predicted cluster per pixel.
    Returns:
        {"accuracy": float, "miou": float}: accuracy = matched pixels / pixels;
        mIoU averaged over the truth classes present (a class left unmatched scores 0).
    """
    t = np.asarray(true_classes).ravel().astype(np.int64)
    p = np.asarray(pred_clusters).ravel().astype(np.int64)
    t_ids, t_inv = np.unique(t, return_inverse=True)
    p_ids, p_inv = np.unique(p, return_inverse=True)
    cm = confusion_matrix(t_inv, p_inv, labels=np.arange(max(t_ids.size, p_ids.size)))[: t_ids.size, : p_ids.size]
    rows, cols = linear_sum_assignment(cm, maximize=True)
    accuracy = cm[rows, cols].sum() / max(1, t.size)
    ious = np.zeros(t_ids.size)
    for r, c in zip(rows, cols):
        union = cm[r].sum() + cm[:, c].sum() - cm[r, c]
        ious[r] = cm[r, c] / union if union else 0.0
    return {"accuracy": float(accuracy), "miou": float(ious.mean())}


def agreement(a: np.ndarray, b: np.ndarray, sample_size: int = 20000, seed: int = 0) -> float:
    """ARI between two labelings of the same image on a seeded sample of pixels.

    Args: a, b: (H, W) integer labelings (instance masks or cluster maps).
    Returns: ARI in [-1, 1] (1 = the same partition).
    """
    if a.shape != b.shape:
        raise ValueError(f"labelings differ in shape: {a.shape} vs {b.shape}")
    a, b = a.ravel(), b.ravel()
    idx = sample_indices(a.size, sample_size, seed)  # sorted: ARI does not depend on the order
    if idx is not None:
        a, b = a[idx], b[idx]
    return float(adjusted_rand_score(a, b))


def truth_scores(true: np.ndarray, pred: np.ndarray, true_classes: np.ndarray | None = None,
                 pred_clusters: np.ndarray | None = None) -> dict:
    """Ground-truth scores of one predicted instance mask (see module docstring).

    Args:
        true, pred: (H, W) integer instance masks, 0 = background.
        true_classes, pred_clusters: optional (H, W) semantic maps for the
            Hungarian scores; default: blob (1) vs background (0) of each mask.
    Returns a dict: ari, mean_best_iou, recall50, precision50, merge_rate,
    accuracy, miou, n_true, n_pred.
    """
    best_t, best_p = best_iou_per_blob(true, pred)
    tc = (true > 0).astype(np.int64) if true_classes is None else true_classes
    pc = (pred > 0).astype(np.int64) if pred_clusters is None else pred_clusters
    return {
        **hungarian_scores(tc, pc),
        "merge_rate": merge_rate(true, pred),
        "ari": float(adjusted_rand_score(true.ravel(), pred.ravel())),
        "mean_best_iou": float(best_t.mean()) if best_t.size else float("nan"),
        "recall50": float((best_t >= 0.5).mean()) if best_t.size else float("nan"),
        "precision50": float((best_p >= 0.5).mean()) if best_p.size else float("nan"),
        "n_true": int(best_t.size),
        "n_pred": int(best_p.size),
    }
