"""The main job on the embedded default data (``scripts/demo.sh``).

Generates a synthetic thin-section set with ground truth (UV and plain light),
exports masks with the configured method (default: ``method=kmeans``), scores
them against the truth and draws an overview picture.

    python -m experiments.demo [--out runs/demo] [--n-images 12] [key=value ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eval.score import format_table, score_run
from experiments.config import config_from_cli
from experiments.export import export_folder, mask_path
from thinseg.imageio import list_images, load_image
from thinseg.overview import save_overview
from thinseg.synthetic import runner_set


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="experiments.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/demo")
    ap.add_argument("--n-images", type=int, default=12)
    ap.add_argument("--size", default="480x640", help="HxW of the synthetic images")
    ap.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = ap.parse_args(argv)
    cfg = config_from_cli(args.overrides)
    if cfg is None:
        return 2
    out = Path(args.out)
    height, width = (int(v) for v in args.size.lower().split("x"))
    data = out / "data"
    print(f"[demo] synthetic set: {args.n_images} images {height}x{width} in {data}")
    runner_set(data, "demo", n_images=args.n_images, height=height, width=width, seed=int(cfg.seed))
    export_dir = out / f"export_{cfg.method}"
    summary = export_folder(data, export_dir, cfg)
    print(f"[demo] {summary.line()}")
    scores = score_run(export_dir, data)
    print(format_table(scores))
    rows = []
    for p in list_images(data)[:8]:
        rows.append((p.stem, load_image(p), np.load(mask_path(export_dir, p))))
    picture = save_overview(rows, out / f"overview_{cfg.method}.png")
    m = scores["mean"]
    print(f"\n[demo] method={cfg.method}: mean best IoU {m.get('mean_best_iou', float('nan')):.3f}, "
          f"recall@0.5 {m.get('recall50', float('nan')):.3f}, precision@0.5 {m.get('precision50', float('nan')):.3f}, "
          f"{summary.seconds_per_image:.3f} s/image")
    print(f"[demo] masks:    {export_dir}/*_mask.npy")
    print(f"[demo] zip:      {export_dir / 'submission.zip'}")
    print(f"[demo] scores:   {export_dir / 'scores.csv'}")
    print(f"[demo] overview: {picture}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
