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


# --- failure modes of the real photographs -------------------------------------------

from skimage.color import rgb2lab  # noqa: E402

from thinseg.synthetic import REGION_BLUR, REGION_MOUNT, scene_recipe  # noqa: E402


def _local_std(grey: np.ndarray, size: int = 5) -> np.ndarray:
    m = ndi.uniform_filter(grey, size)
    return np.sqrt(np.maximum(ndi.uniform_filter(grey**2, size) - m**2, 0))


def test_new_options_off_by_default_give_the_old_scene():
    """The new keyword arguments at their defaults draw nothing extra (pinned bytes)."""
    s = make_scene(96, 128, "plain", seed=6, n_blobs=(4, 6), radius_frac=(0.08, 0.12))
    assert s.region.dtype == np.uint8 and not s.region.any()
    assert s.meta["mount_share"] == 0.0 and set(s.kinds) <= {"opaque", "black"}
    again = make_scene(96, 128, "plain", seed=6, n_blobs=(4, 6), radius_frac=(0.08, 0.12), mount=None, packed=False, specks=0.0)
    assert np.array_equal(s.image, again.image)


@pytest.mark.parametrize("light", ["uv", "plain"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mount_field_present_sized_and_free_of_blobs(light, seed):
    s = make_scene(240, 320, light, seed=seed, mount=True, specks=10)
    mount = s.region == REGION_MOUNT
    assert 0.08 <= mount.mean() <= 0.6, mount.mean()
    assert s.meta["mount_share"] == pytest.approx(mount.mean())
    assert not np.any(s.mask[mount]), "truth blob pixels inside the mount"
    assert s.mask.max() >= 3  # blobs still drawn on the rock
    # the mount touches a border (it lies along one or two sides)
    assert mount[0].any() or mount[-1].any() or mount[:, 0].any() or mount[:, -1].any()
    # one piece per side at most, and a big one
    lab, n = ndi.label(mount)
    assert 1 <= n <= 2 + 2 and np.bincount(lab.ravel())[1:].max() > 0.05 * mount.size


def test_mount_share_and_sides_follow_the_arguments():
    small = make_scene(240, 320, "uv", seed=3, mount=True, mount_share=(0.1, 0.1), mount_sides=1)
    big = make_scene(240, 320, "uv", seed=3, mount=True, mount_share=(0.45, 0.45), mount_sides=2)
    assert 0.05 <= small.meta["mount_share"] <= 0.16
    assert 0.3 <= big.meta["mount_share"] <= 0.6
    assert big.meta["mount_sides"] == 2 and small.meta["mount_sides"] == 1


@pytest.mark.parametrize("seed", range(4))
def test_uv_mount_is_brighter_and_greener_than_the_rock(seed):
    s = make_scene(240, 320, "uv", seed=seed, mount="epoxy", specks=10, texture=0.05)
    img = s.image.astype(float)
    mount = ndi.binary_erosion(s.region == REGION_MOUNT, iterations=4)
    rock = ndi.binary_erosion(s.region == 0, iterations=4)
    m, r = img[mount].mean(0), img[rock].mean(0)
    assert m.mean() > r.mean() + 25, (m, r)  # brighter
    assert m[1] / m[0] > r[1] / r[0] + 0.05, (m, r)  # greener (G relative to R)
    assert m[1] > 150 and m[2] < 0.5 * m[1]  # glowing yellow-green, little blue
    from thinseg.light import classify_light

    assert classify_light(s.image / 255.0) == "uv"


@pytest.mark.parametrize("seed", range(3))
def test_plain_grey_mount_is_smooth_darker_and_featureless(seed):
    s = make_scene(240, 320, "plain", seed=seed, mount="grey", specks=15, texture=0.06)
    grey = s.image.astype(float).mean(-1)
    mount = ndi.binary_erosion(s.region == REGION_MOUNT, iterations=5)
    rock = ndi.binary_erosion(s.region == 0, iterations=5)
    sd = _local_std(grey)
    assert np.median(sd[mount]) < 5.0, np.median(sd[mount])
    assert np.median(sd[mount]) < 0.6 * np.median(sd[rock]), (np.median(sd[mount]), np.median(sd[rock]))
    assert np.percentile(sd[mount], 99) < 12  # no specks or edges inside
    assert grey[mount].mean() < grey[rock].mean() - 40  # an empty field darker than the rock
    rgb = s.image[mount].astype(float).mean(0)
    assert np.all((rgb > 50) & (rgb < 130)), rgb


def test_plain_glass_mount_is_near_white():
    s = make_scene(240, 320, "plain", seed=4, mount="glass")
    mount = ndi.binary_erosion(s.region == REGION_MOUNT, iterations=5)
    assert s.image[mount].astype(float).mean() > 200


def test_bad_mount_style_and_packed_uv_are_refused():
    with pytest.raises(ValueError):
        make_scene(64, 80, "uv", seed=0, mount="glass")
    with pytest.raises(ValueError):
        make_scene(64, 80, "uv", seed=0, packed=True)
    with pytest.raises(ValueError):
        make_scene(64, 80, "uv", seed=0, kinds=("black",))


@pytest.mark.parametrize("seed", range(3))
def test_packed_grains_are_the_majority_and_separate_instances(seed):
    s = make_scene(240, 320, "plain", seed=seed, packed=True, specks=10)
    share = (s.mask > 0).mean()
    n = s.mask.max()
    assert share >= 0.55 and share <= 0.85, share
    assert n >= 20, n
    assert set(np.unique(s.mask)) == set(range(n + 1)) and len(s.kinds) == n
    sizes = np.bincount(s.mask.ravel())[1:]
    assert sizes.min() >= 20
    for i in range(1, n + 1):
        assert ndi.label(s.mask == i)[1] == 1, i
    lum = s.image.astype(float).mean(-1)
    assert lum[s.mask > 0].mean() < lum[s.mask == 0].mean() - 60  # dark grains, light matrix
    # near-touching: most grains have another grain within a few px
    grown = ndi.grey_dilation(s.mask, size=7)
    close = np.unique(s.mask[(grown != s.mask) & (s.mask > 0) & (grown > 0)])
    assert len(close) >= 0.5 * n


def test_packed_with_mount_keeps_grains_off_the_mount():
    s = make_scene(240, 320, "plain", seed=5, packed=True, mount=True)
    mount = s.region == REGION_MOUNT
    assert mount.any() and not np.any(s.mask[mount])
    rock = s.region == 0
    assert (s.mask[rock] > 0).mean() >= 0.5


@pytest.mark.parametrize("light", ["uv", "plain"])
def test_zero_blob_scene(light):
    s = make_scene(240, 320, light, seed=3, n_blobs=(0, 0), specks=15, texture=0.05, mount=True)
    assert not s.mask.any() and s.kinds == []
    assert s.image.std() > 5  # still a textured, specked picture


def test_specks_are_small_and_not_in_the_truth():
    base = make_scene(240, 320, "plain", seed=4, n_blobs=(0, 0))
    specked = make_scene(240, 320, "plain", seed=4, n_blobs=(0, 0), specks=20)
    assert not specked.mask.any() and specked.meta["specks"] > 100
    grey = specked.image.astype(float).mean(-1)
    background = ndi.median_filter(grey, 9)
    odd = np.abs(grey - background) > 40
    lab, n = ndi.label(odd)
    assert n > 50  # many specks
    sizes = np.bincount(lab.ravel())[1:]
    assert np.median(sizes) <= 9 and sizes.max() <= 30  # 1-3 px across (plus blur)
    assert np.abs(base.image.astype(float).mean(-1) - ndi.median_filter(base.image.astype(float).mean(-1), 9)).max() < 40


@pytest.mark.parametrize("seed", range(3))
def test_shiny_grey_bodies_are_bluer_than_the_matrix_at_similar_lightness(seed):
    s = make_scene(240, 320, "plain", seed=seed, kinds=("shiny_grey",), matrix="brown", specks=8)
    assert s.mask.max() >= 3 and set(s.kinds) == {"shiny_grey"}
    lab = rgb2lab(s.image / 255.0)
    body = ndi.binary_erosion(s.mask > 0, iterations=1)
    matrix = ndi.binary_erosion(s.mask == 0, iterations=3)
    L_b, b_b = np.median(lab[body][:, 0]), np.median(lab[body][:, 2])
    L_m, b_m = np.median(lab[matrix][:, 0]), np.median(lab[matrix][:, 2])
    assert abs(L_b - L_m) < 8, (L_b, L_m)
    assert b_b < b_m - 8, (b_b, b_m)
    assert b_m > 5  # a brownish matrix
    # streaky and elongated: bodies are long and thin
    elong = []
    for i in range(1, s.mask.max() + 1):
        ys, xs = np.nonzero(s.mask == i)
        if len(ys) < 60:
            continue
        ev = np.linalg.eigvalsh(np.cov(np.stack([ys, xs])))
        elong.append(np.sqrt(ev[1] / max(ev[0], 1e-6)))
    assert np.median(elong) > 2.0, elong


def test_blur_zone_is_blurred_marked_and_drops_blobs():
    kw = dict(n_blobs=(30, 30), blur_zone=True, blur_zone_share=(0.3, 0.3), specks=15, texture=0.05, noise_std=(0.002, 0.002))
    s = make_scene(240, 320, "plain", seed=11, **kw)
    zone = s.region == REGION_BLUR
    assert 0.15 <= zone.mean() <= 0.45, zone.mean()
    sharp = make_scene(240, 320, "plain", seed=11, **{**kw, "blur_zone": False})
    grey, grey0 = s.image.astype(float).mean(-1), sharp.image.astype(float).mean(-1)
    inner = ndi.binary_erosion(zone, iterations=6)
    hf = np.abs(ndi.gaussian_filter(grey, 1.0) - ndi.gaussian_filter(grey, 3.0))  # detail, not sensor noise
    hf0 = np.abs(ndi.gaussian_filter(grey0, 1.0) - ndi.gaussian_filter(grey0, 3.0))
    assert hf[inner].mean() < 0.5 * hf0[inner].mean()  # detail gone in the zone
    # truth: no blob lies mostly inside the zone
    for i in range(1, s.mask.max() + 1):
        assert (zone[s.mask == i]).mean() < 0.5
    assert s.meta["dropped_blurred"] >= 1


def test_new_modes_are_deterministic():
    kw = dict(mount=True, blur_zone=True, specks=10, texture=0.05)
    a, b = make_scene(160, 200, "plain", seed=3, **kw), make_scene(160, 200, "plain", seed=3, **kw)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and np.array_equal(a.region, b.region)
    p, q = make_scene(160, 200, "plain", seed=3, packed=True), make_scene(160, 200, "plain", seed=3, packed=True)
    assert np.array_equal(p.image, q.image) and np.array_equal(p.mask, q.mask)


def test_realistic_set_writes_regions_mount_share_and_mixes(tmp_path):
    paths = write_synthetic_set(tmp_path, n_images=12, height=96, width=128, seed=2)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["spec"]["mix"] == "realistic"
    shares, zero, packed = [], 0, 0
    for p in paths:
        info = truth["images"][p.stem]
        region = np.load(tmp_path / f"{p.stem}_region.npy")
        mask = np.load(tmp_path / f"{p.stem}_mask.npy")
        assert region.dtype == np.uint8 and region.shape == (96, 128) and region.max() <= 2
        assert info["mount_share"] == pytest.approx((region == REGION_MOUNT).mean(), abs=1e-4)
        assert not np.any(mask[region == REGION_MOUNT])
        assert len(info["kinds"]) == mask.max()
        shares.append(info["mount_share"])
        zero += mask.max() == 0
        packed += bool(info["recipe"].get("packed"))
    assert 3 <= sum(s > 0 for s in shares) <= 6  # about a third with a mount field
    assert zero >= 1 and packed >= 1
    normal = [
        p.stem
        for s, p in zip(shares, paths)
        if s == 0 and truth["images"][p.stem]["blur_share"] == 0 and not truth["images"][p.stem]["recipe"].get("packed")
        and len(truth["images"][p.stem]["kinds"]) > 0
    ]
    assert len(normal) >= 3, normal  # normal images with clear blobs remain
    # same seed, same bytes
    other = tmp_path / "again"
    write_synthetic_set(other, n_images=12, height=96, width=128, seed=2)
    for p in paths:
        assert (other / p.name).read_bytes() == p.read_bytes()
        assert np.array_equal(np.load(other / f"{p.stem}_region.npy"), np.load(tmp_path / f"{p.stem}_region.npy"))


def test_classic_mix_has_no_failure_modes(tmp_path):
    write_synthetic_set(tmp_path, n_images=4, height=96, width=128, seed=2, mix="classic")
    truth = json.loads((tmp_path / "truth.json").read_text())
    for name, info in truth["images"].items():
        assert info["mount_share"] == 0 and info["recipe"] == {}
        assert len(info["kinds"]) > 0
    with pytest.raises(ValueError):
        write_synthetic_set(tmp_path / "x", n_images=2, mix="nope")


def test_recipes_cycle_and_specks_everywhere():
    plain = [scene_recipe("plain", i, 0) for i in range(10)]
    assert all(r["specks"] > 0 and r["texture"] > 0 for r in plain)
    assert sum(bool(r.get("packed")) for r in plain) >= 2
    assert sum(bool(r.get("mount")) for r in plain) >= 3
    assert any("shiny_grey" in r.get("kinds", ()) for r in plain)


def test_default_size_scene_is_fast():
    import time

    for kw in ({}, {"packed": True, "mount": True, "specks": 12, "texture": 0.05}, {"blur_zone": True, "mount": True, "specks": 12}):
        t = time.perf_counter()
        make_scene(480, 640, "plain", seed=1, **kw)
        assert time.perf_counter() - t < 1.5, kw
