"""Experiment configs (``configs/``) and runners (``python -m experiments.demo``)."""
