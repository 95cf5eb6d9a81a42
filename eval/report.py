"""Review report of an export: ``OUT_DIR/report/index.html``, a static HTML gallery.

    python -m eval.report OUT_DIR [IMAGES_DIR]     # (re)build the report of an export

The export (``experiments.export``, ``export.report: true``) calls :func:`write_assets`
for every image it segments, with the data already in memory (the decoded pixels,
the mask, the blob classes and, when the scene model provides one, the mount region
map), and :func:`build_report` once at the end. Layout of ``OUT_DIR/report/``:

* ``index.html``: the summary (counts, flags, histogram of blobs per image, split by
  light type, method and config, times) and one card per image (thumbnail with the
  blobs drawn over it, numbers, flags), with sorting, filters and a name search. The
  filter state lives in the URL hash (``index.html#light=uv&q=name&status=flagged``),
  so a view can be bookmarked (and tested with a headless browser's DOM dump);
* ``img/NAME.html``: one page per image: the image at up to 900 px with the overlay
  switchable (on / outlines / off), the blob under the cursor (id, class, area,
  centroid: its ``blobs.csv`` row), the table of blobs and a link to the mask.
  ``img/NAME.html#blob=3`` selects blob 3; ``#at=X,Y`` the blob under view pixel (X, Y);
  ``#overlay=off|outlines|on``;
* ``assets/``: ``NAME.t.jpg`` (320 px thumbnail with the overlay burnt in),
  ``NAME.v.jpg`` (900 px image), ``NAME.ids.png`` (blob ids at 900 px; embedded in the
  page as a data URI so the page's script can read it from the file system),
  ``NAME.mount.png`` (mount region, when known), ``NAME.json`` (sizes, seconds);
* ``report.css``, ``gallery.js``, ``viewer.js``: static files, no server, no internet.

Everything shown that comes from a file name is escaped (``html.escape``) or
URL-quoted; names never become markup.
"""
from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from thinseg.imageio import load_image

REPORT_DIR = "report"
ASSETS_DIR = "assets"
PAGES_DIR = "img"
STATIC = Path(__file__).resolve().parent / "report_static"
STATIC_FILES = ("report.css", "gallery.js", "viewer.js")
THUMB_PX = 320  # long side of the gallery thumbnail
VIEW_PX = 900  # long side of the image page's picture and id map
THUMB_QUALITY = 78
VIEW_QUALITY = 65  # 900 px JPEG: keeps the report of 1000 images under about 100 MB
FILL_ALPHA = 0.35
MOUNT_ALPHA = 0.35
# Blob colours by class: the blob class (thinseg.instances.BLOB_CLASSES, blobs.csv `class`)
# when there is one, else the cluster id (modulo the length); the mount tint is not among them.
CLASS_NAMES = ("fluorescent", "opaque_dark", "shiny_grey")
PALETTE = np.array([(255, 40, 160), (0, 230, 120), (255, 160, 0), (145, 30, 180), (70, 240, 240),
                    (230, 25, 75), (210, 245, 60), (250, 190, 212), (0, 128, 128), (255, 225, 25)], np.float32)
MOUNT_RGB = np.array((90, 110, 255), np.float32)
REGION_MOUNT = 1  # region map codes (thinseg.synthetic / the scene model): 0 rock, 1 mount, 2 out-of-focus rock
# flags
MANY_BLOBS = 300  # more blobs than this in one image
BIG_BLOB = 0.5  # one blob covering more than this share of the image
BIG_MOUNT = 0.5  # mount region covering more than this share of the image


# ---------------------------------------------------------------------------- assets (during the export)

def asset_names(name: str) -> dict:
    """File names (inside ``report/assets``) of one image's assets; ``name`` = image stem."""
    return {"thumb": f"{name}.t.jpg", "view": f"{name}.v.jpg", "ids": f"{name}.ids.png",
            "mount": f"{name}.mount.png", "meta": f"{name}.json"}


def _write_bytes(path: Path, data: bytes) -> None:
    """Temporary sibling + rename (no fsync: the report can always be rebuilt)."""
    tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _nearest(arr: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D array (pixel centres)."""
    h, w = arr.shape[:2]
    if (h, w) == (out_h, out_w):
        return arr
    ri = np.minimum(((np.arange(out_h) + 0.5) * (h / out_h)).astype(np.intp), h - 1)
    ci = np.minimum(((np.arange(out_w) + 0.5) * (w / out_w)).astype(np.intp), w - 1)
    return arr[ri][:, ci]


def _fit(h: int, w: int, px: int) -> tuple[int, int]:
    s = min(1.0, px / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def edges(ids: np.ndarray) -> np.ndarray:
    """Boolean (h, w): blob pixels with a 4-neighbour of another id (the outlines)."""
    e = np.zeros(ids.shape, bool)
    d = ids[:, 1:] != ids[:, :-1]
    e[:, 1:] |= d
    e[:, :-1] |= d
    d = ids[1:] != ids[:-1]
    e[1:] |= d
    e[:-1] |= d
    return e & (ids > 0)


def class_colours(classes: np.ndarray) -> np.ndarray:
    """(N + 1, 3) float32 colour per blob id (row 0 unused) from the blob classes."""
    classes = np.asarray(classes, dtype=np.int64).ravel()
    lut = np.zeros((classes.size + 1, 3), np.float32)
    if classes.size:
        lut[1:] = PALETTE[classes % len(PALETTE)]
    return lut


def draw_overlay(rgb8: np.ndarray, ids: np.ndarray, classes: np.ndarray, mount: np.ndarray | None = None,
                 outlines_only: bool = False) -> np.ndarray:
    """Blobs over an image: translucent fill + outline in the class colour, mount region
    tinted. rgb8: (h, w, 3) uint8; ids: (h, w) blob ids; mount: (h, w) bool or None."""
    out = rgb8.astype(np.float32)
    fg = ids > 0
    if mount is not None:
        m = mount & ~fg
        out[m] = out[m] * (1 - MOUNT_ALPHA) + MOUNT_RGB * MOUNT_ALPHA
    if fg.any():
        lut = class_colours(classes)
        ids_c = np.minimum(ids, len(lut) - 1)
        if not outlines_only:
            out[fg] = out[fg] * (1 - FILL_ALPHA) + lut[ids_c[fg]] * FILL_ALPHA
        e = edges(ids)
        out[e] = lut[ids_c[e]]
    return out.astype(np.uint8)


def _ids_png(ids: np.ndarray) -> tuple[bytes, str]:
    """Blob ids as a lossless PNG: greyscale when they fit 8 bits, else 24-bit RGB
    (id = R + 256 G + 65536 B). Returns (bytes, encoding 'L' or 'RGB')."""
    if int(ids.max(initial=0)) < 256:
        return _encode(Image.fromarray(ids.astype(np.uint8), "L"), "PNG", compress_level=6), "L"
    v = ids.astype(np.uint32)
    rgb = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=-1).astype(np.uint8)
    return _encode(Image.fromarray(rgb, "RGB"), "PNG", compress_level=6), "RGB"


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def write_assets(out_dir, name: str, rgb: np.ndarray, mask: np.ndarray, classes, region=None) -> float:
    """Write one image's report assets into ``OUT_DIR/report/assets`` from data in memory.

    Args:
        out_dir: the export's OUT_DIR.
        name: the image stem (the mask is ``NAME_mask.npy``).
        rgb: (h, w, 3) float32 in [0, 1] (or uint8): the image at any size (the export
            passes the copy decoded for segmentation, at least the working size).
        mask: (H, W) integer blob ids at the stored size, 0 = background.
        classes: (N,) colour index of blobs 1..N: the blob class (index into
            ``CLASS_NAMES``) or, without one, the cluster.
        region: optional (h', w') region map at any size (the scene model's: 0 rock,
            ``REGION_MOUNT`` = 1 mount, 2 out-of-focus rock; a bool array: True = mount);
            the mount is tinted in the pictures and its share recorded. None: no tint.
    Returns:
        seconds spent.
    """
    t0 = time.perf_counter()
    folder = Path(out_dir) / REPORT_DIR / ASSETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    names = asset_names(name)
    H, W = mask.shape
    vh, vw = _fit(H, W, VIEW_PX)
    th, tw = _fit(H, W, THUMB_PX)
    view = Image.fromarray(to_uint8(rgb))
    if view.size != (vw, vh):
        view = view.resize((vw, vh), Image.BILINEAR, reducing_gap=2.0)
    ids_view = _nearest(mask, vh, vw)
    mount_view = None
    meta = {"name": name, "height": int(H), "width": int(W), "view_h": vh, "view_w": vw,
            "n_blobs": int(mask.max(initial=0)), "mount_share": None}
    if region is not None:
        region = np.asarray(region)
        if region.ndim == 2 and region.size:
            is_mount = region if region.dtype == np.bool_ else region == REGION_MOUNT
            meta["mount_share"] = round(float(np.count_nonzero(is_mount)) / region.size, 4)
            mount_view = _nearest(is_mount, vh, vw)
            _write_bytes(folder / names["mount"], _encode(Image.fromarray(mount_view), "PNG"))
    thumb = view.resize((tw, th), Image.BILINEAR, reducing_gap=2.0) if (tw, th) != (vw, vh) else view
    ids_thumb = _nearest(ids_view, th, tw)
    mount_thumb = _nearest(mount_view, th, tw) if mount_view is not None else None
    burnt = draw_overlay(np.asarray(thumb), ids_thumb, np.asarray(classes), mount_thumb)
    _write_bytes(folder / names["thumb"], _encode(Image.fromarray(burnt), "JPEG", quality=THUMB_QUALITY))
    _write_bytes(folder / names["view"], _encode(view, "JPEG", quality=VIEW_QUALITY))
    png, enc = _ids_png(ids_view)
    _write_bytes(folder / names["ids"], png)
    meta["ids_encoding"] = enc
    meta["report_s"] = round(time.perf_counter() - t0, 4)
    _write_bytes(folder / names["meta"], json.dumps(meta).encode())  # last: the assets are complete
    return meta["report_s"]


# ---------------------------------------------------------------------------- reading the export

def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _num(v, default=None):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _read_config(out_dir: Path) -> tuple[dict, str]:
    path = out_dir / "config.yaml"
    if not path.exists():
        return {}, ""
    text = path.read_text(encoding="utf-8")
    try:
        import yaml

        return yaml.safe_load(text) or {}, text
    except Exception:
        return {}, text


def flags_of(item: dict) -> list[tuple[str, str]]:
    """(code, text) flags of one gallery item (see the module constants)."""
    if item["status"] == "failed":
        return [("failed", f"failed: {item['error']}")]
    out = []
    n = item["n_blobs"]
    if n == 0:
        out.append(("zero", "no blobs"))
    if n > MANY_BLOBS:
        out.append(("many", f"{n} blobs (more than {MANY_BLOBS})"))
    if item["max_blob_share"] is not None and item["max_blob_share"] > BIG_BLOB:
        out.append(("big", f"one blob covers {100 * item['max_blob_share']:.0f} % of the image"))
    if item["mount_share"] is not None and item["mount_share"] > BIG_MOUNT:
        out.append(("mount", f"mount covers {100 * item['mount_share']:.0f} % of the image"))
    return out


def class_index(blob_row: dict) -> int:
    """Colour index of a blobs.csv row: its class name's index, else its cluster."""
    name = blob_row.get("class") or ""
    return CLASS_NAMES.index(name) if name in CLASS_NAMES else int(_num(blob_row.get("cluster"), 0))


def class_label(blob_row: dict) -> str:
    name = blob_row.get("class") or ""
    return f"{name} (cluster {blob_row.get('cluster')})" if name else f"cluster {blob_row.get('cluster')}"


def _regenerate_assets(out_dir: Path, images_dir: Path | None, row: dict, blobs: list[dict]) -> dict | None:
    """Assets of an image exported without them (e.g. by an earlier run with the report
    off): from the image file (reduced decode) and its mask. None when impossible."""
    if images_dir is None:
        return None
    src = images_dir / row.get("file", "")
    mp = out_dir / f"{row['image']}_mask.npy"
    if not (src.is_file() and mp.exists()):
        return None
    try:
        mask = np.load(mp, allow_pickle=False)
        vh, vw = _fit(*mask.shape, VIEW_PX)
        rgb = load_image(src, min_size=(vh, vw))
        classes = np.zeros(int(mask.max(initial=0)), np.int64)
        for b in blobs:
            i = int(b["blob_id"]) - 1
            if 0 <= i < classes.size:
                classes[i] = class_index(b)
        write_assets(out_dir, row["image"], rgb, mask, classes)
        return json.loads((out_dir / REPORT_DIR / ASSETS_DIR / asset_names(row["image"])["meta"]).read_text())
    except Exception as exc:
        print(f"[report] no pictures for {row.get('file')}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def collect(out_dir: Path, images_dir: Path | None = None) -> dict:
    """Everything the pages show, from the export's files (images.csv, blobs.csv,
    failures.csv, skipped.csv, config.yaml, report/assets/*.json, report/run.json)."""
    rep = out_dir / REPORT_DIR
    rows = _read_csv(out_dir / "images.csv")
    blob_rows: dict[str, list[dict]] = {}
    for b in _read_csv(out_dir / "blobs.csv"):
        blob_rows.setdefault(b["image"], []).append(b)
    items = []
    regenerated = 0
    for row in rows:
        name = row["image"]
        blobs = blob_rows.get(name, [])
        h, w = int(_num(row.get("height"), 0)), int(_num(row.get("width"), 0))
        areas = [int(_num(b["area_px"], 0)) for b in blobs]
        meta_path = rep / ASSETS_DIR / asset_names(name)["meta"]
        meta = None
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
            except ValueError:
                meta = None
        if meta is None:
            meta = _regenerate_assets(out_dir, images_dir, row, blobs)
            regenerated += meta is not None
        mount = _num(row.get("mount_share"))
        if mount is None and meta is not None:
            mount = meta.get("mount_share")
        item = {
            "name": name, "file": row.get("file", name), "status": "ok", "error": "",
            "light": row.get("light", ""), "n_blobs": int(_num(row.get("n_blobs"), len(blobs))),
            "height": h, "width": w,
            "blob_share": (sum(areas) / (h * w)) if h * w else None,
            "max_blob_share": (max(areas) / (h * w)) if h * w and areas else None,
            "mount_share": mount, "silhouette": _num(row.get("silhouette")),
            "davies_bouldin": _num(row.get("davies_bouldin")), "seconds": _num(row.get("seconds")),
            "meta": meta, "blobs": blobs,
        }
        item["flags"] = flags_of(item)
        items.append(item)
    for f in _read_csv(out_dir / "failures.csv"):
        item = {"name": f["image"], "file": f["image"], "status": "failed", "error": f.get("error", ""),
                "light": "", "n_blobs": None, "height": 0, "width": 0, "blob_share": None,
                "max_blob_share": None, "mount_share": None, "silhouette": None, "davies_bouldin": None,
                "seconds": None, "meta": None, "blobs": []}
        item["flags"] = flags_of(item)
        items.append(item)
    items.sort(key=lambda it: it["file"])
    cfg, cfg_text = _read_config(out_dir)
    run = {}
    if (rep / "run.json").exists():
        try:
            run = json.loads((rep / "run.json").read_text(encoding="utf-8"))
        except ValueError:
            run = {}
    return {"items": items, "skipped": _read_csv(out_dir / "skipped.csv"), "config": cfg,
            "config_text": cfg_text, "run": run, "regenerated": regenerated}


# ---------------------------------------------------------------------------- HTML

E = html.escape


def _url(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def _fmt(v, spec: str, none: str = "–") -> str:
    return none if v is None else format(v, spec)


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _json_for_script(obj) -> str:
    """JSON safe inside a <script> element (no '<', '>', '&' that could end it)."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def histogram_svg(counts: list[int], width: int = 420, height: int = 150) -> str:
    """Inline SVG bar chart of blobs per image (integer bins)."""
    if not counts:
        return '<p class="muted">no exported images</p>'
    lo, hi = min(counts), max(counts)
    n_bins = min(20, hi - lo + 1)
    step = max(1, math.ceil((hi - lo + 1) / n_bins))
    edges_ = [lo + i * step for i in range(n_bins + 1)]
    hist = [0] * n_bins
    for c in counts:
        hist[min(n_bins - 1, (c - lo) // step)] += 1
    top = max(hist)
    pad_l, pad_b, pad_t = 30, 30, 8
    bw = (width - pad_l - 4) / n_bins
    ph = height - pad_b - pad_t
    parts = [f'<svg class="hist" role="img" aria-label="histogram of blobs per image" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, v in enumerate(hist):
        bh = ph * v / top
        x = pad_l + i * bw
        label = f"{edges_[i]}" if step == 1 else f"{edges_[i]}–{edges_[i + 1] - 1}"
        parts.append(f'<rect x="{x + 1:.1f}" y="{pad_t + ph - bh:.1f}" width="{max(1.0, bw - 2):.1f}" height="{bh:.1f}">'
                     f'<title>{label} blobs: {v} image(s)</title></rect>')
    ticks = sorted({0, n_bins // 2, n_bins - 1})
    for i in ticks:
        parts.append(f'<text x="{pad_l + (i + 0.5) * bw:.1f}" y="{height - pad_b + 14}" text-anchor="middle">{edges_[i]}</text>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + 10}" text-anchor="end">{top}</text>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + ph}" text-anchor="end">0</text>')
    parts.append(f'<text x="{(width + pad_l) / 2:.0f}" y="{height - 2}" text-anchor="middle">blobs per image</text>')
    parts.append("</svg>")
    return "".join(parts)


def _method_lines(data: dict) -> str:
    cfg, run = data["config"], data["run"]
    method = cfg.get("method", "?")
    params = cfg.get(method, {}) if isinstance(cfg.get(method), dict) else {}
    flat = ", ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, dict))
    out = [f"<p><b>Method</b> {E(str(method))}" + (f" ({E(flat)})" if flat else "") + "; working size "
           f"{E(str(cfg.get('features', {}).get('max_side', '?')))} px.</p>"]
    sel = run.get("selection")
    if sel:
        out.append(f"<p><b>Chosen by the ablation</b> {E(str(sel.get('run', '')))} "
                   f"({E(' '.join(map(str, sel.get('overrides', []))))}): {E(str(sel.get('why', '')))}</p>")
    elif run.get("method_source"):
        out.append(f"<p>Method source: {E(str(run['method_source']))}.</p>")
    if data["config_text"]:
        out.append(f"<details><summary>config.yaml</summary><pre>{E(data['config_text'])}</pre></details>")
    return "".join(out)


def _summary(data: dict, n_flagged: int, build_s: float) -> str:
    items, run = data["items"], data["run"]
    ok = [it for it in items if it["status"] == "ok"]
    failed = [it for it in items if it["status"] == "failed"]
    counts = [it["n_blobs"] for it in ok]
    seconds = run.get("seconds")
    if seconds is None:
        seconds = sum(it["seconds"] or 0 for it in ok)
    n_exported = len(ok)
    n_run = run.get("exported", n_exported)
    spi = seconds / n_run if n_run else None
    report_s = sum((it["meta"] or {}).get("report_s", 0) or 0 for it in ok)
    lights: dict[str, list] = {}
    for it in ok:
        lights.setdefault(it["light"] or "?", []).append(it)
    light_rows = "".join(
        f"<tr><td>{E(k)}</td><td>{len(v)}</td><td>{np.mean([i['n_blobs'] for i in v]):.1f}</td>"
        f"<td>{_pct(float(np.median([i['blob_share'] or 0 for i in v])))}</td>"
        f"<td>{sum(1 for i in v if i['flags'])}</td></tr>" for k, v in sorted(lights.items()))
    fit = run.get("fit_seconds") or 0
    return (
        '<section id="summary">'
        '<div class="counts">'
        f'<div class="count"><span id="n-exported">{n_exported}</span>exported</div>'
        f'<div class="count bad"><span id="n-failed">{len(failed)}</span>failed</div>'
        f'<div class="count warn"><span id="n-flagged">{n_flagged}</span>flagged</div>'
        f'<div class="count"><span id="n-skipped">{len(data["skipped"])}</span>skipped entries</div>'
        f'<div class="count"><span id="n-blobs">{sum(counts)}</span>blobs</div>'
        "</div>"
        '<div class="panels">'
        f'<div class="panel"><h2>Blobs per image</h2>{histogram_svg(counts)}</div>'
        '<div class="panel"><h2>By light type</h2><table class="small"><tr><th>light</th><th>images</th>'
        f"<th>mean blobs</th><th>median blob share</th><th>flagged</th></tr>{light_rows}</table></div>"
        '<div class="panel"><h2>Run</h2>'
        f"{_method_lines(data)}"
        f"<p><b>Time</b> {seconds:.1f} s for the {run.get('exported', n_exported)} image(s) segmented by the last run, "
        f"{_fmt(spi, '.3f')} s/image" + (f"; fitting {fit:.1f} s" if fit else "") + ". "
        f"Report: pictures {report_s:.2f} s (during the export), pages {build_s:.1f} s.</p>"
        + (f"<p>Images: {E(str(run.get('images_dir', '')))}</p>" if run.get("images_dir") else "")
        + "</div></div></section>"
    )


def _card(it: dict) -> str:
    name, status = it["name"], it["status"]
    codes = " ".join(c for c, _ in it["flags"])
    attrs = {
        "data-name": it["file"].lower(), "data-light": it["light"], "data-status": status,
        "data-flags": codes, "data-blobs": -1 if it["n_blobs"] is None else it["n_blobs"],
        "data-share": _fmt(it["blob_share"], ".5f", "-1"), "data-mount": _fmt(it["mount_share"], ".5f", "-1"),
        "data-sil": _fmt(it["silhouette"], ".4f", "-9"), "data-sec": _fmt(it["seconds"], ".4f", "-1"),
    }
    cls = "card " + ("failed" if status == "failed" else "flagged" if it["flags"] else "ok")
    a = " ".join(f'{k}="{E(str(v))}"' for k, v in attrs.items())
    flags = "".join(f'<li class="flag flag-{c}">{E(t)}</li>' for c, t in it["flags"])
    if status == "failed":
        return (f'<article class="{cls}" {a}><div class="thumb none">failed</div>'
                f'<h3 title="{E(it["file"])}">{E(it["file"])}</h3><ul class="flags">{flags}</ul></article>')
    page = _url(PAGES_DIR, f"{name}.html")
    if it["meta"]:
        m = it["meta"]
        th, tw = _fit(m["height"], m["width"], THUMB_PX)
        thumb = (f'<img loading="lazy" src="{_url(ASSETS_DIR, asset_names(name)["thumb"])}" width="{tw}" height="{th}" '
                 f'alt="{E(name)} with its blobs">')
    else:
        thumb = '<div class="thumb none">no picture</div>'
    return (
        f'<article class="{cls}" {a}><a class="thumb" href="{page}">{thumb}</a>'
        f'<h3><a href="{page}" title="{E(it["file"])}">{E(it["file"])}</a></h3>'
        f'<dl><dt>light</dt><dd>{E(it["light"])}</dd><dt>blobs</dt><dd class="nb">{it["n_blobs"]}</dd>'
        f'<dt>blob share</dt><dd>{_pct(it["blob_share"])}</dd><dt>mount</dt><dd>{_pct(it["mount_share"])}</dd>'
        f'<dt>silhouette</dt><dd>{_fmt(it["silhouette"], ".3f")}</dd><dt>seconds</dt><dd>{_fmt(it["seconds"], ".2f")}</dd></dl>'
        f'<ul class="flags">{flags}</ul></article>'
    )


CONTROLS = """<section id="controls">
<label>Name <input id="q" type="search" placeholder="search names"></label>
<label>Light <select id="light"><option value="">all</option>{light_options}</select></label>
<label>Show <select id="status"><option value="">all</option><option value="ok">not flagged</option>
<option value="flagged">flagged</option><option value="failed">failed</option><option value="zero">no blobs</option>
<option value="big">a blob covers most</option><option value="many">very many blobs</option>
<option value="mount">large mount</option></select></label>
<label>Blobs <input id="min_blobs" type="number" min="0" placeholder="min"> to <input id="max_blobs" type="number" min="0" placeholder="max"></label>
<label>Mount share ≥ <input id="min_mount" type="number" min="0" max="100" step="5" placeholder="%"> %</label>
<label>Sort <select id="sort"><option value="name">name</option><option value="-blobs">most blobs</option>
<option value="blobs">fewest blobs</option><option value="-share">largest blob share</option>
<option value="-mount">largest mount share</option><option value="sil">lowest silhouette</option>
<option value="-sec">slowest</option><option value="flagged">flagged first</option></select></label>
<button id="reset" type="button">reset</button>
<span id="shown" aria-live="polite"></span>
</section>"""


def _skipped_section(skipped: list[dict]) -> str:
    if not skipped:
        return '<section id="skipped"><h2>Skipped entries</h2><p class="muted">none: every entry of the folder is an image.</p></section>'
    rows = "".join(f'<tr><td>{E(s.get("entry", ""))}</td><td>{E(s.get("reason", ""))}</td></tr>' for s in skipped)
    return (f'<section id="skipped"><h2>Skipped entries ({len(skipped)})</h2><p class="muted">entries of the image folder '
            f'that are not exported (also in skipped.csv)</p><table class="small"><tr><th>entry</th><th>reason</th></tr>{rows}</table></section>')


def _page(title: str, body: str, css: str, scripts: list[str]) -> str:
    tags = "".join(f'<script src="{s}"></script>' for s in scripts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{E(title)}</title>'
            f'<link rel="stylesheet" href="{css}"></head><body>{body}{tags}</body></html>\n')


def _index_html(data: dict, out_dir: Path, build_s: float) -> str:
    items = data["items"]
    n_flagged = sum(1 for it in items if it["flags"] and it["status"] == "ok")
    lights = sorted({it["light"] for it in items if it["light"]})
    controls = CONTROLS.format(light_options="".join(f'<option value="{E(l)}">{E(l)}</option>' for l in lights))
    with_names = any(b.get("class") for it in items for b in it["blobs"][:1])
    labels = CLASS_NAMES if with_names else [f"cluster {i}" for i in range(6)]
    legend = "".join(f'<span class="sw" style="background:rgb({int(r)},{int(g)},{int(b)})"></span>{E(lab)} '
                     for lab, (r, g, b) in zip(labels, PALETTE))
    body = (
        f'<header><h1>Export review</h1><p class="muted">{E(str(out_dir))}</p>'
        f'<p class="legend">{legend}<span class="sw" style="background:rgb(90,110,255)"></span>mount</p></header>'
        f"{_summary(data, n_flagged, build_s)}{controls}"
        f'<section id="gallery">{"".join(_card(it) for it in items)}</section>'
        f'<p id="empty" hidden>No image matches the filters.</p>'
        f"{_skipped_section(data['skipped'])}"
    )
    return _page(f"thinseg export review: {out_dir.name}", body, "report.css", ["gallery.js"])


def _data_uri(path: Path) -> str | None:
    if not path.exists():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _image_html(it: dict, rep: Path, prev_it: dict | None, next_it: dict | None) -> str:
    name, m = it["name"], it["meta"]
    names = asset_names(name)
    up = "../"
    nav = [f'<a href="{up}index.html">all images</a>']
    if prev_it:
        nav.append(f'<a rel="prev" href="{_url(prev_it["name"] + ".html")}">previous: {E(prev_it["file"])}</a>')
    if next_it:
        nav.append(f'<a rel="next" href="{_url(next_it["name"] + ".html")}">next: {E(next_it["file"])}</a>')
    flags = "".join(f'<li class="flag flag-{c}">{E(t)}</li>' for c, t in it["flags"])
    rows = "".join(
        f'<tr id="b{int(b["blob_id"])}" data-id="{int(b["blob_id"])}"><td>{int(b["blob_id"])}</td>'
        f'<td><span class="sw" style="background:rgb({",".join(str(int(v)) for v in PALETTE[class_index(b) % len(PALETTE)])})"></span>{E(class_label(b))}</td>'
        f'<td>{int(b["area_px"])}</td><td>{E(b["centroid_row"])}</td><td>{E(b["centroid_col"])}</td></tr>'
        for b in it["blobs"])
    blobs = {int(b["blob_id"]): [class_index(b), int(b["area_px"]), _num(b["centroid_row"]), _num(b["centroid_col"]),
                                 class_label(b)] for b in it["blobs"]}
    data = {"name": name, "file": it["file"], "height": it["height"], "width": it["width"],
            "palette": PALETTE.astype(int).tolist(), "mount_rgb": MOUNT_RGB.astype(int).tolist(), "blobs": blobs}
    if m:
        data.update(view_w=m["view_w"], view_h=m["view_h"], enc=m.get("ids_encoding", "L"),
                    ids=_data_uri(rep / ASSETS_DIR / names["ids"]), mount=_data_uri(rep / ASSETS_DIR / names["mount"]))
        picture = (f'<div id="stage" style="max-width:{m["view_w"]}px"><img id="base" src="{up}{_url(ASSETS_DIR, names["view"])}" '
                   f'width="{m["view_w"]}" height="{m["view_h"]}" alt="{E(it["file"])}">'
                   f'<canvas id="overlay" width="{m["view_w"]}" height="{m["view_h"]}"></canvas></div>')
    else:
        picture = '<p class="muted">no picture for this image (rebuild with IMAGES_DIR: python -m eval.report OUT_DIR IMAGES_DIR)</p>'
    body = (
        f'<nav>{" · ".join(nav)}</nav>'
        f'<h1>{E(it["file"])}</h1>'
        f'<p class="facts">light {E(it["light"])} · <b>{it["n_blobs"]}</b> blobs · blob share {_pct(it["blob_share"])} · '
        f'mount {_pct(it["mount_share"])} · silhouette {_fmt(it["silhouette"], ".3f")} · {_fmt(it["seconds"], ".2f")} s · '
        f'{it["height"]}×{it["width"]} px · <a href="{up}../{_url(name + "_mask.npy")}">mask {E(name)}_mask.npy</a></p>'
        f'<ul class="flags">{flags}</ul>'
        '<fieldset id="mode"><legend>overlay</legend>'
        '<label><input type="radio" name="overlay" value="on" checked> on</label>'
        '<label><input type="radio" name="overlay" value="outlines"> outlines only</label>'
        '<label><input type="radio" name="overlay" value="off"> off</label></fieldset>'
        f'<div class="viewer">{picture}<aside><div id="info" class="info">Point at or click a blob.</div>'
        '<table id="blobs" class="small"><thead><tr><th>id</th><th>class</th><th>area px</th><th>centroid row</th>'
        f'<th>centroid col</th></tr></thead><tbody>{rows}</tbody></table></aside></div>'
        f'<script id="data" type="application/json">{_json_for_script(data)}</script>'
    )
    return _page(f"{it['file']}: thinseg review", body, f"{up}report.css", [f"{up}viewer.js"])


def build_report(out_dir, images_dir=None, run_info: dict | None = None) -> Path:
    """Write ``OUT_DIR/report/index.html`` and the image pages from the export's files.

    Args:
        out_dir: the export's OUT_DIR.
        images_dir: the image folder; used to draw pictures that the export did not
            make (images exported by a run with the report off). Default: the folder
            recorded in ``report/run.json``.
        run_info: facts only the export knows (seconds, fitting seconds, images_dir,
            how the method was chosen: ``selection`` = runs/selection.json's content);
            kept in ``report/run.json`` for later rebuilds.
    Returns:
        the path of index.html.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    rep = out_dir / REPORT_DIR
    (rep / PAGES_DIR).mkdir(parents=True, exist_ok=True)
    (rep / ASSETS_DIR).mkdir(parents=True, exist_ok=True)
    if run_info is not None:
        _write_bytes(rep / "run.json", json.dumps(run_info, ensure_ascii=False, indent=1, default=str).encode("utf-8"))
    if images_dir is None and (rep / "run.json").exists():
        try:
            images_dir = json.loads((rep / "run.json").read_text(encoding="utf-8")).get("images_dir")
        except ValueError:
            images_dir = None
    data = collect(out_dir, Path(images_dir) if images_dir else None)
    for f in STATIC_FILES:
        shutil.copyfile(STATIC / f, rep / f)
    pages = [it for it in data["items"] if it["status"] == "ok"]
    wanted = set()
    for i, it in enumerate(pages):
        fname = f"{it['name']}.html"
        wanted.add(fname)
        text = _image_html(it, rep, pages[i - 1] if i else None, pages[i + 1] if i + 1 < len(pages) else None)
        _write_bytes(rep / PAGES_DIR / fname, text.encode("utf-8"))
    for p in (rep / PAGES_DIR).glob("*.html"):  # pages of images no longer in the export
        if p.name not in wanted:
            p.unlink()
    index = rep / "index.html"
    _write_bytes(index, _index_html(data, out_dir, time.perf_counter() - t0).encode("utf-8"))
    return index


def report_size(out_dir) -> int:
    """Bytes under OUT_DIR/report."""
    return sum(p.stat().st_size for p in (Path(out_dir) / REPORT_DIR).rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.report", description="(Re)build OUT_DIR/report/index.html of an export.")
    ap.add_argument("out_dir")
    ap.add_argument("images_dir", nargs="?", default=None,
                    help="the image folder (to draw pictures of images exported without them)")
    args = ap.parse_args(argv)
    out = Path(args.out_dir)
    if not (out / "images.csv").exists() and not (out / "failures.csv").exists():
        print(f"error: {out} is not an export folder (no images.csv / failures.csv)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    index = build_report(out, args.images_dir)
    print(f"[report] {index} ({report_size(out) / 2**20:.1f} MiB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
