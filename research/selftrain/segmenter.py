"""``method=selftrain``: a light U-Net trained on the agreement of label-free pipelines.

``fit``: a reservoir of at most ``train.max_images`` working images of the folder; each
is labelled by the pipelines of ``pseudo.methods`` (``pseudo.py``: 0 background, 1 blob,
2 boundary, 3 mount, 255 where they disagree); the network (``model.py``) learns them on
augmented crops (``train.py``), then ``rounds`` self-training rounds relabel every image
with its confident predictions (softmax max >= ``confidence``), keeping the pseudo-labels
elsewhere, and fine-tune. ``predict``: one forward pass; its labels ARE the blob decision
(``output = "blob_map"``), cut into instances by ``thinseg.instances.blob_map_to_instances``.
``save``/``load``: weights and the config node in one file.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from omegaconf import OmegaConf

from thinseg.features import pixel_features
from thinseg.imagemaps import image_maps
from thinseg.scene import MOUNT
from thinseg.segmenter import (Segmenter, WorkingImage, read_torch_checkpoint, register, reservoir,
                               with_stored_params)

from .model import UNet
from .pseudo import image_target, pipelines
from .train import N_CLASSES, CropSampler, TrainImage, class_weights, make_network, probabilities, relabel, train_steps


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch threads (0 = leave torch's setting). On a loaded
    machine two OpenMP threads on two busy cores can make a training step 30x slower."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def guide_channels(sample: WorkingImage, cfg) -> torch.Tensor:
    """(2, h, w) float32 inputs that carry the shared blob decision's evidence to the
    network: the blob contrast against the local rock matrix (``thinseg.instances.blob_contrast``,
    clipped to [-2, 4] and halved) and the mount indicator of the scene map. A small U-Net
    cannot compute a per-image matrix percentile from crops; given it, it learns where the
    pipelines' decision holds."""
    _, region, maps = image_maps(sample, cfg)  # shared with the pipeline's instance step
    contrast = maps.contrast
    return torch.stack([torch.from_numpy(np.clip(contrast, -2.0, 4.0) / 2.0).float(),
                        torch.from_numpy((region == MOUNT).astype(np.float32))])


@register("selftrain")
class SelfTrainSegmenter(Segmenter):
    output = "blob_map"

    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        self.net: UNet | None = None
        self.history: dict = {}

    @property
    def needs_fit(self) -> bool:
        return self.net is None

    def fit(self, samples: Iterable[WorkingImage], log=None, progress: bool = False) -> "SelfTrainSegmenter":
        """Pseudo-label a reservoir sample of ``samples``, train, self-train (module docstring)."""
        with torch_threads(int(self.params.threads)):
            return self._fit(samples, log, progress)

    def _fit(self, samples, log=None, progress: bool = False) -> "SelfTrainSegmenter":
        p = self.params
        kept = reservoir((((s.image[0].detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8), s.light, s.name)
                          for s in samples), int(p.train.max_images), self.seed)
        if not kept:
            raise ValueError("selftrain fit needs at least one image")
        segs = pipelines(self.cfg, list(p.pseudo.methods), "cpu", int(p.pseudo.sample_size))
        t0 = time.perf_counter()
        items = []
        for image, light, name in kept:
            x = image[None].float() / 255.0
            sample = WorkingImage(x, pixel_features(x, self.features), light, name)
            items.append(TrainImage(image, self.network_features(sample).to(torch.float16).contiguous(),
                                    image_target(sample, segs, self.cfg, int(p.pseudo.band)), name))
        pseudo_seconds = time.perf_counter() - t0
        self._fit_targets(items, log, progress)
        self.history["pseudo_seconds"] = pseudo_seconds
        self.history["n_images"] = len(items)
        return self

    def fit_targets(self, items: list[TrainImage], log=None, progress: bool = False) -> "SelfTrainSegmenter":
        """Train on images whose pseudo-labels are already built (``TrainImage``)."""
        with torch_threads(int(self.params.threads)):
            return self._fit_targets(items, log, progress)

    def _fit_targets(self, items: list[TrainImage], log=None, progress: bool = False) -> "SelfTrainSegmenter":
        p, tp = self.params, self.params.train
        t0 = time.perf_counter()
        pseudo = [it.target for it in items]
        weights = class_weights(pseudo, float(tp.weight_power))
        scalar = (lambda tag, v, step: log.scalar(tag, v, step)) if log is not None else None
        self.net = make_network(3 + int(items[0].features.shape[0]), p, self.seed, self.device)
        sampler = CropSampler(items, int(tp.crop), float(tp.blob_share), self.seed)
        hist = {"class_weights": weights.tolist(), "labelled": float(np.mean([(t != 255).mean() for t in pseudo])),
                "losses": [train_steps(self.net, sampler, p, self.features, weights, int(tp.steps), float(tp.lr),
                                       self.device, "pseudo", scalar, progress)], "changed": []}
        step = int(tp.steps)
        for r in range(int(p.rounds)):
            items, changed = relabel(self.net, items, pseudo, self.features, float(p.confidence), self.device)
            hist["changed"].append(changed)
            if log is not None:
                log.scalar("selftrain/relabelled_share", changed, r + 1)
            sampler.items = items
            sampler.refresh()
            hist["losses"].append(train_steps(self.net, sampler, p, self.features, weights, int(tp.round_steps),
                                              float(tp.round_lr), self.device, f"round{r + 1}", scalar, progress, step))
            step += int(tp.round_steps)
        hist["train_seconds"] = time.perf_counter() - t0
        self.history = hist
        return self

    def network_features(self, sample: WorkingImage) -> torch.Tensor:
        """(C', h, w) float32 per-pixel inputs besides RGB: the shared features, and the
        ``guide_channels`` when ``selftrain.guide`` is on."""
        feats = sample.features.permute(2, 0, 1).float().cpu()
        return torch.cat([feats, guide_channels(sample, self.cfg)]) if self.params.guide else feats

    def predict(self, sample: WorkingImage) -> np.ndarray:
        """(h, w) int64 blob map: 0 background, 1 blob, 2 boundary, 3 mount."""
        if self.net is None:
            raise RuntimeError("selftrain must be fitted (or loaded) before predict")
        feats = self.network_features(sample)[None]
        with torch_threads(int(self.params.threads)):
            prob = probabilities(self.net, sample.image, self.features, self.device, feats)
        return prob.argmax(1)[0].cpu().numpy().astype(np.int64)

    def save(self, path) -> None:
        """Weights, architecture and the ``selftrain`` config node in one file."""
        if self.net is None:
            raise RuntimeError("selftrain has nothing to save before fit")
        torch.save({"method": "selftrain", "params": OmegaConf.to_container(self.params, resolve=True),
                    "arch": {"in_channels": self.net.in_channels, "n_classes": self.net.n_classes,
                             "base": self.net.base, "levels": self.net.levels},
                    "state_dict": self.net.state_dict(), "history": self.history}, Path(path))

    @classmethod
    def load(cls, path, cfg, device="cpu") -> "SelfTrainSegmenter":
        """Rebuild from ``save``: architecture and settings come from the checkpoint."""
        state = read_torch_checkpoint(path, "selftrain")
        seg = cls(with_stored_params(cfg, "selftrain", state["params"]), device)
        a = state["arch"]
        if int(a["n_classes"]) != N_CLASSES:
            raise ValueError(f"{path}: {a['n_classes']} classes, expected {N_CLASSES}")
        seg.net = UNet(int(a["in_channels"]), int(a["n_classes"]), int(a["base"]), int(a["levels"]))
        seg.net.load_state_dict(state["state_dict"])
        seg.net.to(seg.device).eval()
        seg.history = state.get("history", {})
        return seg
