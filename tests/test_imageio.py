import numpy as np
import pytest
import tifffile
from PIL import Image

from thinseg.imageio import ImageLoadError, image_shape, list_images, load_image


def _grad(h=20, w=30):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], -1).astype(np.uint8)


@pytest.mark.parametrize("mode,ext", [("RGB", ".png"), ("RGBA", ".png"), ("L", ".png"), ("P", ".png"),
                                      ("RGB", ".jpg"), ("RGB", ".bmp"), ("RGB", ".tif"), ("LA", ".png"), ("1", ".png")])
def test_formats_give_float_rgb_of_stored_shape(tmp_path, mode, ext):
    img = Image.fromarray(_grad()).convert(mode)
    path = tmp_path / f"x{ext}"
    img.save(path)
    rgb = load_image(path)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    if mode in ("RGB", "RGBA") and ext != ".jpg":
        assert np.allclose(rgb, _grad() / 255.0, atol=1e-6)  # lossless, alpha dropped


def test_16bit_tiff_grey_and_rgb_are_scaled_by_65535(tmp_path):
    grey = (np.arange(20 * 30).reshape(20, 30) * 100).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", grey)
    rgb = load_image(tmp_path / "g.tif")
    assert rgb.shape == (20, 30, 3)
    assert np.allclose(rgb[..., 0], grey / 65535.0, atol=1e-6)
    colour = np.stack([grey, grey // 2, grey // 4], -1)
    tifffile.imwrite(tmp_path / "c.tiff", colour)
    rgb = load_image(tmp_path / "c.tiff")
    assert np.allclose(rgb[..., 1], (grey // 2) / 65535.0, atol=1e-6)


def test_png_data_in_jpg_file_is_read_by_content(tmp_path):
    path = tmp_path / "fake.jpg"
    Image.fromarray(_grad()).convert("RGBA").save(path, format="PNG")
    assert np.allclose(load_image(path), _grad() / 255.0, atol=1e-6)


def test_exif_rotation_is_not_applied(tmp_path):
    img = Image.fromarray(_grad(20, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW" on display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif)
    assert load_image(path).shape == (20, 40, 3)
    assert image_shape(path) == (20, 40)


@pytest.mark.parametrize("content,msg", [(b"", "empty"), (b"hello, not an image", "not a recognised image"),])
def test_bad_files_raise_clear_errors(tmp_path, content, msg):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=msg):
        load_image(path)


def test_truncated_jpeg_and_tiny_image(tmp_path):
    Image.fromarray(_grad(64, 64)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cannot decode"):
        load_image(tmp_path / "cut.jpg")
    Image.fromarray(_grad(4, 4)).save(tmp_path / "tiny.png")
    with pytest.raises(ImageLoadError, match="too small"):
        load_image(tmp_path / "tiny.png")


def test_list_images_filters_and_sorts(tmp_path):
    for name in ["b.PNG", "a.jpg", "c_mask.npy", ".hidden.png", "notes.txt", "d.tiff"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "d.tiff"]
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")


def test_every_real_image_loads_with_its_stored_shape(shared_data):
    paths = sorted((shared_data / "images").iterdir()) + sorted((shared_data / "labeled").glob("*.jp*g"))
    assert len(paths) >= 24
    for p in paths:
        rgb = load_image(p)
        with Image.open(p) as im:
            w, h = im.size
        assert rgb.shape == (h, w, 3), p.name
        assert rgb.dtype == np.float32 and rgb.max() <= 1.0
    ref = load_image(shared_data / "images" / "jeffroth_example1.jpg")
    assert ref.shape == (1024, 1360, 3)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_reduced_decode_segments_like_the_full_decode(tmp_path, ext):
    """read_for_segmentation decodes a large image only as large as it needs (JPEG DCT
    scaling / box reduction, down to a long side of ``features.decode_side``); the working
    image, and the mask at full size, match those of the whole decode (small bodies off:
    they are looked for on the decoded pixels, so a finer decode may find more)."""
    from eval.metrics import agreement
    from experiments.config import load_config
    from thinseg.pipeline import prepare, read_for_segmentation, segment
    from thinseg.segmenter import build_segmenter
    from thinseg.synthetic import make_scene

    path = tmp_path / f"big.{ext}"
    Image.fromarray(make_scene(1536, 2048, "uv", seed=2).image).save(path, **({"quality": 92} if ext == "jpg" else {}))
    cfg = load_config(["eval.internal=false", "features.decode_side=1024", "instances.specks.enabled=false"])
    reduced, full = read_for_segmentation(path, cfg)
    whole = load_image(path)
    assert full == whole.shape[:2] == (1536, 2048) and max(reduced.shape[:2]) < 2048  # decoded reduced
    a, b = prepare(reduced, cfg, full_shape=full), prepare(whole, cfg)
    assert a.image.shape == b.image.shape and float((a.image - b.image).abs().mean()) < 0.005
    seg = build_segmenter(cfg)
    ma, mb = segment(reduced, seg, cfg, "big", full).mask, segment(whole, seg, cfg, "big").mask
    assert ma.shape == mb.shape == (1536, 2048) and ma.max() == mb.max() > 0
    assert agreement(ma, mb) > 0.98
