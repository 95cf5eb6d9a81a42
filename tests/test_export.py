import csv
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from experiments.config import load_config
from experiments.export import export_folder, main, validate_mask

REPO = Path(__file__).resolve().parent.parent


def _inputs(tmp_path, synthetic_dir, n=3) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(synthetic_dir.glob("*.png"))[:n]:
        shutil.copy(p, folder / p.name)
    return folder


def _snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def _cfg(*extra):
    return load_config(["export.progress=false", *extra])


def test_contract_names_shapes_dtype_tables_zip(tmp_path, synthetic_dir):
    src = _inputs(tmp_path, synthetic_dir, n=4)
    Image.open(src / "synth_000_uv.png").convert("RGBA").save(src / "rgba copy é.jpg", format="PNG")  # PNG data in .jpg
    before = _snapshot(src)
    out = tmp_path / "out"
    summary = export_folder(src, out, _cfg())
    assert (summary.seen, summary.exported, summary.failed) == (5, 5, 0)
    assert _snapshot(src) == before  # input folder untouched
    for p in src.iterdir():
        mask = np.load(out / f"{p.stem}_mask.npy")
        with Image.open(p) as im:
            assert mask.shape == (im.size[1], im.size[0])
        assert mask.dtype == np.int32
        validate_mask(mask, mask.shape)
        assert mask.max() >= 1
    with open(out / "blobs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(rows[0]) == {"image", "blob_id", "cluster", "class", "area_px", "centroid_row", "centroid_col", "light"}
    assert {r["class"] for r in rows} <= {"fluorescent", "opaque_dark", "shiny_grey"}
    assert {r["class"] for r in rows if r["light"] == "uv"} == {"fluorescent"}
    with open(out / "images.csv", newline="") as fh:
        images = list(csv.DictReader(fh))
    assert all(0.0 <= float(r["mount_share"]) < 1.0 for r in images)
    first = [r for r in rows if r["image"] == "synth_000_uv"]
    mask = np.load(out / "synth_000_uv_mask.npy")
    assert len(first) == mask.max()
    assert int(first[0]["area_px"]) == int((mask == 1).sum()) and first[0]["light"] == "uv"
    with zipfile.ZipFile(out / "submission.zip") as zf:
        names = set(zf.namelist())
        assert names == {f"{p.stem}_mask.npy" for p in src.iterdir()} | {"requirements.txt"}
        req = zf.read("requirements.txt").decode()
    for dist in ("torch", "faiss-cpu", "numpy", "omegaconf"):  # the versions installed here, not a literal
        assert f"{dist}=={metadata.version(dist)}" in req.splitlines(), dist
    assert f"# Python {platform.python_version()}" in req
    assert (out / "requirements.txt").read_text() == req
    assert (out / "failures.csv").read_text().strip() == "image,error"
    assert not list(out.glob(".tmp-*"))


def test_resume_skips_valid_masks_and_redoes_broken_ones(tmp_path, synthetic_dir):
    src, out = _inputs(tmp_path, synthetic_dir), tmp_path / "out"
    export_folder(src, out, _cfg())
    masks = sorted(out.glob("*_mask.npy"))
    stamps = {p.name: p.stat().st_mtime_ns for p in masks}
    np.save(masks[0], np.zeros((3, 3), np.int32))  # a wrong-shaped mask is not "done"
    summary = export_folder(src, out, _cfg())
    assert (summary.exported, summary.skipped) == (1, 2)
    assert np.load(masks[0]).shape == (384, 512)
    assert all(p.stat().st_mtime_ns == stamps[p.name] for p in masks[1:])
    summary = export_folder(src, out, _cfg("export.overwrite=true"))
    assert (summary.exported, summary.skipped) == (3, 0)


def test_bad_inputs_are_reported_and_others_exported(tmp_path, synthetic_dir, capsys):
    src = _inputs(tmp_path, synthetic_dir, n=2)
    (src / "empty.png").write_bytes(b"")
    (src / "text.jpg").write_text("not an image")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "tiny.png")
    good = (src / "synth_000_uv.png").read_bytes()
    Image.open(src / "synth_000_uv.png").save(src / "cut.jpg")
    (src / "cut.jpg").write_bytes((src / "cut.jpg").read_bytes()[:3000])
    shutil.copy(src / "synth_000_uv.png", src / "synth_000_uv.tif")  # same stem as a .png
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (12, 1500, 3), dtype=np.uint8)).save(src / "elongated strip.png")
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(src / "smallest.png")
    out = tmp_path / "out"
    code = main([str(src), str(out), "method=kmeans", "export.progress=false"])
    assert code == 1
    with open(out / "failures.csv", newline="") as fh:
        failures = {r["image"]: r["error"] for r in csv.DictReader(fh)}
    assert set(failures) == {"empty.png", "text.jpg", "tiny.png", "cut.jpg", "synth_000_uv.tif"}
    assert "empty" in failures["empty.png"] and "too small" in failures["tiny.png"]
    assert "same name stem" in failures["synth_000_uv.tif"]
    err = capsys.readouterr().err
    assert all(f"FAILED {name}" in err for name in failures)
    assert sorted(p.name for p in out.glob("*_mask.npy")) == [
        "elongated strip_mask.npy", "smallest_mask.npy", "synth_000_uv_mask.npy", "synth_001_uv_mask.npy"]
    assert np.load(out / "elongated strip_mask.npy").shape == (12, 1500)
    assert (src / "synth_000_uv.png").read_bytes() == good


def test_unknown_key_refused_with_valid_keys(tmp_path, synthetic_dir, capsys):
    src = _inputs(tmp_path, synthetic_dir, n=1)
    assert main([str(src), str(tmp_path / "out"), "kmeans.kay=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key" in err and "kmeans.k\n" in err and "instances.min_area" in err
    assert not (tmp_path / "out").exists()


def test_output_folder_must_differ_from_input(tmp_path, synthetic_dir, capsys):
    src = _inputs(tmp_path, synthetic_dir, n=1)
    assert main([str(src), str(src), "export.progress=false"]) == 2
    assert "never written to" in capsys.readouterr().err
    assert sorted(p.name for p in src.iterdir()) == ["synth_000_uv.png"]


def test_killed_run_leaves_no_half_files_and_resumes_identically(tmp_path, synthetic_dir):
    src = _inputs(tmp_path, synthetic_dir, n=6)
    ref = tmp_path / "ref"
    export_folder(src, ref, _cfg())
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "experiments.export", str(src), str(out), "method=kmeans", "export.progress=false"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".parts").glob("*.json"))) < 2:  # two images done
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = list(out.glob("*_mask.npy"))
    assert 2 <= len(written) < 6, "the kill came too late to test an interruption"
    for p in written:  # whatever exists is complete
        validate_mask(np.load(p), (384, 512))
    summary = export_folder(src, out, _cfg())
    assert summary.skipped >= 2 and summary.exported + summary.skipped == 6
    for p in ref.glob("*_mask.npy"):
        assert np.array_equal(np.load(p), np.load(out / p.name)), p.name
    assert not list(out.glob(".tmp-*")) and not list((out / ".parts").glob(".tmp-*"))


def test_dataset_scope_export_saves_and_reuses_checkpoint(tmp_path, synthetic_dir):
    src, out = _inputs(tmp_path, synthetic_dir, n=3), tmp_path / "out"
    export_folder(src, out, _cfg("kmeans.scope=dataset"))
    ckpt = out / "model_kmeans.ckpt"
    assert ckpt.exists()
    first = np.load(out / "synth_000_uv_mask.npy")
    out2 = tmp_path / "out2"
    export_folder(src, out2, _cfg("kmeans.scope=dataset", f"kmeans.checkpoint={ckpt}"))
    assert not (out2 / "model_kmeans.ckpt").exists()  # loaded, not refitted
    assert np.array_equal(first, np.load(out2 / "synth_000_uv_mask.npy"))


def test_export_script_on_real_reference_images(tmp_path, shared_data):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("jeffroth_example1.jpg", "jeffroth_example2.jpg", "philliec459_clastic_01.png"):
        os.symlink(shared_data / "images" / name, src / name)
    out = tmp_path / "out"
    res = subprocess.run(["bash", str(REPO / "scripts" / "export_masks.sh"), str(src), str(out), "method=gmm",
                          "export.progress=false"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "s per exported image" in res.stdout
    for name, shape in (("jeffroth_example1", (1024, 1360)), ("jeffroth_example2", (1024, 1360)),
                        ("philliec459_clastic_01", (368, 535))):
        mask = np.load(out / f"{name}_mask.npy")
        assert mask.shape == shape and mask.dtype == np.int32
        validate_mask(mask, shape)
    assert "method: gmm" in (out / "config.yaml").read_text()
