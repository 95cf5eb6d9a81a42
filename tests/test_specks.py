"""Small bodies found at the decoded resolution (thinseg/specks.py), on hand-made images."""
import numpy as np
import pytest
from skimage.color import rgb2lab
from skimage.draw import disk

from experiments.config import load_config
from thinseg.scene import MOUNT
from thinseg.specks import find_small_bodies

F = 4  # decoded / working size


@pytest.fixture
def icfg():
    return load_config([]).instances


def _image(matrix=(0.75, 0.72, 0.65), seed=0, size=(400, 560)):
    rng = np.random.default_rng(seed)
    rgb = np.empty(size + (3,), np.float32)
    rgb[:] = matrix
    rgb += rng.normal(0, 0.01, rgb.shape).astype(np.float32)
    return rgb


def _working(rgb):
    H, W = rgb.shape[:2]
    work = rgb.reshape(H // F, F, W // F, F, 3).mean((1, 3)).astype(np.float32)
    return work, rgb2lab(work).astype(np.float32)


def _spots(rgb, centres, radius, colour):
    for cy, cx in centres:
        rgb[disk((cy, cx), radius, shape=rgb.shape[:2])] = colour


def _run(rgb, icfg, light="plain", mask=None, region=None):
    work, lab = _working(rgb)
    mask = np.zeros(rgb.shape[:2], np.int32) if mask is None else mask
    region = np.zeros(lab.shape[:2], np.uint8) if region is None else region
    return find_small_bodies(mask, np.clip(rgb, 0, 1), work, lab, region, light, icfg)


SMALL = [(60, 80), (60, 300), (200, 150), (320, 420), (330, 90)]


def test_small_dark_bodies_are_found_one_id_each(icfg):
    rgb = _image()
    _spots(rgb, SMALL, 3.2, (0.1, 0.1, 0.1))  # ~32 px bodies: a working cell or two
    _spots(rgb, [(150, 450), (250, 300)], 0.8, (0.1, 0.1, 0.1))  # 1-2 px specks: noise, not bodies
    out, at = _run(rgb, icfg)
    assert out.max() == len(SMALL) == len(at)
    for cy, cx in SMALL:
        assert out[cy, cx] > 0
    assert out[150, 450] == 0 and out[250, 300] == 0
    assert len(np.unique(out[out > 0])) == len(SMALL)
    for k, (r, c) in enumerate(at, start=1):  # one pixel of each body, in id order
        assert out[r, c] == k


def test_a_specked_matrix_gives_no_small_body(icfg):
    rgb = _image(seed=1)
    rng = np.random.default_rng(2)
    for _ in range(200):  # 1-3 px dark specks everywhere
        r, c = rng.integers(2, 398), rng.integers(2, 558)
        rgb[r:r + rng.integers(1, 3), c:c + rng.integers(1, 3)] = 0.15
    out, at = _run(rgb, icfg)
    assert out.max() == 0 and len(at) == 0


def test_uv_bright_coloured_spots_are_bodies_and_white_glare_is_not(icfg):
    rgb = _image(matrix=(0.30, 0.26, 0.05))  # dim olive UV matrix
    _spots(rgb, SMALL[:3], 3.2, (0.95, 0.55, 0.10))  # bright orange fluorescence
    _spots(rgb, SMALL[3:], 3.2, (0.95, 0.95, 0.95))  # white glare: bright but no chroma
    out, _ = _run(rgb, icfg, light="uv")
    assert out.max() == 3
    assert all(out[cy, cx] > 0 for cy, cx in SMALL[:3]) and all(out[cy, cx] == 0 for cy, cx in SMALL[3:])


def test_no_small_body_on_the_mount_nor_on_a_blob_rim(icfg):
    rgb = _image()
    _spots(rgb, SMALL, 3.2, (0.1, 0.1, 0.1))
    region = np.zeros((100, 140), np.uint8)
    region[:, 100:] = MOUNT  # (320, 420) lies on it
    mask = np.zeros(rgb.shape[:2], np.int32)
    mask[195:205, 130:147] = 1  # a blob already found, its rim 1-3 px from the spot at (200, 150)
    out, _ = _run(rgb, icfg, mask=mask, region=region)
    assert out[320, 420] == 0 and out[200, 150] in (0, 1)
    assert out.max() == 1 + 3 and (out == 1).sum() == (mask == 1).sum()  # the blob is kept as it was


def test_at_most_max_count_the_most_contrasted_first(icfg):
    rgb = _image()
    _spots(rgb, SMALL[:2], 3.2, (0.05, 0.05, 0.05))
    _spots(rgb, SMALL[2:], 3.2, (0.30, 0.30, 0.30))
    icfg.specks.max_count = 2
    out, _ = _run(rgb, icfg)
    assert out.max() == 2 and all(out[cy, cx] > 0 for cy, cx in SMALL[:2])


def test_off_when_the_decoded_image_is_not_finer(icfg):
    rgb = _image()
    _spots(rgb, SMALL, 3.2, (0.1, 0.1, 0.1))
    lab = rgb2lab(rgb).astype(np.float32)
    out, at = find_small_bodies(np.zeros(rgb.shape[:2], np.int32), rgb, rgb, lab, np.zeros(rgb.shape[:2], np.uint8),
                                "plain", icfg)
    assert out.max() == 0 and at.shape == (0, 2)


def test_uv_spot_of_the_mount_epoxy_colour_is_no_body(icfg):
    """Epoxy filling a small hole in the chip glows like the mount beside it: not a body."""
    rgb = _image(matrix=(0.30, 0.26, 0.05))
    epoxy = (0.70, 0.78, 0.20)
    rgb[:, 480:] = epoxy  # the mount field on the right
    _spots(rgb, SMALL[:2], 3.2, (0.95, 0.55, 0.10))  # orange fluorescence
    _spots(rgb, SMALL[2:4], 3.2, epoxy)  # epoxy in holes of the chip
    region = np.zeros((100, 140), np.uint8)
    region[:, 120:] = MOUNT
    out, _ = _run(rgb, icfg, light="uv", region=region)
    assert all(out[cy, cx] > 0 for cy, cx in SMALL[:2]) and all(out[cy, cx] == 0 for cy, cx in SMALL[2:4])
    icfg.uv_epoxy_dE = 0.0  # the rule off: the epoxy spots count
    out, _ = _run(rgb, icfg, light="uv", region=region)
    assert all(out[cy, cx] > 0 for cy, cx in SMALL[2:4])


def test_a_small_body_cut_by_the_picture_edge_is_not_taken(icfg):
    rgb = _image()
    _spots(rgb, [(200, 2), (200, 300)], 3.2, (0.1, 0.1, 0.1))  # one cut by the left edge
    out, _ = _run(rgb, icfg)
    assert out.max() == 1 and out[200, 300] == 1 and out[200, 1] == 0


def test_small_bodies_share_the_decisions_matrix_level_overexposed_rock_sets_none(icfg):
    """The matrix reference is the blob decision's own (``matrix_reference``): clipped
    white rock is no matrix level, so a grey spot one shade darker than the grey matrix
    beside it is no opaque body (with the white stripes as the level it was one)."""
    from thinseg.instances import matrix_reference
    rgb = _image(matrix=(0.78, 0.78, 0.78))  # light grey matrix, L ~ 80
    for x0 in range(0, rgb.shape[1], 64):  # overexposed white stripes in every reference block
        rgb[:, x0:x0 + 24] = 1.0
    centres = [(100, 44), (300, 172)]  # in grey stripes
    _spots(rgb, centres, 3.2, (0.57, 0.57, 0.57))  # L ~ 60: 20 L darker than the matrix, 0.57 clear contrasts
    out, _ = _run(rgb, icfg)
    assert out.max() == 0
    icfg.clip_L = 0.0  # clipped pixels set the level: the spots are 'dark' against white
    out_unclipped, _ = _run(rgb, icfg)
    assert all(out_unclipped[cy, cx] > 0 for cy, cx in centres)
    work, lab = _working(rgb)  # the reference a caller passes is the one used
    region = np.zeros(lab.shape[:2], np.uint8)
    raised = matrix_reference(lab, "plain", region != MOUNT, icfg) + 100.0
    none, _ = find_small_bodies(np.zeros(rgb.shape[:2], np.int32), np.clip(rgb, 0, 1), work, lab, region,
                                "plain", icfg, raised)
    assert none.max() == 0


@pytest.mark.parametrize("light,matrix,colour", [("plain", (0.75, 0.72, 0.65), (0.12, 0.12, 0.12)),
                                                 ("uv", (0.30, 0.22, 0.05), (0.95, 0.65, 0.10))])
def test_a_small_bodys_outline_is_drawn_at_its_edge_not_at_its_core(icfg, light, matrix, colour):
    """A small body blurred by the optics: the detected piece (here >= 1 clear contrast)
    is a part of it (plain) or more than it (UV); drawn half-way between its surroundings
    and its own contrast, the outline matches the body (IoU vs the drawn disc)."""
    from scipy import ndimage as ndi
    icfg.specks.contrast = 1.0
    rgb = _image(matrix=matrix)
    truth = np.zeros(rgb.shape[:2], bool)
    for cy, cx in SMALL:
        truth[disk((cy, cx), 4.5, shape=truth.shape)] = True
    rgb[truth] = colour
    rgb = ndi.gaussian_filter(rgb, (1.2, 1.2, 0)).astype(np.float32)

    def iou(out):
        return np.mean([(lambda m, t: (m & t).sum() / (m | t).sum())(out == out[cy, cx], ndi.label(truth)[0] == ndi.label(truth)[0][cy, cx])
                        for cy, cx in SMALL])
    out, _ = _run(rgb, icfg, light)
    assert out.max() == len(SMALL)
    icfg.specks.outline = 0.0
    core, _ = _run(rgb, icfg, light)
    print(light, iou(out), iou(core))
    assert iou(out) >= 0.75
    assert iou(core) < iou(out) - 0.1


def test_small_orange_spots_are_found_by_their_redness_under_uv(icfg):
    """Orange spots on a brown-orange rock: 0.6 of a clear brightness contrast (L + 0.3
    chroma) but 1.1 of the redness contrast (a* and L above the rock's; as for the blobs,
    ``uv_red_contrast``): found with it, not without."""
    rock, orange = (0.45, 0.30, 0.08), (0.60, 0.34, 0.06)
    centres = [(60, 80), (200, 150), (330, 90), (120, 400)]
    rgb = _image(rock)
    _spots(rgb, centres, 3.2, orange)
    out, at = _run(rgb, icfg, light="uv")
    assert len(at) == len(centres) and all(out[cy, cx] > 0 for cy, cx in centres)
    off = icfg.copy()
    off.uv_red_contrast = 0.0
    assert _run(rgb, off, light="uv")[0].max() == 0


def test_uv_noise_on_an_evenly_glowing_zone_is_no_small_body(icfg):
    """Under UV a zone of the matrix glowing just under one clear contrast, with blotchy
    noise a few px across (JPEG noise on 0sb5pc's orange glow), gives pieces that reach
    the detection level but stand little above their surroundings: none is a small body
    with ``specks.ring`` (UV 0.15); five are with the ring test off. A real spot 1.25
    clear contrasts above the matrix is found either way."""
    from scipy import ndimage as ndi
    from skimage.color import lab2rgb

    H, W = 400, 560
    yy, xx = np.mgrid[:H, :W]
    L = np.full((H, W), 35.0)
    L[np.hypot(yy - 200, xx - 280) < 70] += 19.0  # the glowing zone: 0.95 of uv_contrast (20)
    L += ndi.gaussian_filter(np.random.default_rng(0).normal(0, 1, (H, W)), 2.0) * 6.0
    L[np.hypot(yy - 200, xx - 450) < 4] += 25.0  # a real spot on the matrix
    rgb = lab2rgb(np.stack([L, np.full_like(L, 15.0), np.full_like(L, 50.0)], -1)).astype(np.float32)
    out, _ = _run(rgb, icfg, light="uv")
    assert out.max() == 1 and out[200, 450] > 0
    icfg.specks.ring = {"plain": 0.0, "uv": 0.0}
    off, _ = _run(rgb, icfg, light="uv")
    assert off.max() >= 5 and off[200, 450] > 0
