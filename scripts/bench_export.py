"""Export speed and memory at scale.

    .venv/bin/python scripts/bench_export.py --n 1000 --methods kmeans gmm dfc [--real ../shared/data/images]

Builds (once, under ``runs/bench_export/``) a folder of N images: distinct
synthetic thin sections at 1360x1024 and 2048x1536 (UV and plain), plus the real
images of ``--real``, repeated under new names (symbolic links) up to N. Then for
each method runs the export command in a fresh process and prints: total
seconds, seconds per image, images per second, peak resident memory of the
export process, and the share of time per stage (read, features, clustering,
instances, internal eval, write) from ``images.csv``. Methods that learn from
the folder (``needs_fit``: dfc, stego, kmeans/gmm with scope=dataset) are first fitted on the distinct images only; the export then
runs from that checkpoint, so the figure is the per-image cost.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from experiments.config import build_segmenter, load_config  # noqa: E402
from experiments.export import STAGES  # noqa: E402
from thinseg.imageio import list_images  # noqa: E402
from thinseg.synthetic import runner_set  # noqa: E402


def build_folder(root: Path, n: int, real: Path | None, n_distinct: int) -> tuple[Path, Path]:
    """(distinct folder, folder of n images); reused when already built."""
    distinct = root / "distinct"
    if not distinct.exists():
        half = max(1, n_distinct // 2)
        runner_set(distinct / "a", "bench_export_small", n_images=half)
        runner_set(distinct / "b", "bench_export_large", n_images=n_distinct - half)
        flat = distinct / "all"
        flat.mkdir()
        for p in list_images(distinct / "a") + list_images(distinct / "b"):
            os.symlink(p.resolve(), flat / f"{p.parent.name}_{p.name}")
        if real is not None:
            for p in list_images(real):
                os.symlink(p.resolve(), flat / f"real_{p.name}")
    sources = list_images(distinct / "all")
    folder = root / f"n{n}"
    if not folder.exists() or len(list_images(folder)) != n:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(n):
            src = sources[i % len(sources)]
            os.symlink(src.resolve(), folder / f"img{i:05d}_{src.name}")
    return distinct / "all", folder


def _tree_rss(proc: psutil.Process) -> int:
    """Bytes resident in a process and all its descendants (dask workers included)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_export(images: Path, out: Path, overrides: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one export process. Peak RSS: the
    largest of the kernel's peak for the process (os.wait4) and the summed RSS of its
    process tree sampled every 0.1 s (so dask worker processes count)."""
    cmd = [sys.executable, "-m", "experiments.export", str(images), str(out), "export.progress=false", *overrides]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tree, peak, stop = psutil.Process(proc.pid), [0], threading.Event()

    def sample():
        while not stop.wait(0.1):
            peak[0] = max(peak[0], _tree_rss(tree))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    sampler.join()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.read()[-2000:])
    return wall, max(usage.ru_maxrss * 1024, peak[0]) / 2**20, proc.returncode


def stage_shares(out: Path) -> dict:
    totals = dict.fromkeys(STAGES, 0.0)
    with open(out / "images.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            for s in STAGES:
                totals[s] += float(row[f"{s}_s"] or 0)
    whole = sum(totals.values()) or 1.0
    return {s: totals[s] / whole for s in STAGES}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--methods", nargs="+", default=["kmeans"])
    ap.add_argument("--real", default=str(REPO.parent / "shared" / "data" / "images"))
    ap.add_argument("--distinct", type=int, default=24, help="distinct synthetic images (half of each size)")
    ap.add_argument("--root", default=str(REPO / "runs" / "bench_export"))
    ap.add_argument("--label", default="", help="shown next to the method in the table (e.g. dask)")
    ap.add_argument("overrides", nargs="*", help="config overrides for every export, e.g. export.executor=dask")
    args = ap.parse_args(argv)
    root = Path(args.root)
    real = Path(args.real) if args.real and Path(args.real).is_dir() else None
    distinct, folder = build_folder(root, args.n, real, args.distinct)
    print(f"{args.n} images in {folder} ({len(list_images(distinct))} distinct, 1360x1024 / 2048x1536 synthetic + real)")
    header = "| method | images | total s | s/image | images/s | peak RSS MiB | " + " | ".join(STAGES) + " |"
    lines = [header, "|" + "---|" * (6 + len(STAGES))]
    for method in args.methods:
        overrides = [f"method={method}", *args.overrides]
        if build_segmenter(load_config(overrides)).needs_fit:
            fit_out = root / f"fit_{method}"
            wall, rss, code = run_export(distinct, fit_out, overrides)
            print(f"{method}: fit + export of {len(list_images(distinct))} distinct images {wall:.1f} s (peak {rss:.0f} MiB)")
            overrides.append(f"{method}.checkpoint={fit_out / f'model_{method}.ckpt'}")
        out = root / f"out_{method}_n{args.n}"
        shutil.rmtree(out, ignore_errors=True)
        wall, rss, code = run_export(folder, out, overrides)
        shares = stage_shares(out)
        lines.append(f"| {method}{' ' + args.label if args.label else ''} | {args.n} | {wall:.1f} | {wall / args.n:.3f} | {args.n / wall:.2f} | {rss:.0f} | "
                     + " | ".join(f"{100 * shares[s]:.0f}%" for s in STAGES) + " |")
        print(lines[-1], flush=True)
        shutil.rmtree(out, ignore_errors=True)  # masks of repeated images: only the figures matter
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
