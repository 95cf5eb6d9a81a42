"""Choose the final model without labels, and check the choice against truth.

The rule (``choose``) ranks candidate runs on the same images by internal signals
(weights ``DEFAULT_WEIGHTS``) and picks the best weighted mean rank; ties are broken
by the mean rank over the ``TIE_BREAK`` signals, then by name:

* agreement: mean ARI of the run's instance masks with every other candidate's
  (higher is better: the consensus of independent methods, as in cluster ensembles);
  the deciding signal by default;
* silhouette of the pixel clustering (higher is better) and the Davies-Bouldin index
  (lower is better): tie-breakers only by default.

Why agreement alone decides (issue 12, measured with ``experiments/configs/ablations/methods.yaml``):
since every method shares the scene model and the contrast-based blob decision, the
masks no longer follow the compactness of a method's pixel clusters. On the challenge
photographs plus the three labelled examples, the old equal-weight rank aggregate picked
kmeans k=3 (the most compact clusters) with a regret of 0.121 mean best IoU; agreement
alone picked kmeans k=5, regret 0.000. On synthetic truth agreement alone also stays
within 0.05 of the best run (README, "Ablation and label-free model choice"). Agreement
depends on the candidate set (a method with many near-copies looks consensual): run the
ablation over distinct methods, as ``methods.yaml`` does. Exact copies (cells with
identical masks, e.g. a setting that does not reach them) count as one candidate
(``experiments.ablation.cell_agreement``).

Silhouette and Davies-Bouldin are computed for every method in the same shared
feature space (``thinseg.features``: Lab, context Lab, gradient, texture) on the
same seeded pixel sample per image (``eval.sample_size``, 2000 pixels), so the
numbers compare methods, not feature spaces.

Runs missing a signal (NaN) rank last on it. No labels are read. ``regret`` measures a
choice afterwards on data with truth: the best truth score among the candidates minus
the chosen one's.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from thinseg.atomic import write_text

SIGNALS = {"silhouette": True, "davies_bouldin": False, "agreement": True}  # name -> higher is better
DEFAULT_WEIGHTS = {"silhouette": 0.0, "davies_bouldin": 0.0, "agreement": 1.0}
TIE_BREAK = ("silhouette", "davies_bouldin")
SELECTION_FILE = "selection.json"


def _ranks(values: list[float], higher_better: bool) -> np.ndarray:
    """Average ranks 1..n (1 = best); NaN values rank last."""
    v = np.array([(-x if higher_better else x) if not math.isnan(x) else math.inf for x in values], float)
    order = v.argsort(kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for val in np.unique(v):  # ties share their mean rank
        same = v == val
        ranks[same] = ranks[same].mean()
    return ranks


def choose(candidates: dict[str, dict], weights: dict | None = None) -> tuple[str, dict]:
    """Pick the final model by weighted mean rank of the internal signals (ties: mean
    rank over ``TIE_BREAK``, then name).

    Args:
        candidates: {run name: {"silhouette": float, "davies_bouldin": float,
            "agreement": float, ...}} (extra keys ignored).
        weights: signal -> weight (default ``DEFAULT_WEIGHTS``; 0 switches a signal off).
    Returns:
        (chosen name, {name: mean rank}) with ties broken by name order.
    """
    if not candidates:
        raise ValueError("no candidate runs to choose from")
    weights = dict(DEFAULT_WEIGHTS, **(weights or {}))
    names = sorted(candidates)
    total = np.zeros(len(names))
    wsum = 0.0
    for sig, higher in SIGNALS.items():
        w = float(weights.get(sig, 0.0))
        if w == 0:
            continue
        vals = [float(candidates[n].get(sig, float("nan"))) for n in names]
        total += w * _ranks(vals, higher)
        wsum += w
    score = total / max(wsum, 1e-12)
    ranking = dict(zip(names, score.tolist()))
    ties = np.mean([_ranks([float(candidates[n].get(sig, float("nan"))) for n in names], SIGNALS[sig])
                    for sig in TIE_BREAK], axis=0)
    tie_rank = dict(zip(names, ties.tolist()))
    best = min(names, key=lambda n: (round(ranking[n], 9), tie_rank[n], names.index(n)))
    return best, ranking


def regret(candidates: dict[str, dict], chosen: str, truth_metric: str = "mean_best_iou") -> dict:
    """How far the chosen run's truth score is from the best candidate's.

    Returns {"chosen": value, "best": value, "best_run": name, "regret": best - chosen,
    "rank": 1-based rank of the chosen run by truth}; empty when no truth scores."""
    scored = {n: c[truth_metric] for n, c in candidates.items()
              if truth_metric in c and not math.isnan(float(c[truth_metric]))}
    if chosen not in scored:
        return {}
    best_run = max(scored, key=scored.get)
    rank = 1 + sum(v > scored[chosen] for v in scored.values())
    return {"chosen": scored[chosen], "best": scored[best_run], "best_run": best_run,
            "regret": scored[best_run] - scored[chosen], "rank": rank, "of": len(scored)}


def write_selection(root, chosen: str, overrides: list[str], ranking: dict, source: str, why: str) -> Path:
    """Store the choice in ``root/selection.json`` (read by the export when no method is given)."""
    path = Path(root) / SELECTION_FILE
    Path(root).mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"run": chosen, "overrides": list(overrides), "source": str(source), "why": why,
                                 "mean_ranks": ranking, "written": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
    return path


def read_selection(root) -> dict | None:
    """The stored choice under ``root`` or None (missing or unreadable file)."""
    path = Path(root) / SELECTION_FILE
    try:
        sel = json.loads(path.read_text())
        return sel if isinstance(sel.get("overrides"), list) else None
    except (OSError, ValueError, AttributeError):
        return None
