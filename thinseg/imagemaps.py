"""The per-image maps that several stages read, computed once per image.

The Lab image, the scene map (``thinseg.scene``) and the blob decision's maps against
the rock (``thinseg.instances.RockMaps``: matrix reference, light-specific references,
blob contrast) are read by the instance step, the small-body step and by a method that
feeds them to its network (``research.selftrain``: its guide channels, its pseudo-labels
from several cluster methods). ``image_maps`` computes them on first use and keeps them on
the :class:`~thinseg.segmenter.WorkingImage` (``maps``), so each is computed once per
image whatever reads it. A WorkingImage is made per run, for that run's config.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .features import lab_of
from .instances import RockMaps, rock_maps
from .scene import scene_map
from .segmenter import WorkingImage

_KEY = "rock"
_SHAPED_BY = ("features", "scene", "instances")  # the config nodes the maps depend on


def _maps_key(cfg) -> tuple[str, str]:
    """Cache key of the maps for ``cfg``: ``_KEY`` and the content of the nodes that shape
    them (their string form: 0.2 ms, against 2.6 ms for YAML)."""
    return _KEY, "\n".join(str(cfg[node]) for node in _SHAPED_BY)


def image_maps(sample: WorkingImage, cfg) -> tuple[np.ndarray, np.ndarray, RockMaps]:
    """(lab, region, rock maps) of one working image, computed once and kept on it.

    Args:
        sample: the image at working resolution (h, w).
        cfg: the full run config (``features``, ``scene``, ``instances`` nodes).
    Returns:
        lab: (h, w, 3) float32 Lab; region: (h, w) uint8 scene map (``thinseg.scene``);
        :class:`~thinseg.instances.RockMaps` of the blob decision.
    """
    key = _maps_key(cfg)
    if key not in sample.maps:
        lab = lab_of(sample.features, cfg.features)
        region = scene_map(_without_annotations(lab, annotated_pixels(sample)[1]), sample.light, cfg.scene)
        sample.maps[key] = (lab, region, rock_maps(lab, sample.light, region, cfg.instances))
    return sample.maps[key]


ANNOTATED = "annotated"


def annotated_pixels(sample: WorkingImage) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The scale bar burnt into the picture (``thinseg.annotations``; set by
    ``thinseg.pipeline.prepare``): ((H, W) bool at the decoded size, (h, w) bool at the
    working size), or (None, None) when the picture has none."""
    return sample.maps.get(ANNOTATED, (None, None))


def _without_annotations(lab: np.ndarray, annotated: np.ndarray | None) -> np.ndarray:
    """(h, w, 3) float32 ``lab`` with the annotated pixels given the colour of the nearest
    other pixel: the scale bar's line and label are no texture of the mount they cross
    (0euljn: the epoxy below the bar was cut off from the mount and glowed as a blob)."""
    if annotated is None or not annotated.any() or annotated.all():
        return lab
    idx = ndi.distance_transform_edt(annotated, return_distances=False, return_indices=True)
    return lab[idx[0], idx[1]]
