"""Pictures for people: blob outlines over the image, and a grid of them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries

from .features import working_size
from .instances import resize_nearest


def overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.35, seed: int = 0) -> np.ndarray:
    """Blobs tinted with one random colour each and outlined in white.

    Args:
        rgb: (H, W, 3) float32 in [0, 1] (or uint8). mask: (H, W) int instance ids.
    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    img = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    n = int(mask.max())
    if n == 0:
        return img
    colours = np.random.default_rng(seed).uniform(0.2, 1.0, (n + 1, 3)).astype(np.float32)
    sel = mask > 0
    out = img.copy()
    out[sel] = (1 - alpha) * img[sel] + alpha * colours[mask[sel]]
    out[find_boundaries(mask, mode="inner")] = (1.0, 1.0, 1.0)
    return out


def save_overview(rows: list[tuple[str, np.ndarray, np.ndarray]], path, max_side: int = 480, cols: int = 4) -> Path:
    """Save a grid of overlays: ``rows`` holds (title, rgb (H, W, 3), mask (H, W)).

    Images are downscaled to ``max_side`` for the picture. Returns the PNG path.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend (e.g. a notebook's) is left alone

    n = len(rows)
    cols = max(1, min(cols, n))
    nrows = max(1, -(-n // cols))
    fig = Figure(figsize=(4 * cols, 3.3 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, rgb, mask) in zip(axes.flat, rows):
        h, w = working_size(*mask.shape, max_side)
        small_mask = resize_nearest(mask, (h, w))
        small_rgb = resize_nearest(rgb, (h, w))
        ax.imshow(overlay(small_rgb, small_mask))
        ax.set_title(f"{title} ({int(mask.max())} blobs)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path



CLASS_COLOURS = {0: (1.0, 0.85, 0.1), 1: (0.95, 0.2, 0.9), 2: (0.2, 0.9, 1.0)}  # fluorescent, opaque_dark, shiny_grey
MOUNT_TINT = (0.15, 0.35, 1.0)


def instance_picture(rgb: np.ndarray, mask: np.ndarray, region: np.ndarray | None = None,
                     classes: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """The instances of one image drawn for a person: every blob filled with a colour
    of its own (or of its class, when ``classes`` is given), outlined in white; the
    mount region (``region`` == 1) tinted blue and hatched.

    Args: rgb: (H, W, 3) float32 in [0, 1]; mask: (H, W) int ids; region: (h, w)
    uint8 scene map at any size (resized); classes: (N,) int class of blobs 1..N.
    Returns (H, W, 3) float32 in [0, 1]."""
    img = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    out = img * 0.8
    if region is not None and region.size:
        reg = resize_nearest(region, mask.shape) == 1
        yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
        hatch = ((yy + xx) // 6) % 3 == 0
        out[reg] = 0.45 * img[reg] + 0.55 * np.array(MOUNT_TINT, np.float32)
        out[reg & hatch] *= 0.6
    n = int(mask.max())
    if n:
        if classes is not None and len(classes) == n:
            base = np.array([CLASS_COLOURS.get(int(c), (1, 1, 1)) for c in classes], np.float32)
            jitter = np.random.default_rng(seed).uniform(0.55, 1.0, (n, 1)).astype(np.float32)
            colours = np.vstack([np.zeros((1, 3), np.float32), base * jitter])
        else:
            colours = np.random.default_rng(seed).uniform(0.2, 1.0, (n + 1, 3)).astype(np.float32)
        sel = mask > 0
        out[sel] = 0.3 * img[sel] + 0.7 * colours[mask[sel]]
        out[find_boundaries(mask, mode="inner")] = (1.0, 1.0, 1.0)
    return out


def save_contact_sheet(rows: list[dict], path, width: int = 420, cols: int = 2) -> Path:
    """A contact sheet PNG: for every image, the image beside its instances (colour by
    class, white outlines, mount tinted and hatched), titled with the name, light,
    blob count and mount share.

    ``rows``: dicts with ``name``, ``rgb`` (H, W, 3), ``mask`` (H, W), optional
    ``region`` (h, w), ``classes`` (N,), ``light``, ``mount_share``, ``note``.
    ``cols`` image pairs per sheet row. Returns the PNG path."""
    from PIL import Image, ImageDraw

    tiles = []
    for r in rows:
        h, w = working_size(*r["mask"].shape, width)
        small_mask = resize_nearest(r["mask"], (h, w))
        small_rgb = resize_nearest(r["rgb"], (h, w))
        small_rgb = small_rgb.astype(np.float32) / (255.0 if small_rgb.dtype == np.uint8 else 1.0)
        pic = instance_picture(small_rgb, small_mask, r.get("region"), r.get("classes"))
        pair = np.concatenate([small_rgb, np.ones((h, 4, 3), np.float32), pic], axis=1)
        tile = Image.new("RGB", (pair.shape[1], h + 16), "white")
        tile.paste(Image.fromarray((np.clip(pair, 0, 1) * 255).astype(np.uint8)), (0, 16))
        title = f"{r['name']}  {r.get('light', '')}  {int(r['mask'].max())} blobs"
        if r.get("mount_share") is not None:
            title += f"  mount {100 * float(r['mount_share']):.0f}%"
        if r.get("note"):
            title += f"  {r['note']}"
        ImageDraw.Draw(tile).text((3, 2), title, fill=(0, 0, 0))
        tiles.append(tile)
    if not tiles:
        raise ValueError("no images for the contact sheet")
    tw, th = max(t.width for t in tiles), max(t.height for t in tiles)
    cols = max(1, min(cols, len(tiles)))
    sheet = Image.new("RGB", (tw * cols + 6 * (cols - 1), (th + 6) * (-(-len(tiles) // cols))), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * (tw + 6), (i // cols) * (th + 6)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path
