"""Every method on the reference task's real photographs: scores on the published
examples and contact sheets of the unlabelled challenge images.

    python -m experiments.real [--methods kmeans gmm dfc stego] [--examples DIR] [--images DIR ...]
                               [--fit-dir DIR ...] [--out runs/real] [key=value ...]

* ``--examples`` (default ``../shared/data/challenge/examples``): images ``NAME.jpg``
  with ``NAME_mask.npy`` labels (``*_preview.png`` ignored). The labels are partial, so
  they are scored recall-style: per labelled blob the best IoU of any predicted blob;
  its mean per image and **over all labelled blobs pooled**, recall@0.5, precision@0.5
  and the number of predicted blobs beside the number labelled.
* ``--images`` (default ``../shared/data/challenge/images``): folders without labels;
  each gets a contact sheet per method.
Per method: a segmenter that learns from a folder (``needs_fit``) is fitted on that
folder first (unsupervised, as the export does); with ``--fit-dir DIR [DIR ...]`` it is
fitted once on the images of those folders together (e.g. the examples and the challenge
images) and that one model segments every folder. Writes ``OUT/real.md`` (the tables),
``OUT/real.json`` and ``OUT/METHOD/sheet_FOLDER.png`` (image | instances coloured by
class, white outlines, mount tinted and hatched). Missing folders are skipped with a
note, so the command also runs where ``../shared`` is absent.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from eval.metrics import best_iou_per_blob
from thinseg.atomic import write_text
from experiments.config import load_config
from thinseg.device import resolve_device
from thinseg.imageio import list_images
from thinseg.overview import save_contact_sheet
from thinseg.pipeline import prepared_images, read_for_segmentation, segment
from thinseg.segmenter import build_segmenter

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "challenge"
DEFAULT_EXAMPLES = SHARED / "examples"
DEFAULT_IMAGES = SHARED / "images"


def example_images(folder: Path) -> list[Path]:
    """The labelled images of an examples folder: images with a ``NAME_mask.npy`` beside them."""
    return [p for p in list_images(folder) if (folder / f"{p.stem}_mask.npy").exists()]


def ready_segmenter(paths: list[Path], cfg, desc: str):
    """(segmenter, seconds fitting): fitted on ``paths`` when the method learns from a folder."""
    device = resolve_device(cfg.device)
    seg = build_segmenter(cfg, device)
    return seg.ready(lambda: prepared_images(paths, cfg, device, f"fit {cfg.method} on {desc}"),
                     progress=bool(cfg.export.progress))


def segment_folder(paths: list[Path], cfg, desc: str, fitted=None) -> list[dict]:
    """Fit (when the method learns from a folder; ``fitted``: (segmenter, fit seconds) to use
    instead) and segment ``paths``; one dict per image with name, rgb (working-size
    float32), mask (H, W) int32, region, classes, light, mount_share, seconds."""
    from tqdm import tqdm

    seg, fit_s = fitted if fitted is not None else ready_segmenter(paths, cfg, desc)
    out = []
    for p in tqdm(paths, desc=f"{cfg.method} {desc}", unit="img", file=sys.stderr):
        rgb, full = read_for_segmentation(p, cfg)
        t0 = time.perf_counter()
        res = segment(rgb, seg, cfg, p.stem, full)
        out.append({"name": p.stem, "rgb": rgb, "mask": res.mask, "region": res.region, "classes": res.blob_classes,
                    "light": res.light, "mount_share": res.mount_share, "seconds": time.perf_counter() - t0,
                    "fit_seconds": fit_s})
    return out


def score_examples(results: list[dict], folder: Path) -> dict:
    """Per image and pooled recall-style scores against ``folder/NAME_mask.npy``."""
    rows, pooled_t, pooled_p = [], [], []
    for r in results:
        true = np.load(folder / f"{r['name']}_mask.npy")
        best_t, best_p = best_iou_per_blob(true, r["mask"])
        pooled_t.append(best_t)
        pooled_p.append(best_p)
        rows.append({"image": r["name"], "mean_best_iou": float(best_t.mean()) if best_t.size else float("nan"),
                     "recall50": float((best_t >= 0.5).mean()) if best_t.size else float("nan"),
                     "precision50": float((best_p >= 0.5).mean()) if best_p.size else float("nan"),
                     "n_pred": int(best_p.size), "n_true": int(best_t.size), "seconds": r["seconds"]})
    t, p = np.concatenate(pooled_t or [np.zeros(0)]), np.concatenate(pooled_p or [np.zeros(0)])
    allrow = {"image": "all (pooled over blobs)", "mean_best_iou": float(t.mean()) if t.size else float("nan"),
              "recall50": float((t >= 0.5).mean()) if t.size else float("nan"),
              "precision50": float((p >= 0.5).mean()) if p.size else float("nan"),
              "n_pred": int(p.size), "n_true": int(t.size),
              "seconds": float(np.mean([r["seconds"] for r in results])) if results else float("nan")}
    return {"images": rows, "all": allrow}


def _table(method_scores: dict) -> str:
    lines = ["| method | image | mean best IoU | recall@0.5 | precision@0.5 | predicted / labelled blobs | s/image |",
             "|---|---|---|---|---|---|---|"]
    for method, sc in method_scores.items():
        for r in [*sc["images"], sc["all"]]:
            lines.append(f"| {method} | {r['image']} | {r['mean_best_iou']:.3f} | {r['recall50']:.3f} | "
                         f"{r['precision50']:.3f} | {r['n_pred']} / {r['n_true']} | {r['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="experiments.real", description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=["kmeans"])
    ap.add_argument("--examples", default=str(DEFAULT_EXAMPLES))
    ap.add_argument("--images", nargs="*", default=[str(DEFAULT_IMAGES)])
    ap.add_argument("--fit-dir", nargs="+", default=None,
                    help="fit a folder-learning method once on the images of these folders, for every folder")
    ap.add_argument("--out", default="runs/real")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    out = Path(args.out)
    examples = Path(args.examples)
    scores, sheets, counts, fit_seconds = {}, {}, {}, {}
    for method in args.methods:
        cfg = load_config([f"method={method}", "eval.internal=false", *args.overrides])
        fitted = None
        if args.fit_dir:
            fit_paths = [p for d in map(Path, args.fit_dir) if d.is_dir() for p in list_images(d)
                         if not p.stem.endswith("_preview")]  # label previews are no training images
            fitted = ready_segmenter(fit_paths, cfg, "+".join(Path(d).name for d in args.fit_dir))
            fit_seconds[method] = fitted[1]
        if examples.is_dir() and example_images(examples):
            res = segment_folder(example_images(examples), cfg, "examples", fitted)
            scores[method] = score_examples(res, examples)
            sheets[f"{method}/examples"] = str(save_contact_sheet(res, out / method / "sheet_examples.png"))
            print(_table({method: scores[method]}), flush=True)
        else:
            print(f"[real] no labelled examples in {examples}: skipped", file=sys.stderr)
        for folder in map(Path, args.images):
            if not folder.is_dir():
                print(f"[real] {folder} not found: skipped", file=sys.stderr)
                continue
            res = segment_folder(list_images(folder), cfg, folder.name, fitted)
            sheets[f"{method}/{folder.name}"] = str(save_contact_sheet(res, out / method / f"sheet_{folder.name}.png"))
            counts[f"{method}/{folder.name}"] = {r["name"]: {"blobs": int(r["mask"].max()),
                                                             "mount_share": round(r["mount_share"], 3),
                                                             "seconds": round(r["seconds"], 3)} for r in res}
    text = "# Real photographs\n\n" + (_table(scores) if scores else "(no examples scored)\n")
    text += "\n" + "\n".join(f"- sheet {k}: {v}" for k, v in sheets.items()) + "\n"
    if fit_seconds:
        text += "\n" + "\n".join(f"- {k} fitted once on {' '.join(args.fit_dir)}: {v:.1f} s" for k, v in fit_seconds.items()) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "real.md", text)
    write_text(out / "real.json", json.dumps({"examples": scores, "images": counts, "sheets": sheets}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
