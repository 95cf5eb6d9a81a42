import json

import numpy as np
import pytest

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.run import run
from eval.metrics import truth_scores
from experiments.config import load_config


def _tags(run_dir):
    ea = EventAccumulator(str(next((run_dir / "tb").glob("events.*"))))
    ea.Reload()
    return set(ea.Tags()["scalars"]), set(ea.Tags()["images"])


def test_run_folder_layout_and_tensorboard_logs(tmp_path, synthetic_dir):
    cfg = load_config(["method=dfc", f"data.dir={synthetic_dir}", f"run.root={tmp_path}", "run.name=r1",
                       "dfc.channels=16", "dfc.n_classes=16", "dfc.train.iterations=6", "dfc.train.log_every=3",
                       "dfc.train.crop=48", "export.progress=false"])
    run_dir = run(cfg)
    assert run_dir == tmp_path / "r1"
    for name in ("config.yaml", "model_dfc.ckpt", "scores.json", "scores.csv", "overview.png"):
        assert (run_dir / name).exists(), name
    assert len(list((run_dir / "export").glob("*_mask.npy"))) == 6
    scores = json.loads((run_dir / "scores.json").read_text())
    assert scores["method"] == "dfc" and scores["train_seconds"] > 0
    # the truth beside the images was found, and the scores are those of the exported masks
    row = next(r for r in scores["images"] if r["image"] == "synth_000_uv")
    truth = truth_scores(np.load(synthetic_dir / "synth_000_uv_mask.npy"), np.load(run_dir / "export" / "synth_000_uv_mask.npy"))
    assert row["mean_best_iou"] == pytest.approx(truth["mean_best_iou"]) and row["n_true"] == truth["n_true"] > 0
    assert scores["mean"]["mean_best_iou"] == pytest.approx(np.mean([r["mean_best_iou"] for r in scores["images"]]))
    # the export ran from the run's checkpoint: nothing was trained again there
    assert not (run_dir / "export" / "model_dfc.ckpt").exists()
    assert f"checkpoint: {run_dir / 'model_dfc.ckpt'}" in (run_dir / "export" / "config.yaml").read_text()
    scalars, images = _tags(run_dir)
    assert {"dfc/sim", "dfc/con", "dfc/eq", "dfc/n_labels", "final/mean_best_iou"} <= scalars
    assert "dfc/labels" in images
    assert "dfc:\n  mode: dataset" in (run_dir / "config.yaml").read_text()


def test_a_run_from_a_given_checkpoint_keeps_its_own_copy_and_the_same_masks(tmp_path, synthetic_dir):
    tiny = ["method=dfc", f"data.dir={synthetic_dir}", f"run.root={tmp_path}", "dfc.channels=16", "dfc.n_classes=16",
            "dfc.train.iterations=4", "dfc.train.crop=48", "export.progress=false"]
    first = run(load_config(tiny + ["run.name=trained"]))
    again = run(load_config(tiny + ["run.name=reused", f"dfc.checkpoint={first / 'model_dfc.ckpt'}"]))
    assert (again / "model_dfc.ckpt").exists()
    assert json.loads((again / "scores.json").read_text())["train_seconds"] == 0.0
    for mask in sorted((first / "export").glob("*_mask.npy")):
        assert np.array_equal(np.load(mask), np.load(again / "export" / mask.name)), mask.name
