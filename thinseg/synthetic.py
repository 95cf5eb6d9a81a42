"""Synthetic thin sections with ground-truth instance masks (the embedded default data).

A scene is a textured mineral matrix (a mosaic of grains with fine noise) with
blobs of the kinds the task names:

* ``uv`` light: a dark olive to bright yellow matrix (little blue, as behind a
  barrier filter) with bright yellow / green / orange ``fluorescent`` blobs;
* ``plain`` light: a pale beige / grey matrix with ``opaque`` blobs (grey-black,
  with shiny specular speckles) and ``black`` blobs.

Blobs are irregular ellipses; a share of them is placed so that it touches an
earlier blob. The rendering adds blur, uneven illumination and sensor noise.
Everything is drawn from one ``numpy.random.Generator`` so a seed fixes the scene.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .light import PLAIN, UV

BLOB_KINDS = {UV: ("fluorescent",), PLAIN: ("opaque", "black")}


@dataclass
class Scene:
    """One synthetic image and its truth.

    image: (H, W, 3) uint8 RGB. mask: (H, W) int32, 0 = matrix, 1..N = blobs.
    kinds: kinds[i - 1] is the kind of blob i. light: ``uv`` or ``plain``.
    """

    image: np.ndarray
    mask: np.ndarray
    kinds: list[str]
    light: str
    meta: dict = field(default_factory=dict)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered white noise, (H, W) float32."""
    # Filtering at a reduced size keeps large sigmas cheap.
    step = max(1, int(sigma // 4))
    small = (shape[0] // step + 2, shape[1] // step + 2)
    n = ndi.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma / step, mode="wrap")
    if step > 1:
        n = ndi.zoom(n, step, order=1)
    n = n[: shape[0], : shape[1]]
    return (n - n.mean()) / (n.std() + 1e-8)


def _grain_mosaic(rng: np.random.Generator, shape: tuple[int, int], grain_px: float) -> np.ndarray:
    """(H, W) float32 in [-1, 1]: one random value per Voronoi grain of size ``grain_px``."""
    from scipy.spatial import cKDTree

    h, w = shape
    n = max(4, int(h * w / grain_px**2))
    seeds = rng.uniform([0, 0], [h, w], size=(n, 2))
    step = 2
    yy, xx = np.mgrid[0:h:step, 0:w:step]
    _, idx = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], 1))
    values = rng.uniform(-1, 1, n).astype(np.float32)
    small = values[idx].reshape(yy.shape)
    return np.repeat(np.repeat(small, step, 0), step, 1)[:h, :w]


def _matrix(rng: np.random.Generator, shape: tuple[int, int], light: str) -> np.ndarray:
    """(H, W, 3) float32 matrix texture."""
    grain_px = rng.uniform(0.04, 0.09) * min(shape)
    mosaic = _grain_mosaic(rng, shape, grain_px)
    fine = _smooth_noise(rng, shape, 1.0)
    coarse = _smooth_noise(rng, shape, min(shape) / 6)
    if light == PLAIN:
        base = np.array(rng.choice([[0.80, 0.76, 0.68], [0.74, 0.74, 0.74], [0.78, 0.70, 0.58], [0.70, 0.74, 0.78]]))
        base = base * rng.uniform(0.9, 1.05)
        shade = 1 + 0.07 * mosaic[..., None] + 0.03 * fine[..., None] + 0.04 * coarse[..., None]
        tint = 1 + 0.03 * mosaic[..., None] * np.array([1.0, 0.3, -0.8])
        return (base * shade * tint).astype(np.float32)
    bright = rng.uniform() < 0.35  # Stranger-Sections-like bright yellow field
    if bright:
        base = np.array([0.55, 0.50, 0.08]) * rng.uniform(0.8, 1.0)
    else:
        base = np.array([0.16, 0.13, 0.03]) * rng.uniform(0.6, 1.3)
    shade = 1 + 0.10 * mosaic[..., None] + 0.05 * fine[..., None] + 0.08 * coarse[..., None]
    return (base * shade).astype(np.float32)


def _blob_shape(rng: np.random.Generator, radius: float) -> np.ndarray:
    """Boolean (h, w) footprint of an irregular, rotated ellipse of mean radius ``radius``."""
    aspect = rng.uniform(0.55, 1.0)
    theta = rng.uniform(0, np.pi)
    half = int(np.ceil(radius * 1.5)) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    r = np.hypot(u, v / aspect)
    ang = np.arctan2(v, u)
    wobble = np.ones_like(ang)
    for k in (2, 3, 5):
        wobble += rng.uniform(0, 0.12) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    return r <= radius * wobble


def _blob_colour(rng: np.random.Generator, kind: str, shape: tuple[int, int], matrix_level: float) -> np.ndarray:
    """(h, w, 3) float32 colour field of one blob."""
    tex = _smooth_noise(rng, shape, 1.5)[..., None] if min(shape) > 6 else np.zeros(shape + (1,), np.float32)
    if kind == "fluorescent":
        hue = rng.uniform(35, 110) / 360.0  # orange .. yellow .. green
        import colorsys

        rgb = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 0.95), 1.0))
        level = np.clip(matrix_level * 1.6 + rng.uniform(0.45, 0.6), 0.6, 1.0)
        return (rgb * level * (1 + 0.06 * tex)).astype(np.float32)
    if kind == "opaque":
        grey = rng.uniform(0.12, 0.28)
        col = np.full(shape + (3,), grey, np.float32) * (1 + 0.15 * tex)
        speck = rng.uniform(size=shape) < 0.01
        speck = ndi.binary_dilation(speck)
        col[speck] = rng.uniform(0.6, 0.9)
        return col
    if kind == "black":
        return np.full(shape + (3,), rng.uniform(0.02, 0.07), np.float32) * (1 + 0.1 * tex)
    raise ValueError(f"unknown blob kind {kind!r}")


def make_scene(
    height: int = 480,
    width: int = 640,
    light: str = PLAIN,
    seed: int = 0,
    n_blobs: tuple[int, int] = (8, 20),
    radius_frac: tuple[float, float] = (0.015, 0.06),
    touch_prob: float = 0.35,
    blur_sigma: tuple[float, float] = (0.6, 1.4),
    noise_std: tuple[float, float] = (0.008, 0.025),
    illumination: float = 0.25,
) -> Scene:
    """Draw one synthetic thin section.

    Args:
        height, width: image size in pixels.
        light: ``"uv"`` or ``"plain"``.
        seed: seeds everything; the same arguments give the same scene.
        n_blobs: inclusive range of the number of blobs drawn.
        radius_frac: blob mean radius as a fraction of the short image side.
        touch_prob: probability that a blob is placed touching an earlier one.
        blur_sigma, noise_std: ranges of optical blur (px) and sensor noise.
        illumination: amplitude of the smooth multiplicative illumination field.
    Returns:
        a :class:`Scene` (uint8 image, int32 instance mask, blob kinds).
    """
    if light not in BLOB_KINDS:
        raise ValueError(f"light must be 'uv' or 'plain', got {light!r}")
    rng = np.random.default_rng(seed)
    shape = (int(height), int(width))
    img = _matrix(rng, shape, light)
    matrix_level = float(img.mean())
    mask = np.zeros(shape, np.int32)
    kinds: list[str] = []
    centres: list[tuple[float, float, float]] = []
    short = min(shape)
    count = int(rng.integers(n_blobs[0], n_blobs[1] + 1))
    for _ in range(count):
        radius = rng.uniform(*radius_frac) * short
        if centres and rng.uniform() < touch_prob:
            cy, cx, cr = centres[int(rng.integers(len(centres)))]
            ang = rng.uniform(0, 2 * np.pi)
            dist = (cr + radius) * 0.9
            y, x = cy + dist * np.sin(ang), cx + dist * np.cos(ang)
        else:
            for _try in range(20):  # keep apart from earlier blobs
                y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
                if all(np.hypot(y - cy, x - cx) > (cr + radius) * 1.2 for cy, cx, cr in centres):
                    break
        foot = _blob_shape(rng, radius)
        half = foot.shape[0] // 2
        y0, x0 = int(round(y)) - half, int(round(x)) - half
        ys, xs = slice(max(y0, 0), min(y0 + foot.shape[0], shape[0])), slice(max(x0, 0), min(x0 + foot.shape[1], shape[1]))
        if ys.stop - ys.start < 5 or xs.stop - xs.start < 5:  # placed (almost) outside the image
            continue
        sub = foot[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        if sub.sum() < 20:
            continue
        kind = str(rng.choice(BLOB_KINDS[light]))
        colour = _blob_colour(rng, kind, sub.shape, matrix_level)
        region = img[ys, xs]
        region[sub] = colour[sub]
        kinds.append(kind)
        mask[ys, xs][sub] = len(kinds)
        centres.append((y, x, radius))
    mask, kinds = _clean_instances(mask, kinds, min_area=20)
    # optics: blur, uneven illumination, noise
    img = ndi.gaussian_filter(img, sigma=(rng.uniform(*blur_sigma),) * 2 + (0,))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    yy, xx = yy / shape[0] - 0.5, xx / shape[1] - 0.5
    gy, gx = rng.uniform(-1, 1, 2)
    field_ = 1 + illumination * (0.5 * (gy * yy + gx * xx) - 0.8 * (yy**2 + xx**2)) + 0.03 * _smooth_noise(rng, shape, short / 4)
    img = img * field_[..., None]
    img = img + rng.normal(0, rng.uniform(*noise_std), img.shape).astype(np.float32)
    image = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return Scene(image=image, mask=mask, kinds=kinds, light=light, meta={"seed": seed})


def _clean_instances(mask: np.ndarray, kinds: list[str], min_area: int) -> tuple[np.ndarray, list[str]]:
    """Keep the largest connected piece of each instance (painting order may cut one),
    drop pieces under ``min_area`` px and renumber ids 1..N."""
    out = np.zeros_like(mask)
    kept: list[str] = []
    for i, sl in enumerate(ndi.find_objects(mask), start=1):
        if sl is None:
            continue
        inst = mask[sl] == i
        lab, n = ndi.label(inst)
        if n > 1:
            sizes = np.bincount(lab.ravel())[1:]
            inst = lab == (np.argmax(sizes) + 1)
        if inst.sum() < min_area:
            continue
        kept.append(kinds[i - 1])
        out[sl][inst] = len(kept)
    return out, kept


def write_synthetic_set(
    out_dir: str | os.PathLike,
    n_images: int = 12,
    height: int = 480,
    width: int = 640,
    uv_fraction: float = 0.5,
    seed: int = 0,
    **scene_kwargs,
) -> list[Path]:
    """Write ``n_images`` scenes as ``synth_XXX_{uv,plain}.png`` + ``*_mask.npy`` (uint16
    instance ids, the same convention as ``shared/data/labeled``) and ``truth.json``
    (light type and blob kinds per image). Existing identical sets are reused.

    Returns the image paths, sorted.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"n_images": n_images, "height": height, "width": width, "uv_fraction": uv_fraction, "seed": seed, **scene_kwargs}
    truth_path = out / "truth.json"
    if truth_path.exists():
        previous = json.loads(truth_path.read_text())
        if previous.get("spec") == json.loads(json.dumps(spec)):
            paths = sorted(out / f"{name}.png" for name in previous["images"])
            if all(p.exists() for p in paths):
                return paths
    n_uv = int(round(n_images * uv_fraction))
    truth: dict = {"spec": spec, "images": {}}
    paths = []
    for i in range(n_images):
        light = UV if i < n_uv else PLAIN
        scene = make_scene(height, width, light, seed=seed * 100_003 + i, **scene_kwargs)
        name = f"synth_{i:03d}_{light}"
        Image.fromarray(scene.image).save(out / f"{name}.png")
        np.save(out / f"{name}_mask.npy", scene.mask.astype(np.uint16))
        truth["images"][name] = {"light": light, "kinds": scene.kinds}
        paths.append(out / f"{name}.png")
    truth_path.write_text(json.dumps(truth, indent=1))
    return sorted(paths)
