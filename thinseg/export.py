"""Export blob masks for a folder of images (the submission).

    python -m thinseg.export IMAGES_DIR OUT_DIR [key=value ...]
    (scripts/export_masks.sh is the same command)

Writes into OUT_DIR (never into IMAGES_DIR):

* ``NAME_mask.npy`` for every image ``NAME.ext``: int32 (H, W) of the stored
  image, 0 = background, 1..N = blobs;
* ``blobs.csv``: image, blob id, cluster (class), area px, centroid, light type;
* ``images.csv``: one row per image (light, blobs, internal scores, seconds);
* ``failures.csv``: one row per image that could not be exported (and a line on stderr);
* ``requirements.txt`` (library versions and Python version), ``config.yaml``
  (the resolved config), ``submission.zip`` (all masks + requirements.txt).

Resumable: a mask already written and valid is kept unless ``export.overwrite=true``.
Every file is written atomically. Exit status: 0 when all images were exported,
1 when some failed, 2 for a usage or config error.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from .atomic import atomic_open, remove_stale_temporaries, save_npy, write_text
from .config import config_from_cli
from .device import resolve_device
from .environment import requirements_text
from .instances import BLOB_CLASSES
from .imageio import image_shape, scan_folder
from .pipeline import prepared_images, read_for_segmentation, segment
from .segmenter import Segmenter, build_segmenter

PARTS_DIR = ".parts"  # per-image records (blob rows), assembled into the CSVs
BLOB_FIELDS = ("image", "blob_id", "cluster", "class", "area_px", "centroid_row", "centroid_col", "light")
STAGES = ("read", "features", "cluster", "instances", "eval", "write")
IMAGE_FIELDS = ("image", "file", "height", "width", "light", "n_blobs", "mount_share", "silhouette", "davies_bouldin", "seconds",
                *(f"{s}_s" for s in STAGES))
PREFETCH = 2  # images decoded ahead of the one being segmented (bounded memory)


@dataclass
class ExportSummary:
    seen: int = 0
    exported: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    stage_seconds: dict = field(default_factory=dict)  # summed over exported images
    finish_error: str | None = None  # set when the closing tables/zip could not be written
    fit_seconds: float = 0.0  # training on the folder (0 when loaded or nothing to learn)
    not_images: list[tuple[str, str]] = field(default_factory=list)  # folder entries not exported: (name, reason)

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / self.exported if self.exported else float("nan")

    def line(self) -> str:
        return (f"images seen {self.seen}, exported {self.exported}, skipped (already done) {self.skipped}, "
                f"failed {self.failed}; {self.seconds_per_image:.3f} s per exported image"
                f"{_not_images_note(self.not_images)}")


def mask_path(out_dir: Path, image: Path) -> Path:
    return out_dir / f"{image.stem}_mask.npy"


def validate_mask(mask: np.ndarray, shape: tuple[int, int]) -> None:
    """Raise ValueError unless ``mask`` is an integer (H, W) array of ``shape`` whose ids
    are exactly 0..N (consecutive)."""
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask dtype {mask.dtype} is not integer")
    if mask.shape != tuple(shape):
        raise ValueError(f"mask shape {mask.shape} != image shape {tuple(shape)}")
    ids = np.unique(mask)
    if ids[0] < 0:
        raise ValueError("negative ids in mask")
    n = int(ids[-1])
    present = ids[ids > 0]
    if present.size != n:
        raise ValueError(f"ids are not consecutive 1..{n}")


def is_done(out_dir: Path, image: Path) -> bool:
    """True when a valid mask and its record exist for ``image`` (resume)."""
    mp, part = mask_path(out_dir, image), out_dir / PARTS_DIR / f"{image.stem}.json"
    if not (mp.exists() and part.exists()):
        return False
    try:
        validate_mask(np.load(mp, allow_pickle=False), image_shape(image))
        json.loads(part.read_text())
    except Exception:
        return False
    return True


def blob_stats(mask: np.ndarray, rows_per_chunk: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area (px), centroid row and centroid column of blobs 1..N of an (H, W) integer
    mask: three (N,) float64 arrays. Weighted bincounts over row chunks (exact, about
    3x faster than scipy.ndimage.center_of_mass and bounded memory on huge masks)."""
    n = int(mask.max())
    h, w = mask.shape
    area, rsum, csum = (np.zeros(n + 1) for _ in range(3))
    cols = np.arange(w, dtype=np.float64)
    for r0 in range(0, h, rows_per_chunk):
        block = mask[r0:r0 + rows_per_chunk]
        flat = block.ravel()
        nr = block.shape[0]
        area += np.bincount(flat, minlength=n + 1)
        rsum += np.bincount(flat, weights=np.repeat(np.arange(r0, r0 + nr, dtype=np.float64), w), minlength=n + 1)
        csum += np.bincount(flat, weights=np.tile(cols, nr), minlength=n + 1)
    a = area[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return a, rsum[1:] / a, csum[1:] / a


def blob_rows(name: str, mask: np.ndarray, clusters: np.ndarray, light: str,
              blob_classes: np.ndarray | None = None) -> list[dict]:
    """One blobs.csv row per blob of an (H, W) instance mask: its majority cluster, its
    class name (``thinseg.instances.BLOB_CLASSES``), area and centroid."""
    if int(mask.max()) == 0:
        return []
    areas, rows, cols = blob_stats(mask)
    names = [BLOB_CLASSES[int(k)] for k in blob_classes] if blob_classes is not None else [""] * len(areas)
    return [
        {"image": name, "blob_id": i + 1, "cluster": int(c), "class": k, "area_px": int(a),
         "centroid_row": round(float(r), 2), "centroid_col": round(float(cc), 2), "light": light}
        for i, (c, k, a, r, cc) in enumerate(zip(clusters, names, areas, rows, cols))
    ]


def _fit_segmenter(segmenter: Segmenter, images: list[Path], cfg, out_dir: Path) -> tuple[Segmenter, float]:
    """Fit a dataset-level segmenter on the images (streamed), or load its checkpoint;
    returns (segmenter, seconds spent fitting)."""
    params = cfg[cfg.method]
    given = params.get("checkpoint")
    own = out_dir / f"model_{cfg.method}.ckpt"
    path = Path(given) if given else (own if own.exists() and not cfg.export.overwrite else None)
    if path is not None:
        print(f"[export] loading {cfg.method} checkpoint {path}", file=sys.stderr)
        return type(segmenter).load(path, cfg, segmenter.device), 0.0
    if not segmenter.needs_fit:
        return segmenter, 0.0

    t0 = time.perf_counter()
    segmenter.fit(prepared_images(images, cfg, segmenter.device, f"fit {cfg.method}" if cfg.export.progress else None))
    segmenter.save(own)
    seconds = time.perf_counter() - t0
    print(f"[export] fitted {cfg.method} on {len(images)} images in {seconds:.1f} s; checkpoint {own}", file=sys.stderr)
    return segmenter, seconds


def _timed_load(path: Path, cfg) -> tuple[np.ndarray, tuple[int, int], float]:
    t0 = time.perf_counter()
    rgb, full = read_for_segmentation(path, cfg)
    return rgb, full, time.perf_counter() - t0


def prefetched(paths: list[Path], cfg, depth: int = PREFETCH):
    """Yield (path, future of (rgb, full shape, read seconds)) in order while a worker
    thread decodes up to ``depth`` images ahead (decoding overlaps compute; at most
    ``depth`` + 1 images are in memory). ``future.result()`` raises the load error."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
        queue: deque = deque()
        it = iter(paths)
        for p in islice(it, depth):
            queue.append((p, pool.submit(_timed_load, p, cfg)))
        while queue:
            p, fut = queue.popleft()
            nxt = next(it, None)
            if nxt is not None:
                queue.append((nxt, pool.submit(_timed_load, nxt, cfg)))
            yield p, fut


def _export_one(path: Path, loaded: tuple, segmenter: Segmenter, cfg, out_dir: Path) -> dict:
    """Segment one loaded image, validate and write its record and mask; returns the record.
    ``loaded``: ``_timed_load``'s result (rgb, full shape, read seconds)."""
    rgb, full, read_s = loaded
    t0 = time.perf_counter()
    result = segment(rgb, segmenter, cfg, path.stem, full)
    validate_mask(result.mask, full)
    record = {
        "image": path.stem, "file": path.name, "height": full[0], "width": full[1],
        "light": result.light, "n_blobs": int(result.mask.max()), "mount_share": round(result.mount_share, 4),
        "silhouette": result.internal.get("silhouette"), "davies_bouldin": result.internal.get("davies_bouldin"),
        "blobs": blob_rows(path.stem, result.mask, result.classes, result.light, result.blob_classes),
        "read_s": round(read_s, 4), **{f"{k}_s": round(v, 4) for k, v in result.timing.items()},
    }
    t_write = time.perf_counter()
    save_npy(mask_path(out_dir, path), result.mask.astype(np.int32))
    done = time.perf_counter()
    record.update(write_s=round(done - t_write, 4), seconds=round(read_s + done - t0, 4))
    if cfg.export.get("report", False):
        record["report_s"] = _report_assets(out_dir, path, rgb, result)
    # the record last: an image is done (see is_done) when both files exist and are valid
    write_text(out_dir / PARTS_DIR / f"{path.stem}.json", json.dumps(record))
    return record


def _not_images_note(entries: list) -> str:
    return f"; {len(entries)} other folder entries skipped (not images, see skipped.csv)" if entries else ""


def _report_assets(out_dir: Path, path: Path, rgb: np.ndarray, result) -> float | None:
    """The review report's pictures of one image, from the data in memory (eval.report,
    imported here so that the core does not import eval at module level). A failure
    here never fails the image: a warning, and the report shows it without pictures."""
    try:
        from eval.report import write_assets

        region = getattr(result, "region", None)  # the scene model's mount region map, when there is one
        classes = getattr(result, "blob_classes", None)  # colour by blob class; by cluster without one
        return write_assets(out_dir, path.stem, rgb, result.mask, result.classes if classes is None else classes, region)
    except Exception as exc:
        print(f"[export] warning: no report pictures for {path.name}: {_error_line(exc)}", file=sys.stderr)
        return None


def _write_skipped(out_dir: Path, entries: list[tuple[str, str]]) -> None:
    """skipped.csv: every entry of IMAGES_DIR that is not an image to export, with the reason."""
    _write_csv(out_dir / "skipped.csv", ("entry", "reason"), [{"entry": n, "reason": r} for n, r in entries])


def _write_report(out_dir: Path, images_dir: Path, summary: "ExportSummary", cfg, selection: dict | None) -> None:
    """OUT_DIR/report/index.html (eval.report, imported lazily). Never fails the export."""
    if not cfg.export.get("report", False):
        return
    try:
        from eval.report import build_report

        t0 = time.perf_counter()
        index = build_report(out_dir, images_dir, {
            "images_dir": str(images_dir.resolve()), "seconds": round(summary.seconds, 3),
            "fit_seconds": round(summary.fit_seconds, 3), "seen": summary.seen, "exported": summary.exported,
            "resumed": summary.skipped, "failed": summary.failed, "skipped_entries": len(summary.not_images),
            "selection": selection, "method_source": "runs/selection.json" if selection else "config / command line"})
        print(f"[export] report: {index} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    except Exception as exc:
        print(f"[export] warning: the report could not be written: {_error_line(exc)}", file=sys.stderr)


def _error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _run_local(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """Export in this process (decoding one image ahead in a thread); yields
    (file name, record or None, error line or None) per image, in order."""
    bar = tqdm(prefetched(todo, cfg), total=len(todo), desc=f"export {cfg.method}", unit="img",
               disable=not cfg.export.progress, file=sys.stderr)
    for p, loaded in bar:
        try:
            yield p.name, _export_one(p, loaded.result(), segmenter, cfg, out_dir), None
        except Exception as exc:  # one bad image never stops the run
            yield p.name, None, _error_line(exc)


def _dask_task(path: str, segmenter: Segmenter, cfg, out_dir: str):
    """One image on a dask worker: (file name, record or None, error line or None)."""
    p = Path(path)
    torch.set_num_threads(max(1, int(cfg.export.threads_per_worker)))
    try:
        return p.name, _export_one(p, _timed_load(p, cfg), segmenter, cfg, Path(out_dir)), None
    except Exception as exc:
        return p.name, None, _error_line(exc)


def _run_dask(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """Export on dask.distributed: ``export.scheduler`` (an address) or a LocalCluster of
    ``export.workers`` processes. The fitted segmenter is sent to every worker once
    (``scatter(broadcast=True)``); each task reads, segments and writes one image, with
    the same atomic mask-then-record rule as the local run, so resume works unchanged.
    Workers must see IMAGES_DIR and OUT_DIR at the same paths (a shared filesystem).
    Yields (file name, record or None, error line or None) per image as they finish."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if cfg.export.scheduler:
        client = Client(str(cfg.export.scheduler))
    else:
        n = int(cfg.export.workers) or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        shipped = client.scatter(segmenter, broadcast=True, hash=False)
        futures = {client.submit(_dask_task, str(p), shipped, cfg, str(out_dir), pure=False): p.name for p in todo}
        bar = tqdm(total=len(todo), desc=f"export {cfg.method} (dask)", unit="img",
                   disable=not cfg.export.progress, file=sys.stderr)
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:  # a worker died: the image is reported, the run goes on
                yield futures[fut], None, _error_line(exc)
            bar.update()
            fut.release()
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _write_csv(path: Path, fields, rows) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _write_tables(images: list[Path], out_dir: Path, failures: list[tuple[str, str]]) -> None:
    records, blobs = [], []
    for p in images:
        part = out_dir / PARTS_DIR / f"{p.stem}.json"
        if mask_path(out_dir, p).exists() and part.exists():
            rec = json.loads(part.read_text())
            blobs.extend(rec.pop("blobs"))
            records.append(rec)
    _write_csv(out_dir / "images.csv", IMAGE_FIELDS, records)
    _write_csv(out_dir / "blobs.csv", BLOB_FIELDS, blobs)
    _write_csv(out_dir / "failures.csv", ("image", "error"), [{"image": f, "error": e} for f, e in failures])


def _write_zip(images: list[Path], out_dir: Path, requirements: str) -> Path:
    target = out_dir / "submission.zip"
    with atomic_open(target, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for p in images:
                mp = mask_path(out_dir, p)
                if mp.exists():
                    zf.write(mp, arcname=mp.name)
            zf.writestr("requirements.txt", requirements)
    return target


def _stem_conflicts(images: list[Path]) -> dict[Path, str]:
    """Images whose stem is already taken by an earlier file (their masks would collide)."""
    first: dict[str, Path] = {}
    bad = {}
    for p in images:
        if p.stem in first:
            bad[p] = f"same name stem as {first[p.stem].name}: its mask {p.stem}_mask.npy would be overwritten"
        else:
            first[p.stem] = p
    return bad


def export_folder(images_dir, out_dir, cfg, selection: dict | None = None) -> ExportSummary:
    """Export masks for every image in ``images_dir`` into ``out_dir`` (see module docstring).
    ``selection``: the ablation's choice used for the method (shown in the report)."""
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    images, not_images = scan_folder(images_dir)
    if cfg.export.executor not in ("local", "dask"):
        raise ValueError(f"export.executor must be local or dask, not {cfg.export.executor!r}")
    if out_dir.resolve() == images_dir.resolve():
        raise ValueError("OUT_DIR must differ from IMAGES_DIR: the input folder is never written to")
    try:
        (out_dir / PARTS_DIR).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)
        remove_stale_temporaries(out_dir / PARTS_DIR)
        write_text(out_dir / PARTS_DIR / "write-test", "")
        (out_dir / PARTS_DIR / "write-test").unlink()
    except OSError as exc:
        raise OSError(f"output folder {out_dir} is not writable ({exc.strerror or exc}); nothing was exported") from None
    torch.manual_seed(int(cfg.seed))
    np.random.seed(int(cfg.seed))
    requirements = requirements_text()
    write_text(out_dir / "requirements.txt", requirements)
    write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

    summary = ExportSummary(seen=len(images), not_images=not_images)
    conflicts = _stem_conflicts(images)
    todo = []
    for p in images:
        if p in conflicts:
            summary.failures.append((p.name, conflicts[p]))
        elif not cfg.export.overwrite and is_done(out_dir, p):
            summary.skipped += 1
        else:
            todo.append(p)

    t_start = time.perf_counter()
    if todo:
        segmenter = build_segmenter(cfg, resolve_device(cfg.device))
        segmenter, summary.fit_seconds = _fit_segmenter(segmenter, [p for p in images if p not in conflicts], cfg, out_dir)
        t_start = time.perf_counter()
        run = _run_dask if cfg.export.executor == "dask" else _run_local
        stage_totals = dict.fromkeys(STAGES, 0.0)
        for name, record, error in run(todo, segmenter, cfg, out_dir):
            if error is None:
                for k in STAGES:
                    stage_totals[k] += record[f"{k}_s"]
                summary.exported += 1
            else:
                summary.failures.append((name, error))
        summary.stage_seconds = stage_totals
    summary.seconds = time.perf_counter() - t_start
    summary.failed = len(summary.failures)
    for name, msg in summary.failures:
        print(f"[export] FAILED {name}: {msg}", file=sys.stderr)
    ok_images = [p for p in images if p not in conflicts]
    try:
        _write_tables(ok_images, out_dir, summary.failures)
        _write_skipped(out_dir, not_images)
        if cfg.export.zip:
            _write_zip(ok_images, out_dir, requirements)
    except OSError as exc:  # e.g. the disk filled up: the masks written so far stay valid
        summary.finish_error = (f"could not write the tables/zip ({exc.strerror or exc}); every mask written is "
                                "complete and valid: free space and run the same command again to finish")
    _write_report(out_dir, images_dir, summary, cfg, selection)
    return summary


def _selected_overrides(overrides: list[str], found: dict | None = None) -> list[str]:
    """The overrides of the model chosen by the latest evaluation (``RUN_ROOT/selection.json``,
    written by ``experiments.ablation``), or [] for the documented default (base.yaml).
    ``found``: a dict that receives the selection (for the report)."""
    from eval.selection import SELECTION_FILE, read_selection

    base = config_from_cli(overrides, quiet=True)
    root = Path(base.run.root) if base is not None else Path("runs")
    if not root.is_absolute() and not (root / SELECTION_FILE).exists():
        root = Path(__file__).resolve().parent.parent / root  # relative to the checkout, wherever we run from
    sel = read_selection(root)
    if sel is None:
        print(f"[export] no method= given and no {root / SELECTION_FILE}: using the default "
              f"method {base.method if base is not None else 'kmeans'}", file=sys.stderr)
        return []
    print(f"[export] no method= given: using the chosen model {sel['run']} ({' '.join(sel['overrides'])}) "
          f"from {root / SELECTION_FILE}: {sel.get('why', '')}", file=sys.stderr)
    if found is not None:
        found.update(sel, file=str(root / SELECTION_FILE))
    return [o for o in sel["overrides"] if o.split("=", 1)[0].strip() not in ("export.overwrite",)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="export_masks", description=__doc__.split("\n\n")[0])
    parser.add_argument("images_dir")
    parser.add_argument("out_dir")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value (e.g. method=gmm gmm.k=5)")
    args = parser.parse_args(argv)
    overrides = list(args.overrides)
    chosen: dict = {}
    if not any(o.split("=", 1)[0].strip() == "method" for o in overrides):
        overrides = _selected_overrides(overrides, chosen) + overrides
    cfg = config_from_cli(overrides)
    if cfg is None:
        return 2
    if not Path(args.images_dir).is_dir():
        print(f"error: image folder not found: {args.images_dir}", file=sys.stderr)
        return 2
    try:
        summary = export_folder(args.images_dir, args.out_dir, cfg, selection=chosen or None)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    print(f"[export] {summary.line()}")
    total = sum(summary.stage_seconds.values())
    if total > 0:
        print("[export] time per stage: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in summary.stage_seconds.items()))
    print(f"[export] masks: {out}/*_mask.npy  blobs: {out / 'blobs.csv'}  zip: {out / 'submission.zip'}")
    if summary.failed:
        print(f"[export] {summary.failed} image(s) failed, see {out / 'failures.csv'}", file=sys.stderr)
    if summary.finish_error:
        print(f"[export] error: {summary.finish_error}", file=sys.stderr)
    return 1 if summary.failed or summary.finish_error else 0


if __name__ == "__main__":
    sys.exit(main())
