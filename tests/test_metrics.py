import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score

from eval.metrics import best_iou_per_blob, internal_scores, truth_scores


def test_perfect_prediction_scores_one():
    true = np.zeros((20, 20), np.int32)
    true[2:8, 2:8] = 1
    true[10:18, 10:18] = 2
    pred = np.where(true == 1, 5, np.where(true == 2, 3, 0))  # other ids, same blobs
    s = truth_scores(true, pred)
    assert s["ari"] == pytest.approx(1.0)
    assert s["mean_best_iou"] == 1.0 and s["recall50"] == 1.0 and s["precision50"] == 1.0
    assert (s["n_true"], s["n_pred"]) == (2, 2)


def test_hand_worked_ious():
    true = np.zeros((10, 10), np.int32)
    true[0:4, 0:4] = 1  # 16 px
    true[6:10, 6:10] = 2  # 16 px, missed
    pred = np.zeros_like(true)
    pred[0:4, 0:2] = 1  # 8 px inside blob 1: IoU 0.5
    pred[0:4, 2:4] = 2  # the other half: IoU 0.5
    pred[5, 5] = 3  # a false positive
    best_t, best_p = best_iou_per_blob(true, pred)
    assert best_t.tolist() == [0.5, 0.0]
    assert best_p.tolist() == [0.5, 0.5, 0.0]
    s = truth_scores(true, pred)
    assert s["mean_best_iou"] == 0.25 and s["recall50"] == 0.5 and s["precision50"] == pytest.approx(2 / 3)
    assert s["ari"] == pytest.approx(adjusted_rand_score(true.ravel(), pred.ravel()))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        truth_scores(np.zeros((3, 3), int), np.zeros((3, 4), int))


def test_internal_scores_match_sklearn_and_handle_one_cluster():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (300, 4)), rng.normal(6, 1, (300, 4))]).astype(np.float32)
    y = np.repeat([0, 1], 300)
    s = internal_scores(x, y, sample_size=10_000)
    assert s["silhouette"] == pytest.approx(silhouette_score(x, y), rel=1e-5)
    assert s["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, y), rel=1e-5)
    assert s["silhouette"] > 0.6
    assert np.isnan(internal_scores(x, np.zeros(600, int))["silhouette"])
    sub = internal_scores(x, y, sample_size=100, seed=1)
    assert sub == internal_scores(x, y, sample_size=100, seed=1)  # seeded sample
