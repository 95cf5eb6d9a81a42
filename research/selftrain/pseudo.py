"""Pseudo-labels for ``method=selftrain``: where label-free pipelines agree.

Each training image goes through the pipelines named in ``selftrain.pseudo.methods``
(default KMeans and GMM, one model per image) and the shared steps (``image_maps``:
Lab, scene map and rock maps once per image; ``clusters_to_instances``) at working resolution. Their instance maps
become one per-pixel target (``pseudo_labels``) in the classes of a blob map
(``thinseg.instances.BLOB_MAP_CLASSES``): 0 background, 1 blob interior, 2 boundary,
3 mount, and ``IGNORE`` (255) where the pipelines disagree.
"""
from __future__ import annotations

import numpy as np
from omegaconf import OmegaConf
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from thinseg.imagemaps import image_maps
from thinseg.instances import BM_BACKGROUND, BM_BLOB, BM_BOUNDARY, BM_MOUNT, clusters_to_instances
from thinseg.scene import MOUNT
from thinseg.segmenter import Segmenter, WorkingImage, build_segmenter

IGNORE = 255


def touching_border(ids: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels of an instance with a 4-neighbour in another instance (both sides)."""
    out = np.zeros(ids.shape, bool)
    for a, b, oa, ob in ((ids[:, :-1], ids[:, 1:], out[:, :-1], out[:, 1:]), (ids[:-1], ids[1:], out[:-1], out[1:])):
        t = (a != b) & (a > 0) & (b > 0)
        oa |= t
        ob |= t
    return out


def pseudo_labels(instance_maps: list[np.ndarray], region: np.ndarray, band: int = 1) -> np.ndarray:
    """One per-pixel target from several pipelines' instance maps.

    Args:
        instance_maps: (h, w) int instance ids (0 = no blob), one per pipeline.
        region: (h, w) uint8 scene map (``thinseg.scene``: MOUNT = mount).
        band: px of ignore around every disagreement (0 = none).
    Returns:
        (h, w) uint8: 0 background (no pipeline has a blob), 1 blob interior (every pipeline
        has one), 2 boundary (the border between two touching instances, both sides, and the
        1-px outer ring of every instance, in any pipeline), 3 mount (region == MOUNT, always),
        255 ignore (a blob in some pipelines, not in others, and ``band`` px around).
    """
    if not instance_maps:
        raise ValueError("pseudo_labels needs at least one instance map")
    blob = np.stack([np.asarray(m) > 0 for m in instance_maps])
    every, some = blob.all(0), blob.any(0)
    boundary = np.zeros(region.shape, bool)
    for m in instance_maps:
        m = np.asarray(m)
        boundary |= touching_border(m) | (find_boundaries(m, mode="outer") & (m == 0))
    target = np.full(region.shape, BM_BACKGROUND, np.uint8)
    target[every] = BM_BLOB
    target[boundary] = BM_BOUNDARY  # outer rings lie where no pipeline has a blob, or in a disagreement
    disagree = some & ~every
    if band > 0 and disagree.any():
        disagree = ndi.binary_dilation(disagree, iterations=int(band))
    target[disagree] = IGNORE
    target[region == MOUNT] = BM_MOUNT
    return target


def pipelines(cfg, methods, device="cpu", sample_size: int | None = None) -> list[Segmenter]:
    """The label-free segmenters named in ``methods``, each built on a copy of the run
    config with ``method`` set and its scope forced to one model per image (and its
    ``sample_size`` of pixels per fit set to ``sample_size`` when given: GMM's EM on 20000
    pixels costs seconds per image)."""
    out = []
    for name in methods:
        c = cfg.copy()
        OmegaConf.set_struct(c, False)
        c.method = str(name)
        if "scope" in c[name]:
            c[name].scope = "image"
        if sample_size and "sample_size" in c[name]:
            c[name].sample_size = int(sample_size)
        seg = build_segmenter(c, device)
        if seg.output != "clusters" or seg.needs_fit:
            raise ValueError(f"selftrain.pseudo.methods: {name} is not a per-image cluster method")
        out.append(seg)
    return out


def pipeline_instances(sample: WorkingImage, segs: list[Segmenter], cfg) -> tuple[list[np.ndarray], np.ndarray]:
    """Instance ids at working resolution of each pipeline on one sample, and the scene map.

    Returns ([(h, w) int32 per pipeline], (h, w) uint8 region)."""
    lab, region, rock = image_maps(sample, cfg)  # once per image, shared by the pipelines
    shape = tuple(lab.shape[:2])
    maps = [clusters_to_instances(np.asarray(s.predict(sample), np.int64), lab, sample.light, region, cfg.instances,
                                  shape, rock).ids for s in segs]
    return maps, region


def image_target(sample: WorkingImage, segs: list[Segmenter], cfg, band: int) -> np.ndarray:
    """(h, w) uint8 pseudo-label target of one sample (``pseudo_labels`` of its pipelines)."""
    maps, region = pipeline_instances(sample, segs, cfg)
    return pseudo_labels(maps, region, band)
