"""``method=stego``: STEGO-style distillation as a segmenter.

``fit`` (on the folder's working-resolution images): build the frozen backbone
(``ssl``: pretrain it first; ``dfc``: load ``stego.dfc_checkpoint`` or train DFC
first; ViTs: load ``stego.weights``), cache its features on five-crops, find
KNN partners, train the head, fit the cluster probe. ``predict``: backbone ->
head -> codes upsampled to the working size -> cosine to the probe centroids,
optionally refined by a joint bilateral filter guided by the image -> argmax.
``save``/``load``: one torch checkpoint with backbone, head and probe.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from research.dfc.segmenter import DFCSegmenter
from thinseg.segmenter import Segmenter, WorkingImage, read_torch_checkpoint, register, reservoir, reservoir_images

from .backbones import VIT_ARCHS, ViTBackbone, WithSharedFeatures, build_backbone
from .head import SegmentationHead
from .ssl import pretrain_ssl
from .train import cache_features, codes_of, fit_probe, five_crops, knn_table, train_head


DFC_ARCH = ("input", "channels", "n_classes", "n_blocks")  # dfc.* keys that shape a dfc backbone


@register("stego")
class StegoSegmenter(Segmenter):
    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        self.backbone = None
        self.head: SegmentationHead | None = None
        self.centroids: torch.Tensor | None = None  # (k, K) unit vectors
        self.history: dict = {}
        self.timing: dict = {}

    @property
    def needs_fit(self) -> bool:
        return self.head is None

    @staticmethod
    def _logger(log, prefix: str):
        if log is None:
            return None
        return lambda step, rec: [log.scalar(f"stego/{prefix}_{k}", v, step) for k, v in rec.items()]

    def _backbone_for(self, bb, images: list[torch.Tensor], log=None, progress: bool = False):
        """Finish the backbone built by ``build_backbone``: pretrain (ssl) or load/train DFC; freeze."""
        p, seed = self.params, int(self.seed)
        if p.backbone == "ssl":
            t0 = time.perf_counter()
            self.history["ssl"] = pretrain_ssl(bb, images, p.ssl, seed, self.device, self._logger(log, "ssl"), progress)
            self.timing["ssl_s"] = time.perf_counter() - t0
        elif p.backbone == "dfc":
            if p.dfc_checkpoint:
                dfc = DFCSegmenter.load(p.dfc_checkpoint, self.cfg, self.device)
            else:
                t0 = time.perf_counter()
                dfc_cfg = self.cfg.copy()
                OmegaConf.update(dfc_cfg, "dfc.mode", "dataset")
                dfc = DFCSegmenter(dfc_cfg, self.device)
                dfc.fit_images(reservoir(images, int(dfc.params.train.max_images), int(dfc.seed)), log, progress)
                self.timing["dfc_s"] = time.perf_counter() - t0
            bb.blocks.load_state_dict(dfc.net.body[:-2].state_dict())
        if float(p.shared_features) > 0:
            bb = WithSharedFeatures(bb, self.features, float(p.shared_features))
        for q in bb.parameters():
            q.requires_grad_(False)
        return bb.to(self.device).eval()

    def fit(self, samples: Iterable[WorkingImage], log=None, progress: bool = False) -> "StegoSegmenter":
        p, seed = self.params, int(self.seed)
        backbone = build_backbone(p.backbone, p, self.cfg)  # fails fast on missing/wrong weights
        images = reservoir_images(samples, int(p.max_images), seed)
        if not images:
            raise ValueError("stego fit needs at least one readable image")
        self.backbone = self._backbone_for(backbone, images, log, progress)
        t0 = time.perf_counter()
        crops = five_crops(images, int(p.crop), int(p.views), seed, tuple(p.jitter))
        feats = cache_features(self.backbone, crops, self.device, int(p.feature_batch), progress)
        del crops
        knn = knn_table(feats, int(p.knn))
        self.timing["features_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.head, self.history["head"] = train_head(feats, knn, p, seed, self.device, self._logger(log, "head"), progress)
        self.centroids = torch.from_numpy(fit_probe(codes_of(self.head, feats, self.device), int(p.k), seed,
                                                        int(p.probe.sample_size), int(p.probe.niter), int(p.probe.nredo)))
        self.timing["head_s"] = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def similarities(self, image: torch.Tensor) -> torch.Tensor:
        """(1, k, h, w) cosine similarity of each pixel's code to each probe centroid,
        for a (1, 3, h, w) float32 RGB working image (refined when ``stego.refine``)."""
        if self.head is None:
            raise RuntimeError("stego: predict before fit/load")
        image = image.to(self.device)
        codes = self.head(self.backbone(image))
        codes = F.interpolate(codes, size=image.shape[2:], mode="bilinear", align_corners=False)
        sims = torch.einsum("bchw,kc->bkhw", F.normalize(codes, dim=1), self.centroids.to(self.device))
        r = self.params.refine
        if r.enabled:
            ks = 2 * int(r.radius) + 1
            sims = kornia.filters.joint_bilateral_blur(sims, image, (ks, ks), float(r.sigma_color),
                                                       (float(r.sigma_space), float(r.sigma_space)),
                                                       border_type="replicate")
        return sims

    def predict(self, sample: WorkingImage) -> np.ndarray:
        return self.similarities(sample.image).argmax(dim=1)[0].cpu().numpy().astype(np.int64)

    def save(self, path) -> None:
        torch.save({"method": "stego", "backbone": self.params.backbone, "backbone_state": self.backbone.state_dict(),
                    "head": self.head.state_dict(), "head_dims": (self.head.linear.in_channels, self.head.linear.out_channels),
                    "centroids": self.centroids, "params": OmegaConf.to_container(self.params, resolve=True),
                    "timing": self.timing,
                    # backbone=dfc: the DFC network's shape lives under dfc.*, so it travels too
                    "dfc_arch": {k: self.cfg.dfc[k] for k in DFC_ARCH} if self.params.backbone == "dfc" else None},
                   Path(path))

    @classmethod
    def load(cls, path, cfg, device="cpu") -> "StegoSegmenter":
        state = read_torch_checkpoint(path, "stego")
        cfg = cfg.copy()
        for key in ("backbone", "code_dim", "shared_features"):  # architecture from the checkpoint
            OmegaConf.update(cfg, f"stego.{key}", state["params"][key])
        for key, value in (state.get("dfc_arch") or {}).items():
            OmegaConf.update(cfg, f"dfc.{key}", value)
        seg = cls(cfg, device)
        p = seg.params
        name = state["backbone"]
        # the backbone's weights travel in the checkpoint: no weights file is needed to export
        bb = ViTBackbone(name) if name in VIT_ARCHS else build_backbone(name, p, cfg)
        if float(p.shared_features) > 0:
            bb = WithSharedFeatures(bb, cfg.features, float(p.shared_features))
        bb.load_state_dict(state["backbone_state"])
        seg.backbone = bb.to(seg.device).eval()
        in_dim, code_dim = state["head_dims"]
        seg.head = SegmentationHead(in_dim, code_dim, float(p.dropout))
        seg.head.load_state_dict(state["head"])
        seg.head.to(seg.device).eval()
        seg.centroids = state["centroids"]
        seg.timing = state.get("timing", {})
        return seg
