"""How much of the examples' score is lost on border slivers of the labels.

    .venv/bin/python scripts/example_border_strips.py [overrides ...]

Scores the default export (or the config overrides given, e.g. ``method=gmm``) on the
three published example labels of ``../shared/data/challenge/examples`` (best IoU of
any predicted blob per labelled blob, pooled), and separately over the labels that are
slivers along the picture's border: touching the border and at most ``--max-thick`` px
thick (twice the largest distance to their outline). The published overlays were
converted to masks by a tint difference; where a grain meets the frame, its outer rows
often became a label of their own (image3's label 77 is rows 0-8 of grain 5), which no
prediction of the whole grain can match. Prints one line per set.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval.metrics import best_iou_per_blob  # noqa: E402
from experiments.config import load_config  # noqa: E402
from thinseg.pipeline import read_for_segmentation, segment  # noqa: E402
from thinseg.segmenter import build_segmenter  # noqa: E402


def border_slivers(truth: np.ndarray, max_thick: float) -> np.ndarray:
    """(n,) bool for the labels 1..n (sorted ids) of (H, W) int ``truth``: touching the
    border and at most ``max_thick`` px thick."""
    h, w = truth.shape
    out = []
    for i, box in enumerate(ndi.find_objects(truth), start=1):
        if box is None:
            continue
        m = np.pad(truth[box] == i, 1)
        border = box[0].start == 0 or box[1].start == 0 or box[0].stop == h or box[1].stop == w
        out.append(border and 2 * ndi.distance_transform_edt(m).max() <= max_thick)
    return np.array(out, bool)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", default=str(REPO.parent / "shared" / "data" / "challenge" / "examples"))
    ap.add_argument("--max-thick", type=float, default=12.0)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    cfg = load_config(["eval.internal=false"] + list(args.overrides))
    seg = build_segmenter(cfg)
    best, sliver = [], []
    for truth_path in sorted(Path(args.examples).glob("*_mask.npy")):
        name = truth_path.name[: -len("_mask.npy")]
        image = next(p for p in truth_path.parent.glob(f"{name}.*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        truth = np.load(truth_path)
        rgb, full = read_for_segmentation(image, cfg)
        b, _ = best_iou_per_blob(truth, segment(rgb, seg, cfg, name, full).mask)
        best.append(b)
        sliver.append(border_slivers(truth, args.max_thick))
    best, sliver = np.concatenate(best), np.concatenate(sliver)
    print(f"all labels: {len(best)}, pooled mean best IoU {best.mean():.3f}")
    print(f"border slivers (<= {args.max_thick:g} px thick): {sliver.sum()}, mean best IoU {best[sliver].mean():.3f}")
    print(f"other labels: {(~sliver).sum()}, pooled mean best IoU {best[~sliver].mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
