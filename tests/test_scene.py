"""The scene model (mount field) and the blob decision on synthetic truth and on the
reference task's real photographs."""
import numpy as np
import pytest
from skimage.color import rgb2lab

from eval.metrics import best_iou_per_blob
from eval.score import mount_scores
from experiments.config import load_config
from thinseg.features import lab_of
from thinseg.imageio import load_image
from thinseg.instances import SHINY_GREY, resize_nearest
from thinseg.pipeline import prepare, read_for_segmentation, segment
from thinseg.scene import MOUNT, scene_map
from thinseg.segmenter import build_segmenter
from thinseg.synthetic import make_scene

# Hand-checked by eye on ../shared/data/challenge/images (1360 x 1024): which photographs
# show a mount field beside the chip (UV: glowing yellow-green epoxy; plain light: an
# empty grey field or white glass), and which show rock only.
WITH_MOUNT = ("0cm4j8", "0dpocx", "0end6y", "0nldci", "0oy8vd", "0sb5pc", "0tkcnf")
ROCK_ONLY = ("0foqkn", "0pe3b9", "1lfusq")


@pytest.fixture(scope="module")
def kmeans():
    cfg = load_config(["method=kmeans", "eval.internal=false"])
    return cfg, build_segmenter(cfg)


def _region(image, cfg):
    sample = prepare(image, cfg)
    return scene_map(lab_of(sample.features, cfg.features), sample.light, cfg.scene)


@pytest.mark.parametrize("light,style", [("uv", "epoxy"), ("plain", "grey"), ("plain", "glass")])
def test_synthetic_mount_is_found(light, style):
    """Over 8 seeded scenes the mount region is recovered (IoU with truth); one miss is
    tolerated (a dark field with strong sensor noise can read as texture)."""
    cfg = load_config([])
    ious = []
    for seed in range(8):
        scene = make_scene(384, 512, light, seed=seed, mount=style)
        found, truth = _region(scene.image.astype(np.float32) / 255, cfg) == MOUNT, scene.region == 1
        assert truth.mean() > 0.1
        ious.append((found & truth).sum() / (found | truth).sum())
    assert np.median(ious) > 0.85 and sum(i > 0.6 for i in ious) >= 7, np.round(ious, 2)


@pytest.mark.parametrize("light", ["uv", "plain"])
def test_no_mount_on_rock_only_scenes(light):
    cfg = load_config([])
    scene = make_scene(384, 512, light, seed=5)
    assert (_region(scene.image.astype(np.float32) / 255, cfg) == MOUNT).mean() < 0.01


@pytest.mark.parametrize("light,style,seed", [("uv", "epoxy", 1), ("uv", "epoxy", 2), ("plain", "grey", 3),
                                              ("plain", "glass", 4)])
def test_no_blob_in_the_mount_and_blobs_still_found(kmeans, light, style, seed):
    cfg, seg = kmeans
    scene = make_scene(384, 512, light, seed=seed, mount=style)
    res = segment(scene.image.astype(np.float32) / 255, seg, cfg)
    m = mount_scores(scene.region, res.mask)
    assert m["mount_blobs"] == 0 and m["mount_leak"] < 0.005, m
    best, _ = best_iou_per_blob(scene.mask, res.mask)
    assert best.mean() > 0.3, best.mean()  # the rock's blobs are still found (faint small ones may be missed)


def test_packed_majority_grains_found_and_split(kmeans):
    cfg, seg = kmeans
    scene = make_scene(384, 512, "plain", seed=7, packed=True)
    res = segment(scene.image.astype(np.float32) / 255, seg, cfg)
    n_true = int(scene.mask.max())
    assert (scene.mask > 0).mean() > 0.55 and n_true > 40
    best, _ = best_iou_per_blob(scene.mask, res.mask)
    assert best.mean() > 0.75, best.mean()
    assert 0.8 * n_true <= res.mask.max() <= 1.2 * n_true  # one id per grain, not one per pack


@pytest.mark.parametrize("light", ["uv", "plain"])
def test_zero_blob_scenes_give_at_most_a_few_tiny_blobs(kmeans, light):
    cfg, seg = kmeans
    scene = make_scene(384, 512, light, seed=9, n_blobs=(0, 0), specks=12.0, texture=0.06)
    assert scene.mask.max() == 0
    res = segment(scene.image.astype(np.float32) / 255, seg, cfg)
    assert res.mask.max() <= 3 and (res.mask > 0).mean() < 0.002


# ---- the reference task's own photographs ------------------------------------------


def test_challenge_mount_fields_are_found_and_never_exported(shared_data, kmeans):
    cfg, seg = kmeans
    folder = shared_data / "challenge" / "images"
    for name in WITH_MOUNT + ROCK_ONLY:
        rgb, full = read_for_segmentation(folder / f"{name}.png", cfg)
        res = segment(rgb, seg, cfg, name, full)
        if name in WITH_MOUNT:
            assert 0.05 < res.mount_share < 0.8, (name, res.mount_share)
        else:
            assert res.mount_share < 0.02, (name, res.mount_share)
        mount = resize_nearest(res.region, res.mask.shape) == MOUNT
        assert not (res.mask[mount] > 0).any(), name
        assert res.mask.max() < 60, (name, res.mask.max())  # texture and specks are not hundreds of blobs


def test_one_mount_medium_per_picture(shared_data, kmeans):
    """0oy8vd: an empty grey field on the left is the mount; the overexposed white rock on
    the right is bright and smooth like glass, but a picture has one mount medium."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0oy8vd.png", cfg)
    res = segment(rgb, seg, cfg, "0oy8vd", full)
    w = res.region.shape[1]
    assert (res.region[:, : w // 5] == MOUNT).mean() > 0.9  # the grey field
    assert (res.region[:, -w // 4:] == MOUNT).mean() < 0.05  # the white rock
    assert res.mask.max() >= 3  # its dark grains are found


def test_challenge_examples_reach_their_floor(shared_data, kmeans):
    """The three published example labels, scored recall-style (they are partial). The
    floors sit a little under today's figures (README): a regression of the scene model
    or the blob decision fails here."""
    cfg, seg = kmeans
    folder = shared_data / "challenge" / "examples"
    floors = {"image1": 0.55, "image2": 0.45, "image3": 0.45}
    pooled = []
    for name, floor in floors.items():
        rgb, full = read_for_segmentation(folder / f"{name}.jpg", cfg)
        res = segment(rgb, seg, cfg, name, full)
        best, _ = best_iou_per_blob(np.load(folder / f"{name}_mask.npy"), res.mask)
        assert best.mean() >= floor, (name, best.mean())
        pooled.append(best)
        if name == "image2":  # three shiny grey bodies: a plausible count, not 174
            assert res.mask.max() <= 3 * 3 * 4, res.mask.max()
    assert np.concatenate(pooled).mean() >= 0.48


def test_image3_blob_majority_is_not_taken_for_matrix(shared_data, kmeans):
    cfg, seg = kmeans
    path = shared_data / "challenge" / "examples" / "image3.jpg"
    res = segment(load_image(path), seg, cfg, "image3")
    assert (res.mask > 0).mean() > 0.55  # the packed black grains (78 % labelled) are blobs
    assert res.mask.max() > 60  # and they are split


def test_specked_rock_glowing_like_epoxy_is_not_the_mount(shared_data):
    """0tkcnf (UV): the rock's lower right glows smooth and yellow-green with the epoxy in
    its pores, but it holds dark grains and pores; the mount is the clear bright epoxy
    of the corner only. With the speck rule off the mount spreads over a third of the
    picture into the rock."""
    cfg = load_config(["method=kmeans"])
    path = shared_data / "challenge" / "images" / "0tkcnf.png"

    def region(c):
        rgb, full = read_for_segmentation(path, c)
        return _region_of(rgb, c, full)

    mount = region(cfg) == MOUNT
    h, w = mount.shape
    assert 0.05 < mount.mean() < 0.25, mount.mean()
    assert mount[-h // 8:, -w // 8:].mean() > 0.8  # the bright epoxy of the corner
    assert mount[: h // 2].mean() < 0.02  # the upper half is rock
    off = region(load_config(["method=kmeans", "scene.speck_clear.uv=0"])) == MOUNT
    assert off.mean() > 0.3  # the rule off: the glowing rock is taken for the mount


def test_the_uv_mount_does_not_grow_into_the_rock_glowing_beside_it(shared_data):
    """0cm4j8 (UV): the epoxy is a bright yellow-green strip along the right edge, from
    mid-height down; the rock beside it glows with it, half-way in colour (Lab about 7
    units from the epoxy's mean on each of a*, L and b*). Growth within ``grow_dE`` 8 of
    the seeds' colour keeps the mount to the strip (8 % of the picture); at 12 it spread
    over a band of rock three times as wide (14 %)."""
    path = shared_data / "challenge" / "images" / "0cm4j8.png"

    def region(c):
        rgb, full = read_for_segmentation(path, c)
        return _region_of(rgb, c, full) == MOUNT

    mount = region(load_config(["method=kmeans"]))
    h, w = mount.shape
    assert 0.04 < mount.mean() < 0.10, mount.mean()
    assert mount[h // 2:, -w // 32:].mean() > 0.8  # the strip along the lower right edge
    assert mount[:, : 3 * w // 4].mean() < 0.01  # the rock, left of the strip's neighbourhood
    wide = region(load_config(["method=kmeans", "scene.grow_dE.uv=12"]))
    assert wide.mean() > 0.12


def _region_of(rgb, cfg, full):
    sample = prepare(rgb, cfg, "cpu", "", full)
    return scene_map(lab_of(sample.features, cfg.features), sample.light, cfg.scene)


def test_the_empty_field_does_not_grow_into_the_chips_lighter_halo(shared_data):
    """0nldci (plain): the empty dark field fills the upper left; down the left side the
    chip is out of focus and vignetted, grey, smooth and darker than the rock, but much
    lighter than the field. With ``dark_reach`` off the field grew over that white rock
    (a tongue over half of the lower-left quarter)."""
    path = shared_data / "challenge" / "images" / "0nldci.png"

    def region(overrides):
        cfg = load_config(["method=kmeans", *overrides])
        rgb, full = read_for_segmentation(path, cfg)
        return _region_of(rgb, cfg, full) == MOUNT

    mount = region([])
    h, w = mount.shape
    assert mount[: h // 4, : w // 4].mean() > 0.95  # the field
    assert mount[h // 2:, : w // 4].mean() < 0.2  # the rock below it
    assert region(["scene.dark_reach=0"])[h // 2:, : w // 4].mean() > 0.4  # the rule off: the tongue


def test_a_corner_of_the_empty_field_is_no_opaque_body(shared_data, kmeans):
    """0dpocx (plain): beyond the chip, a small dark corner of the empty field (top right)
    is cut off from the mount found on the left; it is as dark as an opaque body but of
    the mount's own colour, so it is the field seen again (``plain_mount_dE``)."""
    cfg, seg = kmeans
    path = shared_data / "challenge" / "images" / "0dpocx.png"
    rgb, full = read_for_segmentation(path, cfg)
    corner = (slice(0, 150), slice(1310, None))
    assert (segment(rgb, seg, cfg, "0dpocx", full).mask[corner] > 0).mean() < 0.01
    off = load_config(["method=kmeans", "eval.internal=false", "instances.plain_mount_dE=0"])
    assert (segment(rgb, seg, off, "0dpocx", full).mask[corner] > 0).mean() > 0.2


def test_a_uv_lens_dimming_along_its_streaks_stays_one_body(shared_data, kmeans):
    """image1 (UV): the right yellow lens (label 7) dims along a streak across it; with the
    plain-light merge level (0.9) it is cut in two (best IoU 0.59), with the UV level
    (0.8) it is one id."""
    cfg, seg = kmeans
    folder = shared_data / "challenge" / "examples"
    rgb, full = read_for_segmentation(folder / "image1.jpg", cfg)
    truth = np.load(folder / "image1_mask.npy") == 7
    best = best_iou_per_blob(truth.astype(np.int32), segment(rgb, seg, cfg, "image1", full).mask)[0]
    assert best[0] > 0.85, best
    off = load_config(["method=kmeans", "eval.internal=false", "instances.merge_ratio.uv=0.9"])
    assert best_iou_per_blob(truth.astype(np.int32), segment(rgb, seg, off, "image1", full).mask)[0][0] < 0.7


def test_merged_uv_pieces_are_judged_again_as_a_whole(shared_data, kmeans):
    """image1 (UV), brightness contrast alone (``uv_red_contrast`` 0, so that only the
    merge passes differ) and the step between pieces held at 0.25 (at the default 0.35
    one pass merges this lens already): the lower right lens (label 10) is six watershed
    pieces; one merge pass leaves two, which, judged again with their merged median and
    spread, merge in the next (best IoU 0.83 with ``merge_rounds.uv`` 4, 0.67 with one pass)."""
    folder = shared_data / "challenge" / "examples"
    base = ["method=kmeans", "eval.internal=false", "instances.uv_red_contrast=0", "instances.merge_max_step.uv=0.25"]
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(folder / "image1.jpg", cfg)
    truth = (np.load(folder / "image1_mask.npy") == 10).astype(np.int32)
    rounds = load_config(base)
    assert best_iou_per_blob(truth, segment(rgb, seg, rounds, "image1", full).mask)[0][0] > 0.78
    one = load_config(base + ["instances.merge_rounds.uv=1"])
    assert best_iou_per_blob(truth, segment(rgb, seg, one, "image1", full).mask)[0][0] < 0.72


def test_a_uv_lamina_brighter_in_places_stays_one_body(shared_data, kmeans):
    """image1 (UV): the big orange lamina (label 9, 44 000 px, one polygon) glows unevenly:
    its pieces' median contrasts differ by 0.26-0.28 of the brighter one, and it was cut
    into a main piece, its right tail and lower-left lobes (best IoU 0.59). With
    ``merge_max_step.uv`` 0.35 they merge (0.76 or more); the yellow lenses touching it
    stay apart by colour (dE 37-40)."""
    folder = shared_data / "challenge" / "examples"
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(folder / "image1.jpg", cfg)
    labels = np.load(folder / "image1_mask.npy")
    best = best_iou_per_blob(labels, segment(rgb, seg, cfg, "image1", full).mask)[0]
    ids = np.unique(labels)[1:]
    assert best[list(ids).index(9)] > 0.7 and best.mean() > 0.83
    tight = load_config(["method=kmeans", "eval.internal=false", "instances.merge_max_step.uv=0.25"])
    assert best_iou_per_blob(labels, segment(rgb, seg, tight, "image1", full).mask)[0][list(ids).index(9)] < 0.62


def test_orange_bodies_redder_than_the_rock_are_found_under_uv(shared_data, kmeans):
    """0tkcnf (UV): an orange body at the left (rows 285-315, columns 85-100 of the
    1360 x 1024 picture) is 12-20 L brighter than its brown-orange rock (less than a clear
    brightness contrast) and 10-13 a* redder: found with ``uv_red_contrast``, missed
    without it."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0tkcnf.png", cfg)
    body = (slice(285, 315), slice(85, 100))
    assert (segment(rgb, seg, cfg, "0tkcnf", full).mask[body] > 0).mean() > 0.8
    off = load_config(["method=kmeans", "eval.internal=false", "instances.uv_red_contrast=0"])
    assert (segment(rgb, seg, off, "0tkcnf", full).mask[body] > 0).mean() < 0.2


def test_a_streaky_shiny_grey_body_stays_one_id(shared_data, kmeans):
    """image2 (plain): the large upper grey body (label 2) was cut by a straight seam into
    two halves of 35 000 and 31 000 px whose shared boundary keeps 0.86 of their contrast;
    pieces both shiny grey merge at ``merge_ratio_shiny`` 0.8 (best IoU 0.42 -> 0.8);
    image3's packed opaque grains keep the plain level."""
    cfg, seg = kmeans
    folder = shared_data / "challenge" / "examples"
    rgb, full = read_for_segmentation(folder / "image2.jpg", cfg)
    truth = (np.load(folder / "image2_mask.npy") == 2).astype(np.int32)
    assert best_iou_per_blob(truth, segment(rgb, seg, cfg, "image2", full).mask)[0][0] > 0.75
    off = load_config(["method=kmeans", "eval.internal=false", "instances.merge_ratio_shiny=0"])
    assert best_iou_per_blob(truth, segment(rgb, seg, off, "image2", full).mask)[0][0] < 0.5


def test_blue_dyed_pore_epoxy_is_no_blob_on_a_real_sandstone(shared_data, kmeans):
    """philliec459_clastic_03 (plain light, a sandstone impregnated with blue-dyed epoxy,
    15 % of the picture saturated blue): without ``instances.dye_*`` the pores were shiny
    grey and dark blobs (all of the blue in blobs, 229 blobs); with it none of the blue is,
    and the black grains still are."""
    cfg, seg = kmeans
    path = next((shared_data / "images").glob("philliec459_clastic_03.*"))
    rgb, full = read_for_segmentation(path, cfg)
    lab = rgb2lab(rgb[..., :3])
    chroma, hue = np.hypot(lab[..., 1], lab[..., 2]), np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360
    blue = (chroma >= 25) & (hue >= 180) & (hue <= 300)
    black = (lab[..., 0] < 30) & (chroma < 12)
    assert blue.mean() > 0.1 and black.sum() > 500

    def in_blobs(c):
        return resize_nearest(segment(rgb, seg, c, path.stem, full).mask, rgb.shape[:2]) > 0

    on = in_blobs(cfg)
    assert on[blue].mean() < 0.02 and on[black].mean() > 0.8
    off = in_blobs(load_config(["method=kmeans", "eval.internal=false", "instances.dye_chroma=0"]))
    assert off[blue].mean() > 0.5


def test_orange_specks_found_by_redness_stand_out_of_their_surroundings(shared_data, kmeans):
    """Small bodies under UV found by their redness (``thinseg.specks``): jeffroth_example1
    (a challenge photograph) has a small orange speck at rows 469-475, columns 686-691 that
    is found; 0sb5pc's smooth brighter orange matrix, redder than its block's median, gives
    dozens of noise pieces unless a spot must stand ``specks.red_ring`` above its own
    surroundings (3 -> 33 blobs with the ring test off; 5 with it)."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "images" / "jeffroth_example1.jpg", cfg)
    assert segment(rgb, seg, cfg, "jeffroth_example1", full).mask[469:476, 686:692].any()
    no_red = load_config(["method=kmeans", "eval.internal=false", "instances.uv_red_contrast=0"])
    assert not segment(rgb, seg, no_red, "jeffroth_example1", full).mask[469:476, 686:692].any()
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0sb5pc.png", cfg)
    assert segment(rgb, seg, cfg, "0sb5pc", full).mask.max() <= 8
    no_ring = load_config(["method=kmeans", "eval.internal=false", "instances.specks.red_ring=0"])
    assert segment(rgb, seg, no_ring, "0sb5pc", full).mask.max() >= 20


def test_dim_orange_bodies_under_uv_are_kept_when_they_stand_out(shared_data, kmeans):
    """0pe3b9 (UV) has two blurred orange bodies whose median contrast (0.84, 0.90) sits at
    the faint level (``min_inner`` 0.9), found by their redness; they stand 0.78 above
    their surroundings and are kept by ``orange_min_inner`` (at rows 470-485, columns
    365-380 and rows 477-490, columns 568-582). With the rule off they are dropped as
    faint; the rule adds no blob on 0sb5pc's diffuse orange patches (soft-edged)."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0pe3b9.png", cfg)
    mask = segment(rgb, seg, cfg, "0pe3b9", full).mask
    assert mask[470:485, 365:380].any() and mask[477:490, 568:582].any()
    off = load_config(["method=kmeans", "eval.internal=false", "instances.orange_min_inner=0"])
    mask_off = segment(rgb, seg, off, "0pe3b9", full).mask
    assert not mask_off[470:485, 365:380].any() and not mask_off[477:490, 568:582].any()
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0sb5pc.png", cfg)
    assert segment(rgb, seg, cfg, "0sb5pc", full).mask.max() == segment(rgb, seg, off, "0sb5pc", full).mask.max()


def test_diffuse_orange_glow_of_the_matrix_is_no_body(shared_data, kmeans):
    """0sb5pc (UV): the rock glows evenly orange, with brighter patches that have no edge
    (median contrast 0.94-0.95, sharpness 0.09-0.11). They were two blobs of 8 000 and
    35 000 px; ``soft_max_inner`` / ``soft_min_sharpness`` drop them, and no blob of the
    picture is larger than 3 000 px (the largest left, 2 300 px, is the sharper orange
    streak at the lower right)."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0sb5pc.png", cfg)
    mask = segment(rgb, seg, cfg, "0sb5pc", full).mask
    assert np.bincount(mask.ravel())[1:].max() < 3000
    off = load_config(["method=kmeans", "eval.internal=false", "instances.soft_min_sharpness=0"])
    assert np.bincount(segment(rgb, seg, off, "0sb5pc", full).mask.ravel())[1:].max() > 20000


def test_hazy_smudges_of_out_of_focus_rock_are_no_shiny_grey_bodies(shared_data, kmeans):
    """0end6y (plain light): the chip's lower lobe is out of focus, its hazy blue-grey rim
    bluer than the rock; small smudges there (under 0.2 % of the picture, sharpness
    0.03-0.05) were shiny grey blobs. With the blur test at any size (``blur_area_frac``
    0) 0end6y keeps at most 4 blobs (6 with it only above 0.2 %: 7 before the scale bar was
    left out of the blob decision, one blob was grey haze beside it), and image2's shiny
    grey bodies (sharpness 0.08-0.21) keep their score."""
    cfg, seg = kmeans
    rgb, full = read_for_segmentation(shared_data / "challenge" / "images" / "0end6y.png", cfg)
    no_weak = load_config(["method=kmeans", "eval.internal=false", "instances.weak_seed.level.plain=0"])
    assert segment(rgb, seg, no_weak, "0end6y", full).mask.max() <= 4
    # the weak seeds add the hazy chip's dark grain at its top (opaque), no smudge
    res = segment(rgb, seg, cfg, "0end6y", full)
    assert res.mask.max() <= 5 and (res.blob_classes == SHINY_GREY).sum() <= 3
    small_only = load_config(["method=kmeans", "eval.internal=false", "instances.blur_area_frac=0.002"])
    assert segment(rgb, seg, small_only, "0end6y", full).mask.max() >= 6
    folder = shared_data / "challenge" / "examples"
    rgb, full = read_for_segmentation(folder / "image2.jpg", cfg)
    labels = np.load(folder / "image2_mask.npy")
    assert best_iou_per_blob(labels, segment(rgb, seg, cfg, "image2", full).mask)[0].mean() > 0.75


def test_an_epoxy_filled_pore_inside_the_chip_is_mount_a_bright_lens_is_not():
    """Under UV a hole in the chip fills with the mounting epoxy and glows like the mount
    field beside the chip, but away from the border it is no mount seed. With a mount found,
    an inner smooth, mount-coloured piece whose hue lies at least half-way from the rock's
    to the mount's is mount too (challenge photograph 0divmn's round pore, outside
    ``shared``, was its largest blob). A bright yellow lens, as smooth and much brighter
    than the rock but only a little greener (a tenth of the way to the mount's hue), stays
    rock; it would be taken for a pore without the hue test. With the rule off the pore
    is rock."""
    cfg = load_config([]).scene
    rng = np.random.default_rng(0)
    h, w = 200, 300
    yy, xx = np.mgrid[:h, :w]
    lab = np.zeros((h, w, 3), np.float32)
    lab[...] = (35.0, 8.0, 40.0)  # brown-orange rock, textured
    lab[..., 0] += rng.normal(0, 4.0, (h, w)).astype(np.float32)
    epoxy = np.array([75.0, -12.0, 70.0], np.float32)  # yellow-green
    mount = xx >= 230
    pore = np.hypot(yy - 100, xx - 90) < 20
    lens = np.hypot(yy - 55, xx - 170) < 20
    for zone in (mount, pore):
        lab[zone] = epoxy + rng.normal(0, 0.3, (int(zone.sum()), 3)).astype(np.float32)
    lab[lens] = np.array([70.0, 10.0, 65.0], np.float32) + rng.normal(0, 0.3, (int(lens.sum()), 3)).astype(np.float32)
    region = scene_map(lab, "uv", cfg)
    assert region[100, 260] == MOUNT and region[100, 90] == MOUNT and region[60, 170] != MOUNT
    assert not (region == MOUNT)[:, :60].any()  # the rock around the pore stays rock
    cfg.pore_hue_share = 0.0
    assert scene_map(lab, "uv", cfg)[60, 170] == MOUNT
    cfg.pore_min_share = 0.0
    assert scene_map(lab, "uv", cfg)[100, 90] != MOUNT


def test_the_scale_bar_does_not_cut_the_mount_it_crosses():
    """The scale bar's line and label are texture to the smoothness test: crossing a
    mount strip they cut off the epoxy below them, which then glowed as a blob (held-out
    challenge photograph 0euljn). The scene model sees the bar's pixels in the colour of
    their nearest neighbours. Without the bar's zone the corner below it is rock."""
    from test_annotations import _draw_bar
    from thinseg.imagemaps import image_maps
    cfg = load_config(["method=kmeans", "eval.internal=false", "light.force=uv"])
    rng = np.random.default_rng(0)
    rgb = np.empty((512, 680, 3), np.float32)
    rgb[:] = (0.45, 0.32, 0.12)  # orange-brown rock, textured
    rgb += rng.normal(0, 0.04, rgb.shape).astype(np.float32)
    rgb[:, :160] = (0.85, 0.85, 0.2)  # the epoxy, a strip along the left border
    rgb[:, :160] += rng.normal(0, 0.004, (512, 160, 3)).astype(np.float32)
    _draw_bar(rgb, y=470, x0=0, x1=170)
    rgb = np.clip(rgb, 0, 1)
    region = image_maps(prepare(rgb, cfg, "cpu", "bar", rgb.shape[:2]), cfg)[1]
    h, w = region.shape
    assert region[int(0.3 * h), int(0.1 * w)] == MOUNT and region[int(0.97 * h), int(0.1 * w)] == MOUNT
    assert region[int(0.5 * h), int(0.6 * w)] != MOUNT
    cfg.annotations.enabled = False
    region = image_maps(prepare(rgb, cfg, "cpu", "bar", rgb.shape[:2]), cfg)[1]
    assert region[int(0.97 * h), int(0.1 * w)] != MOUNT  # cut off below the bar


def test_the_image_maps_follow_the_config_they_are_read_with():
    """The per-image maps are kept on the working image under the config that shaped
    them: read again with the same config they are the same object; with another blob
    threshold they are computed again for it (an ablation reusing prepared images never
    gets the maps of another cell)."""
    from thinseg.imagemaps import image_maps
    cfg = load_config(["method=kmeans", "eval.internal=false", "light.force=plain"])
    rgb = np.full((96, 128, 3), 0.8, np.float32)
    rgb[30:60, 40:80] = 0.1  # one dark body on a light matrix
    sample = prepare(rgb, cfg, "cpu", "maps", rgb.shape[:2])
    first = image_maps(sample, cfg)
    assert image_maps(sample, cfg) is first
    other = load_config(["method=kmeans", "eval.internal=false", "light.force=plain", "instances.dark_contrast=70"])
    second = image_maps(sample, other)
    assert second is not first
    h, w = first[2].contrast.shape
    body = (h // 2, w // 2)
    assert first[2].contrast[body] == pytest.approx(2.0 * second[2].contrast[body], rel=1e-3)
    assert image_maps(sample, cfg) is first
