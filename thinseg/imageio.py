"""Reading images of any common microscope format into float32 RGB.

Every loader returns the pixels exactly as numpy sees the stored image: no EXIF
rotation is applied, so masks always have the stored height x width.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Formats read (Pillow decodes all but TIFF, which tifffile reads first for exact 16-bit
# colour). GIF / animated WebP / APNG: the first frame; multi-page TIFF: the first page.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".tif", ".tiff", ".bmp", ".dib",
                    ".webp", ".gif", ".jp2", ".j2k", ".jpx", ".avif", ".pbm", ".pgm", ".ppm", ".pnm", ".tga", ".qoi")
# Image formats met in microscopy that are not read (listed in skipped.csv with this reason).
UNSUPPORTED_EXTENSIONS = (".heic", ".heif", ".jxl", ".svg", ".psd", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf",
                          ".rw2", ".raf", ".raw", ".czi", ".nd2", ".lif", ".vsi", ".ndpi", ".svs", ".mrxs", ".ims", ".oib")
MIN_SIDE = 8  # smaller images cannot be segmented meaningfully

# Large mosaics (8000 x 6000 and up) are legitimate microscope images.
Image.MAX_IMAGE_PIXELS = 400_000_000


class ImageLoadError(ValueError):
    """An input file that is not a readable image of usable size."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) directly inside ``folder``.

    Hidden files, mask files (``*_mask.npy``) and broken links are ignored (the export
    accounts for them: see ``scan_folder``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return [p for p in scan_folder(folder)[0] if p.is_file()]


def scan_folder(folder: str | os.PathLike) -> tuple[list[Path], list[tuple[str, str]]]:
    """Account for every entry of ``folder``: (images to export, sorted; skipped entries as
    (name, reason), sorted). Images include entries with an image extension that cannot
    be read (a symbolic link whose target is missing, a FIFO, ...): the export reports
    each as a failure. Skipped: hidden entries, folders, files without an image
    extension, image formats that are not read (``UNSUPPORTED_EXTENSIONS``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    images, skipped = [], []
    for p in folder.iterdir():
        suffix = p.suffix.lower()
        if p.name.startswith("."):
            skipped.append((p.name, "hidden entry"))
        elif p.is_dir():
            skipped.append((p.name, "a folder (sub-folders are not searched)"))
        elif suffix in IMAGE_EXTENSIONS:
            images.append(p)
        elif suffix in UNSUPPORTED_EXTENSIONS:
            skipped.append((p.name, f"unsupported image format ({suffix}); read: {' '.join(IMAGE_EXTENSIONS)}"))
        elif p.name.endswith("_mask.npy"):
            skipped.append((p.name, "a mask file, not an image"))
        else:
            skipped.append((p.name, f"not an image extension ({suffix or 'none'})"))
    return sorted(images), sorted(skipped)


def _to_float_rgb(arr: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1..4) integer/float array -> (H, W, 3) float32 in [0, 1]."""
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        scale = float(np.iinfo(arr.dtype).max)
        if arr.dtype.itemsize > 2 and arr.size and arr.max() <= 65535:
            scale = 65535.0 if arr.max() > 255 else 255.0  # 32-bit containers of 8/16-bit data
        arr = arr.astype(np.float32) / scale
    else:
        arr = arr.astype(np.float32)
        hi = float(np.nanmax(arr)) if arr.size else 1.0
        if hi > 1.0:
            arr = arr / hi
        arr = np.nan_to_num(arr, nan=0.0)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3:
        channels = arr.shape[2]
        if channels == 1:
            arr = np.repeat(arr, 3, axis=2)
        elif channels == 2:  # grey + alpha
            arr = np.repeat(arr[:, :, :1], 3, axis=2)
        else:  # RGB, RGBA (alpha dropped), or more: first three channels
            arr = arr[:, :, :3]
    else:
        raise ImageLoadError(f"unsupported array shape {arr.shape}")
    return np.ascontiguousarray(np.clip(arr, 0.0, 1.0), dtype=np.float32)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("RGB", "L"):
        return np.asarray(img)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img).astype(np.uint16)
    if mode in ("I", "F"):
        return np.asarray(img)
    if mode == "RGBA" or mode == "LA":
        return np.asarray(img)  # alpha dropped in _to_float_rgb
    # palette, 1-bit, CMYK, YCbCr, HSV, LAB ...
    return np.asarray(img.convert("RGB"))


def load_image(path: str | os.PathLike, min_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1].

    Args:
        path: any of ``IMAGE_EXTENSIONS``: JPEG (also CMYK), PNG (8/16 bit), TIFF
            (8/16 bit; the first page), BMP, WebP, GIF (the first frame), JPEG 2000,
            AVIF, PNM, TGA, QOI; RGB, RGBA, greyscale or palette.
            The content decides the decoder, not the extension (a ``.jpg``
            holding PNG data is read as PNG).
        min_size: optional (h, w). When given, the decoder may return a smaller
            image, never below (h, w) on either side: JPEG DCT scaling (Pillow
            ``draft``) and integer box reduction. Segmentation only needs the
            working resolution, so an 8000x6000 image is never held at full
            size (time and memory). TIFFs (tifffile) are always read whole.
    Returns:
        (H, W, 3) float32 array, H x W as stored (no EXIF rotation), or smaller
        (at least ``min_size``) when ``min_size`` is given.
    Raises:
        ImageLoadError: empty, truncated, not an image, or smaller than
            ``MIN_SIDE`` pixels on a side.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(_not_a_file(path))
    if path.stat().st_size == 0:
        raise ImageLoadError("empty file (0 bytes)")
    arr = None
    if path.suffix.lower() in (".tif", ".tiff"):
        arr = _read_tiff(path)  # exact 16-bit colour, which Pillow reduces to 8 bit
    if arr is None:
        try:
            with Image.open(path) as img:
                if min(img.size) < MIN_SIDE:
                    raise ImageLoadError(f"image too small to segment: {img.size[1]}x{img.size[0]} px (minimum side {MIN_SIDE})")
                arr = _pil_to_array(_decode(img, min_size))
        except UnidentifiedImageError as exc:
            raise ImageLoadError(f"not a recognised image format: {exc}") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageLoadError(f"cannot decode image: {exc}") from None
    rgb = _to_float_rgb(arr)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageLoadError(f"image too small to segment: {h}x{w} px (minimum side {MIN_SIDE})")
    return rgb


def _decode(img: Image.Image, min_size: tuple[int, int] | None) -> Image.Image:
    """Decode ``img``, reduced (JPEG draft, then integer box reduce) to no less than
    ``min_size`` (h, w) when given."""
    if min_size is None:
        img.load()
        return img
    h_req, w_req = max(1, int(min_size[0])), max(1, int(min_size[1]))
    if img.format == "JPEG" and img.mode in ("RGB", "L"):
        img.draft(img.mode, (w_req, h_req))  # size >= requested, by powers of two
    img.load()
    factor = min(img.width // w_req, img.height // h_req)
    if factor >= 2:
        try:
            img = img.reduce(factor)
        except (ValueError, NotImplementedError):  # modes reduce does not support: keep full size
            pass
    return img


def _read_tiff(path: Path) -> np.ndarray | None:
    """Pixels of a TIFF via tifffile, or None to let Pillow try (e.g. exotic compression)."""
    import tifffile

    try:
        arr = tifffile.imread(path, key=0)  # the first page of a multi-page TIFF
    except Exception:  # tifffile raises many types; Pillow gets a go and reports
        return None
    while arr.ndim > 3:  # pages / samples: keep the first plane
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, 2)  # planar -> interleaved
    return arr


def _not_a_file(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return f"broken symbolic link: its target {os.readlink(path)} does not exist"
    if path.exists():
        return f"not a regular file (a folder, FIFO or device): {path.name}"
    return f"file not found: {path}"


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image from its header only (cheap; used to validate masks on resume)."""
    path = Path(path)
    if not path.is_file():  # never open a FIFO (it would block)
        raise ImageLoadError(_not_a_file(path))
    try:
        with Image.open(path) as img:
            w, h = img.size
            return int(h), int(w)
    except Exception:
        return tuple(load_image(path).shape[:2])  # type: ignore[return-value]
