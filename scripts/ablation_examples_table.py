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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ablation", help="an ablation output folder (one sub-folder per cell)")
    ap.add_argument("--examples", default=str(REPO.parent / "shared" / "data" / "challenge" / "examples"))
    args = ap.parse_args(argv)
    examples = Path(args.examples)
    names = sorted(p.name[: -len("_mask.npy")] for p in examples.glob("*_mask.npy"))
    n_true = sum(len(np.unique(np.load(examples / f"{n}_mask.npy"))) - 1 for n in names)
    print("| cell | " + " | ".join(names) + " | pooled | recall@0.5 | precision@0.5 | predicted / labelled |")
    print("|---" * (len(names) + 5) + "|")
    for cell in sorted(p for p in Path(args.ablation).iterdir() if (p / "export").is_dir()):
        per, pooled, n_pred, matched = [], [], 0, 0
        for name in names:
            mask_path = cell / "export" / f"{name}_mask.npy"
            if not mask_path.is_file():
                break
            best_true, best_pred = best_iou_per_blob(np.load(examples / f"{name}_mask.npy"), np.load(mask_path))
            per.append(best_true.mean())
            pooled.append(best_true)
            n_pred += len(best_pred)
            matched += int((best_pred >= 0.5).sum())
        else:
            b = np.concatenate(pooled)
            cols = " | ".join(f"{v:.3f}" for v in per)
            print(f"| {cell.name} | {cols} | {b.mean():.3f} | {(b >= 0.5).mean():.3f} | {matched / max(n_pred, 1):.3f} | {n_pred} / {n_true} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
