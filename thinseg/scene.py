"""The scene model: which part of a picture is rock, and which is the mount beside it.

Thin-section photographs often show the mounting medium next to the rock chip:
under UV a large, smooth, bright yellow-green epoxy field; under plain light an
empty smooth grey field or bright featureless glass. It is never a blob. The
rule, at working resolution (``scene`` config node):

1. **Smoothness.** The gradient magnitude of ``log(L + smooth_offset)`` (relative, so
   dim UV pictures and bright plain-light ones compare; the offset keeps sensor noise
   in a dark empty field from looking like texture), averaged with a Gaussian of
   ``smooth_sigma`` x the long side. Smooth = below ``smooth_abs`` and below
   ``smooth_rel`` x the picture's 75th percentile of it.
2. **Mount colour, relative to the rock.** The rock reference is the median
   context colour (Lab smoothed with sigma 4 px) of the textured half of the
   picture. UV: a mount pixel is greener (hue angle at least ``uv_dhue`` degrees
   above the rock's) and brighter (``uv_dL`` L units) than the rock, or much
   brighter (``uv_bright_dL``). Plain light: low chroma (below ``plain_max_chroma``)
   and either darker than the rock by ``plain_dark_dL`` (an empty field) or lighter
   than ``plain_glass_L`` (glass; a relative rule took white rock for glass on the
   challenge images). One mount medium per picture: when both kinds of seeds (step 3)
   are found, the kind covering more is the mount and the other is rock (0oy8vd: the
   empty grey field on the left is the mount, the overexposed white rock on the right
   is not glass).
3. **Shape.** Smooth mount-coloured pixels, opened, form candidate pieces; a piece
   is a mount seed when it covers at least ``min_share`` of the picture and touches
   the border (the chip never fills the field there). Under UV, with seeds found, an
   **epoxy-filled pore** is mount too (``_epoxy_pores``): an inner candidate piece of at
   least ``pore_min_share`` whose hue lies ``pore_hue_share`` of the way from the rock's
   to the seeds', away from the grown mount (step 4) by the specks' density sigma
   (0divmn, a challenge photograph outside ``shared``: its round pore was its largest
   blob; 0tkcnf's yellow-green glowing rock just beside its mount is no pore); it grows
   only into fairly smooth pixels within ``grow_dE`` of its own mean colour, never into
   the rock glowing around it (a pore holds a few specks of debris, so the specks'
   density is not asked of it).
4. **Growth.** From the seeds the region grows (geodesically) into connected
   pixels that are fairly smooth (``grow_smooth``) and either loosely
   mount-coloured or within ``grow_dE`` (per light type) of the seeds' mean colour (a
   mount field darkens or shifts hue across the picture; under UV 8, not 12: rock beside
   the epoxy glows with it, half-way in colour, 0cm4j8 14 % -> 8 %), and, per light type, **clear of
   specks** (``clear_of_specks``): the local density of small dark specks (a small
   grain, a pore) below ``speck_clear`` x the rock's. Epoxy is a clear medium; under
   UV, out-of-focus rock glowing with the epoxy that fills its pores is smooth and
   epoxy-coloured too, but it holds dark grains (0tkcnf: 33 % -> 18 % of the picture,
   the corner's epoxy; 0cm4j8 20 % -> 14 %). The density is a blurred map, so the
   region then grows once more without it, up to the density's sigma, to reach the
   chip's edge. Off in plain light (0: a tighter mount there leaves the chip's hazy rim
   to the blob decision, which takes it for shiny grey bodies). Holes are filled and
   the region is dilated by ``dilate`` px to cover the chip's blurred edge. An empty
   (dark) field grows only into pixels darker than ``dark_reach`` of the way from the
   field's median L to the rock's: between chip and field lies the out-of-focus halo of
   the chip and vignetted rock, lighter than the field but grey and smooth (0nldci: a
   tongue of white rock in the lower left was mount, 24 % -> 17 %).

Returns a region map, ``ROCK`` (0) or ``MOUNT`` (1). Out-of-focus zones are not
marked here: blob candidates with soft edges over a large area are dropped by the
blob decision (``thinseg.instances``), which is where their effect matters.
Checked by eye on ``shared/data/challenge/images`` (the hand-made list of which
images show a mount field is in ``tests/test_scene.py``).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .light import UV, per_light

ROCK = 0
MOUNT = 1


def smoothness(L: np.ndarray, sigma: float, offset: float = 5.0) -> np.ndarray:
    """(h, w) float32 local mean of the relative gradient of L (0..100 scale)."""
    lL = np.log(np.maximum(L, 0) + float(offset))
    g = np.hypot(ndi.sobel(lL, 0), ndi.sobel(lL, 1)) * (100.0 / 8.0)
    return ndi.gaussian_filter(g, sigma).astype(np.float32)


def clear_of_specks(L: np.ndarray, textured: np.ndarray, cfg, light: str) -> np.ndarray:
    """(h, w) bool: where the picture holds far fewer dark specks than its rock does.

    A speck is a pixel ``speck_dL`` L units darker than the grey closing of L over
    ``speck_size`` px (a small dark grain, a pore). Their local density (Gaussian of
    ``speck_sigma`` x the long side) is compared with their mean density over the textured
    half of the picture: clear = below ``speck_clear`` (of the light type) x that. Epoxy
    is a clear medium; rock, even smooth, out of focus and glowing with the epoxy that
    fills its pores, holds opaque grains and pores. L: (h, w) float32 0..100; textured:
    (h, w) bool. Returns (h, w) bool."""
    clear_share = per_light(cfg.speck_clear, light)
    if clear_share <= 0:
        return np.ones(L.shape, bool)
    speck = (ndi.grey_closing(L, size=int(cfg.speck_size)) - L) > float(cfg.speck_dL)
    rock = float(speck[textured].mean())
    if rock <= 0:
        return np.ones(L.shape, bool)
    density = _smooth_density(speck, float(cfg.speck_sigma) * max(L.shape))
    return density < clear_share * rock


def _smooth_density(mask: np.ndarray, sigma: float, step: int = 4) -> np.ndarray:
    """(h, w) float32 Gaussian-smoothed share of ``mask`` ((h, w) bool), computed on blocks
    of ``step`` x ``step`` px (a wide Gaussian on the full grid costs 15 ms per picture)."""
    h, w = mask.shape
    if sigma < 2 * step:
        return ndi.gaussian_filter(mask.astype(np.float32), sigma)
    hh, ww = -(-h // step) * step, -(-w // step) * step
    padded = np.pad(mask.astype(np.float32), ((0, hh - h), (0, ww - w)), mode="edge")
    blocks = padded.reshape(hh // step, step, ww // step, step).mean((1, 3))
    smooth = ndi.gaussian_filter(blocks, sigma / step)
    return np.repeat(np.repeat(smooth, step, 0), step, 1)[:h, :w]


def _epoxy_pores(candidates: np.ndarray, seeds: np.ndarray, hue: np.ndarray, H_rock: float, cfg) -> np.ndarray:
    """(h, w) bool: UV epoxy-filled pores inside the chip, mount too.

    A hole in the chip fills with the mounting epoxy and glows like the mount field, but
    away from the border, so it is no seed of its own (step 3). With a mount field found,
    an inner piece of ``candidates`` (smooth, mount-coloured pixels, opened; (h, w) bool)
    covering at least ``pore_min_share`` of the picture whose mean hue lies at least
    ``pore_hue_share`` of the way from the rock's hue ``H_rock`` to the mount seeds'
    median hue is one (challenge photograph 0divmn: a round pore in the chip, 0.9 % of the
    picture, was its largest blob). seeds: (h, w) bool mount seeds; hue: (h, w) float32
    context hue angle in degrees."""
    h, w = candidates.shape
    pieces, n = ndi.label(candidates & ~seeds)
    if n == 0:
        return np.zeros((h, w), bool)
    idx = np.arange(1, n + 1)
    size = np.bincount(pieces.ravel(), minlength=n + 1)[1:]
    piece_hue = np.asarray(ndi.mean(hue, pieces, idx), float)
    H_mount = float(np.median(hue[seeds]))
    on_border = np.zeros(n + 1, bool)
    on_border[np.unique(np.r_[pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])] = True
    keep = ((size >= float(cfg.pore_min_share) * h * w) & ~on_border[1:]
            & (piece_hue >= H_rock + float(cfg.pore_hue_share) * (H_mount - H_rock)))
    return np.r_[False, keep][pieces]


def _hue(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(b, a))


def scene_map(lab: np.ndarray, light: str, cfg) -> np.ndarray:
    """Region map of one image at working resolution.

    Args:
        lab: (h, w, 3) float32 CIE Lab (L in 0..100).
        light: ``uv`` or ``plain``.
        cfg: the ``scene`` config node (see the module docstring).
    Returns:
        (h, w) uint8, ``ROCK`` = 0, ``MOUNT`` = 1.
    """
    h, w = lab.shape[:2]
    region = np.zeros((h, w), np.uint8)
    if not cfg.enabled or min(h, w) < 16:
        return region
    L = lab[..., 0]
    S = smoothness(L, max(2.0, float(cfg.smooth_sigma) * max(h, w)), float(cfg.smooth_offset))
    ctx = ndi.gaussian_filter(lab, (4, 4, 0))
    Lc, ac, bc = ctx[..., 0], ctx[..., 1], ctx[..., 2]
    Cc, Hc = np.hypot(ac, bc), _hue(ac, bc)
    textured = S > np.median(S)
    if not textured.any():
        return region
    L_rock, H_rock = float(np.median(Lc[textured])), float(np.median(Hc[textured]))

    smooth = S < min(float(cfg.smooth_abs), float(cfg.smooth_rel) * float(np.percentile(S, 75)))
    limit = np.ones((h, w), bool)  # where the growth may reach at all

    def candidates_of(colour: np.ndarray) -> np.ndarray:  # smooth, mount-coloured, opened
        return ndi.binary_opening(smooth & colour, iterations=2)

    def seeds_of(cand: np.ndarray) -> np.ndarray:
        pieces, n = ndi.label(cand)
        if n == 0:
            return np.zeros((h, w), bool)
        sizes = np.bincount(pieces.ravel(), minlength=n + 1)
        on_border = np.zeros(n + 1, bool)
        on_border[np.unique(np.r_[pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])] = True
        keep = (sizes >= cfg.min_share * h * w) & on_border
        keep[0] = False
        return keep[pieces]

    if light == UV:
        colour = ((Hc > H_rock + cfg.uv_dhue) & (Lc > L_rock + cfg.uv_dL)) | (Lc > L_rock + cfg.uv_bright_dL)
        loose = (Hc > H_rock + 0.4 * cfg.uv_dhue) & (Lc > L_rock)
        pore_candidates = candidates_of(colour)  # also the pores' (``_epoxy_pores``)
        seeds = seeds_of(pore_candidates)
    else:  # one mount medium per picture: an empty field or glass, whichever covers more
        glass_L, grey = float(cfg.plain_glass_L), Cc < cfg.plain_max_chroma
        dark_seeds = seeds_of(candidates_of(grey & (Lc < L_rock - cfg.plain_dark_dL)))
        glass_seeds = seeds_of(candidates_of(grey & (Lc > glass_L)))
        loose_grey = Cc < cfg.plain_max_chroma + 2
        if dark_seeds.sum() >= glass_seeds.sum():
            seeds, loose = dark_seeds, loose_grey & (Lc < L_rock - 0.5 * cfg.plain_dark_dL)
            if float(cfg.dark_reach) > 0 and seeds.any():  # the field's halo, vignetted rock: lighter than the field
                L_field = float(np.median(Lc[seeds]))
                limit = Lc < L_field + float(cfg.dark_reach) * (L_rock - L_field)
        else:
            seeds, loose = glass_seeds, loose_grey & (Lc > glass_L - 2)
    if not seeds.any():
        return region
    mean_colour = ctx[seeds].mean(0)
    dE = np.sqrt(((ctx - mean_colour) ** 2).sum(-1))
    grow = (S < per_light(cfg.grow_smooth, light)) & (loose | (dE < per_light(cfg.grow_dE, light)))
    grow &= limit
    clear = clear_of_specks(L, textured, cfg, light)
    mount = ndi.binary_propagation(seeds, mask=(grow & clear) | seeds)
    reach = max(1, int(round(float(cfg.speck_sigma) * max(h, w))))  # the specks' density sigma, px
    if not clear.all():  # the density blurs the rock's specks over the mount's edge: reach it again
        mount = ndi.binary_propagation(mount, mask=(grow & ndi.binary_dilation(mount, iterations=reach)) | mount)
    if light == UV and float(cfg.get("pore_min_share", 0)) > 0:  # epoxy-filled pores inside the chip
        away = ~ndi.binary_dilation(mount, iterations=reach)
        pores = _epoxy_pores(pore_candidates & away, seeds, Hc, H_rock, cfg)
        if pores.any():  # a pore grows over its own colour only, never into the rock glowing around it
            own = np.sqrt(((ctx - ctx[pores].mean(0)) ** 2).sum(-1)) < per_light(cfg.grow_dE, light)
            mount |= ndi.binary_propagation(pores, mask=(own & (S < per_light(cfg.grow_smooth, light))) | pores)
    mount = ndi.binary_fill_holes(mount)
    if cfg.dilate > 0:
        mount = ndi.binary_dilation(mount, iterations=int(cfg.dilate))
    region[mount] = MOUNT
    return region
