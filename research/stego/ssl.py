"""Self-supervised pretraining of the ``ssl`` backbone on the user's own images.

A contrastive objective (InfoNCE, as in SimCLR) with multi-crop views: per step,
B random crops of the training images, each seen as 2 global views (``crop`` px)
and ``n_local`` local views (``crop/2`` px), all with Kornia augmentations (flips,
90-degree rotations, colour jitter, blur) on the model's device. The pooled,
projected embedding of every view must pick out its own crop's global views
among the batch. Only the backbone is kept; the projector is discarded.
"""
from __future__ import annotations

import random

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm


def _augment(size: int, scale, a) -> nn.Module:
    """Multi-crop augmentation; ``a``: the ``stego.ssl.augment`` node."""
    return K.AugmentationSequential(
        K.RandomResizedCrop((size, size), scale=tuple(float(s) for s in scale), ratio=tuple(float(r) for r in a.ratio)),
        K.RandomHorizontalFlip(), K.RandomVerticalFlip(), K.RandomRotation90(times=(0, 3), p=float(a.rot90)),
        K.ColorJitter(*(float(j) for j in a.jitter), p=float(a.jitter_p)),
        K.RandomGaussianBlur((5, 5), tuple(float(s) for s in a.blur_sigma), p=float(a.blur_p)),
    )


def info_nce(query: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each query (B, d) against all keys (B, d): its own row is the positive."""
    logits = F.normalize(query, dim=1) @ F.normalize(keys, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(query.shape[0], device=query.device))


def pretrain_ssl(backbone: nn.Module, images: list[torch.Tensor], params, seed: int, device,
                 log=None, progress: bool = True) -> list[float]:
    """Train ``backbone`` in place; returns the loss per step.

    Args:
        backbone: a :class:`~research.stego.backbones.Backbone` ((B, 3, H, W) -> (B, D, h, w)).
        images: (3, h, w) uint8 tensors at working resolution (CPU).
        params: the ``stego.ssl`` config node (steps, batch_size, crop, n_local, lr, temperature, augment).
        log: optional callback(step, {"loss": float}).
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    crop, n_local = int(params.crop), int(params.n_local)
    dim = backbone.dim
    projector = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, int(params.proj_dim))).to(device)
    backbone.to(device).train()
    opt = torch.optim.AdamW([*backbone.parameters(), *projector.parameters()], lr=float(params.lr), weight_decay=1e-4)
    global_aug = _augment(crop, params.augment.global_scale, params.augment).to(device)
    local_aug = _augment(max(16, crop // 2), params.augment.local_scale, params.augment).to(device)
    history = []
    bar = tqdm(range(int(params.steps)), desc="stego ssl pretraining", unit="step", disable=not progress)
    for step in bar:
        batch = torch.stack([_random_window(images[rng.randrange(len(images))], crop * 2, rng)
                             for _ in range(int(params.batch_size))]).to(device).float() / 255.0
        views = [global_aug(batch), global_aug(batch)] + [local_aug(batch) for _ in range(n_local)]
        z = [projector(backbone(v).mean(dim=(2, 3))) for v in views]
        pairs = [(g, v) for g in range(2) for v in range(len(z)) if v != g]
        loss = sum(info_nce(z[v], z[g], float(params.temperature)) for g, v in pairs) / len(pairs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
        bar.set_postfix(loss=f"{history[-1]:.3f}")
        if log is not None:
            log(step, {"loss": history[-1]})
    backbone.eval()
    return history


def _random_window(image: torch.Tensor, size: int, rng: random.Random) -> torch.Tensor:
    """A (3, size, size) window of a (3, h, w) image (padded by reflection when smaller)."""
    _, h, w = image.shape
    if h < size or w < size:
        image = F.pad(image[None].float(), (0, max(0, size - w), 0, max(0, size - h)), mode="replicate")[0].to(image.dtype)
        _, h, w = image.shape
    y, x = rng.randrange(h - size + 1), rng.randrange(w - size + 1)
    return image[:, y:y + size, x:x + size]
