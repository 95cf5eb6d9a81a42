"""The blob decision relative to the rock and the instance step, on hand-made arrays."""
import numpy as np
from scipy import ndimage as ndi
import pytest
from skimage.draw import disk

from experiments.config import load_config
from thinseg.instances import (BLOB_CLASSES, blob_mask, dark_voids, FLUORESCENT, OPAQUE_DARK, SHINY_GREY, blob_contrast, choose_foreground, dyed_epoxy,
                               clusters_to_instances, local_reference, merge_pieces, resize_nearest, split_instances,
                               trim_halos)
from thinseg.scene import MOUNT


@pytest.fixture
def icfg():
    return load_config([]).instances


def _noise(shape, sd=1.0, seed=0):
    return np.random.default_rng(seed).normal(0, sd, shape).astype(np.float32)


def _lab(L, a=0.0, b=5.0):
    L = np.asarray(L, np.float32)
    return np.stack([L, np.full_like(L, a), np.full_like(L, b)], -1)


def test_local_reference_follows_uneven_light():
    yy, xx = np.mgrid[:120, :160]
    score = (xx / 160.0 * 40).astype(np.float32)  # the matrix brightens left to right
    ref = local_reference(score, np.ones_like(score, bool), 50, 40)
    assert abs(ref[:, :20].mean() - 5) < 4 and abs(ref[:, -20:].mean() - 35) < 4
    # pixels outside `valid` do not count: a block of pure mount keeps its neighbours' level
    valid = np.ones_like(score, bool)
    valid[:, :40] = False
    score2 = score.copy()
    score2[:, :40] = 1000
    assert local_reference(score2, valid, 50, 40)[:, :40].max() < 60


def test_plain_dark_blob_is_contrasted_against_the_light_matrix(icfg):
    L = np.full((80, 80), 75.0) + _noise((80, 80))
    L[disk((40, 40), 10)] = 15.0
    c, kind = blob_contrast(_lab(L), "plain", np.ones(L.shape, bool), icfg)
    assert c[40, 40] > 1.5 and abs(np.median(c[:10, :10])) < 0.3
    assert kind[40, 40] == OPAQUE_DARK


def test_packed_dark_grains_as_majority_still_contrast(icfg):
    """Dark grains covering ~75 % of the rock: the light interstitial is the matrix."""
    L = np.full((120, 120), 80.0)
    for r in range(10, 120, 24):
        for q in range(10, 120, 24):
            L[disk((r, q), 11, shape=L.shape)] = 15.0
    assert (L < 50).mean() > 0.6
    c, _ = blob_contrast(_lab(L + _noise(L.shape)), "plain", np.ones(L.shape, bool), icfg)
    assert c[L < 50].mean() > 1.5 and c[L > 50].mean() < 0.3


def test_overexposed_rock_is_not_the_matrix_level(icfg):
    """Most of the rock clipped white (L 100, overexposed), a grey matrix patch (L 65) with
    one dark grain: the grey matrix is no blob, the grain is; with the clip rule off the
    clipped white sets the reference and the grey patch becomes a blob."""
    L = np.full((120, 160), 100.0)
    L[60:, :70] = 65.0 + _noise((60, 70))
    L[disk((90, 35), 8)] = 15.0
    labels = (L < 80).astype(np.int64) + (L < 40)
    inst = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask.max() == 1 and inst.mask[90, 35] == 1 and inst.mask[65, 60] == 0
    icfg.clip_L = 0.0
    off = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert off.mask[65, 60] > 0  # the grey matrix patch would count as a dark body


def test_shiny_grey_is_bluer_not_darker(icfg):
    L = np.full((80, 80), 45.0) + _noise((80, 80))
    b = np.full((80, 80), 6.0)
    b[20:60, 20:60] = -8.0  # bluish grey, the same lightness as the brown matrix
    lab = np.stack([L, np.full_like(L, 4.0), b], -1).astype(np.float32)
    c, kind = blob_contrast(lab, "plain", np.ones(L.shape, bool), icfg)
    assert c[40, 40] > 1.2 and kind[40, 40] == SHINY_GREY and c[5, 5] < 0.3


def test_brownish_grey_on_a_yellow_rock_is_no_shiny_grey_body(icfg):
    """0c3n69 / 0dpocx: vignetted corners of a yellow-brown rock (Lab b ~12) are bluer
    than the rock (b ~4) but brownish, not grey or bluish: no shiny grey seed there."""
    L = np.full((80, 80), 55.0) + _noise((80, 80))
    b = np.full((80, 80), 12.0)
    b[20:60, 20:60] = 4.0  # 8 units bluer than the rock, still brownish
    b[30:50, 60:75] = -6.0  # a real bluish grey body beside it
    lab = np.stack([L, np.full_like(L, 3.0), b], -1).astype(np.float32)
    c, kind = blob_contrast(lab, "plain", np.ones(L.shape, bool), icfg)
    assert c[40, 40] < icfg.grow, "a brownish patch must not even grow a shiny grey blob"
    assert c[40, 68] >= 1.0 and kind[40, 68] == SHINY_GREY


def test_uv_bright_body_contrasts_and_dark_does_not(icfg):
    L = np.full((80, 80), 28.0) + _noise((80, 80))
    L[disk((25, 25), 8)] = 80.0
    L[disk((55, 55), 8)] = 5.0
    c, kind = blob_contrast(_lab(L, 5, 30), "uv", np.ones(L.shape, bool), icfg)
    assert c[25, 25] > 2 and c[55, 55] < 0 and (kind == FLUORESCENT).all()


def test_outline_expansion_is_set_per_light_type():
    """UV bodies keep the growth threshold as outline (their glow spreads beyond them),
    plain-light bodies are grown by ``expand.plain`` px."""
    L = np.full((80, 80), 28.0) + _noise((80, 80))
    L[disk((40, 40), 10)] = 80.0
    region = np.zeros(L.shape, np.uint8)
    labels = (L > 50).astype(np.int64)
    areas = {}
    for uv_px in (0, 2):
        cfg = load_config([f"instances.expand.uv={uv_px}"]).instances
        inst = clusters_to_instances(labels, _lab(L, 5, 30), "uv", region, cfg, L.shape)
        assert inst.mask.max() == 1
        areas[uv_px] = int((inst.mask > 0).sum())
    assert areas[0] == pytest.approx(np.pi * 10 ** 2, rel=0.15)
    assert areas[2] > areas[0] + 2 * np.pi * 10  # a 2 px ring more (at least ~1 px of it)


def test_cluster_gate_keeps_only_contrasted_clusters(icfg):
    labels = np.zeros((40, 40), np.int64)
    labels[5:15, 5:15] = 1
    labels[25:35, 25:35] = 2
    contrast = np.where(labels == 1, 2.0, np.where(labels == 2, 0.2, 0.0)).astype(np.float32)
    dec = choose_foreground(labels, contrast, np.ones_like(contrast, bool), icfg, "plain")
    assert dec.blob_clusters.tolist() == [False, True, False]
    assert choose_foreground(labels, contrast, np.ones_like(contrast, bool), icfg, "uv").blob_clusters.all()
    assert dec.cluster_contrast[1] == pytest.approx(2.0)


def test_without_the_gate_the_clusters_do_not_change_the_blobs(icfg):
    """The blob decision is contrast-driven: the clusters enter only through the gate. A
    coarse clustering that lumps a dark body with the matrix loses it with the gate on
    (plain light) and changes nothing with it off (the ablation's finding on the real
    pictures: gate off, every method's masks are identical)."""
    L = np.full((120, 160), 72.0, np.float32) + _noise((120, 160), 1.5)
    L[disk((60, 80), 12)] = 30.0
    fine = (L < 50).astype(np.int64)  # the body has a cluster of its own
    lumped = np.zeros_like(fine)  # one cluster for everything
    region = np.zeros(L.shape, np.uint8)
    gated = icfg.copy()
    assert float(gated.cluster_gate.plain) > 0
    off = icfg.copy()
    off.cluster_gate.plain = 0.0
    masks = {(name, gate): clusters_to_instances(labels, _lab(L), "plain", region, c, L.shape).mask
             for name, labels in (("fine", fine), ("lumped", lumped)) for gate, c in (("on", gated), ("off", off))}
    assert masks["fine", "on"].max() == 1 and masks["lumped", "on"].max() == 0
    assert np.array_equal(masks["fine", "off"], masks["lumped", "off"])
    assert np.array_equal(masks["fine", "off"], masks["fine", "on"])


def _scene(shape=(120, 160)):
    L = np.full(shape, 72.0, np.float32) + _noise(shape, 1.5)
    return L


def test_no_blob_in_a_flat_specked_matrix(icfg):
    """A matrix with texture and 1-2 px dark specks: no blob at all."""
    L = _scene()
    rng = np.random.default_rng(3)
    for _ in range(60):
        r, q = rng.integers(2, 118), rng.integers(2, 158)
        L[r:r + 2, q:q + 1] = 20.0
    labels = (L < 50).astype(np.int64)
    inst = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, (240, 320))
    assert inst.mask.shape == (240, 320) and inst.mask.dtype == np.int32
    assert inst.mask.max() == 0 and inst.classes.size == 0


def test_two_touching_grains_split_one_id_each(icfg):
    L = _scene()
    L[disk((60, 60), 20, shape=L.shape)] = 15.0
    L[disk((60, 96), 18, shape=L.shape)] = 15.0
    L = np.where(L < 50, L + 6 * np.minimum(1, np.abs(np.arange(160)[None] - 79) / 10.0) - 6, L)  # darker centres
    labels = (L < 50).astype(np.int64)
    inst = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask.max() == 2 and inst.mask[60, 60] != inst.mask[60, 96]
    assert [BLOB_CLASSES[k] for k in inst.classes] == ["opaque_dark", "opaque_dark"]


def test_a_lens_with_internal_texture_stays_one_id(icfg):
    L = np.full((100, 160), 25.0, np.float32) + _noise((100, 160))
    lens = np.zeros(L.shape, bool)
    lens[35:65, 20:140] = True
    L[lens] = 75.0 + 3 * np.sin(np.arange(160) / 4.0)[None].repeat(100, 0)[lens]  # streaks inside
    labels = lens.astype(np.int64)
    inst = clusters_to_instances(labels, _lab(L, 5, 40), "uv", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask.max() == 1 and (inst.mask[lens] == 1).mean() > 0.9


def test_mount_is_never_a_blob_and_its_edge_neither(icfg):
    L = _scene()
    region = np.zeros(L.shape, np.uint8)
    region[:, 120:] = MOUNT
    L[:, 120:] = 30.0  # a dark empty field: darker than the rock
    L[:, 112:120] = 35.0  # the chip's shadowed edge
    L[disk((60, 50), 12, shape=L.shape)] = 12.0  # one real grain
    labels = (L < 50).astype(np.int64)
    inst = clusters_to_instances(labels, _lab(L), "plain", region, icfg, L.shape)
    assert inst.mask.max() == 1 and inst.mask[60, 50] == 1 and not inst.mask[:, 100:].any()


def test_a_field_across_the_picture_is_not_a_blob(icfg):
    L = _scene()
    L[:, :70] = 20.0  # half the picture dark: a field, not a body
    inst = clusters_to_instances((L < 50).astype(np.int64), _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask.max() == 0


def test_a_faint_soft_corner_is_no_body_a_sharp_grain_at_the_border_is(icfg):
    """A vignetted corner (darkening to 1.2 clear contrasts over 20 px: faint and soft) is
    dropped; a sharp dark grain cut by the border is kept; the same faint soft cone away
    from the border is not judged by this rule."""
    L = np.full((160, 200), 72.0, np.float32) + _noise((160, 200), 0.3)
    yy, xx = np.mgrid[:160, :200]
    for cy, cx in ((159, 0), (40, 70)):  # the corner, and a cone inside the picture
        L -= 42.0 * np.clip((20 - np.hypot(yy - cy, xx - cx)) / 20.0, 0, 1)
    L[disk((80, 198), 12, shape=L.shape)] = 15.0  # a grain cut by the right border
    labels = (L < 55).astype(np.int64)
    inst = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask[157, 2] == 0  # the corner
    assert inst.mask[80, 195] > 0  # the grain at the border
    assert inst.mask[40, 70] > 0  # the cone inside the picture: other rules judge it
    icfg.edge_min_contrast = 0.0
    off = clusters_to_instances(labels, _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert off.mask[157, 2] > 0  # the rule off: the corner is a blob


def test_a_thin_crack_is_not_a_blob(icfg):
    L = _scene()
    L[58:61, 5:155] = 10.0
    inst = clusters_to_instances((L < 50).astype(np.int64), _lab(L), "plain", np.zeros(L.shape, np.uint8), icfg, L.shape)
    assert inst.mask.max() == 0


def test_a_brightly_fluorescing_band_is_a_body_a_glowing_crack_is_not(icfg):
    """Under UV a thin band far brighter than the rock (3 clear contrasts: organic matter,
    tomjiao480_009) stays a blob; a thin crack glowing 1.2 contrasts (epoxy) is dropped as
    a streak, as every streak is with ``streak_body_contrast.uv`` = 0."""
    L = np.full((120, 160), 28.0, np.float32) + _noise((120, 160))
    L[30:33, 5:155] = 28.0 + 3.0 * icfg.uv_contrast / (1 + 0.3)  # score = L + 0.3 C: L share of 3 contrasts
    L[80:83, 5:155] = 28.0 + 1.2 * icfg.uv_contrast
    lab = _lab(L, 5, 30)
    labels = (L > 40).astype(np.int64)
    mask = clusters_to_instances(labels, lab, "uv", np.zeros(L.shape, np.uint8), icfg, L.shape).mask
    band = mask[30:33, 10:150]
    assert (band > 0).mean() > 0.8 and len(np.unique(band[band > 0])) == 1  # one id
    assert not mask[78:85].any()
    off = icfg.copy()
    off.streak_body_contrast.uv = 0.0
    assert clusters_to_instances(labels, lab, "uv", np.zeros(L.shape, np.uint8), off, L.shape).mask.max() == 0


def test_merge_pieces_joins_across_no_valley_only():
    c = np.full((20, 40), 2.0, np.float32)
    ids = np.zeros((20, 40), np.int32)
    ids[:, :20], ids[:, 20:] = 1, 2
    assert merge_pieces(ids, c, 0.9).max() == 1
    c[:, 19:21] = 0.5  # a lighter seam between them
    assert merge_pieces(ids, c, 0.9).max() == 2


def test_the_neck_is_judged_against_the_pieces_thickness_not_only_their_area():
    """A streak 7 px thick cut across in two halves: the cut (7 px) is short against the
    halves' equivalent diameter (20 px), so by area alone it is a neck; against their
    thickness it is the streak's full width, and the halves merge. Two compact bodies
    touching along 5 px stay two under both rules."""
    c = np.full((40, 120), 2.0, np.float32)
    streak = np.zeros((40, 120), np.int32)
    streak[16:23, 10:55], streak[16:23, 55:100] = 1, 2
    assert merge_pieces(streak, c, 0.9, min_neck=0.5).max() == 2
    assert merge_pieces(streak, c, 0.9, min_neck=0.5, neck_width=1.25).max() == 1
    bodies = np.zeros((40, 120), np.int32)
    bodies[5:35, 10:40], bodies[18:23, 40:70] = 1, 2  # a 30 px square and a 5 px bar ...
    bodies[5:35, 70:100] = 2  # ... ending in another 30 px square: they touch along 5 px
    for width in (0.0, 1.25):
        assert merge_pieces(bodies, c, 0.9, min_neck=0.5, neck_width=width).max() == 2, width


def test_a_faint_soft_rim_on_the_border_is_joined_to_no_body_by_its_thickness():
    """0oy8vd: a thin dark body (7 px wide, contrast 0.95) ends on a faint, soft haze piece
    (0.81 on a 0.78 surround) along the picture's bottom edge. Judged by the body's thickness
    the 7 px contact is no neck and the haze would be kept with the body; a faint soft rim
    on the border keeps the pair to equivalent diameters, and they stay two."""
    c = np.full((40, 60), 0.78, np.float32)
    ids = np.zeros((40, 60), np.int32)
    ids[5:30, 30:37], c[5:30, 30:37] = 1, 0.95  # the body
    ids[30:40, 0:60], c[30:40, 0:60] = 2, 0.81  # the haze, on the bottom border
    assert merge_pieces(ids, c, 0.9, min_neck=0.5, neck_width=1.25).max() == 1
    assert merge_pieces(ids, c, 0.9, min_neck=0.5, neck_width=1.25, border_rim=(1.0, 0.08)).max() == 2
    assert merge_pieces(ids, c, 0.9, min_neck=0.5).max() == 2


def test_a_dip_within_the_bodys_own_texture_is_no_seam():
    """Two halves of one streaky body (contrast 2 +- 0.8) parted where the contrast dips to
    1.65 (0.83 x the median): a seam by the ratio alone, none given the body's own spread;
    the same dip between two uniform bodies (+- 0.02) stays a seam."""
    rng = np.random.default_rng(0)
    ids = np.zeros((40, 80), np.int32)
    ids[:, :40], ids[:, 40:] = 1, 2
    for sd, merged in ((0.8, True), (0.02, False)):
        c = (2.0 + rng.normal(0, sd, ids.shape)).astype(np.float32)
        c[:, 39:41] = 1.65
        assert merge_pieces(ids, c, 0.9).max() == 2
        assert (merge_pieces(ids, c, 0.9, texture=0.5).max() == 1) == merged, sd


def test_two_shiny_grey_pieces_merge_at_their_own_level_opaque_ones_do_not():
    """A seam keeping 0.85 of the pieces' contrast: a valley at the plain level (0.9), none
    at the shiny grey level (0.8) when both pieces are shiny grey; one opaque piece keeps
    the pair at the plain level."""
    c = np.full((20, 40), 2.0, np.float32)
    c[:, 19:21] = 1.7
    ids = np.zeros((20, 40), np.int32)
    ids[:, :20], ids[:, 20:] = 1, 2
    shiny = np.full(ids.shape, SHINY_GREY, np.int8)
    assert merge_pieces(ids, c, 0.9).max() == 2
    assert merge_pieces(ids, c, 0.9, piece_kind=shiny, kind_ratio={SHINY_GREY: 0.8}).max() == 1
    mixed = shiny.copy()
    mixed[:, 20:] = OPAQUE_DARK
    assert merge_pieces(ids, c, 0.9, piece_kind=mixed, kind_ratio={SHINY_GREY: 0.8}).max() == 2


def test_split_off_gives_one_id_per_connected_piece(icfg):
    fg = np.zeros((60, 100), bool)
    fg[disk((30, 30), 14)] = True
    fg[disk((30, 52), 14)] = True
    c = fg.astype(np.float32) * 2
    icfg.split = False
    assert split_instances(fg, c, icfg).max() == 1


def test_resize_nearest_covers_all_ids():
    small = np.arange(12).reshape(3, 4)
    big = resize_nearest(small, (7, 9))
    assert big.shape == (7, 9) and set(np.unique(big)) == set(range(12))
    assert resize_nearest(np.zeros((3, 4, 3)), (6, 8)).shape == (6, 8, 3)


def test_a_faint_glow_under_uv_is_no_body_a_clear_fluorescent_one_is(icfg):
    """Under UV a soft glow whose peak only just reaches a clear contrast (median contrast
    0.85: out-of-focus epoxy glowing through the rock, 0tkcnf) is dropped by ``min_inner``;
    a body 1.5 clear contrasts above the matrix is kept. In plain light the rule is off
    by default (faint grey grains outlined with their halo sit at 0.8-0.9)."""
    L = np.full((160, 200), 30.0, np.float32) + _noise((160, 200), 0.3)
    yy, xx = np.mgrid[:160, :200]
    L[disk((80, 50), 10, shape=L.shape)] += 30.0  # a clear body: 1.5 units of uv_contrast (20)
    L += 24.0 * np.clip(1 - np.hypot(yy - 80, xx - 140) / 18.0, 0, 1)  # a glow peaking at 1.2 units
    lab, labels = _lab(L, a=5.0, b=40.0), (L > 40).astype(np.int64)
    rock = np.zeros(L.shape, np.uint8)
    inst = clusters_to_instances(labels, lab, "uv", rock, icfg, L.shape)
    assert inst.mask[80, 50] > 0 and inst.mask[80, 140] == 0
    icfg.min_inner = {"plain": 0.0, "uv": 0.0}
    icfg.soft_min_sharpness = 0.0  # the glow is soft-edged too: that rule off as well
    off = clusters_to_instances(labels, lab, "uv", rock, icfg, L.shape)
    assert off.mask[80, 50] > 0 and off.mask[80, 140] > 0  # the rules off: the glow is a blob


def test_an_orange_body_redder_than_the_rock_contrasts_a_brighter_patch_alone_does_not(icfg):
    """Under UV an orange body only 10 L brighter than the rock (half a clear brightness
    contrast) but 10 a* redder is a clear body (``uv_red_contrast`` 6 / ``uv_red_dL`` 7:
    min(10/6, 10/7) > 1); a patch as much brighter but no redder (a brighter zone of the
    matrix, 0sb5pc) is not; nor is a redder patch no brighter than the rock (iron-stained
    matrix)."""
    L = np.full((80, 180), 35.0, np.float32) + _noise((80, 180), 0.3)
    a = np.full(L.shape, 15.0, np.float32)
    L[disk((40, 30), 9)] += 10.0
    a[disk((40, 30), 9)] += 10.0  # orange body: brighter and redder
    L[disk((40, 90), 9)] += 10.0  # brighter only
    a[disk((40, 150), 9)] += 10.0  # redder only
    lab = np.stack([L, a, np.full_like(L, 45.0)], -1)
    c, _ = blob_contrast(lab, "uv", np.ones(L.shape, bool), icfg)
    assert c[40, 30] > 1.2 and c[40, 90] < 0.8 and c[40, 150] < 0.3, (c[40, 30], c[40, 90], c[40, 150])
    icfg.uv_red_contrast = 0.0
    off, _ = blob_contrast(lab, "uv", np.ones(L.shape, bool), icfg)
    assert off[40, 30] < 0.8  # brightness alone: no clear body


def test_block_grid_upsampling_is_skimages_bilinear_resize():
    """local_reference upsamples its block grid with two matrix products; they must give
    what skimage.transform.resize(order=1, mode="edge") gives, for any grid shape."""
    from skimage.transform import resize
    from thinseg.instances import _linear_weights
    rng = np.random.default_rng(0)
    for shape, out in (((3, 4), (385, 512)), ((1, 1), (40, 30)), ((2, 7), (101, 333)), ((5, 5), (5, 5))):
        grid = rng.random(shape)
        fast = _linear_weights(shape[0], out[0]) @ grid @ _linear_weights(shape[1], out[1]).T
        assert np.abs(fast - resize(grid, out, order=1, mode="edge")).max() < 1e-9, shape


def _dyed_sandstone(seed=0):
    """White grains (L 85) packed in a pore network of blue-dyed epoxy (L 55, a 5, b -35:
    chroma 35, hue 278 deg), with three black grains (L 15). (h, w, 3) Lab and the black mask."""
    h, w = 120, 160
    rng = np.random.default_rng(seed)
    L = np.full((h, w), 55.0, np.float32)
    a, b = np.full((h, w), 5.0, np.float32), np.full((h, w), -35.0, np.float32)
    grain = np.zeros((h, w), bool)
    for r in range(10, h, 20):
        for q in range(10, w, 20):
            grain[disk((r + rng.integers(-2, 3), q + rng.integers(-2, 3)), 8, shape=(h, w))] = True
    L[grain], a[grain], b[grain] = 85.0, 0.0, 3.0
    black = np.zeros((h, w), bool)
    for r, q in ((30, 50), (70, 110), (90, 30)):
        black[disk((r, q), 8, shape=(h, w))] = True
    L[black], a[black], b[black] = 15.0, 0.0, 0.0
    lab = np.stack([L + _noise((h, w), 1.0, seed), a, b], -1).astype(np.float32)
    return lab, black, ~grain & ~black


def test_blue_dyed_pore_epoxy_is_no_blob_the_black_grains_are(icfg):
    """A plain-light section impregnated with blue-dyed epoxy: its pores are darker than the
    white grains and bluer than the rock, so without the rule they pass as dark and shiny
    grey bodies; with it only the three black grains are blobs."""
    lab, black, pores = _dyed_sandstone()
    dye = dyed_epoxy(lab, icfg)
    assert dye[pores].mean() > 0.9 and dye[black].mean() < 0.3  # a black grain loses at most its blended rim
    labels = (pores | black).astype(np.int64)  # the pores share the black grains' (dark) cluster
    for rule_on in (True, False):
        cfg = icfg.copy()
        cfg.dye_chroma = icfg.dye_chroma if rule_on else 0.0
        mask = clusters_to_instances(labels, lab, "plain", np.zeros(lab.shape[:2], np.uint8), cfg, lab.shape[:2]).mask
        if rule_on:
            assert (mask[pores] > 0).mean() < 0.02
            assert (mask[black] > 0).mean() > 0.9 and len(np.unique(mask[black & (mask > 0)])) == 3
        else:
            assert (mask[pores] > 0).mean() > 0.5  # what the rule prevents


def test_a_few_bluish_spots_are_no_dyed_epoxy(icfg):
    """Below ``dye_min_share`` of saturated blue (a few bluish spots in grains, image3)
    nothing is taken for dyed epoxy."""
    lab, _, pores = _dyed_sandstone()
    lab[..., 1:][pores] = (0.0, 3.0)  # an undyed section: grey pores
    spot = np.zeros(lab.shape[:2], bool)
    spot[disk((60, 80), 4)] = True
    lab[..., 2][spot] = -35.0
    assert spot.mean() < icfg.dye_min_share
    assert not dyed_epoxy(lab, icfg).any()


def test_a_dim_orange_spot_is_a_body_a_redder_patch_of_a_mottled_matrix_is_not(icfg):
    """Under UV a small orange body with a sharp edge, found by its redness at a median of
    about 0.86 clear contrasts (below ``min_inner`` 0.9, 0pe3b9's blurred orange bodies), is
    kept by ``orange_min_inner``; the same spot on a redder plateau of the matrix (0.65: it
    stands only ~0.2 above its surroundings 3-8 px away, a mottled matrix's redder patch)
    is not; with
    the rule off the spot is faint and dropped as before."""
    L = np.full((100, 200), 35.0, np.float32) + _noise((100, 200), 0.2)
    a = np.full(L.shape, 15.0, np.float32) + _noise((100, 200), 0.2, seed=1)
    yy, xx = np.mgrid[:100, :200]
    plateau = np.abs(np.hypot(yy - 50, xx - 150) - 15) < 4  # a redder zone around the second spot
    L[plateau] += 0.65 * 7.0  # redder and brighter by 0.65 of a clear redness contrast
    a[plateau] += 0.65 * 6.0
    for cx in (50, 150):
        r = np.hypot(yy - 50, xx - cx)
        body = r < 8
        level = 1.2 * (1 - 0.4 * r / 8)  # 1.2 at the centre, 0.72 at the edge: median ~0.86
        L[body] += level[body] * 7.0
        a[body] += level[body] * 6.0
    lab = np.stack([L, a, np.full_like(L, 45.0)], -1)
    labels = np.zeros(L.shape, np.int64)
    region = np.zeros(L.shape, np.uint8)
    inst = clusters_to_instances(labels, lab, "uv", region, icfg, L.shape)
    assert inst.mask[50, 50] > 0 and inst.mask[50, 150] == 0
    icfg.orange_min_ring = 0.0  # the ring test is what tells the second spot apart
    assert clusters_to_instances(labels, lab, "uv", region, icfg, L.shape).mask[50, 150] > 0
    icfg.orange_min_inner = 0.0
    off = clusters_to_instances(labels, lab, "uv", region, icfg, L.shape)
    assert off.mask[50, 50] == 0 and off.mask[50, 150] == 0


def test_a_faint_soft_glow_under_uv_is_no_body_a_faint_sharp_one_is(icfg):
    """Under UV a large blob just under one clear contrast (median ~0.95) whose edge ramps
    down over 12 px (sharpness ~0.09: diffuse glow of the matrix, 0sb5pc) is dropped by
    ``soft_max_inner`` / ``soft_min_sharpness``; the same plateau with a 2 px edge is a
    body and kept; with the rule off both are kept."""
    L = np.full((160, 260), 30.0, np.float32) + _noise((160, 260), 0.3)
    yy, xx = np.mgrid[:160, :260]
    for cx, ramp in ((65, 12.0), (195, 2.0)):
        r = np.hypot(yy - 80, xx - cx)
        level = np.clip(0.95 * (1 - (r - 18) / ramp), 0, 0.95)  # plateau of radius 18, then the ramp
        level[r < 5] = 1.1  # a clear peak: the seed
        L += 20.0 * level.astype(np.float32)  # uv_contrast 20: level in clear contrasts
    lab, labels = _lab(L, a=5.0, b=40.0), np.zeros(L.shape, np.int64)
    region = np.zeros(L.shape, np.uint8)
    inst = clusters_to_instances(labels, lab, "uv", region, icfg, L.shape)
    assert inst.mask[80, 65] == 0 and inst.mask[80, 195] > 0
    icfg.soft_min_sharpness = 0.0
    off = clusters_to_instances(labels, lab, "uv", region, icfg, L.shape)
    assert off.mask[80, 65] > 0 and off.mask[80, 195] > 0


def test_a_dark_grain_loses_the_grey_halo_it_grew_into(icfg):
    """Plain light: a grain (contrast 1.3) inside a wide grey halo (0.8, above the growth
    level) is cut down to itself and its rim; a uniform blob, a two-toned grain (both tones
    clear contrasts), a shiny grey body and UV light are left as they are."""
    yy, xx = np.mgrid[:80, :80]
    r = np.hypot(yy - 40, xx - 40)
    contrast = np.where(r <= 6, 1.3, np.where(r <= 16, 0.8, 0.0)).astype(np.float32)
    ids = (contrast >= 0.7).astype(np.int32)
    dark = np.full(ids.shape, OPAQUE_DARK, np.int8)
    trimmed = trim_halos(ids, contrast, dark, icfg, "plain")
    assert trimmed[r <= 6].all() and trimmed.max() == 1  # the grain whole, the same id
    assert (trimmed > 0).sum() < 0.4 * (ids > 0).sum()
    assert not trimmed[r >= 10].any()  # the halo beyond the rim is gone
    assert np.array_equal(trim_halos(ids, contrast, dark, icfg, "uv"), ids)
    assert np.array_equal(trim_halos(ids, contrast, np.full(ids.shape, SHINY_GREY, np.int8), icfg, "plain"), ids)
    uniform = np.where(r <= 16, 0.8, 0.0).astype(np.float32)  # a shadow: its peak is its median
    assert np.array_equal(trim_halos(ids, uniform, dark, icfg, "plain"), ids)
    two_toned = np.where(r <= 16, np.where(xx < 40, 3.0, 1.5), 0.0).astype(np.float32)
    assert np.array_equal(trim_halos(ids, two_toned, dark, icfg, "plain"), ids)
    off = icfg.copy()
    off.halo_trim.share.plain = 0.0
    assert np.array_equal(trim_halos(ids, contrast, dark, off, "plain"), ids)


def test_a_sharp_bounded_body_just_under_a_clear_contrast_is_a_blob_and_haze_is_not(icfg):
    """Plain light: a compact grain at 0.9 (a dark grain seen through haze: never a clear
    contrast) with a sharp edge seeds a blob; a patch as dark but with a soft edge (haze),
    an elongated thin streak and the same grain under UV (no weak seeds) do not."""
    yy, xx = np.mgrid[:120, :160]
    region = np.zeros((120, 160), np.uint8)
    allowed = np.ones((120, 160), bool)
    grain = np.where(np.hypot(yy - 60, xx - 40) <= 6, 0.9, 0.0).astype(np.float32)
    haze = (0.9 * np.exp(-(np.hypot(yy - 60, xx - 120) / 15.0) ** 2)).astype(np.float32)
    contrast = grain + haze
    fg = blob_mask(contrast, region, allowed, icfg, "plain")
    assert fg[60, 40] and not fg[60, 120]
    assert fg[np.hypot(yy - 60, xx - 40) <= 5].all()
    assert not blob_mask(contrast, region, allowed, icfg, "uv").any()
    off = icfg.copy()
    off.weak_seed.level.plain = 0.0
    assert not blob_mask(contrast, region, allowed, off, "plain").any()
    soft_ok = icfg.copy()
    soft_ok.weak_seed.min_sharpness = 0.0  # it is the soft edge that keeps the haze out
    assert blob_mask(contrast, region, allowed, soft_ok, "plain")[60, 120]
    ring = np.zeros_like(contrast)  # a hollow ring: not a bounded body (solidity)
    r = np.hypot(yy - 60, xx - 80)
    ring[(r >= 14) & (r <= 16)] = 0.9
    assert not blob_mask(ring, region, allowed, icfg, "plain").any()


def test_rock_beside_a_dark_void_is_not_orange_for_being_redder_than_the_void(icfg):
    """Under UV a dark, colourless void (a hole in the chip, a non-fluorescent mineral)
    fills the blocks of the local references beside it; a piece of ordinary rock at its
    edge must not become an orange body for being redder and brighter than the void
    (challenge picture 1cie45: two rock pieces of 1.4 % and 3 % of the picture). The void
    (``uv_void_depth`` clear contrasts below the rock's matrix level) carries no matrix
    colour; a clear orange body in the rock stays a body. With the rule off the rock piece
    is a body (the fault)."""
    shape = (120, 200)
    L = np.full(shape, 35.0, np.float32) + _noise(shape, 0.5)
    a = np.full(shape, 10.0, np.float32) + _noise(shape, 0.3, seed=1)
    b = np.full(shape, 40.0, np.float32)
    void = np.zeros(shape, bool)
    void[:, :70] = True  # a third of the picture: the rock is still the majority
    void[35:85, :22] = False  # the rock piece at the picture's edge, inside the void's blocks
    L[void], a[void], b[void] = 25.0, 1.0, 30.0
    L[disk((60, 160), 9)] += 10.0
    a[disk((60, 160), 9)] += 10.0  # an orange body in the rock
    lab = np.stack([L, a, b], -1)
    rock = np.ones(shape, bool)
    piece = (slice(45, 75), slice(3, 15))
    c, _ = blob_contrast(lab, "uv", rock, icfg)
    assert float(np.median(c[piece])) < icfg.grow and c[60, 160] > 1.2, (np.median(c[piece]), c[60, 160])
    assert dark_voids(lab, rock, icfg)[void].all() and not dark_voids(lab, rock, icfg)[~void].any()
    icfg.uv_void_depth = 0.0
    off, _ = blob_contrast(lab, "uv", rock, icfg)
    assert float(np.median(off[piece])) > 1.0  # redder than the void: a false body


def test_an_orange_body_beside_the_mount_is_a_blob_the_mounts_glow_is_not(icfg):
    """Under UV no blob seeds within ``halo`` of the mount (the chip's edge glows with the
    epoxy) and a blob hugging the mount is dropped, except a clearly orange one
    (redness contrast >= ``halo_orange``): an orange body beside a yellow-green epoxy field
    is no glow of it (challenge photograph 0o7tl6's orange oval, outside ``shared``). A bright
    yellow-green rim of the chip at the same place stays out; with the rule off the orange
    body is lost as before."""
    shape = (120, 200)
    L = np.full(shape, 35.0, np.float32) + _noise(shape, 0.3)
    a = np.full(shape, 8.0, np.float32) + _noise(shape, 0.2, seed=1)
    b = np.full(shape, 45.0, np.float32)
    region = np.zeros(shape, np.uint8)
    region[:, 150:] = MOUNT
    L[:, 150:], a[:, 150:], b[:, 150:] = 75.0, -12.0, 70.0  # the glowing yellow-green epoxy
    orange = disk((35, 142), 9, shape=shape)  # touching the mount's halo
    L[orange] += 12.0
    a[orange] += 12.0
    rim = disk((85, 142), 9, shape=shape)  # the chip's edge glowing yellow-green with the epoxy
    L[rim] += 30.0
    a[rim] -= 10.0
    lab = np.stack([L, a, b], -1)
    labels = np.zeros(shape, np.int64)
    inst = clusters_to_instances(labels, lab, "uv", region, icfg, shape)
    assert inst.mask[35, 142] > 0 and inst.mask[85, 142] == 0 and inst.mask.max() == 1
    icfg.halo_orange = 0.0
    assert clusters_to_instances(labels, lab, "uv", region, icfg, shape).mask.max() == 0


def test_an_orange_body_no_brighter_than_the_rock_is_added_and_nothing_else_moves(icfg):
    """Under UV a body far redder than the rock but no brighter has no blob contrast (the
    redness contrast asks for brighter too) and was missed (challenge photograph 0smyr1's
    corner body, outside ``shared``: a* +16 over the rock, L +1). ``orange_bodies`` adds it
    as a new instance; a bright yellow lens beside it keeps its id and its pixels, a
    slightly redder patch of the matrix (a* +6) and a small red speck are not added, nor is
    a red piece touching the lens; with ``orange_body.red`` 0 the body is lost as before."""
    shape = (120, 200)
    L = np.full(shape, 40.0, np.float32) + _noise(shape, 0.3)
    a = np.full(shape, 2.0, np.float32) + _noise(shape, 0.2, seed=1)
    b = np.full(shape, 48.0, np.float32)
    region = np.zeros(shape, np.uint8)
    body = disk((40, 40), 12, shape=shape)
    a[body] += 16.0  # orange, as bright as the rock
    lens = disk((40, 120), 12, shape=shape)
    L[lens] += 40.0  # a bright yellow lens
    a[disk((56, 120), 5, shape=shape)] += 16.0  # a red piece touching the lens
    patch = disk((95, 60), 12, shape=shape)
    a[patch] += 6.0  # the matrix a little redder
    speck = disk((95, 150), 2, shape=shape)
    a[speck] += 20.0  # too small
    lab = np.stack([L, a, b], -1)
    labels = np.zeros(shape, np.int64)
    icfg.orange_body.red = 0.0
    before = clusters_to_instances(labels, lab, "uv", region, icfg, shape).ids
    assert before[40, 40] == 0 and before[40, 120] > 0 and before.max() == 1
    icfg.orange_body.red = 2.0
    after = clusters_to_instances(labels, lab, "uv", region, icfg, shape).ids
    assert after.max() == 2 and after[40, 40] == 2
    assert (after[body] == 2).mean() > 0.8
    assert np.array_equal(after == 1, before == 1)  # the lens is untouched
    assert after[95, 60] == 0 and after[95, 150] == 0 and after[58, 120] in (0, 1)
