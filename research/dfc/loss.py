"""The DFC loss: feature similarity + spatial continuity, and the equivariance
term of dataset mode."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity_loss(response: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the (B, q, h, w) response against its own argmax labels
    (or the given (B, h, w) int64 ``labels``)."""
    if labels is None:
        labels = response.argmax(1)
    return F.cross_entropy(response, labels.detach())


def continuity_loss(response: torch.Tensor) -> torch.Tensor:
    """Mean L1 of vertical differences + mean L1 of horizontal differences of a
    (B, q, h, w) response."""
    zero = response.new_zeros(())
    vertical = (response[:, :, 1:, :] - response[:, :, :-1, :]).abs().mean() if response.shape[2] > 1 else zero
    horizontal = (response[:, :, :, 1:] - response[:, :, :, :-1]).abs().mean() if response.shape[3] > 1 else zero
    return vertical + horizontal


def dfc_loss(response: torch.Tensor, mu_sim: float = 1.0, mu_con: float = 1.0) -> tuple[torch.Tensor, dict]:
    """mu_sim * similarity + mu_con * continuity; returns (loss, {"sim", "con"} floats)."""
    sim = similarity_loss(response)
    con = continuity_loss(response)
    return mu_sim * sim + mu_con * con, {"sim": sim.item(), "con": con.item()}


def should_stop(n_labels: int, min_labels: int) -> bool:
    """The stop rule: training ends once the distinct labels fall to ``min_labels`` (a floor)."""
    return n_labels <= min_labels
