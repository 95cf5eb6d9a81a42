"""Print the scores of an export run.

    python -m eval.score OUT_DIR [--truth TRUTH_DIR]

Reads the masks and ``images.csv`` of an export (internal scores per image) and,
with ``--truth``, the instance masks ``TRUTH_DIR/NAME_mask.npy`` (the convention
of the synthetic sets and of ``shared/data/labeled``) to add ARI, mean best IoU,
recall@0.5, precision@0.5, merge rate, and Hungarian accuracy / mIoU; where the truth
folder has ``NAME_region.npy`` (synthetic sets: 1 = mount), the share of mount exported
as blobs (``mount_leak``) and the number of blobs lying mostly in the mount. For those,
truth classes are the blob kinds of ``TRUTH_DIR/truth.json`` (synthetic sets) or
blob-vs-background otherwise; predicted classes are each blob's cluster
(``blobs.csv``), background 0. Writes ``OUT_DIR/scores.csv`` and
``OUT_DIR/scores.json`` (per-image rows and the means).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from eval.metrics import truth_scores
from thinseg.atomic import write_csv, write_text

METRICS = ("silhouette", "davies_bouldin", "ari", "mean_best_iou", "recall50", "precision50", "merge_rate",
           "accuracy", "miou", "mount_leak", "mount_blobs")


def mount_scores(region: np.ndarray, pred: np.ndarray) -> dict:
    """How much of the true mount (``region`` == 1) the prediction exports as blobs.

    Args: region: (H, W) uint8 truth scene map (0 rock, 1 mount, 2 blurred rock);
    pred: (H, W) int instance mask. Returns {"mount_leak": share of mount pixels inside
    a predicted blob (NaN without mount), "mount_blobs": predicted blobs lying mostly
    (> half) in the mount}."""
    mount = region == 1
    if not mount.any():
        return {"mount_leak": float("nan"), "mount_blobs": 0}
    n = int(pred.max())
    inside = np.bincount(pred[mount].ravel(), minlength=n + 1)[1:]
    area = np.bincount(pred.ravel(), minlength=n + 1)[1:]
    return {"mount_leak": float((pred[mount] > 0).mean()),
            "mount_blobs": int(((inside > 0.5 * area) & (area > 0)).sum())}


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _truth_kinds(truth_dir) -> dict:
    """{image: [class id of blob 1, 2, ...]} from a synthetic set's truth.json (kinds
    mapped to 1..K in sorted order), or {} when there is none."""
    path = Path(truth_dir) / "truth.json"
    if not path.exists():
        return {}
    images = json.loads(path.read_text()).get("images", {})
    names = sorted({k for v in images.values() for k in v.get("kinds", [])})
    ids = {k: i + 1 for i, k in enumerate(names)}
    return {img: [ids[k] for k in v.get("kinds", [])] for img, v in images.items()}


def _blob_clusters(out_dir: Path) -> dict:
    """{image: [cluster + 1 of blob 1, 2, ...]} from an export's blobs.csv."""
    path = out_dir / "blobs.csv"
    if not path.exists():
        return {}
    res: dict[str, list[int]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            res.setdefault(r["image"], []).append(int(r["cluster"]) + 1)
    return res


def _class_map(mask: np.ndarray, classes: list[int] | None) -> np.ndarray | None:
    """(H, W) class per pixel from an instance mask and the class of each blob id
    (None: let truth_scores use blob vs background)."""
    if not classes or len(classes) < int(mask.max()):
        return None
    lut = np.zeros(int(mask.max()) + 1, np.int64)
    lut[1:] = classes[: int(mask.max())]
    return lut[mask]


def score_run(out_dir, truth_dir=None) -> dict:
    """Per-image and mean scores of an export folder.

    Returns {"images": [row, ...], "mean": {metric: value}, "n_images": int}; truth
    metrics are present only for images whose truth mask exists. ``mean`` averages
    over images, except ``pooled_best_iou`` / ``pooled_recall50``: over all true blobs.
    """
    out_dir = Path(out_dir)
    table = out_dir / "images.csv"
    if not table.exists():
        raise FileNotFoundError(f"{table} not found: is {out_dir} an export folder?")
    kinds = _truth_kinds(truth_dir) if truth_dir is not None else {}
    clusters = _blob_clusters(out_dir) if truth_dir is not None else {}
    rows = []
    with open(table, newline="") as fh:
        for rec in csv.DictReader(fh):
            row = {"image": rec["image"], "light": rec["light"], "n_blobs": int(rec["n_blobs"]),
                   "seconds": _num(rec["seconds"]), "silhouette": _num(rec["silhouette"]),
                   "davies_bouldin": _num(rec["davies_bouldin"])}
            if truth_dir is not None:
                tpath = Path(truth_dir) / f"{rec['image']}_mask.npy"
                if tpath.exists():
                    pred = np.load(out_dir / f"{rec['image']}_mask.npy")
                    true = np.load(tpath)
                    row.update(truth_scores(true, pred, _class_map(true, kinds.get(rec["image"])),
                                            _class_map(pred, clusters.get(rec["image"]))))
                rpath = Path(truth_dir) / f"{rec['image']}_region.npy"
                if rpath.exists():
                    pred = np.load(out_dir / f"{rec['image']}_mask.npy")
                    row.update(mount_scores(np.load(rpath), pred))
            rows.append(row)
    mean = {}
    for m in METRICS + ("seconds",):
        vals = [r[m] for r in rows if m in r and not math.isnan(r[m])]
        if vals:
            mean[m] = float(np.mean(vals))
    with_truth = [r for r in rows if r.get("n_true", 0) > 0]
    if with_truth:  # over all true blobs pooled (images with many blobs weigh more)
        n = sum(r["n_true"] for r in with_truth)
        mean["pooled_best_iou"] = float(sum(r["mean_best_iou"] * r["n_true"] for r in with_truth) / n)
        mean["pooled_recall50"] = float(sum(r["recall50"] * r["n_true"] for r in with_truth) / n)
    return {"images": rows, "mean": mean, "n_images": len(rows)}


def format_table(scores: dict) -> str:
    """A fixed-width text table of per-image rows and the mean row."""
    cols = ["image", "light", "n_blobs"] + [m for m in METRICS if m in scores["mean"]] + ["seconds"]
    lines = ["  ".join(f"{c[:14]:>14s}" if c != "image" else f"{c:36s}" for c in cols)]

    def fmt(row, c):
        v = row.get(c, "")
        if c == "image":
            return f"{str(v)[:36]:36s}"
        if isinstance(v, float):
            return f"{v:14.3f}"
        return f"{str(v):>14s}"

    for row in scores["images"]:
        lines.append("  ".join(fmt(row, c) for c in cols))
    mean = {"image": f"MEAN ({scores['n_images']} images)", **scores["mean"]}
    lines.append("  ".join(fmt(mean, c) for c in cols))
    return "\n".join(lines)


def write_scores(out_dir, scores: dict) -> None:
    """Write ``scores.json`` (rows and means) and ``scores.csv`` (per-image rows) into ``out_dir``."""
    out = Path(out_dir)
    write_text(out / "scores.json", json.dumps(scores, indent=1))
    fields = sorted({k for r in scores["images"] for k in r}, key=lambda k: (k != "image", k))
    write_csv(out / "scores.csv", fields, scores["images"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eval.score", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--truth", help="folder with NAME_mask.npy ground-truth instance masks")
    args = ap.parse_args(argv)
    try:
        scores = score_run(args.out_dir, args.truth)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(scores))
    write_scores(args.out_dir, scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
