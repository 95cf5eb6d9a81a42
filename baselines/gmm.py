"""Gaussian mixture on pixel features (``method=gmm``).

FAISS has no GMM. We use scikit-learn's ``GaussianMixture`` (a maintained,
tested EM with full / diag / tied / spherical covariances and regularisation),
fitted on a seeded sample of ``gmm.sample_size`` pixels and initialised with the
means of a FAISS KMeans on the same sample (so both baselines start from the
same partition); every pixel is then assigned its most likely component.
``k=auto`` picks k in ``k_range`` with the lowest BIC.
"""
from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from thinseg.segmenter import register

from .kmeans import faiss_kmeans
from .pixel_clustering import PixelClusterer


@register("gmm")
class GMMSegmenter(PixelClusterer):
    def _fit(self, x: np.ndarray, k: int) -> GaussianMixture:
        means = faiss_kmeans(x, k, seed=self.seed)
        gm = GaussianMixture(
            n_components=k, covariance_type=str(self.params.covariance),
            max_iter=int(self.params.max_iter), reg_covar=float(self.params.reg_covar),
            means_init=means, random_state=int(self.seed),
        )
        return gm.fit(x)

    def _assign(self, gm: GaussianMixture, x: np.ndarray) -> np.ndarray:
        return gm.predict(x).astype(np.int64)

    def _n_clusters(self, gm: GaussianMixture) -> int:
        return gm.n_components

    def _permute(self, gm: GaussianMixture, order: np.ndarray) -> GaussianMixture:
        gm.weights_ = gm.weights_[order]
        gm.means_ = gm.means_[order]
        if gm.covariance_type != "tied":
            gm.covariances_ = gm.covariances_[order]
            gm.precisions_cholesky_ = gm.precisions_cholesky_[order]
            gm.precisions_ = gm.precisions_[order]
        return gm

    def _choose_k(self, x: np.ndarray, ks: list[int]) -> int:
        bics = {k: self._fit(x, k).bic(x) for k in ks}
        return min(bics, key=bics.get)

