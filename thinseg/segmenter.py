"""The segmenter protocol and the registry of named methods.

A method is the middle stage of the flow only: it turns one working-resolution
image (pixels and shared features) into cluster labels. Loading, features,
instance post-processing and writing are shared. In the spirit of scikit-learn::

    seg = build_segmenter(cfg)            # hyper-parameters from cfg[cfg.method]
    seg.fit(samples)                      # iterable of WorkingImage; may be a no-op
    labels = seg.predict(sample)          # (h, w) int64 cluster ids 0..K-1
    seg.save(path); seg = type(seg).load(path, cfg)

Adding a method is one module decorated with ``@register("name")`` plus one YAML
file under ``experiments/configs/methods/``.
"""
from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

_REGISTRY: dict[str, type["Segmenter"]] = {}
PLUGIN_PACKAGES = ("baselines", "research")


@dataclass
class WorkingImage:
    """One image at working resolution.

    image: (1, 3, h, w) float32 RGB tensor in [0, 1]. features: (h, w, C) float32
    tensor (``thinseg.features``). light: ``uv`` or ``plain``. name: file stem.
    """

    image: torch.Tensor
    features: torch.Tensor
    light: str
    name: str = ""


def reservoir_images(samples: Iterable[WorkingImage], cap: int, seed: int) -> list[torch.Tensor]:
    """At most ``cap`` working images of a stream, drawn reservoir-style with ``seed``
    (a uniform sample of a folder of any size, one pass, bounded memory).

    Returns a list of (3, h, w) uint8 CPU tensors."""
    rng = random.Random(int(seed))
    keep: list[torch.Tensor] = []
    for i, s in enumerate(samples):
        im = (s.image[0].detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        if len(keep) < cap:
            keep.append(im)
        else:
            j = rng.randrange(i + 1)
            if j < cap:
                keep[j] = im
    return keep


class Segmenter:
    """Base class: subclasses set ``name`` and implement ``predict``."""

    name = "base"

    def __init__(self, cfg, device: torch.device | str = "cpu"):
        self.cfg = cfg  # the full config; the method's own node is cfg[self.name]
        self.params = cfg[self.name]
        self.device = torch.device(device)

    def fit(self, samples: Iterable[WorkingImage]) -> "Segmenter":
        """Learn from a collection of images (default: nothing to learn)."""
        return self

    def predict(self, sample: WorkingImage) -> np.ndarray:
        """(h, w) int64 cluster labels 0..K-1 for one working-resolution image."""
        raise NotImplementedError

    @property
    def needs_fit(self) -> bool:
        """True when ``fit`` must see the dataset before ``predict`` (export does it)."""
        return False

    def save(self, path) -> None:
        """Write a checkpoint from which ``load`` rebuilds an identical model."""
        raise NotImplementedError(f"{self.name} has no checkpoint")

    @classmethod
    def load(cls, path, cfg, device="cpu") -> "Segmenter":
        raise NotImplementedError(f"{cls.name} has no checkpoint")


def register(name: str) -> Callable[[type[Segmenter]], type[Segmenter]]:
    """Class decorator: make a segmenter selectable as ``method=name``."""

    def deco(cls: type[Segmenter]) -> type[Segmenter]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"method {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_plugins() -> None:
    for pkg in PLUGIN_PACKAGES:
        try:
            importlib.import_module(pkg)
        except ModuleNotFoundError as exc:
            if exc.name != pkg:
                raise


def available_methods() -> list[str]:
    """Names accepted by ``method=``."""
    _import_plugins()
    return sorted(_REGISTRY)


def build_segmenter(cfg, device: torch.device | str = "cpu") -> Segmenter:
    """Instantiate the segmenter named by ``cfg.method``."""
    _import_plugins()
    if cfg.method not in _REGISTRY:
        raise KeyError(f"unknown method {cfg.method!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[cfg.method](cfg, device)
