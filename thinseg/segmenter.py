"""The segmenter protocol and the registry of named methods.

A method is the middle stage of the flow only: it turns one working-resolution
image (pixels and shared features) into cluster labels. Loading, features,
instance post-processing and writing are shared. In the spirit of scikit-learn::

    seg = build_segmenter(cfg)            # hyper-parameters from cfg[cfg.method]
    seg.fit(samples)                      # iterable of WorkingImage; may be a no-op
    labels = seg.predict(sample)          # (h, w) int64 cluster ids 0..K-1
    seg.save(path); seg = type(seg).load(path, cfg)

Adding a method is one module decorated with ``@register("name")`` plus one YAML
file ``configs/methods/NAME.yaml`` in its package (``baselines/``, ``research/``).
The registry is filled by importing those modules; the core never names them
(``experiments.config.discover_methods`` walks the method packages).
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

import numpy as np
import torch
from omegaconf import OmegaConf

_REGISTRY: dict[str, type["Segmenter"]] = {}

OUTPUTS = ("clusters", "blob_map")  # what a segmenter's labels mean (``Segmenter.output``)


@dataclass
class WorkingImage:
    """One image at working resolution.

    image: (1, 3, h, w) float32 RGB tensor in [0, 1]. features: (h, w, C) float32
    tensor (``thinseg.features``). light: ``uv`` or ``plain``. name: file stem.
    maps: the per-image maps that several stages use, filled on first use by
    ``thinseg.imagemaps.image_maps`` (a method that reads them, and the pipeline after it,
    then compute them once).
    """

    image: torch.Tensor
    features: torch.Tensor
    light: str
    name: str = ""
    maps: dict = field(default_factory=dict, repr=False, compare=False)


def reservoir_images(samples: Iterable[WorkingImage], cap: int, seed: int) -> list[torch.Tensor]:
    """At most ``cap`` working images of a stream, drawn reservoir-style with ``seed``
    (a uniform sample of a folder of any size, one pass, bounded memory).

    Returns a list of (3, h, w) uint8 CPU tensors."""
    return reservoir((((s.image[0].detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)) for s in samples), cap, seed)


def reservoir(items: Iterable, cap: int, seed: int) -> list:
    """At most ``cap`` items of a stream, a uniform sample drawn with ``seed`` in one pass
    (the stream's order while it holds no more than ``cap``)."""
    rng = random.Random(int(seed))
    keep: list = []
    for i, im in enumerate(items):
        if len(keep) < cap:
            keep.append(im)
        else:
            j = rng.randrange(i + 1)
            if j < cap:
                keep[j] = im
    return keep


class Log(Protocol):
    """Where a method's training curves go (``fit(..., log=)``); experiments.run writes them to TensorBoard."""

    def scalar(self, tag: str, value: float, step: int) -> None: ...

    def image(self, tag: str, image: np.ndarray, step: int) -> None:  # (H, W, 3) float in [0, 1]
        ...


class Segmenter:
    """Base class: subclasses set ``name`` and implement ``predict``.

    ``output`` says what ``predict``'s labels mean: ``"clusters"`` (default) = cluster
    ids that the shared blob decision (``thinseg.instances.clusters_to_instances``)
    turns into blobs; ``"blob_map"`` = the blob decision itself, ``BLOB_MAP_CLASSES``
    (0 background, 1 blob interior, 2 boundary, 3 mount), cut into instances by
    ``thinseg.instances.blob_map_to_instances``."""

    name = "base"
    output = "clusters"

    def __init__(self, cfg, device: torch.device | str = "cpu"):
        self.params = cfg[self.name]  # the method's own hyper-parameters (its YAML node)
        self.seed = int(cfg.seed)  # shared settings a method may need: seed, device, feature settings
        self.features = cfg.features
        self.device = torch.device(device)
        self.cfg = cfg  # kept for ``load`` (and for a method built on another's node: stego's dfc backbone)

    def fit(self, samples: Iterable[WorkingImage], log: "Log | None" = None, progress: bool = False) -> "Segmenter":
        """Learn from a collection of images (default: nothing to learn). ``log``: where
        training curves go (``Log``: TensorBoard in experiments.run), ``progress``: a bar on stderr."""
        return self

    def predict(self, sample: WorkingImage) -> np.ndarray:
        """(h, w) int64 labels for one working-resolution image: cluster ids 0..K-1
        (``output="clusters"``) or blob-map classes 0..3 (``output="blob_map"``)."""
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

    def ready(self, samples: Callable[[], Iterable[WorkingImage]], save_to=None, reuse: bool = True,
              save_always: bool = False, log: "Log | None" = None, progress: bool = False) -> tuple["Segmenter", float]:
        """The fit policy, the same for every method (export and experiment runs):

        1. ``METHOD.checkpoint`` set: load that checkpoint (saved to ``save_to`` as well when
           ``save_always``, so a run folder always holds its model);
        2. ``save_to`` exists and ``reuse``: load it (a resumed export);
        3. ``needs_fit``: fit on ``samples()`` (a fresh stream), save to ``save_to``;
        4. otherwise (a per-image method): as it is (saved when ``save_always``).

        Returns (the segmenter to predict with, seconds spent fitting)."""
        given = self.params.get("checkpoint") if hasattr(self.params, "get") else None
        own = Path(save_to) if save_to is not None else None
        path = Path(given) if given else (own if own is not None and reuse and own.exists() else None)
        if path is not None:
            print(f"[{self.name}] loading checkpoint {path}", file=sys.stderr)
            loaded = type(self).load(path, self.cfg, self.device)
            if save_always and own is not None and own.resolve() != path.resolve():
                loaded.save(own)
            return loaded, 0.0
        if not self.needs_fit:
            if save_always and own is not None:
                self.save(own)
            return self, 0.0
        t0 = time.perf_counter()
        self.fit(samples(), log=log, progress=progress)
        seconds = time.perf_counter() - t0
        if own is not None:
            self.save(own)
        print(f"[{self.name}] fitted in {seconds:.1f} s" + (f"; checkpoint {own}" if own else ""), file=sys.stderr)
        return self, seconds


def read_torch_checkpoint(path, method: str) -> dict:
    """The dict a method's ``save`` wrote with ``torch.save`` (CPU tensors); ValueError when
    ``path`` holds something else or another method's checkpoint."""
    state = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("method") != method:
        raise ValueError(f"{path} is not a {method} checkpoint")
    return state


def with_stored_params(cfg, method: str, stored: dict):
    """A copy of the run config whose ``method`` node is overridden by the hyper-parameters
    stored in a checkpoint (all but ``checkpoint`` itself): the model is rebuilt as trained."""
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    cfg[method] = OmegaConf.merge(cfg[method], {k: v for k, v in stored.items() if k != "checkpoint"})
    return cfg


def register(name: str) -> Callable[[type[Segmenter]], type[Segmenter]]:
    """Class decorator: make a segmenter selectable as ``method=name``."""

    def deco(cls: type[Segmenter]) -> type[Segmenter]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"method {name!r} registered twice")
        if cls.output not in OUTPUTS:
            raise ValueError(f"{cls.__name__}.output must be one of {OUTPUTS}, got {cls.output!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_methods() -> list[str]:
    """Names of the registered methods (those whose modules have been imported)."""
    return sorted(_REGISTRY)


def method_class(name: str) -> type[Segmenter]:
    """The registered class of ``method=name``."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build_segmenter(cfg, device: torch.device | str = "cpu") -> Segmenter:
    """Instantiate the segmenter named by ``cfg.method`` (its module must be imported)."""
    if cfg.method not in _REGISTRY:
        raise KeyError(f"unknown method {cfg.method!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[cfg.method](cfg, device)
