"""One experiment run: fit a method on a folder, export its masks, score them.

    python -m experiments.run method=dfc dfc.mode=dataset dfc.mu_con=5 data.dir=../shared/data/images

Writes ``run.root/NAME/`` (default ``runs/METHOD-YYYYmmdd-HHMMSS``):
``config.yaml`` (resolved), ``model_METHOD.ckpt``, ``tb/`` (TensorBoard: the
method's training curves and overlays, the final scores and hparams),
``export/`` (the masks, as ``scripts/export_masks.sh`` writes them, exported from
the checkpoint), ``scores.json`` / ``scores.csv`` (internal scores, and truth
scores when the folder holds ``NAME_mask.npy`` files) and ``overview.png``.
With ``data.dir=null`` the synthetic default set is generated under ``run.root``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from eval.score import format_table, score_run, write_scores
from thinseg.atomic import write_text
from experiments.config import config_from_cli, flatten
from thinseg.device import resolve_device
from experiments.export import export_folder, mask_path
from thinseg.imageio import list_images, load_image
from thinseg.overview import save_overview
from thinseg.pipeline import prepared_images
from thinseg.segmenter import build_segmenter
from thinseg.synthetic import runner_set


class TensorBoardLog:
    """``thinseg.segmenter.Log`` on a TensorBoard SummaryWriter: a method's training curves
    and pictures under ``RUN/tb``."""

    def __init__(self, writer):
        self.writer = writer

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, image, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")


def run(cfg) -> Path:
    """Fit, export and score one configuration; returns the run folder."""
    from torch.utils.tensorboard import SummaryWriter

    root = Path(cfg.run.root)
    data = Path(cfg.data.dir) if cfg.data.dir else root / "data_synthetic"
    if not cfg.data.dir:
        runner_set(data, "run", seed=int(cfg.seed))
    name = cfg.run.name or f"{cfg.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = root / name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    writer = SummaryWriter(str(run_dir / "tb"))

    images = list_images(data)
    segmenter = build_segmenter(cfg, resolve_device(cfg.device))
    checkpoint = run_dir / f"model_{cfg.method}.ckpt"
    segmenter, train_seconds = segmenter.ready(lambda: prepared_images(images, cfg, segmenter.device),
                                               save_to=checkpoint, reuse=False, save_always=True,
                                               log=TensorBoardLog(writer), progress=bool(cfg.export.progress))
    print(f"[run] fitted {cfg.method} on {len(images)} images in {train_seconds:.1f} s; checkpoint {checkpoint}")

    export_cfg = cfg.copy()
    export_cfg[cfg.method].checkpoint = str(checkpoint)
    summary = export_folder(data, run_dir / "export", export_cfg)
    truth = data if any(data.glob("*_mask.npy")) else None
    scores = score_run(run_dir / "export", truth)
    scores.update(train_seconds=train_seconds, export_seconds_per_image=summary.seconds_per_image,
                  method=cfg.method, data=str(data))
    write_scores(run_dir, scores)
    print(format_table(scores))
    metrics = {f"final/{k}": v for k, v in scores["mean"].items()}
    metrics.update({"final/train_seconds": train_seconds, "final/export_seconds_per_image": summary.seconds_per_image})
    for k, v in metrics.items():
        writer.add_scalar(k, v, 0)
    writer.add_hparams(flatten(cfg), metrics, run_name="hparams")
    rows = [(p.stem, load_image(p), np.load(mask_path(run_dir / "export", p)))
            for p in images[:8] if mask_path(run_dir / "export", p).exists()]
    if rows:
        save_overview(rows, run_dir / "overview.png")
    writer.close()
    print(f"[run] {summary.line()}")
    print(f"[run] folder: {run_dir}  (tensorboard --logdir {root})")
    return run_dir


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    cfg = config_from_cli(argv)
    if cfg is None:
        return 2
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
