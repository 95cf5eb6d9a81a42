"""Clustering baselines on hand-made pixel features: FAISS KMeans (``method=kmeans``) and a
Gaussian mixture (``method=gmm``). Methods are found by ``experiments.config.discover_methods``."""
