"""Adding a method is one module plus one YAML: a package written here (outside the
repository, found through THINSEG_METHOD_PACKAGES) is exported by scripts/export_masks.sh
without any other file being touched."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

MODULE = '''
"""method=lightsplit: two clusters split at a lightness quantile learnt on the folder."""
import json

import numpy as np

from thinseg.segmenter import Segmenter, register


@register("lightsplit")
class LightSplit(Segmenter):
    def __init__(self, cfg, device="cpu"):
        super().__init__(cfg, device)
        self.threshold = None

    @property
    def needs_fit(self):
        return self.threshold is None

    def fit(self, samples, log=None, progress=False):
        values = np.concatenate([s.features[..., 0].cpu().numpy().ravel() for s in samples])
        self.threshold = float(np.quantile(values, float(self.params.quantile)))
        return self

    def predict(self, sample):
        return (sample.features[..., 0].cpu().numpy() > self.threshold).astype(np.int64)

    def save(self, path):
        with open(path, "w") as fh:
            json.dump({"threshold": self.threshold}, fh)

    @classmethod
    def load(cls, path, cfg, device="cpu"):
        seg = cls(cfg, device)
        with open(path) as fh:
            seg.threshold = json.load(fh)["threshold"]
        return seg
'''

YAML = '''
lightsplit:
  quantile: 0.5   # share of the folder's pixels in the dark cluster
'''


def test_one_module_and_one_yaml_make_a_method(tmp_path, synthetic_dir):
    pkg = tmp_path / "plugins" / "my_methods"
    (pkg / "configs" / "methods").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "lightsplit.py").write_text(textwrap.dedent(MODULE))
    (pkg / "configs" / "methods" / "lightsplit.yaml").write_text(YAML)
    images = tmp_path / "images"
    images.mkdir()
    for p in sorted(synthetic_dir.glob("*.png"))[:2]:
        (images / p.name).write_bytes(p.read_bytes())
    env = {**os.environ, "THINSEG_METHOD_PACKAGES": "my_methods", "THINSEG_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    before = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "export_masks.sh"), str(images), str(out),
                           "method=lightsplit", "lightsplit.quantile=0.6", "export.progress=false", "export.report=false"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    masks = sorted(out.glob("*_mask.npy"))
    assert len(masks) == 2 and all(np.load(m).dtype == np.int32 for m in masks)
    assert "quantile: 0.6" in (out / "config.yaml").read_text()
    assert (out / "model_lightsplit.ckpt").exists()  # fitted on the folder and saved by the base class
    assert subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout == before
