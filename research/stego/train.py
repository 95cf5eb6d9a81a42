"""STEGO distillation on a folder: crops -> cached frozen features -> KNN -> head -> probe.

1. ``five_crops``: the four corners and the centre of every training image at
   ``crop`` px (working resolution), plus ``views - 1`` Kornia-augmented copies.
2. ``cache_features``: the frozen backbone runs once per crop (the expensive part);
   features are kept on the CPU.
3. ``knn_table``: every crop's nearest neighbours by pooled backbone feature
   (cosine, FAISS inner product on L2-normalised vectors).
4. ``train_head``: the correlation loss with the crop itself, a random one of its
   ``knn`` neighbours and a random crop, each term with its weight and shift.
5. ``fit_probe``: spherical KMeans (FAISS) on the codes of all crops.
"""
from __future__ import annotations

import faiss
import kornia.augmentation as K
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from thinseg.sampling import sample_rows

from .head import SegmentationHead
from .loss import correlation_loss, random_coords, sample_positions


def five_crops(images: list[torch.Tensor], crop: int, views: int, seed: int,
               jitter: tuple[float, float, float, float] = (0.1, 0.1, 0.05, 0.0)) -> torch.Tensor:
    """(N, 3, crop, crop) float32 in [0, 1] from (3, h, w) uint8 images (smaller images
    are padded by replication); N = 5 * views * len(images). Views after the first are
    flipped and colour-jittered (``jitter``: brightness, contrast, saturation, hue)."""
    out = []
    for im in images:
        x = im.float()[None] / 255.0
        _, _, h, w = x.shape
        if h < crop or w < crop:
            x = F.pad(x, (0, max(0, crop - w), 0, max(0, crop - h)), mode="replicate")
            _, _, h, w = x.shape
        ys = (0, 0, h - crop, h - crop, (h - crop) // 2)
        xs = (0, w - crop, 0, w - crop, (w - crop) // 2)
        out.extend(x[:, :, y:y + crop, x0:x0 + crop] for y, x0 in zip(ys, xs))
    crops = torch.cat(out)
    if views > 1:
        torch.manual_seed(seed)
        aug = K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomVerticalFlip(),
                                       K.ColorJitter(*(float(j) for j in jitter), p=1.0))
        crops = torch.cat([crops] + [aug(crops) for _ in range(views - 1)])
    return crops


@torch.no_grad()
def cache_features(backbone, crops: torch.Tensor, device, batch_size: int = 16, progress: bool = True) -> torch.Tensor:
    """(N, D, h, w) float32 CPU tensor: the frozen backbone's features of every crop."""
    backbone.eval().to(device)
    feats = []
    for i in tqdm(range(0, crops.shape[0], batch_size), desc="stego features", unit="batch", disable=not progress):
        feats.append(backbone(crops[i:i + batch_size].to(device)).float().cpu())
    return torch.cat(feats)


def knn_table(feats: torch.Tensor, k: int) -> np.ndarray:
    """(N, k) int64: indices of each crop's k nearest other crops by pooled feature (cosine).
    With fewer than k + 1 crops, neighbours repeat."""
    pooled = F.normalize(feats.mean(dim=(2, 3)), dim=1).numpy().astype(np.float32)
    n = pooled.shape[0]
    index = faiss.IndexFlatIP(pooled.shape[1])
    index.add(pooled)
    kk = min(n, k + 1)
    _, idx = index.search(pooled, kk)
    table = np.empty((n, k), np.int64)
    for i in range(n):
        others = [j for j in idx[i] if j != i] or [i]
        table[i] = [others[t % len(others)] for t in range(k)]
    return table


def train_head(feats: torch.Tensor, knn: np.ndarray, params, seed: int, device, log=None,
               progress: bool = True) -> tuple[SegmentationHead, list[dict]]:
    """Train the head with the three correlation terms; returns (head, loss history)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = SegmentationHead(feats.shape[1], int(params.code_dim), float(params.dropout)).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=float(params.lr))
    w, b = params.loss_weights, params.shifts
    n, s = feats.shape[0], int(params.feature_samples)
    history = []
    bar = tqdm(range(int(params.steps)), desc="stego head", unit="step", disable=not progress)
    for step in bar:
        idx = torch.randint(0, n, (min(int(params.batch_size), n),), generator=gen)
        pick = torch.randint(0, knn.shape[1], (idx.shape[0],), generator=gen)
        pos = torch.from_numpy(knn[idx.numpy(), pick.numpy()])
        neg = torch.randint(0, n, (idx.shape[0],), generator=gen)
        f, fp, fn = (feats[i].to(device) for i in (idx, pos, neg))
        c, cp, cn = head(f), head(fp), head(fn)
        co1, co2 = random_coords(idx.shape[0], s, gen, device), random_coords(idx.shape[0], s, gen, device)
        f1, c1 = sample_positions(f, co1), sample_positions(c, co1)
        f2, c2 = sample_positions(fp, co2), sample_positions(cp, co2)
        f3, c3 = sample_positions(fn, co2), sample_positions(cn, co2)
        terms = {
            "self": correlation_loss(f1, f1, c1, c1, float(b.self)),
            "knn": correlation_loss(f1, f2, c1, c2, float(b.knn)),
            "random": correlation_loss(f1, f3, c1, c3, float(b.random)),
        }
        loss = float(w.self) * terms["self"] + float(w.knn) * terms["knn"] + float(w.random) * terms["random"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
        history.append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if log is not None:
            log(step, rec)
    head.eval()
    return head, history


@torch.no_grad()
def codes_of(head: SegmentationHead, feats: torch.Tensor, device, batch_size: int = 32) -> torch.Tensor:
    """(N, K, h, w) float32 CPU codes of cached features."""
    head.eval()
    return torch.cat([head(feats[i:i + batch_size].to(device)).cpu() for i in range(0, feats.shape[0], batch_size)])


def fit_probe(codes: torch.Tensor, k: int, seed: int, sample_size: int = 100_000, niter: int = 30,
              nredo: int = 3) -> np.ndarray:
    """(k, K) float32 unit centroids of spherical KMeans on a seeded sample of code vectors."""
    x = F.normalize(codes, dim=1).permute(0, 2, 3, 1).reshape(-1, codes.shape[1]).numpy().astype(np.float32)
    x = sample_rows(x, sample_size, seed)
    km = faiss.Kmeans(x.shape[1], int(k), niter=int(niter), nredo=int(nredo), seed=seed, spherical=True,
                      max_points_per_centroid=max(256, x.shape[0] // int(k) + 1))
    km.train(np.ascontiguousarray(x))
    return F.normalize(torch.from_numpy(km.centroids.copy()), dim=1).numpy()
