import json

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.run import run
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
    assert 0 <= scores["mean"]["mean_best_iou"] <= 1  # truth was found beside the images
    scalars, images = _tags(run_dir)
    assert {"dfc/sim", "dfc/con", "dfc/eq", "dfc/n_labels", "final/mean_best_iou"} <= scalars
    assert "dfc/labels" in images
    assert "dfc:\n  mode: dataset" in (run_dir / "config.yaml").read_text()
