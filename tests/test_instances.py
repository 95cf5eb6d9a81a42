import numpy as np
import pytest
from omegaconf import OmegaConf
from skimage.draw import disk

from thinseg.instances import (blob_scores, choose_foreground, clusters_to_instances, resize_nearest,
                               split_instances)


def _icfg(**kw):
    base = dict(background_rule="midpoint", min_contrast=10.0, min_area=8, max_hole_area=64, open_radius=1,
                split=True, split_depth=1.5, split_rel=0.15)
    base.update(kw)
    return OmegaConf.create(base)


def _two_touching_discs(shape=(80, 120)):
    fg = np.zeros(shape, bool)
    fg[disk((40, 40), 18, shape=shape)] = True
    fg[disk((40, 72), 16, shape=shape)] = True  # centres 32 px apart, radii 18 + 16: they overlap
    return fg


def test_touching_discs_are_split_and_unsplit_when_asked():
    fg = _two_touching_discs()
    ids = split_instances(fg, _icfg())
    assert ids.max() == 2
    assert ids[40, 40] != ids[40, 72] and ids[40, 40] > 0 and ids[40, 72] > 0
    assert (ids > 0).sum() == fg.sum()  # every blob pixel keeps an id
    assert split_instances(fg, _icfg(split=False)).max() == 1


def test_one_irregular_blob_is_not_over_split():
    fg = np.zeros((100, 100), bool)
    fg[disk((50, 50), 30)] = True
    fg[disk((50, 82), 6, shape=fg.shape)] = True  # a small bump on a big blob
    assert split_instances(fg, _icfg()).max() == 1


def _lab_image(labels, lab_per_cluster):
    return np.asarray(lab_per_cluster, np.float32)[labels]


def test_plain_light_dark_cluster_is_foreground():
    labels = np.zeros((60, 60), np.int64)
    labels[10:25, 10:25] = 1  # dark blob
    labels[40:50, :] = 2  # a slightly darker matrix band
    lab = _lab_image(labels, [[75, 0, 5], [10, 0, 0], [68, 0, 5]])
    dec = choose_foreground(labels, lab, "plain", _icfg())
    assert dec.foreground.tolist() == [False, True, False]
    mask, classes, _ = clusters_to_instances(labels, lab, "plain", _icfg(), (120, 120))
    assert mask.shape == (120, 120) and mask.dtype == np.int32
    assert mask.max() == 1 and classes.tolist() == [1]
    # upsampled 2x: blob rows/cols 10..24 -> 20..49 (the opening only rounds the corners)
    assert mask[22:48, 22:48].all() and not mask[:20].any() and not mask[50:].any()
    assert 880 <= (mask > 0).sum() <= 900


def test_uv_bright_yellow_cluster_is_foreground_and_dark_is_not():
    labels = np.zeros((60, 60), np.int64)
    labels[5:15, 5:15] = 1  # yellow fluorescence
    labels[30:45, 30:45] = 2  # black hole
    lab = _lab_image(labels, [[30, 2, 25], [90, -10, 85], [5, 0, 0]])
    dec = choose_foreground(labels, lab, "uv", _icfg())
    assert dec.foreground.tolist() == [False, True, False]


def test_no_contrast_means_no_blobs():
    labels = np.zeros((40, 40), np.int64)
    labels[:, 20:] = 1
    lab = _lab_image(labels, [[60, 0, 0], [55, 0, 0]])
    assert not choose_foreground(labels, lab, "plain", _icfg()).foreground.any()
    mask, classes, _ = clusters_to_instances(labels, lab, "plain", _icfg(), (40, 40))
    assert mask.max() == 0 and classes.size == 0


def test_otsu_rule_and_bad_rule():
    labels = np.zeros((40, 40), np.int64)
    labels[:10, :10] = 1
    lab = _lab_image(labels, [[80, 0, 0], [10, 0, 0]])
    assert choose_foreground(labels, lab, "plain", _icfg(background_rule="otsu")).foreground.tolist() == [False, True]
    with pytest.raises(ValueError, match="background_rule"):
        choose_foreground(labels, lab, "plain", _icfg(background_rule="nope"))


def test_holes_filled_and_small_pieces_dropped():
    labels = np.zeros((60, 60), np.int64)
    labels[10:40, 10:40] = 1
    labels[20:24, 20:24] = 0  # a 16 px hole
    labels[50:52, 50:52] = 1  # a 4 px speck
    lab = _lab_image(labels, [[80, 0, 0], [10, 0, 0]])
    mask, _, _ = clusters_to_instances(labels, lab, "plain", _icfg(), (60, 60))
    assert mask.max() == 1 and mask[21, 21] == 1 and mask[50, 50] == 0


def test_resize_nearest_covers_all_ids():
    small = np.arange(12).reshape(3, 4)
    big = resize_nearest(small, (7, 9))
    assert big.shape == (7, 9) and set(np.unique(big)) == set(range(12))
    assert resize_nearest(np.zeros((3, 4, 3)), (6, 8)).shape == (6, 8, 3)


def test_blob_scores():
    lab = np.array([[20.0, 0, 0], [80.0, 0, 60]])
    assert blob_scores(lab, "plain").tolist() == [80.0, 20.0]
    assert blob_scores(lab, "uv").tolist() == [20.0, 140.0]
