"""Optimisation of DFC networks: one network per image (the reference protocol),
or one network on random crops from a whole folder (dataset mode)."""
from __future__ import annotations

import sys
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from thinseg.features import feature_maps

from . import augment
from .loss import dfc_loss, should_stop, similarity_loss
from .model import DFCNet


def network_input(images: torch.Tensor, params, feature_cfg) -> torch.Tensor:
    """(B, 3, h, w) RGB in [0, 1] -> the network's input: the shared features
    (``dfc.input=features``) or RGB (``dfc.input=rgb``, as in the paper)."""
    if params.input == "features":
        return feature_maps(images, feature_cfg)
    if params.input == "rgb":
        return images
    raise ValueError(f"dfc.input must be features or rgb, got {params.input!r}")


def make_network(in_channels: int, params, seed: int, device) -> DFCNet:
    torch.manual_seed(int(seed))
    return DFCNet(in_channels, int(params.channels), int(params.n_classes), int(params.n_blocks)).to(device)


def _sgd(net, params, lr: float):
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=float(params.momentum))


def optimise_single(x: torch.Tensor, params, seed: int = 0) -> tuple[np.ndarray, int]:
    """The reference protocol on one image.

    Args:
        x: (1, C, h, w) float32 network input.
        params: the ``dfc`` config node (lr, momentum, max_iter, min_labels, mu_sim, mu_con, ...).
    Returns:
        (h, w) int64 labels of the last forward pass, and the iterations run.
    """
    net = make_network(x.shape[1], params, seed, x.device)
    net.train()
    opt = _sgd(net, params, float(params.lr))
    labels = None
    it = 0
    for it in range(1, int(params.max_iter) + 1):
        response = net(x)
        loss, _ = dfc_loss(response, float(params.mu_sim), float(params.mu_con))
        opt.zero_grad()
        loss.backward()
        opt.step()
        labels = response.argmax(1)[0]
        if should_stop(int(labels.unique().numel()), int(params.min_labels)):
            break
    return labels.cpu().numpy().astype(np.int64), it


class CropSampler:
    """Random square crops from a list of (3, h, w) uint8 working-size images.

    Each crop takes a region of ``1.25 * crop`` px (images smaller than that are
    upscaled) and a Kornia ``RandomResizedCrop`` to ``crop`` px (scale changes).
    """

    def __init__(self, images: list[torch.Tensor], crop: int, aug_cfg, seed: int, device):
        self.region = int(round(crop * 1.25))
        self.images = [self._at_least(im, self.region) for im in images]
        self.resize = augment.resized_crop(crop, aug_cfg)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.device = device

    @staticmethod
    def _at_least(im: torch.Tensor, side: int) -> torch.Tensor:
        h, w = im.shape[1:]
        if min(h, w) >= side:
            return im
        scale = side / min(h, w)
        size = (max(side, int(np.ceil(h * scale))), max(side, int(np.ceil(w * scale))))
        return F.interpolate(im[None].float(), size=size, mode="bilinear", align_corners=False)[0].round().to(torch.uint8)

    def __call__(self, batch: int) -> torch.Tensor:
        """(batch, 3, crop, crop) float32 RGB in [0, 1] on the device."""
        out = []
        for _ in range(batch):
            im = self.images[int(torch.randint(len(self.images), (1,), generator=self.gen))]
            h, w = im.shape[1:]
            y = int(torch.randint(h - self.region + 1, (1,), generator=self.gen))
            x = int(torch.randint(w - self.region + 1, (1,), generator=self.gen))
            out.append(im[:, y : y + self.region, x : x + self.region])
        regions = torch.stack(out).to(self.device).float() / 255.0
        return self.resize(regions)


def train_dataset(
    images: list[torch.Tensor],
    params,
    feature_cfg,
    seed: int,
    device,
    log: Callable[[int, dict, DFCNet], None] | None = None,
    progress: bool = True,
) -> tuple[DFCNet, list[dict]]:
    """Train one DFC network on random crops of many images.

    Loss per step = mu_sim * CE(r, argmax r) + mu_con * continuity(r)
    + mu_eq * CE(net(A(T(x))), argmax T(r)), with r = net(x), T a random flip /
    90-degree rotation and A a mild photometric jitter: the labels of an augmented
    crop must match the augmented labels of the crop.

    Args:
        images: (3, h, w) uint8 working-size RGB images (CPU).
        params: the ``dfc`` config node; its ``train`` and ``augment`` sub-nodes.
        log: called as log(step, scalars, net) after every step.
    Returns:
        the network (in eval mode) and the per-step history of the loss terms.
    """
    tp, ap = params.train, params.augment
    torch.manual_seed(int(seed))
    sampler = CropSampler(images, int(tp.crop), ap, seed, device)
    geo, photo = augment.geometric(ap).to(device), augment.photometric(ap).to(device)
    net = make_network(network_input(sampler(1), params, feature_cfg).shape[1], params, seed, device)
    net.train()
    opt = _sgd(net, params, float(tp.lr))
    history: list[dict] = []
    bar = tqdm(range(1, int(tp.iterations) + 1), desc="train dfc", unit="step", disable=not progress, file=sys.stderr)
    for step in bar:
        crops = sampler(int(tp.batch_size))
        moved = photo(geo(crops))
        response = net(network_input(crops, params, feature_cfg))
        loss, terms = dfc_loss(response, float(params.mu_sim), float(params.mu_con))
        if float(tp.mu_eq) > 0:
            target = geo(response.detach(), params=geo._params).argmax(1)
            eq = similarity_loss(net(network_input(moved, params, feature_cfg)), target)
            loss = loss + float(tp.mu_eq) * eq
            terms["eq"] = eq.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        terms["total"] = loss.item()
        terms["n_labels"] = int(response.argmax(1).unique().numel())
        history.append(terms)
        bar.set_postfix(loss=f"{terms['total']:.3f}", labels=terms["n_labels"])
        if log is not None:
            log(step, terms, net)
        if should_stop(terms["n_labels"], int(tp.min_labels)):
            break
    net.eval()
    return net, history
