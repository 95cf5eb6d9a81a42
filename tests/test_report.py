"""The export's review report (eval/report.py): files, escaping, and the page as a real
browser (headless Chromium) renders it: cards, filters, flags, blob info, a screenshot."""
import csv
import html
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from eval import report
from experiments.export import main
from thinseg.synthetic import write_synthetic_set

ODD = "ñandú ölçü 試料 <b>x&amp;#1"  # spaces, non-ASCII, markup and URL specials in one name
N_SYNTH = 3


def _chromium() -> str | None:
    for name in (os.environ.get("THINSEG_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


CHROMIUM = _chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (scripts/test.sh installs the Debian package `chromium` when apt-get "
                             "exists; or set THINSEG_CHROMIUM=/path/to/chromium)")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A small export: 3 synthetic images, a copy with an odd name, a flat image (no blobs:
    flagged), a text file named .jpg (failed) and a note (skipped)."""
    root = tmp_path_factory.mktemp("report")
    src = write_synthetic_set(root / "synth", n_images=N_SYNTH, seed=0)
    images = root / "in"
    images.mkdir()
    for p in src:
        shutil.copy(p, images / p.name)
    shutil.copy(src[0], images / f"{ODD}.png")
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(images / "flat grey.png")
    (images / "broken.jpg").write_bytes(b"this is text, not a JPEG")
    (images / "notes.txt").write_text("field notes")
    out = root / "out"
    assert main([str(images), str(out), "method=kmeans", "export.progress=false"]) == 1  # one failed
    return images, out


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class _Cards(HTMLParser):
    """Cards (<article class="card ...">) of a DOM dump: attributes and text."""

    def __init__(self):
        super().__init__()
        self.cards, self._depth, self.ids = [], 0, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = a
        if tag == "article" and "card" in (a.get("class") or "").split():
            self.cards.append({**a, "text": ""})
            self._depth = 1
        elif self._depth and tag == "article":
            self._depth += 1

    def handle_endtag(self, tag):
        if self._depth and tag == "article":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.cards[-1]["text"] += data


def _parse(dom: str) -> _Cards:
    p = _Cards()
    p.feed(dom)
    return p


def _dom(page: Path, fragment: str = "") -> str:
    url = page.as_uri() + (f"#{fragment}" if fragment else "")
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          f"--user-data-dir={page.parent / '.chromium-profile'}", "--virtual-time-budget=5000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "<html" in run.stdout, run.stderr[-2000:]
    return run.stdout


def _visible(dom: str) -> set[str]:
    return {c["data-name"] for c in _parse(dom).cards if "hidden" not in c}


# ---------------------------------------------------------------------------- files (no browser)

def test_report_files_and_escaping(export):
    images, out = export
    rep = out / "report"
    index = (rep / "index.html").read_text(encoding="utf-8")
    for f in ("report.css", "gallery.js", "viewer.js"):
        assert (rep / f).is_file()
    assert "http://" not in index.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in index
    assert "<b>x" not in index and html.escape(ODD) in index  # the name is text, never markup
    assert quote(f"{ODD}.t.jpg", safe="") in index  # file links are URL-quoted
    stems = [r["image"] for r in _rows(out / "images.csv")]
    assert len(stems) == N_SYNTH + 2
    for stem in stems:
        names = report.asset_names(stem)
        for key in ("thumb", "view", "ids", "meta"):
            assert (rep / "assets" / names[key]).is_file(), (stem, key)
        with Image.open(rep / "assets" / names["thumb"]) as im:
            assert max(im.size) == min(report.THUMB_PX, max(int(r[k]) for r in _rows(out / "images.csv")
                                                                if r["image"] == stem for k in ("height", "width")))
        page = (rep / "img" / f"{stem}.html").read_text(encoding="utf-8")
        assert f"../../{quote(stem + '_mask.npy', safe='')}" in page  # link to the mask
    page = (rep / "img" / f"{ODD}.html").read_text(encoding="utf-8")
    assert "<b>x" not in page
    assert index.count('<article class="card') == N_SYNTH + 3  # 5 exported + 1 failed
    assert "notes.txt" in index and "not an image extension" in index  # skipped entry listed
    assert 'id="n-failed">1<' in index and 'id="n-skipped">1<' in index


def test_rebuild_draws_missing_pictures_from_the_images(export, tmp_path):
    images, out = export
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "report")
    assert report.main([str(copy)]) == 0  # no IMAGES_DIR: cards without pictures
    assert not list((copy / "report" / "assets").glob("*.jpg"))
    assert "no picture" in (copy / "report" / "index.html").read_text(encoding="utf-8")
    assert report.main([str(copy), str(images)]) == 0
    assert len(list((copy / "report" / "assets").glob("*.t.jpg"))) == N_SYNTH + 2
    assert "no picture" not in (copy / "report" / "index.html").read_text(encoding="utf-8")
    assert report.main([str(tmp_path / "nothing")]) == 2


def test_report_off_writes_nothing(tmp_path, synthetic_dir):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(sorted(synthetic_dir.glob("*.png"))[0], src)
    assert main([str(src), str(tmp_path / "out"), "method=kmeans", "export.progress=false", "export.report=false"]) == 0
    assert not (tmp_path / "out" / "report").exists()


def test_assets_tint_the_mount_and_record_its_share(tmp_path):
    rgb = np.full((200, 300, 3), 0.5, np.float32)
    mask = np.zeros((200, 300), np.int32)
    mask[20:60, 20:60] = 1
    region = np.zeros((100, 150), np.uint8)  # another resolution than the mask
    region[:, 100:] = report.REGION_MOUNT
    region[:10, :10] = 2  # out-of-focus rock is not mount
    report.write_assets(tmp_path, "x", rgb, mask, np.array([2]), region)
    meta = (tmp_path / "report" / "assets" / "x.json").read_text()
    assert '"mount_share": 0.3333' in meta
    with Image.open(tmp_path / "report" / "assets" / "x.t.jpg") as im:
        thumb = np.asarray(im.convert("RGB")).astype(int)
    assert thumb.shape == (200, 300, 3)  # never upscaled
    assert thumb[100, 250, 2] > thumb[100, 250, 0] + 40  # mount tinted blue
    assert abs(thumb[150, 100] - 128).max() < 8  # rock untouched
    fill = thumb[40, 40]
    assert abs(fill - (0.65 * 128 + 0.35 * report.PALETTE[2])).max() < 12  # class colour, translucent
    item = {"status": "ok", "n_blobs": 1, "max_blob_share": 0.6, "mount_share": 0.7, "error": ""}
    assert {c for c, _ in report.flags_of(item)} == {"big", "mount"}
    assert {c for c, _ in report.flags_of({**item, "n_blobs": 0, "max_blob_share": None})} == {"zero", "mount"}
    assert [c for c, _ in report.flags_of({**item, "n_blobs": report.MANY_BLOBS + 1, "max_blob_share": 0.01,
                                            "mount_share": None})] == ["many"]


def test_ids_png_round_trips_many_blobs():
    ids = (np.arange(600 * 10).reshape(10, 600) % 70000).astype(np.int32)
    png, enc = report._ids_png(ids)
    assert enc == "RGB"
    rgb = np.asarray(Image.open(io.BytesIO(png))).astype(np.int64)
    assert np.array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2], ids)


# ---------------------------------------------------------------------------- in a real browser

@needs_browser
def test_browser_gallery_cards_filters_and_flags(export):
    images, out = export
    index = out / "report" / "index.html"
    dom = _dom(index)
    parsed = _parse(dom)
    assert len(parsed.cards) == N_SYNTH + 3
    assert len(_visible(dom)) == N_SYNTH + 3
    assert "6 of 6 images shown" in dom
    by_name = {c["data-name"]: c for c in parsed.cards}
    flat = by_name["flat grey.png"]
    assert "flagged" in flat["class"] and "zero" in flat["data-flags"] and "no blobs" in flat["text"]
    failed = by_name["broken.jpg"]
    assert failed["data-status"] == "failed" and "failed" in failed["class"] and "ImageLoadError" in failed["text"]
    assert ODD in by_name[f"{ODD}.png".lower()]["text"]  # rendered as text

    uv = {r["file"].lower() for r in _rows(out / "images.csv") if r["light"] == "uv"}
    assert uv and _visible(_dom(index, "light=uv")) == uv
    assert _visible(_dom(index, "filter=uv")) == uv
    assert _visible(_dom(index, "status=failed")) == {"broken.jpg"}
    assert _visible(_dom(index, "status=flagged")) == {"flat grey.png"}
    assert _visible(_dom(index, "status=zero")) == {"flat grey.png"}
    assert _visible(_dom(index, "q=" + quote("ÑANDÚ"))) == {f"{ODD}.png".lower()}
    assert _visible(_dom(index, "min_blobs=1&light=plain")) == {
        r["file"].lower() for r in _rows(out / "images.csv") if r["light"] == "plain" and int(r["n_blobs"]) >= 1}
    dom = _dom(index, "sort=-blobs")
    order = [c["data-name"] for c in _parse(dom).cards]
    counts = [int(_parse(dom).cards[i]["data-blobs"]) for i in range(len(order))]
    assert counts == sorted(counts, reverse=True)


@needs_browser
def test_browser_image_page_shows_the_blob_row(export):
    images, out = export
    blobs = [b for b in _rows(out / "blobs.csv") if b["image"] == ODD]
    assert len(blobs) >= 3
    b3 = blobs[2]
    page = out / "report" / "img" / f"{ODD}.html"
    dom = _dom(page, "blob=3")
    info = _parse(dom).ids["info"]
    panel = dom.split('id="info"', 1)[1].split("</div>", 1)[0]
    assert info.get("data-blob") == "3"
    assert "Blob 3" in panel and f"area {b3['area_px']} px" in panel and f"cluster {b3['cluster']}" in panel
    assert f"row {float(b3['centroid_row']):g}, col {float(b3['centroid_col']):g}" in panel
    # the id map decoded in the page: the blob under a point of the view (a blob pixel's position)
    mask = np.load(out / f"{ODD}_mask.npy")
    m = json.loads((out / "report" / "assets" / report.asset_names(ODD)["meta"]).read_text())
    view_ids = report._nearest(mask, m["view_h"], m["view_w"])
    target = int(view_ids[view_ids > 0][len(view_ids[view_ids > 0]) // 2])
    ys, xs = np.nonzero(view_ids == target)
    k = len(ys) // 2
    dom = _dom(page, f"at={xs[k] + 0.5},{ys[k] + 0.5}")
    assert 'data-ready="ids"' in dom
    assert f"<b>Blob {target}</b>" in dom.split('id="info"', 1)[1].split("</div>", 1)[0]


@needs_browser
def test_browser_screenshot_is_not_blank(export, tmp_path):
    images, out = export
    shot = tmp_path / "shot.png"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--virtual-time-budget=5000",
                          f"--screenshot={shot}", "--window-size=1280,900", (out / "report" / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    px = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert px.shape == (900, 1280)
    assert px.std() > 20  # text, cards and thumbnails, not a blank page
    if os.environ.get("THINSEG_REPORT_SHOT"):
        shutil.copy(shot, os.environ["THINSEG_REPORT_SHOT"])
