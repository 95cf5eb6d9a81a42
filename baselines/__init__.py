"""Clustering baselines on hand-made pixel features: FAISS KMeans and a Gaussian mixture."""
from . import gmm, kmeans  # noqa: F401  (registers method=kmeans, method=gmm)
