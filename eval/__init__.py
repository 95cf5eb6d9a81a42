"""Scores: internal (silhouette, Davies-Bouldin) and against ground truth (ARI, blob IoU)."""
