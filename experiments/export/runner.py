"""The folder runner: which images to do (resume), the fit policy, the executors
(``local``: this process with the next images decoded in a thread; ``processes``: a
pool of worker processes on this machine, one per core; ``auto``: ``processes`` for a
folder large enough to repay the workers' start, else ``local``; ``dask``:
``dask.distributed``), and one image from pixels to its validated mask and record.

    summary = export_folder(IMAGES_DIR, OUT_DIR, cfg)   # cfg: experiments.config.load_config([...])

Every file is written atomically; an image counts as done when its mask and then its
record are written (``records.is_done``), so a killed run finishes with the same command.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from eval.metrics import internal_scores
from eval.report import build_report, write_assets
from thinseg.atomic import remove_stale_temporaries, save_npy, write_text
from thinseg.device import resolve_device
from thinseg.environment import requirements_text
from thinseg.imageio import scan_folder
from thinseg.pipeline import prepared_images, read_for_segmentation, segment
from thinseg.segmenter import Segmenter, build_segmenter

from .records import (PARTS_DIR, STAGES, blob_rows, is_done, mask_path, validate_mask, write_record,
                      write_skipped, write_tables, write_zip)

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


def _not_images_note(entries: list) -> str:
    return f"; {len(entries)} other folder entries skipped (not images, see skipped.csv)" if entries else ""


def _error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


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


def _report_assets(out_dir: Path, path: Path, rgb: np.ndarray, result) -> float | None:
    """The review report's pictures of one image, from the data in memory. A failure
    here never fails the image: a warning, and the report shows it without pictures."""
    try:
        return write_assets(out_dir, path.stem, rgb, result.mask, result.blob_classes, result.region)
    except Exception as exc:
        print(f"[export] warning: no report pictures for {path.name}: {_error_line(exc)}", file=sys.stderr)
        return None


def export_one(path: Path, loaded: tuple, segmenter: Segmenter, cfg, out_dir: Path) -> dict:
    """Segment one loaded image, score it, validate and write its mask, then its record;
    returns the record. ``loaded``: (rgb, full shape, read seconds)."""
    rgb, full, read_s = loaded
    t0 = time.perf_counter()
    result = segment(rgb, segmenter, cfg, path.stem, full)
    t_eval = time.perf_counter()
    internal = {}
    if cfg.eval.internal:
        feats = result.features.reshape(-1, result.features.shape[-1]).cpu().numpy()
        internal = internal_scores(feats, result.labels.ravel(), int(cfg.eval.sample_size), int(cfg.seed))
    timing = {**result.timing, "eval": time.perf_counter() - t_eval}
    validate_mask(result.mask, full)
    record = {
        "image": path.stem, "file": path.name, "height": full[0], "width": full[1],
        "light": result.light, "n_blobs": int(result.mask.max()), "mount_share": round(result.mount_share, 4),
        "silhouette": internal.get("silhouette"), "davies_bouldin": internal.get("davies_bouldin"),
        "blobs": blob_rows(path.stem, result.mask, result.classes, result.light, result.blob_classes),
        "read_s": round(read_s, 4), **{f"{k}_s": round(v, 4) for k, v in timing.items()},
    }
    t_write = time.perf_counter()
    save_npy(mask_path(out_dir, path), result.mask.astype(np.int32))
    done = time.perf_counter()
    record.update(write_s=round(done - t_write, 4), seconds=round(read_s + done - t0, 4))
    if cfg.export.get("report", False):
        record["report_s"] = _report_assets(out_dir, path, rgb, result)
    write_record(out_dir, path, record)  # last: the image is done when both files exist and are valid
    return record


def run_local(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """Export in this process (decoding ahead in a thread); yields
    (file name, record or None, error line or None) per image, in order."""
    bar = tqdm(prefetched(todo, cfg), total=len(todo), desc=f"export {cfg.method}", unit="img",
               disable=not cfg.export.progress, file=sys.stderr)
    for p, loaded in bar:
        try:
            yield p.name, export_one(p, loaded.result(), segmenter, cfg, out_dir), None
        except Exception as exc:  # one bad image never stops the run
            yield p.name, None, _error_line(exc)


def _export_path(path: str, segmenter: Segmenter, cfg, out_dir: str):
    """Read and export one image in a worker (dask or pool): (file name, record or None,
    error line or None); the image's own errors are reported, never raised."""
    p = Path(path)
    try:
        return p.name, export_one(p, _timed_load(p, cfg), segmenter, cfg, Path(out_dir)), None
    except Exception as exc:
        return p.name, None, _error_line(exc)


def _dask_task(path: str, segmenter: Segmenter, cfg, out_dir: str):
    """One image on a dask worker: (file name, record or None, error line or None)."""
    torch.set_num_threads(max(1, int(cfg.export.threads_per_worker)))
    return _export_path(path, segmenter, cfg, out_dir)


def run_dask(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """Export on dask.distributed: ``export.scheduler`` (an address) or a LocalCluster of
    ``export.workers`` processes. The fitted segmenter is sent to every worker once
    (``scatter(broadcast=True)``); each task reads, segments and writes one image, with
    the same atomic mask-then-record rule as the local run, so resume works unchanged.
    Workers must see IMAGES_DIR and OUT_DIR at the same paths (a shared filesystem).
    Yields (file name, record or None, error line or None) per image as they finish."""
    from dask.distributed import Client, LocalCluster, as_completed  # optional dependency, only for this executor

    cluster = None
    if cfg.export.scheduler:
        client = Client(str(cfg.export.scheduler))
    else:
        cluster = LocalCluster(n_workers=_n_workers(cfg), threads_per_worker=1, processes=True, dashboard_address=None)
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


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


WORKER_GIB = 1.0  # peak memory of one export worker (the 1000-image benchmark: 2541 MiB for the main process and two)


def _free_gib() -> float | None:
    """Memory available to new processes now, GiB (None where the system does not say):
    psutil's ``available`` (on Linux the kernel's MemAvailable: free memory plus the page
    cache it can reclaim)."""
    try:
        import psutil

        return psutil.virtual_memory().available / 2**30
    except (ImportError, OSError, RuntimeError):
        return None


def _n_workers(cfg) -> int:
    """``export.workers``; 0 = one per CPU core this process may use, but no more than
    the free memory holds (``WORKER_GIB`` each), at least one."""
    if int(cfg.export.workers) > 0:
        return int(cfg.export.workers)
    free = _free_gib()
    return max(1, min(_cores(), int(free // WORKER_GIB) if free is not None else _cores()))


_WORKER: dict = {}  # per worker process: the segmenter, config and output folder


def _init_worker(segmenter: Segmenter, cfg, out_dir: str) -> None:
    """Pool worker start: one thread for torch and the BLAS/OpenMP libraries (the pool
    already fills the cores; more threads per worker only contend)."""
    threads = max(1, int(cfg.export.threads_per_worker))
    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency
    _WORKER["limits"] = threadpool_limits(threads)
    _WORKER.update(segmenter=segmenter, cfg=cfg, out_dir=Path(out_dir))


def _pool_task(path: str):
    """One image in a pool worker: (file name, record or None, error line or None)."""
    return _export_path(path, _WORKER["segmenter"], _WORKER["cfg"], _WORKER["out_dir"])


def run_processes(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """Export on a pool of ``export.workers`` processes of this machine (0 = one per
    core), each reading, segmenting and writing whole images with the same atomic rules
    as the local run (so resume and the masks are unchanged). Workers are spawned, not
    forked (torch's and FAISS's OpenMP pools do not survive a fork); the fitted
    segmenter is sent to each once. If a worker dies (killed, out of memory), the images
    not yet done are finished in this process. Yields (file name, record or None,
    error line or None) per image as they finish."""
    pending = {str(p) for p in todo}
    bar = tqdm(total=len(todo), desc=f"export {cfg.method} ({_n_workers(cfg)} processes)", unit="img",
               disable=not cfg.export.progress, file=sys.stderr)
    pool = ProcessPoolExecutor(_n_workers(cfg), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(segmenter, cfg, str(out_dir)))
    try:
        futures = {pool.submit(_pool_task, str(p)): str(p) for p in todo}
        for fut in as_completed(futures):
            result = fut.result()  # _pool_task catches the image's own errors
            pending.discard(futures[fut])
            bar.update()
            yield result
    except BrokenProcessPool as exc:
        left = [p for p in todo if str(p) in pending]
        print(f"[export] warning: a worker process died ({_error_line(exc)}); "
              f"the {len(left)} images not yet done are exported in this process (a script calling "
              f"export_folder must do so under `if __name__ == \"__main__\":` for worker processes to start; "
              f"export.executor=local avoids them)", file=sys.stderr)
        for item in run_local(left, segmenter, cfg, out_dir):
            bar.update()
            yield item
    finally:  # also on Ctrl-C: queued images are dropped, not waited for (a rerun resumes)
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()


def run_auto(todo: list[Path], segmenter: Segmenter, cfg, out_dir: Path):
    """``processes`` when the model runs on the CPU, there is more than one core and at
    least ``export.pool_min_images`` images to do (each worker's start costs seconds of
    imports), else ``local`` (on a GPU one process keeps the device busy; a worker each
    would hold its own copy of the model there)."""
    on_cpu = torch.device(segmenter.device).type == "cpu"
    if on_cpu and _n_workers(cfg) > 1 and len(todo) >= int(cfg.export.pool_min_images):
        return run_processes(todo, segmenter, cfg, out_dir)
    return run_local(todo, segmenter, cfg, out_dir)


EXECUTORS = {"auto": run_auto, "local": run_local, "processes": run_processes, "dask": run_dask}


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


def _write_report(out_dir: Path, images_dir: Path, summary: ExportSummary, cfg, selection: dict | None) -> None:
    """OUT_DIR/report/index.html (``eval.report``). Never fails the export."""
    if not cfg.export.get("report", False):
        return
    try:
        t0 = time.perf_counter()
        index = build_report(out_dir, images_dir, {
            "images_dir": str(images_dir.resolve()), "seconds": round(summary.seconds, 3),
            "fit_seconds": round(summary.fit_seconds, 3), "seen": summary.seen, "exported": summary.exported,
            "resumed": summary.skipped, "failed": summary.failed, "skipped_entries": len(summary.not_images),
            "selection": selection, "method_source": "runs/selection.json" if selection else "config / command line"})
        print(f"[export] report: {index} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    except Exception as exc:
        print(f"[export] warning: the report could not be written: {_error_line(exc)}", file=sys.stderr)


def _prepare_out_dir(out_dir: Path) -> None:
    try:
        (out_dir / PARTS_DIR).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)
        remove_stale_temporaries(out_dir / PARTS_DIR)
        write_text(out_dir / PARTS_DIR / "write-test", "")
        (out_dir / PARTS_DIR / "write-test").unlink()
    except OSError as exc:
        raise OSError(f"output folder {out_dir} is not writable ({exc.strerror or exc}); nothing was exported") from None


def export_folder(images_dir, out_dir, cfg, selection: dict | None = None) -> ExportSummary:
    """Export masks for every image in ``images_dir`` into ``out_dir``.
    ``selection``: the ablation's choice the method came from (shown in the report)."""
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    images, not_images = scan_folder(images_dir)
    if cfg.export.executor not in EXECUTORS:
        raise ValueError(f"export.executor must be {', '.join(EXECUTORS)}, not {cfg.export.executor!r}")
    if out_dir.resolve() == images_dir.resolve():
        raise ValueError("OUT_DIR must differ from IMAGES_DIR: the input folder is never written to")
    _prepare_out_dir(out_dir)
    torch.manual_seed(int(cfg.seed))
    np.random.seed(int(cfg.seed))
    requirements = requirements_text()
    write_text(out_dir / "requirements.txt", requirements)
    write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

    summary = ExportSummary(seen=len(images), not_images=not_images)
    conflicts = _stem_conflicts(images)
    ok_images = [p for p in images if p not in conflicts]
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
        desc = f"fit {cfg.method}" if cfg.export.progress else None
        segmenter, summary.fit_seconds = segmenter.ready(
            lambda: prepared_images(ok_images, cfg, segmenter.device, desc),
            save_to=out_dir / f"model_{cfg.method}.ckpt", reuse=not cfg.export.overwrite, progress=bool(cfg.export.progress))
        t_start = time.perf_counter()
        stage_totals = dict.fromkeys(STAGES, 0.0)
        for name, record, error in EXECUTORS[cfg.export.executor](todo, segmenter, cfg, out_dir):
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
    try:
        write_tables(ok_images, out_dir, summary.failures)
        write_skipped(out_dir, not_images)
        if cfg.export.zip:
            write_zip(ok_images, out_dir, requirements)
    except OSError as exc:  # e.g. the disk filled up: the masks written so far stay valid
        summary.finish_error = (f"could not write the tables/zip ({exc.strerror or exc}); every mask written is "
                                "complete and valid: free space and run the same command again to finish")
    _write_report(out_dir, images_dir, summary, cfg, selection)
    return summary
