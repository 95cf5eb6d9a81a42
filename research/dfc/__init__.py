"""Differentiable feature clustering (Kim & Kanezaki, IEEE TIP 2020)."""
