"""Fit time of a method that learns from the folder, against the number of images.

    .venv/bin/python scripts/bench_fit.py --method selftrain --n 25 100 [key=value ...]

For each N: writes (once, under ``runs/bench_fit/``) N realistic synthetic thin sections
of 768x1024 (UV and plain), streams them through the shared preparation as the export
does, fits the method in this process and prints total fit seconds and, when the method
records them (``selftrain``: ``history``), the pseudo-labelling and training seconds, so
the scaling is visible: pseudo-labels grow with N (up to ``train.max_images``), training
steps do not. Also the peak resident memory of the process so far (``ru_maxrss``).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from experiments.config import build_segmenter, load_config  # noqa: E402
from thinseg.imageio import list_images  # noqa: E402
from thinseg.pipeline import prepared_images  # noqa: E402
from thinseg.synthetic import write_synthetic_set  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="selftrain")
    ap.add_argument("--n", type=int, nargs="+", default=[25, 100])
    ap.add_argument("--root", default=str(REPO / "runs" / "bench_fit"))
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    cfg = load_config([f"method={args.method}", *args.overrides])
    print("| images | fit s | pseudo-labels s | training s | s per image (pseudo) | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for n in args.n:
        folder = Path(args.root) / f"synthetic_{n}"
        if not folder.exists() or len(list_images(folder)) < n:
            write_synthetic_set(folder, n_images=n, height=768, width=1024, seed=3)
        paths = list_images(folder)[:n]
        seg = build_segmenter(cfg)
        t0 = time.perf_counter()
        seg.fit(prepared_images(paths, cfg, seg.device))
        total = time.perf_counter() - t0
        hist = getattr(seg, "history", {}) or {}
        ps, ts = hist.get("pseudo_seconds", float("nan")), hist.get("train_seconds", float("nan"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"| {n} | {total:.1f} | {ps:.1f} | {ts:.1f} | {ps / n:.2f} | {peak:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
