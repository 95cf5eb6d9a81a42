"""What the KMeans and GMM baselines share: pixel sampling, the fit scope
(one model per image, or one for the whole folder), automatic k, and a
deterministic cluster order (by mean lightness)."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Iterable

import numpy as np

from thinseg.sampling import sample_rows
from thinseg.segmenter import Segmenter, WorkingImage


def flat_features(sample: WorkingImage) -> np.ndarray:
    """(h * w, C) float32 numpy view of a sample's features."""
    f = sample.features
    return np.ascontiguousarray(f.reshape(-1, f.shape[-1]).cpu().numpy(), dtype=np.float32)


class PixelClusterer(Segmenter):
    """Base for clusterers of feature vectors. Subclasses implement
    ``_fit(x, k) -> model``, ``_assign(model, x) -> labels`` and ``_choose_k``."""

    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        if self.params.scope not in ("image", "dataset"):
            raise ValueError(f"{self.name}.scope must be image or dataset, got {self.params.scope!r}")
        self.model = None

    @property
    def needs_fit(self) -> bool:
        return self.params.scope == "dataset" and self.model is None

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
        (``sample_size`` pixels per image, then ``sample_size`` overall); scope=image: no-op."""
        if self.params.scope != "dataset":
            return self
        per_image = [sample_rows(flat_features(s), int(self.params.sample_size), self.seed + i) for i, s in enumerate(samples)]
        if not per_image:
            raise ValueError("fit needs at least one image")
        self.model = self._fit_sample(np.concatenate(per_image))
        return self

    def predict(self, sample: WorkingImage) -> np.ndarray:
        """(h, w) int64 cluster labels; clusters numbered by increasing mean L."""
        x = flat_features(sample)
        model = self.model
        if model is None:
            if self.params.scope == "dataset":
                raise RuntimeError(f"{self.name} with scope=dataset must be fitted (or loaded) before predict")
            model = self._fit_sample(x)
        h, w = sample.features.shape[:2]
        return self._assign(model, self._prepare(x)).reshape(h, w).astype(np.int64)

    def _order_by_lightness(self, model, x: np.ndarray):
        labels = self._assign(model, x)
        k = self._n_clusters(model)
        mean_l = np.array([x[labels == c, 0].mean() if np.any(labels == c) else np.inf for c in range(k)])
        return self._permute(model, np.argsort(mean_l, kind="stable"))

    def save(self, path) -> None:
        """Pickle the fitted model and the method's settings."""
        with open(Path(path), "wb") as fh:
            pickle.dump({"method": self.name, "params": dict(self.params), "model": self.model}, fh)

    @classmethod
    def load(cls, path, cfg, device="cpu") -> "PixelClusterer":
        with open(Path(path), "rb") as fh:
            state = pickle.load(fh)
        if state.get("method") != cls.name:
            raise ValueError(f"{path} holds a {state.get('method')!r} checkpoint, not {cls.name!r}")
        seg = cls(cfg, device)
        seg.model = state["model"]
        return seg
