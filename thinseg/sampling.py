"""Seeded subsampling, the one helper every sampled fit and score uses.

The same seed gives the same pixels on every machine and in every process
(``numpy.random.default_rng``); indices are sorted so the sample keeps the image order.
"""
from __future__ import annotations

import numpy as np


def sample_indices(n_total: int, n: int, seed: int) -> np.ndarray | None:
    """Sorted indices of ``n`` of ``n_total`` items drawn without replacement with ``seed``;
    None when ``n_total <= n`` (take everything)."""
    if n_total <= n:
        return None
    return np.sort(np.random.default_rng(int(seed)).choice(n_total, size=int(n), replace=False))


def sample_rows(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` rows of (N, ...) ``x`` drawn without replacement with a fixed seed."""
    idx = sample_indices(x.shape[0], n, seed)
    return x if idx is None else x[idx]
