"""Synthetic thin sections with ground-truth instance masks (the embedded default data).

A scene is a textured mineral matrix (a mosaic of grains with fine noise) with
blobs of the kinds the task names:

* ``uv`` light: a dark olive to bright yellow matrix (little blue, as behind a
  barrier filter) with bright yellow / green / orange ``fluorescent`` blobs;
* ``plain`` light: a pale beige / grey (or brown) matrix with ``opaque`` blobs
  (grey-black, with shiny specular speckles), ``black`` blobs and ``shiny_grey``
  bodies (streaky bluish grey, about as light as a brownish matrix but bluer).

Blobs are irregular ellipses; a share of them is placed so that it touches an
earlier blob. The rendering adds blur, uneven illumination and sensor noise.

The failure modes of the real challenge photographs can be switched on per scene
(all off by default, so ``make_scene``'s defaults give the same bytes as before):

* ``mount``: a smooth, texture-free mount field along one or two borders behind an
  irregular rock-chip edge (UV: glowing yellow-green epoxy; plain: an empty grey /
  purplish field or bright featureless glass). No blobs inside it.
* ``packed``: plain-light rock made of touching dark grains covering 60-80 % of the
  rock, in a thin light interstitial matrix, each grain its own instance.
* ``blur_zone``: an out-of-focus side or corner (Gaussian sigma of several px);
  blobs that lie mostly inside it are dropped from the truth (they are still drawn).
* ``specks``: many 1-3 px bright and dark specks in the matrix (never in the truth),
  ``texture``: extra fine mottling of the rock.
* ``n_blobs=(0, 0)``: a scene without blobs.

``Scene.region`` marks the zones: 0 rock, 1 mount, 2 out-of-focus rock.
:func:`write_synthetic_set`'s default ``mix="realistic"`` mixes all of these;
``mix="classic"`` writes the plain scenes of earlier versions.
Everything is drawn from one ``numpy.random.Generator`` so a seed fixes the scene.
"""
from __future__ import annotations

import colorsys
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .light import PLAIN, UV

BLOB_KINDS = {UV: ("fluorescent",), PLAIN: ("opaque", "black", "shiny_grey")}
# Kinds drawn when ``make_scene(kinds=None)`` (shiny_grey bodies must be asked for).
DEFAULT_KINDS = {UV: ("fluorescent",), PLAIN: ("opaque", "black")}
MOUNT_STYLES = {UV: ("epoxy",), PLAIN: ("grey", "glass")}
REGION_ROCK, REGION_MOUNT, REGION_BLUR = 0, 1, 2
MIXES = ("realistic", "classic")


@dataclass
class Scene:
    """One synthetic image and its truth.

    image: (H, W, 3) uint8 RGB. mask: (H, W) int32, 0 = matrix, 1..N = blobs.
    kinds: kinds[i - 1] is the kind of blob i. light: ``uv`` or ``plain``.
    region: (H, W) uint8, 0 = rock, 1 = mount field, 2 = out-of-focus rock.
    """

    image: np.ndarray
    mask: np.ndarray
    kinds: list[str]
    light: str
    meta: dict = field(default_factory=dict)
    region: np.ndarray | None = None


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


def _noise_1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Zero-mean, unit-std smooth 1-D noise of length ``n``."""
    x = ndi.gaussian_filter1d(rng.standard_normal(n + 8).astype(np.float32), max(sigma, 0.5), mode="wrap")[:n]
    return (x - x.mean()) / (x.std() + 1e-8)


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


def _matrix(rng: np.random.Generator, shape: tuple[int, int], light: str, style: str | None = None) -> np.ndarray:
    """(H, W, 3) float32 matrix texture. ``style``: None (as drawn), ``"brown"`` (plain
    light: a brown speckled matrix, as around shiny grey bodies)."""
    grain_px = rng.uniform(0.04, 0.09) * min(shape)
    mosaic = _grain_mosaic(rng, shape, grain_px)
    fine = _smooth_noise(rng, shape, 1.0)
    coarse = _smooth_noise(rng, shape, min(shape) / 6)
    if light == PLAIN:
        if style == "brown":
            base = np.array([0.52, 0.43, 0.34]) * rng.uniform(0.85, 1.1)
        else:
            base = np.array(rng.choice([[0.80, 0.76, 0.68], [0.74, 0.74, 0.74], [0.78, 0.70, 0.58], [0.70, 0.74, 0.78]]))
            base = base * rng.uniform(0.9, 1.05)
        shade = 1 + 0.07 * mosaic[..., None] + 0.03 * fine[..., None] + 0.04 * coarse[..., None]
        tint = 1 + 0.03 * mosaic[..., None] * np.array([1.0, 0.3, -0.8])
        return (base * shade * tint).astype(np.float32)
    # UV rock of the real photographs: orange-brown to olive behind the barrier filter
    # (G/R about 0.55-0.8, measured on shared/data/challenge), dimmer and more orange
    # than the yellow-green epoxy of a mount
    bright = rng.uniform() < 0.35  # Stranger-Sections-like bright field
    green_ratio = rng.uniform(0.55, 0.8)
    if bright:
        base = np.array([0.55, 0.55 * green_ratio, 0.05]) * rng.uniform(0.8, 1.0)
    else:
        base = np.array([0.2, 0.2 * green_ratio, 0.025]) * rng.uniform(0.6, 1.3)
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


def _streak_shape(rng: np.random.Generator, radius: float) -> tuple[np.ndarray, float]:
    """Boolean (h, w) footprint of a streaky, elongated body (a few thin, ragged ellipses
    strung along one direction) and that direction (radians)."""
    theta = rng.uniform(0, np.pi)
    half = int(np.ceil(radius * 1.5)) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    foot = np.zeros(yy.shape, bool)
    for j in range(int(rng.integers(2, 5))):
        t = theta + rng.uniform(-0.25, 0.25)
        off = rng.uniform(-0.45, 0.45) * radius if j else 0.0
        side = rng.uniform(-0.2, 0.2) * radius if j else 0.0
        cy, cx = off * np.sin(theta) + side * np.cos(theta), off * np.cos(theta) - side * np.sin(theta)
        u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
        v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
        length = radius * (rng.uniform(0.8, 1.05) if j == 0 else rng.uniform(0.35, 0.7))
        width = length * rng.uniform(0.16, 0.35)
        ang = np.arctan2(v, u)
        wobble = 1 + sum(rng.uniform(0, 0.1) * np.cos(k * ang + rng.uniform(0, 2 * np.pi)) for k in (3, 5, 7))
        foot |= np.hypot(u / length, v / width) <= wobble
    return foot, theta


def _blob_colour(
    rng: np.random.Generator,
    kind: str,
    shape: tuple[int, int],
    matrix_level: float,
    matrix_rgb: np.ndarray | None = None,
    theta: float = 0.0,
) -> np.ndarray:
    """(h, w, 3) float32 colour field of one blob."""
    tex = _smooth_noise(rng, shape, 1.5)[..., None] if min(shape) > 6 else np.zeros(shape + (1,), np.float32)
    if kind == "fluorescent":
        hue = rng.uniform(35, 110) / 360.0  # orange .. yellow .. green
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
    if kind == "shiny_grey":
        # Bluish grey of the matrix's luma (so about its Lab L, with a lower b), streaked
        # along the body, with a few brighter specular streaks.
        m = np.asarray(matrix_rgb if matrix_rgb is not None else (matrix_level,) * 3, np.float64)
        luma = np.array([0.299, 0.587, 0.114])
        tint = np.array([0.95, 0.99, rng.uniform(1.04, 1.12)])
        rgb = tint / float(tint @ luma) * float(m @ luma) * rng.uniform(0.96, 1.04)
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        period = rng.uniform(5.0, 12.0)
        streak = np.sin(2 * np.pi * v / period + 1.5 * tex[..., 0] + rng.uniform(0, 2 * np.pi))
        shade = 1 + 0.09 * streak + 0.04 * tex[..., 0]
        shine = (streak > 0.9) & (rng.uniform(size=shape) < 0.5)
        shade = np.where(shine, 1.35, shade)
        return np.clip(rgb[None, None, :] * shade[..., None], 0, 1).astype(np.float32)
    raise ValueError(f"unknown blob kind {kind!r}")


def _mount_field(
    rng: np.random.Generator, shape: tuple[int, int], share: float, sides: int
) -> np.ndarray:
    """Boolean (H, W) mount area along ``sides`` (1 or 2) borders, about ``share`` of the
    image, bounded by an irregular rock-chip edge (large bays, smaller notches, jags)."""
    h, w = shape
    out = np.zeros(shape, bool)
    chosen = rng.permutation(4)[:sides]  # 0 top, 1 bottom, 2 left, 3 right
    per_side = share / sides * (1.06 if sides == 2 else 1.0)  # the corner overlap
    for side in chosen:
        along, across = (w, h) if side in (0, 1) else (h, w)
        t = np.linspace(-0.5, 0.5, along, dtype=np.float32)
        base = per_side * across
        depth = (
            base
            + 0.30 * base * _noise_1d(rng, along, along / 5)
            + 0.08 * base * _noise_1d(rng, along, along / 30)
            + max(1.0, across / 300) * _noise_1d(rng, along, 1.0)
            + rng.uniform(-0.6, 0.6) * base * t
        )
        depth = np.clip(depth, 0, across)
        d = np.arange(across, dtype=np.float32)[:, None]  # distance from this border
        area = d < depth[None, :]  # (across, along)
        if side == 1:
            area = area[::-1]
        elif side == 2:
            area = area.T
        elif side == 3:
            area = area.T[:, ::-1]
        out |= area
    return out


def _mount_colour(rng: np.random.Generator, style: str, rock_rgb: np.ndarray) -> np.ndarray:
    """RGB (float, 0..1) of a mount field of ``style``."""
    if style == "epoxy":  # glowing yellow-green, brighter and greener than the rock
        r = max(rng.uniform(0.66, 0.92), min(0.95, 1.3 * float(rock_rgb.max())))
        g = r * rng.uniform(0.96, 1.06)
        b = (r + g) * rng.uniform(0.07, 0.12)  # keeps the image's blue fraction UV-like
        return np.clip(np.array([r, g, b]), 0, 1)
    if style == "grey":  # empty field, darker than the rock: grey, purplish or brownish
        level = rng.uniform(0.27, 0.42)
        return level * np.array([1.0, rng.uniform(0.9, 0.97), rng.uniform(0.9, 1.12)])
    if style == "glass":  # bright featureless glass, near saturation as in the real photographs
        level = rng.uniform(0.97, 1.0)
        return np.clip(level * np.array([1.0, rng.uniform(0.98, 1.01), rng.uniform(0.98, 1.03)]), 0, 1)
    raise ValueError(f"unknown mount style {style!r}")


def _packed_grains(
    rng: np.random.Generator, shape: tuple[int, int], share: float, allowed: np.ndarray
) -> np.ndarray:
    """(H, W) int32 labels of touching / near-touching rounded grains (0 = interstitial
    matrix) that cover about ``share`` of the ``allowed`` pixels.

    Seeds lie on a jittered hexagonal grid in a stretched frame (so grains are elongated
    along one common direction); a pixel belongs to its nearest seed's grain when it is
    within that grain's (ragged) radius and off the thin band between two seeds."""
    from scipy.spatial import cKDTree

    h, w = shape
    short = min(shape)
    spacing = rng.uniform(0.075, 0.12) * short
    aspect = rng.uniform(0.5, 0.8)
    theta = rng.uniform(0, np.pi)
    gap = rng.uniform(1.2, 2.4) * max(short / 480, 0.5)
    c, s = np.cos(theta), np.sin(theta)

    def frame(y, x):
        return np.stack([(x * c + y * s) * aspect, -x * s + y * c], -1)

    corners = frame(np.array([0, 0, h, h], np.float32), np.array([0, w, 0, w], np.float32))
    lo, hi = corners.min(0) - spacing, corners.max(0) + spacing
    rows = np.arange(lo[1], hi[1], spacing * np.sqrt(3) / 2)
    pts = []
    for k, v in enumerate(rows):
        us = np.arange(lo[0] + (spacing / 2 if k % 2 else 0), hi[0], spacing)
        pts.append(np.stack([us, np.full_like(us, v)], 1))
    seeds = np.concatenate(pts)
    seeds = seeds + rng.uniform(-0.4, 0.4, seeds.shape) * spacing
    seeds = seeds[rng.uniform(size=len(seeds)) > 0.12]  # missing seeds: bigger, odd grains
    radius_f = rng.uniform(0.65, 1.2, len(seeds)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist, idx = cKDTree(seeds).query(frame(yy, xx).reshape(-1, 2), k=2)
    d1 = (dist[:, 0] / radius_f[idx[:, 0]]).reshape(shape).astype(np.float32)
    band = (dist[:, 1] - dist[:, 0]).reshape(shape) >= gap
    d1 *= 1 + 0.06 * _smooth_noise(rng, shape, max(1.5, spacing / 8))  # ragged outlines
    ok = band & allowed
    target = share * max(int(allowed.sum()), 1)
    lo_r, hi_r = 0.05 * spacing, 2.0 * spacing
    for _ in range(24):  # bisection on the grain radius to hit the share
        mid = 0.5 * (lo_r + hi_r)
        if np.count_nonzero(ok & (d1 <= mid)) < target:
            lo_r = mid
        else:
            hi_r = mid
    grain = ok & (d1 <= 0.5 * (lo_r + hi_r))
    labels = np.where(grain, idx[:, 0].reshape(shape) + 1, 0).astype(np.int32)
    return labels


def _packed_colours(rng: np.random.Generator, labels: np.ndarray, img: np.ndarray) -> None:
    """Paint the grains of ``labels`` into ``img`` (in place): dark grey, slightly bluish,
    each grain its own level, with soft internal shading."""
    n = int(labels.max())
    level = rng.uniform(0.06, 0.22, n + 1).astype(np.float32)
    blue = rng.uniform(1.0, 1.12, n + 1).astype(np.float32)
    shade = 1 + 0.18 * _smooth_noise(rng, labels.shape, 3.0) + 0.12 * _smooth_noise(rng, labels.shape, 12.0)
    g = labels > 0
    lab = labels[g]
    base = level[lab] * shade[g]
    img[g] = np.stack([base * 0.97, base, base * blue[lab]], -1)


def _blur_zone(rng: np.random.Generator, shape: tuple[int, int], share: float) -> np.ndarray:
    """(H, W) float32 blend weight in [0, 1] of an out-of-focus side or corner (about
    ``share`` of the image), with a soft, wavy boundary."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    short = min(shape)
    if rng.uniform() < 0.5:  # a side
        side = int(rng.integers(4))
        t = [yy / h, 1 - yy / h, xx / w, 1 - xx / w][side] - share
        t *= (h if side < 2 else w) / short
    else:  # a corner
        cy, cx = rng.integers(0, 2, 2)
        radius = np.sqrt(4 * share * h * w / np.pi)
        t = (np.hypot(yy - cy * (h - 1), xx - cx * (w - 1)) - radius) / short
    t = t + 0.04 * _smooth_noise(rng, shape, short / 6)
    ramp = rng.uniform(0.04, 0.1)
    return np.clip(0.5 - t / ramp, 0, 1).astype(np.float32)


def _disk(diameter: int) -> np.ndarray:
    r = (diameter - 1) / 2
    yy, xx = np.mgrid[0:diameter, 0:diameter] - r
    return np.hypot(yy, xx) <= r + 0.35


def _add_specks(
    rng: np.random.Generator, img: np.ndarray, allowed: np.ndarray, density: float, light: str
) -> int:
    """Paint ``density`` specks per 10,000 px, 1-3 px across at 640 px width, bright and
    dark, onto the ``allowed`` pixels of ``img`` (in place). Returns the number drawn."""
    h, w = allowed.shape
    n = int(round(density * h * w / 10_000))
    if n == 0:
        return 0
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    scale = max(w / 640, 0.5)
    diam = np.maximum(1, np.round(rng.choice([1, 1, 2, 2, 3], n) * scale)).astype(int)
    bright = rng.uniform(size=n) < (0.6 if light == PLAIN else 0.35)
    colours = np.empty((n, 3), np.float32)
    k = int(bright.sum())
    if light == PLAIN:
        white = rng.uniform(0.85, 1.0, (k, 1)) * np.array([1.0, 1.0, 1.0])
        tinted = rng.uniform(size=k) < 0.15  # a few orange / red / green mineral specks
        white[tinted] = rng.uniform(0.5, 0.95, (int(tinted.sum()), 3)) * np.array([1.0, 0.6, 0.4])
        colours[bright] = white
    else:
        colours[bright] = rng.uniform(0.6, 1.0, (k, 1)) * np.array([1.0, rng.uniform(0.5, 0.9), 0.08])
    colours[~bright] = rng.uniform(0.0, 0.12, (n - k, 1)) * np.array([1.0, 1.0, 1.0])
    for d in np.unique(diam):
        sel = np.flatnonzero(diam == d)
        ids = np.zeros((h, w), np.int32)
        ids[ys[sel], xs[sel]] = sel + 1
        if d > 1:
            ids = ndi.grey_dilation(ids, footprint=_disk(int(d)))
        paint = (ids > 0) & allowed
        img[paint] = colours[ids[paint] - 1]
    return n


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
    *,
    kinds: tuple[str, ...] | None = None,
    matrix: str | None = None,
    mount: bool | str | None = None,
    mount_share: tuple[float, float] = (0.15, 0.4),
    mount_sides: int | None = None,
    packed: bool = False,
    packed_share: tuple[float, float] = (0.6, 0.8),
    blur_zone: bool = False,
    blur_zone_share: tuple[float, float] = (0.15, 0.35),
    blur_zone_sigma: tuple[float, float] = (4.0, 9.0),
    specks: float = 0.0,
    texture: float = 0.0,
) -> Scene:
    """Draw one synthetic thin section.

    Args:
        height, width: image size in pixels.
        light: ``"uv"`` or ``"plain"``.
        seed: seeds everything; the same arguments give the same scene.
        n_blobs: inclusive range of the number of blobs drawn; ``(0, 0)``: no blobs.
        radius_frac: blob mean radius as a fraction of the short image side.
        touch_prob: probability that a blob is placed touching an earlier one.
        blur_sigma, noise_std: ranges of optical blur (px) and sensor noise.
        illumination: amplitude of the smooth multiplicative illumination field.
        kinds: blob kinds to draw from (subset of ``BLOB_KINDS[light]``); None:
            ``DEFAULT_KINDS[light]`` (no ``shiny_grey``).
        matrix: None (pale plain matrix / olive-yellow UV matrix) or ``"brown"``
            (plain light: a brown matrix, as around shiny grey bodies).
        mount: None / False: no mount field; True: the light's usual style drawn at
            random (UV ``"epoxy"``; plain ``"grey"`` 3:1 ``"glass"``); or a style name.
        mount_share: range of the mount field's share of the image.
        mount_sides: 1 or 2 borders (None: 1 with probability 0.7, else 2).
        packed: plain light only: the rock is packed dark grains (kind ``black``,
            covering ``packed_share`` of the rock) in a thin light matrix; ``n_blobs``,
            ``radius_frac``, ``touch_prob``, ``kinds`` and ``matrix`` are then unused.
        blur_zone: blur a side or a corner strongly (sigma drawn from
            ``blur_zone_sigma``, px at 480 px short side; about ``blur_zone_share`` of
            the image). It is marked region 2 (rock only); blobs with half or more of
            their area in it are dropped from the truth (they stay in the picture).
        specks: bright/dark specks per 10,000 px in the rock matrix (not truth).
        texture: amplitude of extra fine and medium mottling of the rock (0: none).
    Returns:
        a :class:`Scene` (uint8 image, int32 instance mask, blob kinds, region map).

    With the new keyword arguments at their defaults the scene is the same, byte for
    byte, as in earlier versions of this module.
    """
    if light not in BLOB_KINDS:
        raise ValueError(f"light must be 'uv' or 'plain', got {light!r}")
    kinds_pool = tuple(DEFAULT_KINDS[light] if kinds is None else kinds)
    bad = set(kinds_pool) - set(BLOB_KINDS[light])
    if bad or not kinds_pool:
        raise ValueError(f"kinds for {light!r} light must be some of {BLOB_KINDS[light]}, got {kinds!r}")
    if packed and light != PLAIN:
        raise ValueError("packed grains are a plain-light scene")
    style = None
    if mount is not None and mount is not False:
        style = mount if isinstance(mount, str) else None
        if style is not None and style not in MOUNT_STYLES[light]:
            raise ValueError(f"mount for {light!r} light must be one of {MOUNT_STYLES[light]}, got {mount!r}")
    rng = np.random.default_rng(seed)
    shape = (int(height), int(width))
    short = min(shape)
    meta: dict = {"seed": seed}
    if packed:
        interstitial = np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(1.0, 1.05)]) * rng.uniform(0.72, 0.86)
        shade = 1 + 0.04 * _smooth_noise(rng, shape, 1.0) + 0.05 * _smooth_noise(rng, shape, short / 8)
        img = (interstitial * shade[..., None]).astype(np.float32)
    else:
        img = _matrix(rng, shape, light, matrix)
    matrix_level = float(img.mean())
    rock_rgb = img.reshape(-1, 3).mean(0)
    mount_area = np.zeros(shape, bool)
    if mount is not None and mount is not False:
        if style is None:
            style = "epoxy" if light == UV else ("grey" if rng.uniform() < 0.75 else "glass")
        sides = int(mount_sides) if mount_sides else (1 if rng.uniform() < 0.7 else 2)
        mount_area = _mount_field(rng, shape, rng.uniform(*mount_share), sides)
        meta.update(mount=style, mount_sides=sides)
    if texture > 0:
        mottle = 1 + texture * (0.6 * _smooth_noise(rng, shape, 0.8) + 0.8 * _smooth_noise(rng, shape, short / 40))
        img *= mottle[..., None]
    mask = np.zeros(shape, np.int32)
    blob_kinds: list[str] = []
    if packed:
        labels = _packed_grains(rng, shape, rng.uniform(*packed_share), ~mount_area)
        _packed_colours(rng, labels, img)
        mask, _ = _clean_instances(labels, ["black"] * int(labels.max()), min_area=20)
        blob_kinds = ["black"] * int(mask.max())
        matte = (labels > 0) & (mask == 0)  # pieces dropped by the cleaning: back to matrix
        if matte.any():
            img[matte] = (interstitial * shade[matte][:, None]).astype(np.float32)
    else:
        centres: list[tuple[float, float, float]] = []
        count = int(rng.integers(n_blobs[0], n_blobs[1] + 1))
        for _ in range(count):
            radius = rng.uniform(*radius_frac) * short
            if centres and rng.uniform() < touch_prob:
                cy, cx, cr = centres[int(rng.integers(len(centres)))]
                ang = rng.uniform(0, 2 * np.pi)
                dist = (cr + radius) * 0.9
                y, x = cy + dist * np.sin(ang), cx + dist * np.cos(ang)
            else:
                for _try in range(20):  # keep apart from earlier blobs (and off the mount)
                    y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
                    if all(np.hypot(y - cy, x - cx) > (cr + radius) * 1.2 for cy, cx, cr in centres) and not (
                        mount_area[min(int(y), shape[0] - 1), min(int(x), shape[1] - 1)]
                    ):
                        break
            kind = None
            theta = 0.0
            if "shiny_grey" in kinds_pool:  # draw the kind first: its footprint differs
                kind = str(rng.choice(kinds_pool))
            if kind == "shiny_grey":
                foot, theta = _streak_shape(rng, radius * 2.5)
            else:
                foot = _blob_shape(rng, radius)
            half = foot.shape[0] // 2
            y0, x0 = int(round(y)) - half, int(round(x)) - half
            ys, xs = slice(max(y0, 0), min(y0 + foot.shape[0], shape[0])), slice(max(x0, 0), min(x0 + foot.shape[1], shape[1]))
            if ys.stop - ys.start < 5 or xs.stop - xs.start < 5:  # placed (almost) outside the image
                continue
            sub = foot[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
            if sub.sum() < 20:
                continue
            if kind is None:
                kind = str(rng.choice(kinds_pool))
            region = img[ys, xs]
            if kind == "shiny_grey":
                colour = _blob_colour(rng, kind, sub.shape, matrix_level, region[mask[ys, xs] == 0].mean(0), theta)
            else:
                colour = _blob_colour(rng, kind, sub.shape, matrix_level)
            region[sub] = colour[sub]
            blob_kinds.append(kind)
            mask[ys, xs][sub] = len(blob_kinds)
            centres.append((y, x, radius))
    if specks > 0:
        meta["specks"] = _add_specks(rng, img, (mask == 0) & ~mount_area, specks, light)
    region_map = np.zeros(shape, np.uint8)
    if mount_area.any():
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
        gy, gx = rng.uniform(-0.04, 0.04, 2)
        flat = 1 + gy * (yy / shape[0] - 0.5) + gx * (xx / shape[1] - 0.5) + 0.012 * _smooth_noise(rng, shape, short / 3)
        field_rgb = _mount_colour(rng, style, rock_rgb) * flat[..., None]
        soft = ndi.gaussian_filter(mount_area.astype(np.float32), rng.uniform(0.8, 2.5))[..., None]
        img = img * (1 - soft) + field_rgb.astype(np.float32) * soft
        mask[ndi.binary_dilation(mount_area, iterations=2)] = 0  # no truth in (or fading into) the mount
        region_map[mount_area] = REGION_MOUNT
    if not packed:
        mask, blob_kinds = _clean_instances(mask, blob_kinds, min_area=20)
    elif mount_area.any():
        mask, blob_kinds = _clean_instances(mask, blob_kinds, min_area=20)
    if blur_zone:
        weight = _blur_zone(rng, shape, rng.uniform(*blur_zone_share))
        sigma = rng.uniform(*blur_zone_sigma) * short / 480
        img = img * (1 - weight[..., None]) + ndi.gaussian_filter(img, (sigma, sigma, 0)) * weight[..., None]
        zone = (weight >= 0.5) & (region_map == REGION_ROCK)
        region_map[zone] = REGION_BLUR
        area = np.bincount(mask.ravel(), minlength=mask.max() + 1)
        inside = np.bincount(mask[zone], minlength=mask.max() + 1)
        drop = np.flatnonzero(inside[1:] * 2 >= np.maximum(area[1:], 1)) + 1
        if len(drop):
            mask[np.isin(mask, drop)] = 0
            mask, blob_kinds = _clean_instances(mask, blob_kinds, min_area=20)
        meta.update(blur_zone_sigma=round(float(sigma), 2), dropped_blurred=int(len(drop)))
    # optics: blur, uneven illumination, noise
    img = ndi.gaussian_filter(img, sigma=(rng.uniform(*blur_sigma),) * 2 + (0,))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    yy, xx = yy / shape[0] - 0.5, xx / shape[1] - 0.5
    gy, gx = rng.uniform(-1, 1, 2)
    field_ = 1 + illumination * (0.5 * (gy * yy + gx * xx) - 0.8 * (yy**2 + xx**2)) + 0.03 * _smooth_noise(rng, shape, short / 4)
    img = img * field_[..., None]
    img = img + rng.normal(0, rng.uniform(*noise_std), img.shape).astype(np.float32)
    image = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    meta["mount_share"] = float((region_map == REGION_MOUNT).mean())
    meta["blur_share"] = float((region_map == REGION_BLUR).mean())
    return Scene(image=image, mask=mask, kinds=blob_kinds, light=light, meta=meta, region=region_map)


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


# Recipes of the realistic mix, cycled per light type so that any set size gets a
# spread of them (the first ones are the most common cases). Random details (styles,
# shares, sides, sigmas) come from each scene's own seed.
_UV_RECIPES: tuple[dict, ...] = (
    {},
    {"mount": True},
    {"blur_zone": True},
    {},
    {"mount": True, "blur_zone": True},
    {"n_blobs": (0, 0)},
)
_PLAIN_RECIPES: tuple[dict, ...] = (
    {},
    {"packed": True},
    {"mount": True},
    {"kinds": ("shiny_grey",), "matrix": "brown"},
    {"blur_zone": True},
    {"n_blobs": (0, 0), "mount": True},
    {"packed": True, "mount": True},
    {"kinds": ("opaque", "black", "shiny_grey"), "matrix": "brown", "blur_zone": True},
    {},
    {"n_blobs": (0, 0)},
)


def scene_recipe(light: str, index: int, seed: int) -> dict:
    """make_scene keyword arguments of the ``index``-th ``light`` image of a realistic set:
    one of the recipes above (cycled), plus specks and texture in every image."""
    recipes = _UV_RECIPES if light == UV else _PLAIN_RECIPES
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, index, 7])
    recipe = dict(recipes[index % len(recipes)])
    recipe["specks"] = round(float(rng.uniform(6.0, 18.0)), 2)
    recipe["texture"] = round(float(rng.uniform(0.02, 0.07)), 3)
    return recipe


def write_synthetic_set(
    out_dir: str | os.PathLike,
    n_images: int = 12,
    height: int = 480,
    width: int = 640,
    uv_fraction: float = 0.5,
    seed: int = 0,
    mix: str = "realistic",
    **scene_kwargs,
) -> list[Path]:
    """Write ``n_images`` scenes as ``synth_XXX_{uv,plain}.png`` + ``*_mask.npy`` (uint16
    instance ids, the same convention as ``shared/data/labeled``), ``*_region.npy``
    (uint8: 0 rock, 1 mount, 2 out-of-focus rock) and ``truth.json`` (light type, blob
    kinds, mount share, blur share and scene recipe per image). Existing identical sets
    are reused.

    ``mix="realistic"`` (default): per light type the images cycle through recipes
    (UV: plain blobs, mount field, blur zone, blobs, mount + blur, no blobs; plain:
    blobs, packed grains, mount field, shiny grey bodies in brown matrix, blur zone,
    mount without blobs, packed + mount, mixed kinds + blur, blobs, no blobs), all
    with specks and texture. ``mix="classic"``: plain textured scenes with clear blobs
    only (as in earlier versions). ``scene_kwargs`` override the recipes.

    Returns the image paths, sorted.
    """
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}, got {mix!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"n_images": n_images, "height": height, "width": width, "uv_fraction": uv_fraction, "seed": seed, "mix": mix, **scene_kwargs}
    truth_path = out / "truth.json"
    if truth_path.exists():
        previous = json.loads(truth_path.read_text())
        if previous.get("spec") == json.loads(json.dumps(spec)):
            paths = sorted(out / f"{name}.png" for name in previous["images"])
            if all(p.exists() and p.with_name(f"{p.stem}_region.npy").exists() for p in paths):
                return paths
    n_uv = int(round(n_images * uv_fraction))
    truth: dict = {"spec": spec, "images": {}}
    paths = []
    for i in range(n_images):
        light = UV if i < n_uv else PLAIN
        index = i if light == UV else i - n_uv
        recipe = scene_recipe(light, index, seed) if mix == "realistic" else {}
        kwargs = {**recipe, **scene_kwargs}
        scene = make_scene(height, width, light, seed=seed * 100_003 + i, **kwargs)
        name = f"synth_{i:03d}_{light}"
        Image.fromarray(scene.image).save(out / f"{name}.png")
        np.save(out / f"{name}_mask.npy", scene.mask.astype(np.uint16))
        np.save(out / f"{name}_region.npy", scene.region)
        truth["images"][name] = {
            "light": light,
            "kinds": scene.kinds,
            "mount_share": round(scene.meta["mount_share"], 4),
            "mount": scene.meta.get("mount"),
            "blur_share": round(scene.meta["blur_share"], 4),
            "recipe": json.loads(json.dumps(kwargs)),
        }
        paths.append(out / f"{name}.png")
    truth_path.write_text(json.dumps(truth, indent=1))
    return sorted(paths)


# The synthetic sets the runners make when they are given no folder: one table, so a figure
# names the set it was measured on. ``seed`` missing = the run's ``cfg.seed``.
RUNNER_SETS = {
    "run": dict(n_images=12, height=480, width=640),               # experiments.run, experiments.ablation
    "demo": dict(n_images=12, height=480, width=640),              # experiments.demo (--n-images, --size)
    "benchmark": dict(n_images=24, height=480, width=640, seed=1),  # experiments.benchmark: README's synthetic rows
    "bench_export_small": dict(height=1024, width=1360, seed=11),   # scripts/bench_export.py: distinct images ...
    "bench_export_large": dict(height=1536, width=2048, seed=12),   # ... at two sizes (n_images = half each)
}


def runner_set(out_dir: str | os.PathLike, name: str, **override) -> list[Path]:
    """Write (or reuse) the runner set ``name`` of :data:`RUNNER_SETS` in ``out_dir``;
    ``override`` sets keys the runner takes from its config or command line (seed, n_images, size)."""
    spec = {**RUNNER_SETS[name], **override}
    return write_synthetic_set(out_dir, **spec)
