"""Outlines redrawn at the decoded resolution (thinseg/outlines.py), on hand-made images."""
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.color import lab2rgb
from skimage.transform import resize

from experiments.config import load_config
from thinseg.instances import FLUORESCENT, OPAQUE_DARK, blob_contrast, resize_nearest
from thinseg.outlines import refine_outlines
from thinseg.scene import MOUNT


@pytest.fixture
def icfg():
    return load_config([]).instances


def _scene(big=(300, 400), small=(100, 134), centres=((150, 130, 12.3), (140, 275, 8.6))):
    """Two dark discs (L 20) on a light matrix (L 80) drawn at ``big``, and the same
    image area-averaged to ``small`` (the working size). Returns rgb_big, lab_small, truth_big."""
    yy, xx = np.mgrid[:big[0], :big[1]]
    truth = np.zeros(big, np.int32)
    for i, (cy, cx, r) in enumerate(centres, start=1):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = i
    L = np.where(truth > 0, 20.0, 80.0)
    L = ndi.gaussian_filter(L, 0.8)  # a slightly soft edge, as photographed
    lab_big = np.stack([L, np.zeros_like(L), np.full_like(L, 5.0)], -1)
    rgb_big = lab2rgb(lab_big).astype(np.float32)
    lab_small = resize(lab_big, small + (3,), order=1, anti_aliasing=True).astype(np.float32)
    return rgb_big, lab_small, truth


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_refined_outline_is_closer_to_the_true_one_than_upsampled_cells(icfg):
    rgb, lab, truth = _scene()
    rock = np.ones(lab.shape[:2], bool)
    contrast, _ = blob_contrast(lab, "plain", rock, icfg)
    ids = ndi.label(contrast >= 0.7)[0].astype(np.int32)
    assert ids.max() == 2
    region = np.zeros(ids.shape, np.uint8)
    icfg.refine.threshold.plain = 0.5  # half maximum: the drawn edge lies at mid-transition
    refined = refine_outlines(ids, contrast, lab, np.array([OPAQUE_DARK, OPAQUE_DARK]), rgb, region, "plain", icfg)
    coarse = resize_nearest(ids, truth.shape)
    assert refined.shape == truth.shape and set(np.unique(refined)) == {0, 1, 2}
    for t in (1, 2):
        k = np.bincount(coarse[truth == t]).argmax()  # the blob id on this disc
        iou_coarse, iou_refined = _iou(coarse == k, truth == t), _iou(refined == k, truth == t)
        # 3 px cells: the staircase costs IoU points on a disc of radius 9-12 px
        assert iou_refined > iou_coarse + 0.02, (k, iou_coarse, iou_refined)
        assert iou_refined > 0.99  # the full-resolution detail puts the edge on the pixel (0.97-0.98 without it)


def test_refinement_keeps_ids_and_never_enters_the_mount(icfg):
    rgb, lab, truth = _scene()
    region = np.zeros(lab.shape[:2], np.uint8)
    region[:, 92:] = MOUNT  # the second disc lies on the mount's edge (x = 276 px)
    contrast, _ = blob_contrast(lab, "plain", region != MOUNT, icfg)
    ids = ndi.label((contrast >= 0.7) & (region != MOUNT))[0].astype(np.int32)
    assert ids.max() == 2
    refined = refine_outlines(ids, contrast, lab, np.full(ids.max(), OPAQUE_DARK), rgb, region, "plain", icfg)
    assert not refined[resize_nearest(region, truth.shape) == MOUNT].any()
    k = np.bincount(resize_nearest(ids, truth.shape)[truth == 2])[1:].argmax() + 1
    assert 0 < (refined == k).sum() < 0.6 * (truth == 2).sum()  # the disc's half on the mount stays out
    assert set(np.unique(refined)) == {0, 1, 2}


def test_a_blob_thinner_than_the_band_keeps_its_cells(icfg):
    rgb, lab, truth = _scene(centres=((150, 200, 2.0),))  # a 4 px speck: one working cell
    contrast = np.zeros(lab.shape[:2], np.float32)
    ids = np.zeros(lab.shape[:2], np.int32)
    ids[50, 66] = 1
    icfg.refine.relative = False
    icfg.refine.threshold.uv = 5.0  # no band pixel reaches it: the blob would vanish
    refined = refine_outlines(ids, contrast, lab, np.array([FLUORESCENT]), rgb, np.zeros_like(ids, np.uint8), "uv",
                              icfg)
    assert refined.max() == 1 and (refined == 1).sum() == (resize_nearest(ids, truth.shape) == 1).sum()


def test_same_size_is_a_plain_copy(icfg):
    ids = np.zeros((20, 30), np.int32)
    ids[5:10, 5:10] = 1
    out = refine_outlines(ids, np.zeros((20, 30), np.float32), np.zeros((20, 30, 3), np.float32), np.array([1]),
                          np.zeros((20, 30, 3), np.float32), np.zeros((20, 30), np.uint8), "plain", icfg)
    assert np.array_equal(out, ids)
