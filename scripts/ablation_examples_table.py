"""Per-image and pooled scores of every ablation cell on the three published examples.

    .venv/bin/python scripts/ablation_examples_table.py runs/ablation/methods_real [--examples DIR]

Reads each cell's exported ``export/imageK_mask.npy`` (the ablation run on a folder that
holds the examples, e.g. ``runs/data_real15``) and prints one markdown row per cell:
mean best IoU per example image, pooled over the labelled blobs, recall@0.5 (labelled
blobs matched at IoU >= 0.5), precision@0.5 (predicted blobs matching a labelled one at
IoU >= 0.5; the labels are partial) and the number of predicted blobs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval.metrics import best_iou_per_blob  # noqa: E402

DEFAULT_EXAMPLES = REPO.parent / "shared" / "data" / "challenge" / "examples"


def example_names(examples: Path) -> list[str]:
    """Names (``imageK``) of the labelled examples in a folder of ``NAME_mask.npy``."""
    return sorted(p.name[: -len("_mask.npy")] for p in examples.glob("*_mask.npy"))


def examples_scores(cell: Path, examples: Path) -> dict | None:
    """Scores of one ablation cell's exported masks on the labelled examples.

    Returns None when the cell lacks one of them, else a dict: ``per_image`` {name: mean
    best IoU}, ``pooled`` (mean best IoU over every labelled blob), ``recall50``,
    ``precision50`` (predicted blobs matching a labelled one at IoU >= 0.5), ``n_pred``
    and ``n_true`` (blob counts)."""
    per, pooled, n_pred, matched, n_true = {}, [], 0, 0, 0
    for name in example_names(examples):
        mask_path = cell / "export" / f"{name}_mask.npy"
        if not mask_path.is_file():
            return None
        best_true, best_pred = best_iou_per_blob(np.load(examples / f"{name}_mask.npy"), np.load(mask_path))
        per[name] = float(best_true.mean())
        pooled.append(best_true)
        n_true += len(best_true)
        n_pred += len(best_pred)
        matched += int((best_pred >= 0.5).sum())
    b = np.concatenate(pooled)
    return {"per_image": per, "pooled": float(b.mean()), "recall50": float((b >= 0.5).mean()),
            "precision50": matched / max(n_pred, 1), "n_pred": n_pred, "n_true": n_true}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ablation", help="an ablation output folder (one sub-folder per cell)")
    ap.add_argument("--examples", default=str(DEFAULT_EXAMPLES))
    args = ap.parse_args(argv)
    examples = Path(args.examples)
    names = example_names(examples)
    print("| cell | " + " | ".join(names) + " | pooled | recall@0.5 | precision@0.5 | predicted / labelled |")
    print("|---" * (len(names) + 5) + "|")
    for cell in sorted(p for p in Path(args.ablation).iterdir() if (p / "export").is_dir()):
        s = examples_scores(cell, examples)
        if s is None:
            continue
        cols = " | ".join(f"{s['per_image'][n]:.3f}" for n in names)
        print(f"| {cell.name} | {cols} | {s['pooled']:.3f} | {s['recall50']:.3f} | {s['precision50']:.3f} "
              f"| {s['n_pred']} / {s['n_true']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
