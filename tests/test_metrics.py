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


def test_hungarian_scores_against_a_hand_worked_case():
    from eval.metrics import hungarian_scores

    true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    pred = np.array([5, 5, 5, 7, 7, 7, 7, 9, 9, 5])  # 5->0 (3 px), 7->1 (3 px), 9->2 (2 px)
    s = hungarian_scores(true, pred)
    assert s["accuracy"] == pytest.approx(8 / 10)
    # IoUs: class 0 vs 5: 3 / (4 + 4 - 3) = 0.6; class 1 vs 7: 3 / (3 + 4 - 3) = 0.75; class 2 vs 9: 2 / 3
    assert s["miou"] == pytest.approx((0.6 + 0.75 + 2 / 3) / 3)
    # a permutation of cluster ids changes nothing; one cluster for everything matches one class only
    assert hungarian_scores(true, (pred * 3) % 11) == s
    assert hungarian_scores(true, np.zeros(10, int))["accuracy"] == pytest.approx(0.4)


def test_hungarian_matches_a_brute_force_search():
    from itertools import permutations

    from eval.metrics import hungarian_scores

    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    best = max(sum(int(((true == t) & (pred == perm[t])).sum()) for t in range(3)) for perm in permutations(range(3)))
    assert hungarian_scores(true, pred)["accuracy"] == pytest.approx(best / 200)


def test_merge_rate_counts_true_blobs_sharing_a_predicted_blob():
    from eval.metrics import merge_rate

    true = np.zeros((10, 10), np.int32)
    true[0:3, 0:3], true[0:3, 4:7], true[6:9, 6:9] = 1, 2, 3
    pred = np.zeros_like(true)
    pred[0:3, 0:7] = 1  # blobs 1 and 2 merged
    pred[6:9, 6:9] = 2
    assert merge_rate(true, pred) == pytest.approx(2 / 3)
    assert merge_rate(true, true) == 0.0
    assert np.isnan(merge_rate(np.zeros_like(true), pred))


def test_agreement_is_sampled_ari():
    from eval.metrics import agreement

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (60, 60))
    assert agreement(a, (a + 1) % 4) == pytest.approx(1.0)  # same partition, other ids
    assert agreement(a, a, sample_size=10**6) == pytest.approx(adjusted_rand_score(a.ravel(), a.ravel()))
    b = rng.integers(0, 4, (60, 60))
    assert abs(agreement(a, b, sample_size=2000, seed=3)) < 0.05
    assert agreement(a, b, 500, 1) == agreement(a, b, 500, 1)
