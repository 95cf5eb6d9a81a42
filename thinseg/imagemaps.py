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

from .features import lab_of
from .instances import RockMaps, rock_maps
from .scene import scene_map
from .segmenter import WorkingImage

_KEY = "rock"


def image_maps(sample: WorkingImage, cfg) -> tuple[np.ndarray, np.ndarray, RockMaps]:
    """(lab, region, rock maps) of one working image, computed once and kept on it.

    Args:
        sample: the image at working resolution (h, w).
        cfg: the full run config (``features``, ``scene``, ``instances`` nodes).
    Returns:
        lab: (h, w, 3) float32 Lab; region: (h, w) uint8 scene map (``thinseg.scene``);
        :class:`~thinseg.instances.RockMaps` of the blob decision.
    """
    if _KEY not in sample.maps:
        lab = lab_of(sample.features, cfg.features)
        region = scene_map(lab, sample.light, cfg.scene)
        sample.maps[_KEY] = (lab, region, rock_maps(lab, sample.light, region, cfg.instances))
    return sample.maps[_KEY]
