import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from thinseg.synthetic import BLOB_KINDS, make_scene, write_synthetic_set


def test_same_seed_same_scene_and_different_seed_differs():
    a, b = make_scene(160, 200, "uv", seed=7), make_scene(160, 200, "uv", seed=7)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.kinds == b.kinds
    c = make_scene(160, 200, "uv", seed=8)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("light", ["uv", "plain"])
def test_mask_and_kinds_are_consistent(light):
    s = make_scene(240, 320, light, seed=1)
    assert s.image.shape == (240, 320, 3) and s.image.dtype == np.uint8
    assert s.mask.shape == (240, 320) and s.mask.dtype == np.int32
    n = s.mask.max()
    assert n >= 5 and set(np.unique(s.mask)) == set(range(n + 1))
    assert len(s.kinds) == n and set(s.kinds) <= set(BLOB_KINDS[light])
    for i in range(1, n + 1):  # every instance is one connected piece
        assert ndi.label(s.mask == i)[1] == 1


def test_blobs_differ_from_matrix_in_the_expected_direction():
    uv = make_scene(240, 320, "uv", seed=2)
    lum = uv.image.astype(float).mean(-1)
    assert lum[uv.mask > 0].mean() > lum[uv.mask == 0].mean() + 40
    plain = make_scene(240, 320, "plain", seed=2)
    lum = plain.image.astype(float).mean(-1)
    assert lum[plain.mask > 0].mean() < lum[plain.mask == 0].mean() - 60


def test_some_blobs_touch():
    touching = 0
    for seed in range(4):
        s = make_scene(240, 320, "plain", seed=seed)
        grown = ndi.grey_dilation(s.mask, size=3)
        touching += int(np.any((grown != s.mask) & (s.mask > 0) & (grown > 0)))
    assert touching >= 2


def test_write_set_files_and_reuse(tmp_path):
    paths = write_synthetic_set(tmp_path, n_images=4, height=64, width=80, seed=5)
    assert [p.name for p in paths] == ["synth_000_uv.png", "synth_001_uv.png", "synth_002_plain.png", "synth_003_plain.png"]
    truth = json.loads((tmp_path / "truth.json").read_text())
    m = np.load(tmp_path / "synth_000_uv_mask.npy")
    assert m.dtype == np.uint16 and m.shape == (64, 80)
    assert len(truth["images"]["synth_000_uv"]["kinds"]) == m.max()
    mtime = paths[0].stat().st_mtime_ns
    write_synthetic_set(tmp_path, n_images=4, height=64, width=80, seed=5)
    assert paths[0].stat().st_mtime_ns == mtime  # same spec: reused, not rewritten
