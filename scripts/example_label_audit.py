"""How much of the examples' score is lost on labels that mark no body.

    .venv/bin/python scripts/example_label_audit.py [overrides ...]

Scores the default export (or the config overrides given, e.g. ``method=gmm``) on the
three published example labels of ``../shared/data/challenge/examples`` (best IoU of
any predicted blob per labelled blob, pooled), and separately over two kinds of label
that the conversion of the published overlays (a tint difference) made where no body is:

* **border slivers**: touching the picture's border and at most ``--max-thick`` px thick
  (twice the largest distance to their outline): the strip between the frame and the
  drawn polygons, or a grain's outer rows cut off at the frame;
* **light-phase labels** in plain light (dark, opaque bodies): labels whose median
  lightness L lies above the Otsu split of the picture's L, i.e. on the light matrix
  (image3: the strips of light interstitial along the frame and pockets of matrix
  enclosed by grains). Under UV every body is light, so the test is not made there.

No prediction of a body can match such a label, and a prediction that did would be a
wrong mask. Prints one line per set; the light type is the toolkit's own
(``thinseg.light``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2lab
from skimage.filters import threshold_otsu

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval.metrics import best_iou_per_blob  # noqa: E402
from experiments.config import load_config  # noqa: E402
from thinseg.imageio import load_image  # noqa: E402
from thinseg.light import UV  # noqa: E402
from thinseg.pipeline import read_for_segmentation, segment  # noqa: E402
from thinseg.segmenter import build_segmenter  # noqa: E402


def border_slivers(truth: np.ndarray, max_thick: float) -> np.ndarray:
    """(n,) bool for the labels 1..n (sorted ids) of (H, W) int ``truth``: touching the
    border and at most ``max_thick`` px thick."""
    h, w = truth.shape
    out = []
    for i, box in enumerate(ndi.find_objects(truth), start=1):
        if box is None:
            continue
        m = np.pad(truth[box] == i, 1)
        border = box[0].start == 0 or box[1].start == 0 or box[0].stop == h or box[1].stop == w
        out.append(border and 2 * ndi.distance_transform_edt(m).max() <= max_thick)
    return np.array(out, bool)


def light_phase_labels(truth: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(n,) bool for the labels 1..n (sorted ids present) of (H, W) int ``truth``: median
    Lab L of the label above the Otsu threshold of the picture's L. rgb: (H, W, 3) float in [0, 1]."""
    L = rgb2lab(np.clip(rgb[..., :3], 0, 1))[..., 0]
    ids = np.unique(truth[truth > 0])
    return np.asarray(ndi.median(L, truth, ids), float) > threshold_otsu(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", default=str(REPO.parent / "shared" / "data" / "challenge" / "examples"))
    ap.add_argument("--max-thick", type=float, default=12.0)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    cfg = load_config(["eval.internal=false"] + list(args.overrides))
    seg = build_segmenter(cfg)
    best, sliver, light = [], [], []
    for truth_path in sorted(Path(args.examples).glob("*_mask.npy")):
        name = truth_path.name[: -len("_mask.npy")]
        image = next(p for p in truth_path.parent.glob(f"{name}.*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        truth = np.load(truth_path)
        rgb, full = read_for_segmentation(image, cfg)
        result = segment(rgb, seg, cfg, name, full)
        b, _ = best_iou_per_blob(truth, result.mask)
        best.append(b)
        sliver.append(border_slivers(truth, args.max_thick))
        on_light = np.zeros(len(b), bool)
        if result.light != UV:
            on_light = light_phase_labels(truth, load_image(image))
        light.append(on_light)
        print(f"{name}: {len(b)} labels, {sliver[-1].sum()} border slivers, {on_light.sum()} light-phase; "
              f"mean best IoU {b.mean():.3f}, over the others {b[~(sliver[-1] | on_light)].mean():.3f}")
    best, sliver, light = np.concatenate(best), np.concatenate(sliver), np.concatenate(light)
    body = ~(sliver | light)
    print(f"all labels: {len(best)}, pooled mean best IoU {best.mean():.3f}")
    print(f"border slivers (<= {args.max_thick:g} px thick): {sliver.sum()}, mean best IoU {best[sliver].mean():.3f}")
    print(f"light-phase labels (plain light): {light.sum()} ({(light & sliver).sum()} of them slivers), "
          f"mean best IoU {best[light].mean() if light.any() else float('nan'):.3f}")
    print(f"labels on no body (either): {(~body).sum()}, mean best IoU {best[~body].mean():.3f}")
    print(f"labels of a body (neither): {body.sum()}, pooled mean best IoU {best[body].mean():.3f}, "
          f"recall@0.5 {(best[body] >= 0.5).mean():.3f}")
    need = (0.60 * len(best) - best[~body].sum()) / max(1, body.sum())
    print(f"a pooled 0.60 over all labels needs {need:.3f} over the labels of a body")
    return 0


if __name__ == "__main__":
    sys.exit(main())
