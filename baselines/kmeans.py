"""KMeans on pixel features with FAISS (``method=kmeans``).

``faiss.Kmeans`` subsamples its training set to ``max_points_per_centroid * k``
points (256 per centroid by default). We draw our own seeded sample of
``kmeans.sample_size`` pixels (default 20000) and set ``max_points_per_centroid``
so that FAISS trains on all of it. ``nredo`` restarts keep the best objective;
``spherical=true`` clusters L2-normalised features by cosine similarity.
``k=auto`` picks k in ``k_range`` with the best silhouette score on 3000 of the
sampled pixels (``kmeans.auto_k_probe``), each candidate k fitted with at least 3 restarts.
"""
from __future__ import annotations

import math

import faiss
import numpy as np
from sklearn.metrics import silhouette_score

from thinseg.segmenter import register

from thinseg.sampling import sample_rows

from .pixel_clustering import PixelClusterer


def faiss_kmeans(x: np.ndarray, k: int, niter: int = 25, nredo: int = 3, spherical: bool = False, seed: int = 0) -> np.ndarray:
    """Train FAISS KMeans on all rows of (N, C) float32 ``x``; returns (k, C) float32 centroids.

    ``max_points_per_centroid`` is raised so that FAISS does not subsample ``x``.
    """
    km = faiss.Kmeans(
        x.shape[1], k, niter=int(niter), nredo=int(nredo), spherical=bool(spherical), seed=int(seed),
        max_points_per_centroid=int(math.ceil(x.shape[0] / k)) + 1, min_points_per_centroid=1, verbose=False,
    )
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def nearest_centroid(centroids: np.ndarray, x: np.ndarray, spherical: bool = False) -> np.ndarray:
    """(N,) int64 index of the nearest of (k, C) ``centroids`` for each row of (N, C) ``x``
    (largest inner product when ``spherical``)."""
    index = faiss.IndexFlatIP(centroids.shape[1]) if spherical else faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    _, idx = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    return idx[:, 0].astype(np.int64)


AUTO_K_MIN_REDO = 3  # restarts per candidate k when k=auto


@register("kmeans")
class KMeansSegmenter(PixelClusterer):
    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if self.params.spherical:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _fit(self, x: np.ndarray, k: int) -> np.ndarray:
        """Returns (k, C) float32 centroids."""
        p = self.params
        return faiss_kmeans(x, k, p.niter, p.nredo, p.spherical, self.seed)

    def _assign(self, centroids: np.ndarray, x: np.ndarray) -> np.ndarray:
        return nearest_centroid(centroids, x, bool(self.params.spherical))

    def _n_clusters(self, centroids: np.ndarray) -> int:
        return centroids.shape[0]

    def _permute(self, centroids: np.ndarray, order: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(centroids[order])

    def _choose_k(self, x: np.ndarray, ks: list[int]) -> int:
        p = self.params
        probe = sample_rows(x, int(p.auto_k_probe), self.seed + 1)
        best_k, best = ks[0], -np.inf
        for k in ks:  # each k at its best of >= 3 restarts: a local minimum would lose to a wrong k
            centroids = faiss_kmeans(x, k, p.niter, max(int(p.nredo), AUTO_K_MIN_REDO), p.spherical, self.seed)
            labels = self._assign(centroids, probe)
            if len(np.unique(labels)) < 2:
                continue
            score = silhouette_score(probe, labels, random_state=self.seed)
            if score > best:
                best_k, best = k, score
        return best_k
