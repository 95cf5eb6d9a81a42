import numpy as np
import pytest
import torch

from eval.metrics import truth_scores
from research.stego.backbones import ViTBackbone, WeightsError, load_vit_weights
from research.stego.loss import centred_feature_correlation, correlation, correlation_loss
from research.stego.train import knn_table
from experiments.config import load_config
from experiments.export import export_folder
from omegaconf import OmegaConf
from thinseg.imageio import list_images, load_image
from thinseg.pipeline import prepare
from thinseg.segmenter import build_segmenter

TINY = ["stego.ssl.steps=30", "stego.ssl.batch_size=8", "stego.steps=60", "stego.crop=96", "stego.views=1",
        "stego.ssl.dim=32", "export.progress=false"]


def test_correlation_is_cosine():
    a = torch.tensor([[[[1.0]], [[0.0]]]])  # (1, 2, 1, 1): direction x
    b = torch.tensor([[[[1.0]], [[1.0]]]])  # 45 degrees
    assert correlation(a, b).item() == pytest.approx(2 ** -0.5)
    assert correlation(a, -a).item() == pytest.approx(-1.0)


def test_centring_removes_the_mean_over_partner_positions_and_keeps_the_global_mean():
    torch.manual_seed(0)
    f1, f2 = torch.randn(2, 5, 3, 3), torch.randn(2, 5, 4, 4)
    raw = correlation(f1, f2)
    fd = centred_feature_correlation(f1, f2)
    assert fd.shape == (2, 3, 3, 4, 4)
    assert fd.mean().item() == pytest.approx(raw.mean().item(), abs=1e-6)
    per_pos = fd.mean(dim=(3, 4))  # every position now has the same mean: the global one
    assert torch.allclose(per_pos, torch.full_like(per_pos, raw.mean().item()), atol=1e-6)


def test_loss_sign_shift_and_clamp_by_hand():
    # one position each; feature correlation F = 1 (same direction); centring over one partner
    # position subtracts F and adds back the global mean, so F stays 1.
    f = torch.tensor([[[[1.0]], [[0.0]]]])
    c_same, c_opp = torch.tensor([[[[1.0]], [[0.0]]]]), torch.tensor([[[[-1.0]], [[0.0]]]])
    # S = 1, F - b = 1 - 0.25 -> loss = -0.75: agreeing features reward agreeing codes
    assert correlation_loss(f, f, c_same, c_same, shift=0.25).item() == pytest.approx(-0.75)
    # a shift above F flips the sign: the same codes are now penalised
    assert correlation_loss(f, f, c_same, c_same, shift=1.5).item() == pytest.approx(0.5)
    # opposite codes: S = -1 is clamped to 0 -> no loss and no gradient either way
    c = c_opp.clone().requires_grad_(True)
    loss = correlation_loss(f, f, c_same, c, shift=0.25)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(c.grad == 0)


def test_knn_finds_the_nearest_other_crop():
    feats = torch.zeros(4, 3, 2, 2)
    feats[0, 0] = 1.0
    feats[1, 0], feats[1, 1] = 1.0, 0.1  # close to 0
    feats[2, 2] = 1.0
    feats[3, 2], feats[3, 1] = 1.0, 0.2  # close to 2
    table = knn_table(feats, k=1)
    assert table[:, 0].tolist() == [1, 0, 3, 2]
    assert knn_table(feats[:2], k=3).shape == (2, 3)  # fewer crops than k: neighbours repeat


def _tiny_vit_state(bb: ViTBackbone) -> dict:
    return {k[4:]: v.clone() for k, v in bb.state_dict().items()}


def test_vit_weights_from_state_dict_and_dino_checkpoint(tmp_path):
    torch.manual_seed(0)
    src = ViTBackbone("dino_vits16")
    state = _tiny_vit_state(src)
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)
    dino = tmp_path / "dino_ckpt.pth"  # the DINO training layout: teacher/student with prefixes and a head
    torch.save({"teacher": {**{f"module.backbone.{k}": v for k, v in state.items()},
                            "module.head.mlp.0.weight": torch.zeros(3, 3)},
                 "student": {}, "epoch": 100}, dino)
    x = torch.rand(1, 3, 64, 80)
    ref = src(x)
    assert ref.shape == (1, 384, 4, 5)
    for path in (plain, dino):
        bb = ViTBackbone("dino_vits16")
        load_vit_weights(bb, path)
        assert torch.allclose(bb(x), ref, atol=1e-5), path.name


def test_wrong_or_missing_weights_give_a_clear_error(tmp_path):
    bb = ViTBackbone("dino_vits16")
    with pytest.raises(WeightsError, match="needs stego.weights=PATH.*dino_deitsmall16_pretrain"):
        load_vit_weights(bb, None)
    with pytest.raises(WeightsError, match="not found"):
        load_vit_weights(bb, tmp_path / "nope.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(WeightsError, match="not a torch checkpoint"):
        load_vit_weights(bb, tmp_path / "text.pth")
    torch.save(_tiny_vit_state(ViTBackbone("dino_vits8")), tmp_path / "s8.pth")  # other patch size
    with pytest.raises(WeightsError, match="does not fit dino_vits16"):
        load_vit_weights(bb, tmp_path / "s8.pth")
    torch.save({"blocks.0.norm1.weight": torch.ones(384)}, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match="missing"):
        load_vit_weights(bb, tmp_path / "partial.pth")


def test_export_needs_weights_for_a_vit_backbone(tmp_path, synthetic_dir, capsys):
    from experiments.export import main

    code = main([str(synthetic_dir), str(tmp_path / "out"), "method=stego", "stego.backbone=dino_vits8",
                 "export.progress=false"])
    err = capsys.readouterr().err
    assert code == 2 and "stego.weights=PATH" in err and "dino_deitsmall8_pretrain.pth" in err, err
    missing = tmp_path / "my_dino.pth"
    code = main([str(synthetic_dir), str(tmp_path / "out2"), "method=stego", "stego.backbone=dino_vits8",
                 f"stego.weights={missing}", "export.progress=false"])
    err = capsys.readouterr().err
    assert code == 2 and str(missing) in err and "not found" in err, err
    assert not list((tmp_path / "out2").glob("*_mask.npy"))


@pytest.mark.slow
def test_ssl_train_and_export_beats_threshold_and_reloads(tmp_path, synthetic_dir):
    out = tmp_path / "out"
    summary = export_folder(synthetic_dir, out, load_config(["method=stego", *TINY]))
    assert summary.exported == 6 and summary.failed == 0
    ckpt = out / "model_stego.ckpt"
    assert ckpt.exists()
    ious = [truth_scores(np.load(synthetic_dir / f"{p.stem.replace('_mask', '')}_mask.npy"), np.load(p))["mean_best_iou"]
            for p in sorted(out.glob("*_mask.npy"))]
    assert np.mean(ious) > 0.2, ious  # tiny training; the full defaults reach 0.34 (README)
    again = tmp_path / "again"
    export_folder(synthetic_dir, again, load_config(["method=stego", *TINY, f"stego.checkpoint={ckpt}"]))
    assert not (again / "model_stego.ckpt").exists()
    for p in out.glob("*_mask.npy"):
        assert np.array_equal(np.load(p), np.load(again / p.name)), p.name


def test_dfc_backbone_with_shared_features_and_refinement(tmp_path, synthetic_dir):
    """backbone=dfc (trained on the folder first), shared colour features appended, joint
    bilateral refinement on: fit, predict at working size, save/load gives the same labels."""
    cfg = load_config(["method=stego", "stego.backbone=dfc", "stego.shared_features=1.0", "stego.refine.enabled=true",
                       "stego.steps=20", "stego.crop=64", "stego.views=1", "stego.k=4", "dfc.channels=16",
                       "dfc.n_classes=16", "dfc.train.iterations=10", "dfc.train.crop=48", "export.progress=false"])
    samples = [prepare(load_image(p), cfg) for p in list_images(synthetic_dir)[:3]]
    seg = build_segmenter(cfg).fit(samples)
    assert "dfc_s" in seg.timing and not seg.needs_fit
    labels = seg.predict(samples[0])
    assert labels.shape == tuple(samples[0].features.shape[:2]) and set(np.unique(labels)) <= set(range(4))
    seg.save(tmp_path / "m.ckpt")
    again = type(seg).load(tmp_path / "m.ckpt", load_config(["method=stego"]))
    assert again.params.backbone == "dfc" and float(again.params.shared_features) == 1.0
    assert np.array_equal(again.predict(samples[0]), labels)
    raw = load_config(["method=stego"])
    OmegaConf.update(raw, "stego.refine.enabled", False)
    unrefined = type(seg).load(tmp_path / "m.ckpt", raw)
    assert not np.array_equal(unrefined.predict(samples[0]), labels)  # the refinement changes labels
