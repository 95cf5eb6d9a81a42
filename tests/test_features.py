import numpy as np
import torch

from thinseg.features import FEATURE_NAMES, lab_of, pixel_features, to_working_tensor, working_size


def test_working_size_keeps_aspect_and_never_upscales():
    assert working_size(1024, 1360, 512) == (386, 512)
    assert working_size(1536, 2048, 512) == (384, 512)
    assert working_size(100, 80, 512) == (100, 80)
    assert working_size(6000, 8000, 512) == (384, 512)
    assert working_size(20, 2000, 512) == (20, 2000)  # elongated: the short side is kept
    assert working_size(100, 4000, 512) == (32, 1280)


def test_features_shape_dtype_and_lab_of_pure_colours(cfg):
    rgb = np.zeros((64, 96, 3), np.float32)
    rgb[:, :48] = 1.0  # white | black
    t = to_working_tensor(rgb, 48)
    assert t.shape == (1, 3, 32, 48)
    f = pixel_features(t, cfg.features)
    assert f.shape == (32, 48, len(FEATURE_NAMES)) and f.dtype == torch.float32
    lab = lab_of(f, cfg.features)
    assert abs(lab[16, 2, 0] - 100) < 0.5 and abs(lab[16, 45, 0]) < 0.5  # L of white and black
    grad = f[..., FEATURE_NAMES.index("grad")]
    assert grad[16, 24] > 10 * grad[16, 5] + 1e-3  # the edge has the gradient


def test_yellow_has_positive_b():
    from omegaconf import OmegaConf

    fcfg = OmegaConf.create({"sigma_fine": 0.0, "sigma_context": 2.0, "weights": {"color": 1, "context": 1, "grad": 1, "texture": 1}})
    yellow = np.zeros((16, 16, 3), np.float32)
    yellow[..., :2] = 1.0
    lab = lab_of(pixel_features(to_working_tensor(yellow, 16), fcfg), fcfg)
    assert lab[8, 8, 2] > 80  # b* of pure yellow is about 94
