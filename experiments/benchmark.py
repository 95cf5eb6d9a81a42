"""Quality and speed of methods on image folders with truth: one table.

    python -m experiments.benchmark --data synthetic=runs/bench/synth --data labeled=../shared/data/labeled \
        --methods kmeans gmm [--out runs/bench] [key=value ...]

Each (dataset, method) cell runs the export into ``OUT/DATASET/METHOD`` (resumable:
finished cells are reused unless export.overwrite=true) and scores it with
``eval.score``. Prints a Markdown table of the means (mean best IoU, recall@0.5,
precision@0.5, merge rate, Hungarian mIoU, ARI, silhouette, Davies-Bouldin,
seconds per image, seconds fitting on the folder) and writes it
to ``OUT/benchmark.md``. ``--data synthetic=DIR`` generates the default synthetic
set in DIR first when DIR holds none.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.score import score_run, write_scores
from thinseg.atomic import write_text
from experiments.config import load_config
from experiments.export import export_folder
from thinseg.synthetic import runner_set

COLUMNS = (("mean_best_iou", "mean best IoU"), ("recall50", "recall@0.5"), ("pooled_best_iou", "IoU (blobs pooled)"),
           ("pooled_recall50", "recall@0.5 (pooled)"), ("mount_leak", "mount exported"), ("precision50", "precision@0.5"),
           ("merge_rate", "merges"), ("miou", "mIoU"), ("ari", "ARI"), ("silhouette", "silhouette"),
           ("davies_bouldin", "Davies-Bouldin"), ("seconds", "s/image"), ("fit_seconds", "fit s"))


def run_cell(images: Path, out: Path, method: str, overrides: list[str]) -> dict:
    cfg = load_config([f"method={method}", "export.progress=false", "export.zip=false", *overrides])
    summary = export_folder(images, out, cfg)
    scores = score_run(out, images)
    if summary.fit_seconds:
        scores["fit_seconds"] = summary.fit_seconds
    elif (out / "scores.json").exists():  # a resumed cell keeps the fit time measured when it ran
        scores["fit_seconds"] = json.loads((out / "scores.json").read_text()).get("fit_seconds", float("nan"))
    write_scores(out, scores)
    return {**scores["mean"], "fit_seconds": scores.get("fit_seconds", float("nan"))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="experiments.benchmark", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", required=True, help="NAME=DIR (images with NAME_mask.npy truth)")
    ap.add_argument("--methods", nargs="+", default=["kmeans", "gmm"])
    ap.add_argument("--out", default="runs/benchmark")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    out = Path(args.out)
    lines = ["| data | method | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for spec in args.data:
        name, _, folder = spec.partition("=")
        folder = Path(folder)
        if name.startswith("synthetic") and not any(folder.glob("*_mask.npy")):
            runner_set(folder, "benchmark")
        for method in args.methods:
            mean = run_cell(folder, out / name / method, method, args.overrides)
            lines.append(f"| {name} | {method} | " + " | ".join(f"{mean.get(k, float('nan')):.3f}" for k, _ in COLUMNS) + " |")
            print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "benchmark.md", table)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
