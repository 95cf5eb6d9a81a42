"""Rebuild the bad-input corpus in ``tests/data/bad_inputs/`` (committed; deterministic).

    python tests/data/make_bad_inputs.py

Every file is either exportable (``expected.json``: ``"mask": [H, W]``, the stored
height and width) or must fail with one clear line in ``failures.csv``
(``"fail"``: a phrase that line contains).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from thinseg.synthetic import make_scene  # noqa: E402

OUT = Path(__file__).resolve().parent / "bad_inputs"
H, W = 96, 128


def build(out: Path = OUT) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    uv = make_scene(H, W, light="uv", seed=5, n_blobs=(4, 6), radius_frac=(0.08, 0.12)).image
    plain = make_scene(H, W, light="plain", seed=6, n_blobs=(4, 6), radius_frac=(0.08, 0.12)).image
    expected: dict[str, dict] = {}

    def ok(name):
        with Image.open(out / name) as im:
            expected[name] = {"mask": [im.size[1], im.size[0]]}

    Image.fromarray(uv).save(out / "truncated.jpg", quality=90)
    data = (out / "truncated.jpg").read_bytes()
    (out / "truncated.jpg").write_bytes(data[: len(data) // 3])
    expected["truncated.jpg"] = {"fail": "cannot decode"}
    (out / "zero_bytes.png").write_bytes(b"")
    expected["zero_bytes.png"] = {"fail": "empty file"}
    (out / "text_file.jpg").write_text("this is a text file, not a picture\n")
    expected["text_file.jpg"] = {"fail": "not a recognised image"}
    Image.fromarray(uv[:1, :1]).save(out / "one_pixel.png")
    expected["one_pixel.png"] = {"fail": "too small"}

    deep = (plain.astype(np.uint16) * 257)  # 16-bit RGB TIFF
    import tifffile

    tifffile.imwrite(out / "depth16.tif", deep, photometric="rgb")
    ok("depth16.tif")
    Image.fromarray(plain).convert("L").save(out / "greyscale.png")
    ok("greyscale.png")
    rgba = np.dstack([uv, np.full((H, W), 255, np.uint8)])
    rgba[:, : W // 4, 3] = 0  # a transparent band
    Image.fromarray(rgba, "RGBA").save(out / "rgba_transparent.png")
    ok("rgba_transparent.png")
    Image.fromarray(plain).convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(out / "palette.png")
    ok("palette.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW for display; the mask keeps the stored H x W
    Image.fromarray(uv).save(out / "exif_rotated.jpg", quality=92, exif=exif)
    ok("exif_rotated.jpg")
    strip = np.repeat(np.repeat(plain[40:43], 4, axis=0), 12, axis=1)[:, :1500]  # 12 x 1500
    Image.fromarray(strip).save(out / "elongated.png")
    ok("elongated.png")
    Image.fromarray(uv).save(out / "name with spaces.png")
    ok("name with spaces.png")
    Image.fromarray(plain).save(out / "ñandú ölçü 試料.png")
    ok("ñandú ölçü 試料.png")
    Image.fromarray(uv).save(out / "twin.jpg", quality=92)  # same stem, two extensions
    Image.fromarray(plain).save(out / "twin.png")
    ok("twin.jpg")  # the first in sorted order keeps the stem
    expected["twin.png"] = {"fail": "same name stem"}
    (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return expected


if __name__ == "__main__":
    print(json.dumps(build(), ensure_ascii=False, indent=1))
