"""Reading images of any common microscope format into float32 RGB.

Every loader returns the pixels exactly as numpy sees the stored image: no EXIF
rotation is applied, so masks always have the stored height x width.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
MIN_SIDE = 8  # smaller images cannot be segmented meaningfully

# Large mosaics (8000 x 6000 and up) are legitimate microscope images.
Image.MAX_IMAGE_PIXELS = 400_000_000


class ImageLoadError(ValueError):
    """An input file that is not a readable image of usable size."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) directly inside ``folder``.

    Hidden files and mask files (``*_mask.npy``) are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


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
        path: JPEG, PNG, TIFF (8/16 bit), BMP; RGB, RGBA, greyscale or palette.
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
        raise ImageLoadError(f"not a file: {path}")
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
        arr = tifffile.imread(path)
    except Exception:  # tifffile raises many types; Pillow gets a go and reports
        return None
    while arr.ndim > 3:  # pages / samples: keep the first plane
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, 2)  # planar -> interleaved
    return arr


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image from its header only (cheap; used to validate masks on resume)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            return int(h), int(w)
    except Exception:
        return tuple(load_image(path).shape[:2])  # type: ignore[return-value]
