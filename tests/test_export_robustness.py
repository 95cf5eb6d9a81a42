"""Export under bad input, a read-only or full output disk, on a process pool and on dask, and repeated runs."""
import builtins
import csv
import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import thinseg.atomic as atomic
from experiments.config import load_config
import experiments.export.runner as runner
from baselines.kmeans import KMeansSegmenter
from experiments.export import export_folder, main, validate_mask

CORPUS = Path(__file__).resolve().parent / "data" / "bad_inputs"


def _cfg(*extra):
    return load_config(["export.progress=false", *extra])


def _failures(out: Path) -> dict:
    with open(out / "failures.csv", newline="", encoding="utf-8") as fh:
        return {r["image"]: r["error"] for r in csv.DictReader(fh)}


def _inputs(tmp_path, synthetic_dir, n):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(synthetic_dir.glob("*.png"))[:n]:
        shutil.copy(p, folder / p.name)
    return folder


def test_bad_input_corpus_gives_a_mask_or_one_clear_failure_line(tmp_path, capsys):
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    out = tmp_path / "out"
    assert main([str(CORPUS), str(out), "method=kmeans", "export.progress=false"]) == 1  # some failed, the run finished
    stdout = capsys.readouterr().out
    n_ok = sum("mask" in e for e in expected.values())
    assert f"images seen {len(expected)}, exported {n_ok}, skipped (already done) 0, failed {len(expected) - n_ok}" in stdout
    failures = _failures(out)
    assert set(failures) == {name for name, e in expected.items() if "fail" in e}
    for name, e in expected.items():
        mask_file = out / f"{Path(name).stem}_mask.npy"
        if "fail" in e:
            assert e["fail"] in failures[name] and "\n" not in failures[name]
            if name != "twin.png":  # twin.jpg owns the stem
                assert not mask_file.exists()
        else:
            mask = np.load(mask_file)
            assert mask.dtype == np.int32 and mask.shape == tuple(e["mask"]), name
            validate_mask(mask, tuple(e["mask"]))
    for name in ("depth16.tif", "palette.png", "greyscale.png", "name with spaces.png", "ñandú ölçü 試料.png"):
        assert np.load(out / f"{Path(name).stem}_mask.npy").max() >= 1, name  # blobs found, not just a shape
    assert not list(out.glob(".tmp-*"))


def _fake_open_factory(should_fail):
    real_open = builtins.open

    class Failing:
        def __init__(self, fh, err):
            self.fh, self.err = fh, err

        def write(self, data):
            self.fh.write(bytes(data)[: len(data) // 2])  # half of it lands, then the disk is full
            raise OSError(self.err, os.strerror(self.err))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fake_open(path, mode="r", *args, **kwargs):
        err = should_fail(Path(path))
        if err == errno.EACCES:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        fh = real_open(path, mode, *args, **kwargs)
        return Failing(fh, err) if err else fh

    return fake_open


def test_read_only_output_folder_is_one_clear_error(tmp_path, synthetic_dir, monkeypatch, capsys):
    src, out = _inputs(tmp_path, synthetic_dir, 1), tmp_path / "out"
    out.mkdir()
    # tests run as root in CI, where chmod does not stop writes: simulate EACCES on every write there
    monkeypatch.setattr(atomic, "open", _fake_open_factory(lambda p: errno.EACCES if out in p.parents else 0),
                        raising=False)
    assert main([str(src), str(out), "method=kmeans", "export.progress=false"]) == 2
    err = capsys.readouterr().err
    assert "is not writable" in err and "Traceback" not in err
    assert not list(out.glob("*_mask.npy"))


def test_full_disk_fails_images_cleanly_and_a_rerun_completes(tmp_path, synthetic_dir, monkeypatch, capsys):
    src = _inputs(tmp_path, synthetic_dir, 4)
    ref = tmp_path / "ref"
    export_folder(src, ref, _cfg())
    out = tmp_path / "out"
    writes = {"masks": 0}

    def full_after_two_masks(p: Path) -> int:
        if p.name.startswith(".tmp-") and "_mask.npy" in p.name:
            writes["masks"] += 1
            return errno.ENOSPC if writes["masks"] > 2 else 0
        return errno.ENOSPC if writes["masks"] > 2 and ".parts" not in str(p) else 0

    monkeypatch.setattr(atomic, "open", _fake_open_factory(full_after_two_masks), raising=False)
    assert main([str(src), str(out), "method=kmeans", "export.progress=false"]) == 1
    captured = capsys.readouterr()
    assert "No space left on device" in captured.err and "Traceback" not in captured.err
    assert "exported 2" in captured.out and "failed 2" in captured.out
    written = sorted(out.glob("*_mask.npy"))
    assert len(written) == 2
    for p in written:  # never a half-written mask
        assert np.array_equal(np.load(p), np.load(ref / p.name))
    assert not list(out.glob(".tmp-*"))
    monkeypatch.undo()  # space freed
    summary = export_folder(src, out, _cfg())
    assert (summary.skipped, summary.exported, summary.failed) == (2, 2, 0)
    _assert_same_masks(ref, out)


def test_same_seed_same_input_same_masks(tmp_path, synthetic_dir):
    src = _inputs(tmp_path, synthetic_dir, 3)
    a, b = tmp_path / "a", tmp_path / "b"
    export_folder(src, a, _cfg("method=gmm"))
    export_folder(src, b, _cfg("method=gmm"))
    for p in sorted(a.glob("*_mask.npy")):
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name
    assert (a / "blobs.csv").read_text() == (b / "blobs.csv").read_text()


def _assert_same_masks(plain: Path, other: Path) -> None:
    for p in sorted(plain.glob("*_mask.npy")):
        assert np.array_equal(np.load(p), np.load(other / p.name)), p.name


def _gives_the_plain_run_masks(tmp_path, synthetic_dir, plain_cfg, cfg, again_cfg) -> None:
    """Four images and an empty file exported with ``cfg`` give ``plain_cfg``'s masks and
    blob table, report the empty file, and a rerun with ``again_cfg`` resumes them all."""
    src = _inputs(tmp_path, synthetic_dir, 4)
    shutil.copy(CORPUS / "zero_bytes.png", src / "zero_bytes.png")
    plain, other = tmp_path / "plain", tmp_path / "other"
    export_folder(src, plain, plain_cfg)
    summary = export_folder(src, other, cfg)
    assert (summary.exported, summary.failed) == (4, 1)
    assert "empty file" in _failures(other)["zero_bytes.png"]
    _assert_same_masks(plain, other)
    assert (plain / "blobs.csv").read_text() == (other / "blobs.csv").read_text()
    again = export_folder(src, other, again_cfg)
    assert (again.skipped, again.exported) == (4, 0)  # same resume rule


@pytest.mark.slow
def test_dask_local_cluster_gives_the_plain_run_masks(tmp_path, synthetic_dir):
    dask = _cfg("kmeans.scope=dataset", "export.executor=dask", "export.workers=2")
    _gives_the_plain_run_masks(tmp_path, synthetic_dir, _cfg("kmeans.scope=dataset"), dask, dask)


class _DiesInWorkers(KMeansSegmenter):
    """KMeans whose predict kills any process but the one that built it (a worker
    killed by the system, say for memory)."""

    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        self.home_pid = os.getpid()

    def predict(self, sample):
        if os.getpid() != self.home_pid:
            os._exit(1)
        return super().predict(sample)


@pytest.mark.slow
def test_process_pool_gives_the_plain_run_masks(tmp_path, synthetic_dir):
    _gives_the_plain_run_masks(  # auto takes the pool from pool_min_images on
        tmp_path, synthetic_dir, _cfg("export.executor=local"),
        _cfg("export.executor=auto", "export.pool_min_images=4", "export.workers=2"),
        _cfg("export.executor=processes", "export.workers=2"))


@pytest.mark.slow
def test_a_dead_pool_worker_loses_no_image(tmp_path, synthetic_dir, monkeypatch, capsys):
    src = _inputs(tmp_path, synthetic_dir, 3)
    plain, pool = tmp_path / "plain", tmp_path / "pool"
    export_folder(src, plain, _cfg("export.executor=local"))
    monkeypatch.setattr(runner, "build_segmenter", lambda cfg, device: _DiesInWorkers(cfg, device))
    summary = export_folder(src, pool, _cfg("export.executor=processes", "export.workers=2"))
    assert "a worker process died" in capsys.readouterr().err
    assert (summary.exported, summary.failed) == (3, 0)  # finished in the parent process
    _assert_same_masks(plain, pool)


@pytest.mark.slow
def test_auto_pools_a_large_folder_and_runs_a_small_one_here(tmp_path, synthetic_dir, monkeypatch, capsys):
    src = _inputs(tmp_path, synthetic_dir, 2)
    monkeypatch.setattr(runner, "build_segmenter", lambda cfg, device: _DiesInWorkers(cfg, device))
    summary = export_folder(src, tmp_path / "small", _cfg("export.executor=auto", "export.workers=2"))
    assert summary.exported == 2
    assert "worker process died" not in capsys.readouterr().err  # 2 images < pool_min_images: no pool
    summary = export_folder(src, tmp_path / "large", _cfg("export.executor=auto", "export.workers=2",
                                                          "export.pool_min_images=2"))
    assert summary.exported == 2
    assert "worker process died" in capsys.readouterr().err  # the pool's workers ran (and died)


def test_unknown_executor_is_a_usage_error(tmp_path, synthetic_dir, capsys):
    src = _inputs(tmp_path, synthetic_dir, 1)
    assert main([str(src), str(tmp_path / "out"), "method=kmeans", "export.executor=spark"]) == 2
    assert "export.executor must be auto, local, processes, dask" in capsys.readouterr().err


def test_the_pool_takes_a_worker_per_core_as_far_as_free_memory_holds(monkeypatch):
    monkeypatch.setattr(runner, "_cores", lambda: 8)
    monkeypatch.setattr(runner, "_free_gib", lambda: 3.5)
    assert runner._n_workers(_cfg()) == 3  # 1 GiB per worker
    monkeypatch.setattr(runner, "_free_gib", lambda: 0.3)
    assert runner._n_workers(_cfg()) == 1
    monkeypatch.setattr(runner, "_free_gib", lambda: None)  # the system does not say
    assert runner._n_workers(_cfg()) == 8
    assert runner._n_workers(_cfg("export.workers=5")) == 5  # asked for: as asked


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only: reads /proc/meminfo")
def test_free_memory_counts_the_reclaimable_page_cache():
    """The pool's memory is MemAvailable (free plus reclaimable cache), not MemFree."""
    info = {line.split(":")[0]: int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()}
    assert runner._free_gib() == pytest.approx(info["MemAvailable"], abs=0.5)
    if info["MemAvailable"] - info["MemFree"] > 1.0:  # much cache: the two readings differ
        assert runner._free_gib() > info["MemFree"] + 0.5
