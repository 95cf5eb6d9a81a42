"""eval.score with class truth (synthetic kinds) and the blob table's statistics."""
import csv
import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from eval.score import score_run
from experiments.export.records import blob_rows, blob_stats


def _export_folder(out, name, mask, clusters):
    out.mkdir()
    np.save(out / f"{name}_mask.npy", mask.astype(np.int32))
    with open(out / "images.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["image", "light", "n_blobs", "seconds", "silhouette", "davies_bouldin"])
        w.writeheader()
        w.writerow({"image": name, "light": "uv", "n_blobs": int(mask.max()), "seconds": 0.1, "silhouette": "",
                    "davies_bouldin": ""})
    with open(out / "blobs.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["image", "blob_id", "cluster"])
        w.writeheader()
        w.writerows({"image": name, "blob_id": i + 1, "cluster": c} for i, c in enumerate(clusters))


@pytest.fixture
def truth(tmp_path):
    mask = np.zeros((40, 60), np.uint16)
    mask[5:15, 5:15], mask[20:35, 10:20], mask[5:15, 40:55] = 1, 2, 3
    folder = tmp_path / "truth"
    folder.mkdir()
    np.save(folder / "a_mask.npy", mask)
    (folder / "truth.json").write_text(json.dumps({"images": {"a": {"kinds": ["lens", "grain", "lens"]}}}))
    return folder, mask


def test_class_scores_follow_the_blob_clusters(tmp_path, truth):
    folder, mask = truth
    _export_folder(tmp_path / "good", "a", mask, [4, 2, 4])  # any cluster ids: matched to the kinds (Hungarian)
    row = score_run(tmp_path / "good", folder)["images"][0]
    assert row["mean_best_iou"] == 1.0 and row["accuracy"] == 1.0 and row["miou"] == pytest.approx(1.0)
    _export_folder(tmp_path / "mixed", "a", mask, [4, 4, 4])  # the grain put in the lenses' cluster
    mixed = score_run(tmp_path / "mixed", folder)["images"][0]
    assert mixed["mean_best_iou"] == 1.0  # instances unchanged ...
    assert mixed["accuracy"] < 1.0 and mixed["miou"] < row["miou"]  # ... classes wrong
    without = score_run(tmp_path / "good")["images"][0]
    assert "accuracy" not in without and "mean_best_iou" not in without


def test_blob_stats_match_scipy():
    rng = np.random.default_rng(0)
    mask = ndi.label(ndi.binary_opening(rng.random((700, 300)) > 0.6))[0].astype(np.int32)  # > one row chunk
    n = int(mask.max())
    area, rows, cols = blob_stats(mask, rows_per_chunk=128)
    ids = np.arange(1, n + 1)
    assert np.array_equal(area, ndi.sum_labels(np.ones_like(mask), mask, ids))
    centres = np.array(ndi.center_of_mass(np.ones_like(mask), mask, ids))
    assert np.allclose(rows, centres[:, 0]) and np.allclose(cols, centres[:, 1])
    table = blob_rows("x", mask, np.zeros(n, int), "plain")
    assert [r["blob_id"] for r in table] == list(ids) and table[0]["area_px"] == int((mask == 1).sum())
    assert blob_rows("x", np.zeros((5, 5), np.int32), np.zeros(0), "uv") == []
