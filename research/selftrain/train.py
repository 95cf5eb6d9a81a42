"""Training of the ``selftrain`` U-Net: random crops of pseudo-labelled images, then
self-training rounds on its own confident predictions.

One code path for CPU and GPU: tensors go to the ``device`` given, never ``.cuda()``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import kornia.augmentation as K
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .model import UNet, network_input
from .pseudo import IGNORE

N_CLASSES = 4


@dataclass
class TrainImage:
    """One training image in memory: image (3, h, w) uint8 RGB (CPU); features (C, h, w)
    float16 shared features of the whole image (cropped with it: no border effects, and
    computed once); target (h, w) uint8 blob-map classes or ``IGNORE``; name."""

    image: torch.Tensor
    features: torch.Tensor
    target: np.ndarray
    name: str = ""


def class_weights(targets: list[np.ndarray], power: float = 0.5, cap: float = 10.0) -> torch.Tensor:
    """(4,) float32 cross-entropy weights: (median frequency / frequency) ** ``power`` over
    the labelled pixels of ``targets`` (rare blob and boundary pixels weigh more), at most
    ``cap``; a class absent from every target gets weight 1."""
    counts = np.zeros(N_CLASSES)
    for t in targets:
        counts += np.bincount(t[t != IGNORE].ravel(), minlength=N_CLASSES)[:N_CLASSES]
    freq = counts / max(counts.sum(), 1)
    present = freq > 0
    w = np.ones(N_CLASSES)
    if present.any():
        w[present] = np.minimum((np.median(freq[present]) / freq[present]) ** power, cap)
    return torch.tensor(w, dtype=torch.float32)


class CropSampler:
    """Random (crop, crop) windows of the training images and their targets; a share
    ``blob_share`` of the windows is centred on a random blob-interior pixel (blobs are
    rare). The crop shrinks to the smallest image side when an image is smaller."""

    def __init__(self, items: list[TrainImage], crop: int, blob_share: float, seed: int):
        self.items = items
        self.crop = int(min([crop] + [min(it.image.shape[1:]) for it in items]))
        self.blob_share = float(blob_share)
        self.rng = np.random.default_rng(int(seed))
        self.refresh()

    def refresh(self) -> None:
        """Recompute the blob pixels of each target (after relabelling)."""
        self.blobs = [np.flatnonzero(it.target.ravel() == 1) for it in self.items]

    def __call__(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 3 + C, c, c) float32 RGB in [0, 1] and features, (batch, c, c) int64 targets (CPU)."""
        ims, tgs = [], []
        c = self.crop
        for _ in range(batch):
            i = int(self.rng.integers(len(self.items)))
            it = self.items[i]
            h, w = it.image.shape[1:]
            if self.blobs[i].size and self.rng.random() < self.blob_share:
                cy, cx = divmod(int(self.blobs[i][self.rng.integers(self.blobs[i].size)]), w)
                y = int(np.clip(cy - c // 2 + self.rng.integers(-c // 4, c // 4 + 1), 0, h - c))
                x = int(np.clip(cx - c // 2 + self.rng.integers(-c // 4, c // 4 + 1), 0, w - c))
            else:
                y, x = int(self.rng.integers(h - c + 1)), int(self.rng.integers(w - c + 1))
            ims.append(torch.cat([it.image[:, y:y + c, x:x + c].float() / 255.0, it.features[:, y:y + c, x:x + c].float()]))
            tgs.append(torch.from_numpy(it.target[y:y + c, x:x + c].astype(np.int64)))
        return torch.stack(ims), torch.stack(tgs)


def augmentations(cfg) -> tuple[K.AugmentationSequential, torch.nn.Module]:
    """Kornia: flips and 90-degree rotations applied identically to image and target
    (``aug(image, target_as_float_mask)``), and a mild colour jitter for the image only."""
    geo = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=float(cfg.hflip)), K.RandomVerticalFlip(p=float(cfg.vflip)),
        K.RandomRotation90(times=(0, 3), p=float(cfg.rot90)), data_keys=["input", "mask"])
    photo = K.ColorJitter(brightness=float(cfg.brightness), contrast=float(cfg.contrast),
                          saturation=float(cfg.saturation), hue=0.0, p=1.0)
    return geo, photo


def make_network(in_channels: int, params, seed: int, device) -> UNet:
    torch.manual_seed(int(seed))
    return UNet(in_channels, N_CLASSES, int(params.base_channels), int(params.levels)).to(device)


def train_steps(net: UNet, sampler: CropSampler, params, feature_cfg, weights: torch.Tensor, steps: int, lr: float,
                device, tag: str, log: Callable[[str, float, int], None] | None = None, progress: bool = False,
                step0: int = 0) -> list[float]:
    """``steps`` Adam steps of weighted cross-entropy (ignore_index = ``IGNORE``) on augmented
    crops. Returns the loss of each step."""
    tp = params.train
    geo, photo = augmentations(params.augment)
    geo, photo = geo.to(device), photo.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=float(lr), weight_decay=float(tp.weight_decay))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    weights = weights.to(device)
    net.train()
    losses = []
    bar = tqdm(range(1, steps + 1), desc=f"train selftrain ({tag})", unit="step", disable=not progress, file=sys.stderr)
    for step in bar:
        x, targets = sampler(int(tp.batch_size))
        x, masks = geo(x.to(device), targets[:, None].float().to(device))  # flips / rot90 keep the features valid
        targets = masks[:, 0].round().long()
        logits = net(torch.cat([photo(x[:, :3]), x[:, 3:]], dim=1))
        loss = F.cross_entropy(logits, targets, weight=weights, ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if log is not None:
            log(f"selftrain/loss_{tag}", losses[-1], step0 + step)
    net.eval()
    return losses


@torch.inference_mode()
def probabilities(net: UNet, image: torch.Tensor, feature_cfg, device, features: torch.Tensor | None = None) -> torch.Tensor:
    """(1, 4, h, w) softmax of the network on one (1, 3, h, w) RGB image in [0, 1]
    (``features``: (1, C, h, w) shared features when already computed)."""
    net.eval()
    x = network_input(image.to(device), feature_cfg, None if features is None else features.to(device))
    return torch.softmax(net(x), dim=1)


def relabel(net: UNet, items: list[TrainImage], pseudo: list[np.ndarray], feature_cfg, confidence: float,
            device) -> tuple[list[TrainImage], float]:
    """Self-training targets: the network's class where its softmax maximum reaches
    ``confidence``, the pipelines' pseudo-label (agreement, or ignore) elsewhere.
    Returns the new items and the share of pixels whose label changed."""
    out, changed, total = [], 0, 0
    for it, base in zip(items, pseudo):
        p = probabilities(net, it.image[None].float() / 255.0, feature_cfg, device, it.features[None].float())[0]
        conf, cls = p.max(0)
        conf, cls = conf.cpu().numpy(), cls.cpu().numpy().astype(np.uint8)
        target = np.where(conf >= confidence, cls, base).astype(np.uint8)
        changed += int((target != it.target).sum())
        total += target.size
        out.append(TrainImage(it.image, it.features, target, it.name))
    return out, changed / max(total, 1)
