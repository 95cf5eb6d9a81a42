"""Every entry of IMAGES_DIR is accounted for: exported, failed (failures.csv) or skipped
with a reason (skipped.csv). Formats Pillow reads are exported."""
import csv
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from experiments.export import main
from thinseg.imageio import load_image, scan_folder


def _png16(path: Path, arr: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in arr)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def folder(tmp_path, synthetic_dir) -> tuple[Path, dict]:
    """A folder with one entry of every kind; returns (folder, expected outcome per entry)."""
    src = sorted(synthetic_dir.glob("*_uv.png"))[0]
    rgb = np.asarray(Image.open(src).convert("RGB"))
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(rgb).save(d / "photo.webp", quality=90)
    frames = [Image.fromarray(rgb).quantize(64), Image.fromarray(255 - rgb).quantize(64)]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    tifffile.imwrite(d / "pages.tif", np.stack([rgb, rgb[::-1]]))  # two RGB pages
    tifffile.imwrite(d / "grey pages.tiff", np.stack([rgb[..., 0], rgb[..., 1], rgb[..., 2]]), photometric="minisblack")  # 3 grey pages
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.jpg", quality=90)
    _png16(d / "deep16.png", rgb.astype(np.uint16) * 257)
    shutil.copy(src, d / "plain copy.png")
    os.symlink(d / "gone.png", d / "dangling link.png")  # target missing
    os.mkfifo(d / "pipe.png")  # not a regular file: must fail, never block
    (d / ".hidden.png").write_bytes(b"x")
    (d / "sub folder").mkdir()
    (d / "notes.txt").write_text("x")
    (d / "scan.heic").write_bytes(b"x")
    expected = {
        "photo.webp": "exported", "animated.gif": "exported", "pages.tif": "exported", "grey pages.tiff": "exported",
        "cmyk.jpg": "exported", "deep16.png": "exported", "plain copy.png": "exported",
        "dangling link.png": "failed", "pipe.png": "failed",
        ".hidden.png": "skipped", "sub folder": "skipped", "notes.txt": "skipped", "scan.heic": "skipped",
    }
    return d, expected


def test_scan_folder_sorts_entries_into_images_and_skipped(folder):
    d, expected = folder
    images, skipped = scan_folder(d)
    assert {p.name for p in images} == {n for n, e in expected.items() if e != "skipped"}
    reasons = dict(skipped)
    assert set(reasons) == {n for n, e in expected.items() if e == "skipped"}
    assert "hidden" in reasons[".hidden.png"] and "folder" in reasons["sub folder"]
    assert "not an image extension (.txt)" in reasons["notes.txt"] and "unsupported image format (.heic)" in reasons["scan.heic"]


def test_pillow_formats_read_first_frame_and_page(folder):
    d, _ = folder
    gif = load_image(d / "animated.gif")
    tif = load_image(d / "pages.tif")
    grey = load_image(d / "grey pages.tiff")
    ref = load_image(d / "plain copy.png")
    assert gif.shape == tif.shape == grey.shape == ref.shape
    assert np.abs(tif - ref).max() < 1e-6  # the first page
    assert np.array_equal(grey[..., 0], grey[..., 2])  # a grey page, not three pages read as colour
    assert np.abs(load_image(d / "deep16.png") - ref).max() < 2 / 255
    assert np.abs(load_image(d / "photo.webp") - ref).mean() < 0.05
    assert np.abs(load_image(d / "cmyk.jpg") - ref).mean() < 0.1
    assert np.abs(gif - ref).mean() < 0.1  # frame 1, not the inverted frame 2


def test_every_entry_is_exported_failed_or_skipped(folder, tmp_path, capsys):
    d, expected = folder
    out = tmp_path / "out"
    assert main([str(d), str(out), "method=kmeans", "export.progress=false"]) == 1
    stdout = capsys.readouterr().out
    exported = {r["file"] for r in _rows(out / "images.csv")}
    failed = {r["image"]: r["error"] for r in _rows(out / "failures.csv")}
    skipped = {r["entry"]: r["reason"] for r in _rows(out / "skipped.csv")}
    assert exported == {n for n, e in expected.items() if e == "exported"}
    assert set(failed) == {n for n, e in expected.items() if e == "failed"}
    assert set(skipped) == {n for n, e in expected.items() if e == "skipped"}
    assert exported | set(failed) | set(skipped) == set(os.listdir(d))  # nothing vanishes
    assert "broken symbolic link" in failed["dangling link.png"] and "gone.png" in failed["dangling link.png"]
    assert "not a regular file" in failed["pipe.png"]
    for name in exported:
        mask = np.load(out / f"{Path(name).stem}_mask.npy")
        with Image.open(d / name) as im:
            assert mask.shape == (im.size[1], im.size[0]), name
    assert "images seen 9, exported 7, skipped (already done) 0, failed 2" in stdout
    assert "4 other folder entries skipped (not images, see skipped.csv)" in stdout
    index = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "Skipped entries (4)" in index and "scan.heic" in index and "sub folder" in index
