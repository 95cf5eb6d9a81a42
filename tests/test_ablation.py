import csv
import json

import numpy as np
import pytest

from experiments.ablation import cell_agreement, cell_name, expand_cells, run_ablation


def test_cells_expand_the_grid():
    spec = {"cells": [{"overrides": ["method=kmeans"], "grid": {"kmeans.k": [3, 5], "features.max_side": [256, 512]}},
                      {"overrides": ["method=gmm", "gmm.k=4"]}]}
    cells = expand_cells(spec)
    assert len(cells) == 5
    assert cells[0] == ["method=kmeans", "kmeans.k=3", "features.max_side=256"]
    assert cell_name(cells[0]) == "kmeans_k=3_max_side=256"
    assert cells[-1] == ["method=gmm", "gmm.k=4"]


def test_ablation_tables_choice_and_resume(tmp_path, synthetic_dir):
    spec = tmp_path / "spec.yaml"
    spec.write_text("common: []\ncells:\n  - overrides: [method=kmeans]\n    grid:\n      kmeans.k: [2, 5]\n"
                    "  - overrides: [method=gmm, gmm.k=5]\n")
    out = tmp_path / "abl"
    root = tmp_path / "runs"
    summary = run_ablation(spec, out, [f"data.dir={synthetic_dir}", f"run.root={root}"])
    assert set(summary["cells"]) == {"kmeans_k=2", "kmeans_k=5", "gmm_k=5"}
    names, mat = summary["agreement"]["names"], np.array(summary["agreement"]["matrix"])
    assert np.allclose(np.diag(mat), 1.0) and np.allclose(mat, mat.T)
    for i, (name, cell) in enumerate(sorted(summary["cells"].items())):
        run_scores = json.loads((out / name / "scores.json").read_text())
        assert cell["mean_best_iou"] == run_scores["mean"]["mean_best_iou"], name  # the table holds the run's scores
        assert cell["export_seconds_per_image"] == run_scores["export_seconds_per_image"] > 0, name
        j = names.index(name)
        assert cell["agreement"] == pytest.approx(np.mean(np.delete(mat[j], j)))  # distinct cells: mean ARI with the others
    # kmeans with k=2 and k=5 share the blob decision: their masks agree more than chance
    assert mat[names.index("kmeans_k=2"), names.index("kmeans_k=5")] > 0.3
    chosen = summary["chosen"]
    assert chosen in summary["cells"]
    table = (out / "ablation.md").read_text()
    assert f"**{chosen}**" in table and "Rule check" in table and "Cross-method agreement" in table
    with open(out / "ablation.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and sum(r["chosen"] == "True" for r in rows) == 1
    sel = json.loads((root / "selection.json").read_text())
    assert sel["run"] == chosen and sel["overrides"][0].startswith("method=")
    assert not any(o.startswith(("data.", "run.")) for o in sel["overrides"])
    # TensorBoard events of every cell under one root
    assert all(list((out / n / "tb").glob("events.*")) for n in summary["cells"])
    # rerun: every cell is skipped (the run folders are not touched)
    stamp = (out / "gmm_k=5" / "scores.json").stat().st_mtime_ns
    again = run_ablation(spec, out, [f"data.dir={synthetic_dir}", f"run.root={root}"])
    assert (out / "gmm_k=5" / "scores.json").stat().st_mtime_ns == stamp
    assert again["chosen"] == chosen


def test_seed_spread_groups_the_seeds_of_a_method_and_reports_their_range(tmp_path):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from seed_spread import spread_rows

    for name, iou in (("dfc_seed=0", 0.70), ("dfc_seed=1", 0.60), ("dfc_seed=2", 0.65),
                      ("kmeans_seed=0", 0.75), ("kmeans_seed=1", 0.75), ("gmm", 0.9)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "scores.json").write_text(json.dumps({"mean": {"mean_best_iou": iou, "recall50": iou + 0.1}}))
    (tmp_path / "stego_seed=0").mkdir()  # unfinished cell: no scores yet
    rows = spread_rows(tmp_path, tmp_path / "no_examples_here")
    dfc = [r for r in rows if r.startswith("| dfc | mean best IoU")]
    assert dfc == ["| dfc | mean best IoU | 0,1,2 | 0.700 / 0.600 / 0.650 | 0.650 | 0.100 |"]
    assert any(r.startswith("| kmeans | recall@0.5 | 0,1 | 0.850 / 0.850 |") and r.endswith("| 0.000 |") for r in rows)
    assert not any("gmm" in r or "stego" in r for r in rows)  # no seed in the name / not finished


def test_copies_of_one_method_count_once_in_the_agreement():
    """Three identical cells (a setting that does not reach the masks) and two distinct
    ones: the copies do not vote for each other, and count as one candidate for the rest."""
    ari = np.array([[1.0, 1.0, 1.0, 0.6, 0.5],
                    [1.0, 1.0, 1.0, 0.6, 0.5],
                    [1.0, 1.0, 1.0, 0.6, 0.5],
                    [0.6, 0.6, 0.6, 1.0, 0.8],
                    [0.5, 0.5, 0.5, 0.8, 1.0]])
    same = np.zeros((5, 5), bool)
    same[:3, :3] = True
    np.fill_diagonal(same, True)
    agree = cell_agreement(ari, same)
    assert agree[:3] == pytest.approx([0.55, 0.55, 0.55])  # with the two others only
    assert agree[3] == pytest.approx((0.6 + 0.8) / 2) and agree[4] == pytest.approx((0.5 + 0.8) / 2)
    assert agree.argmax() == 3  # counted cell by cell, a copy would win: mean(1, 1, 0.6, 0.5) = 0.775
    assert np.isnan(cell_agreement(np.ones((2, 2)), np.ones((2, 2), bool))).all()  # no other candidate
