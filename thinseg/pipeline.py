"""One image through the flow: load -> features -> segmenter -> scene -> blobs -> instances.

Scores of the result (``eval.metrics``) and writing it (``experiments.export``) live in
the layers above."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from .features import smoothed_rgb, pixel_features, to_working_tensor, working_size
from .imageio import ImageLoadError, image_shape, load_image
from .glare import glare_fringes
from .imagemaps import ANNOTATED, annotated_pixels, image_maps
from .instances import blob_map_to_instances, clusters_to_instances, drop_blobs, resize_nearest
from .light import classify_light
from .annotations import drop_annotated, scale_bar_zone, zone_at
from .outlines import refine_outlines
from .specks import find_small_bodies, speck_class
from .scene import MOUNT
from .segmenter import Segmenter, WorkingImage


@dataclass
class SegmentationResult:
    """mask: (H, W) int32 instance ids, 0 = background. classes: (N,) majority cluster of
    each blob. blob_classes: (N,) index into ``BLOB_CLASSES`` (fluorescent / opaque_dark /
    shiny_grey). labels: (h, w) int64 the segmenter's labels at working resolution (cluster ids, or blob-map classes when ``segmenter.output == "blob_map"``). features: (h, w, C)
    the shared features they were computed from (for internal scores, ``eval.metrics``).
    region: (h, w) uint8 scene map (0 rock, 1 mount). mount_share: share of the picture
    that is mount."""

    mask: np.ndarray
    classes: np.ndarray
    light: str
    labels: np.ndarray
    features: torch.Tensor = None
    blob_classes: np.ndarray = None
    region: np.ndarray = None
    mount_share: float = 0.0
    timing: dict = field(default_factory=dict)  # seconds per stage: features, cluster, instances


def read_for_segmentation(path, cfg) -> tuple[np.ndarray, tuple[int, int]]:
    """(rgb, (H, W)): the image decoded no larger than segmentation needs (at least the
    working size and a long side of ``features.decode_side``, where the outlines are
    redrawn and small bodies found; see ``load_image(min_size=...)``) and its stored height and width.
    rgb: (h', w', 3) float32 in [0, 1]. Raises ImageLoadError."""
    try:
        full = image_shape(path)
    except Exception as exc:
        raise ImageLoadError(f"cannot read image header: {exc}") from None
    rgb = load_image(path, min_size=working_size(*full, max(int(cfg.features.max_side), int(cfg.features.decode_side))))
    if rgb.shape[0] > full[0] or rgb.shape[1] > full[1]:
        full = rgb.shape[:2]  # header and pixels disagree (exotic TIFF): trust the pixels
    return rgb, full


def prepare(rgb: np.ndarray, cfg, device: torch.device | str = "cpu", name: str = "",
            full_shape: tuple[int, int] | None = None) -> WorkingImage:
    """(H, W, 3) float32 RGB in [0, 1] -> :class:`WorkingImage` (working-size pixels,
    features and light type). ``full_shape``: stored (H, W) when ``rgb`` was decoded reduced."""
    light = cfg.light.force or classify_light(rgb, cfg.light.threshold, cfg.light.min_value, cfg.light.max_pixels)
    with torch.no_grad():
        image = to_working_tensor(rgb, cfg.features.max_side, device, full_shape)
        feats = pixel_features(image, cfg.features)
    sample = WorkingImage(image=image, features=feats, light=light, name=name)
    bar = scale_bar_zone(rgb, cfg.annotations)  # the scale bar is not rock: no mount texture, no blob
    if bar.any():
        sample.maps[ANNOTATED] = (bar, zone_at(bar, tuple(feats.shape[:2])))
    return sample


def prepared_images(paths, cfg, device: torch.device | str = "cpu", desc: str | None = None):
    """Yield a :class:`WorkingImage` per readable image of ``paths`` (for ``Segmenter.fit``),
    streaming: one image in memory at a time. Unreadable files are skipped (export reports
    them once, when it reaches them). ``desc`` shows a progress bar on stderr."""
    for p in tqdm(paths, desc=desc, unit="img", disable=desc is None, file=sys.stderr):
        try:
            rgb, full = read_for_segmentation(p, cfg)
            yield prepare(rgb, cfg, device, p.stem, full)
        except ImageLoadError:
            continue


def segment(rgb: np.ndarray, segmenter: Segmenter, cfg, name: str = "",
            full_shape: tuple[int, int] | None = None) -> SegmentationResult:
    """Blob instances of one image.

    Args:
        rgb: (H, W, 3) float32 RGB in [0, 1].
        segmenter: a fitted (or per-image) segmenter.
        cfg: the full run config.
        full_shape: the stored image's (H, W) when ``rgb`` was decoded reduced
            (``read_for_segmentation``); the mask has this shape. Default rgb's.
    """
    full_shape = tuple(full_shape or rgb.shape[:2])
    t0 = time.perf_counter()
    sample = prepare(rgb, cfg, segmenter.device, name, full_shape)
    t1 = time.perf_counter()
    labels = np.asarray(segmenter.predict(sample), dtype=np.int64)
    if labels.shape != tuple(sample.features.shape[:2]):
        raise RuntimeError(f"{segmenter.name}.predict returned shape {labels.shape}, expected {tuple(sample.features.shape[:2])}")
    t2 = time.perf_counter()
    lab, region, maps = image_maps(sample, cfg)  # computed once, also when the method read them
    bar, annotated = annotated_pixels(sample)  # the scale bar: no blob seeds or grows on it
    if segmenter.output == "blob_map":  # the method's labels are the blob decision itself
        inst = blob_map_to_instances(labels, lab, sample.light, region, cfg.instances, full_shape, maps, annotated)
    else:  # cluster labels: the shared contrast-based decision picks the blob pixels
        inst = clusters_to_instances(labels, lab, sample.light, region, cfg.instances, full_shape, maps, annotated)
    if cfg.instances.refine.enabled:  # outlines at the decoded resolution
        mask = refine_outlines(inst.ids, inst.contrast, lab, inst.classes, rgb, region, sample.light, cfg.instances)
    else:
        mask = resize_nearest(inst.ids, tuple(rgb.shape[:2]))
    clusters, classes = inst.clusters, inst.classes
    if cfg.instances.specks.enabled:  # small bodies at the decoded resolution
        mask, at = find_small_bodies(mask, rgb, smoothed_rgb(sample.image, cfg.features), lab, region,
                                     sample.light, cfg.instances, maps.reference, maps.red_refs, maps.dye,
                                     bar)
        h, w = labels.shape
        clusters = np.r_[clusters, labels[(at[:, 0] * h) // mask.shape[0], (at[:, 1] * w) // mask.shape[1]]]
        classes = np.r_[classes, np.full(len(at), speck_class(sample.light), classes.dtype)]
    mask, kept = drop_blobs(mask, glare_fringes(mask, classes, rgb, cfg.instances.glare))  # halos of glare
    clusters, classes = clusters[kept - 1], classes[kept - 1]
    if bar is not None:  # its pixels, and a blob that lay mostly on it
        mask, kept = drop_annotated(mask, bar)
        clusters, classes = clusters[kept - 1], classes[kept - 1]
    mask = resize_nearest(mask, full_shape)
    t3 = time.perf_counter()
    timing = {"features": t1 - t0, "cluster": t2 - t1, "instances": t3 - t2}
    return SegmentationResult(mask, clusters, sample.light, labels, features=sample.features,
                              timing=timing, blob_classes=classes, region=region,
                              mount_share=float((region == MOUNT).mean()) if region.size else 0.0)
