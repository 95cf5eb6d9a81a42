import numpy as np
import pytest
import torch

from eval.metrics import truth_scores
from research.dfc.loss import continuity_loss, dfc_loss, should_stop, similarity_loss
from research.dfc.model import DFCNet
from research.dfc.train import optimise_single
from experiments.config import load_config
from experiments.export import export_folder
from thinseg.imageio import list_images, load_image
from thinseg.pipeline import prepare
from thinseg.segmenter import build_segmenter


def test_continuity_loss_on_a_hand_made_tensor():
    r = torch.zeros(1, 2, 3, 3)
    r[0, 0, :, 2] = 3.0  # a vertical edge of height 3 in channel 0
    # horizontal diffs: 2 channels x 3 rows x 2 cols = 12 entries, 3 of them equal 3 -> mean 0.75
    # vertical diffs: all zero
    assert continuity_loss(r).item() == pytest.approx(0.75)
    r2 = torch.zeros(1, 1, 2, 2)
    r2[0, 0, 1, :] = 2.0  # vertical step: 2 entries of 2 -> mean 2; horizontal 0
    assert continuity_loss(r2).item() == pytest.approx(2.0)


def test_similarity_loss_is_cross_entropy_against_argmax():
    r = torch.tensor([[[[2.0]], [[0.0]]]])  # (1, 2, 1, 1): argmax 0
    expected = -torch.log_softmax(torch.tensor([2.0, 0.0]), 0)[0]
    assert similarity_loss(r).item() == pytest.approx(expected.item())
    loss, terms = dfc_loss(r, mu_sim=2.0, mu_con=5.0)  # continuity of a 1x1 map is 0
    assert loss.item() == pytest.approx(2 * expected.item()) and terms["con"] == 0.0


def test_stop_rule_is_a_floor():
    assert should_stop(3, 3) and should_stop(2, 3) and not should_stop(4, 3)


def test_per_image_optimisation_stops_at_min_labels():
    torch.manual_seed(0)
    x = 0.05 * torch.rand(1, 3, 48, 48)
    x[:, 0, :24] += 0.8  # two regions of different colour
    x[:, 2, 24:] += 0.8
    from omegaconf import OmegaConf

    p = OmegaConf.create(dict(channels=16, n_classes=16, n_blocks=2, lr=0.1, momentum=0.9, max_iter=200,
                              min_labels=3, mu_sim=1.0, mu_con=5.0))
    labels, iters = optimise_single(x, p, seed=0)
    assert labels.shape == (48, 48) and labels.dtype == np.int64
    assert iters < 50 and len(np.unique(labels)) <= 3
    labels2, iters2 = optimise_single(x, p, seed=0)
    assert iters2 == iters and np.array_equal(labels, labels2)  # deterministic on CPU
    p.mu_con, p.max_iter = 1.0, 20  # weak continuity: the floor is not reached, max_iter ends it
    labels, iters = optimise_single(x, p, seed=0)
    assert iters == 20 and len(np.unique(labels)) > 3


def test_network_shapes():
    net = DFCNet(8, channels=12, n_classes=7, n_blocks=3)
    assert net(torch.rand(2, 8, 10, 14)).shape == (2, 7, 10, 14)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == 4


SMALL = ["method=dfc", "dfc.channels=32", "dfc.n_classes=32", "dfc.train.iterations=120", "dfc.train.crop=64",
         "export.progress=false"]


@pytest.fixture(scope="module")
def trained(synthetic_dir, tmp_path_factory):
    cfg = load_config(SMALL)
    seg = build_segmenter(cfg)
    seg.fit(prepare(load_image(p), cfg) for p in list_images(synthetic_dir))
    path = tmp_path_factory.mktemp("dfc") / "dfc.ckpt"
    seg.save(path)
    return cfg, seg, path


def test_checkpoint_round_trip_gives_identical_masks(trained, synthetic_dir, tmp_path):
    cfg, seg, path = trained
    src = list_images(synthetic_dir)
    out1, out2 = tmp_path / "a", tmp_path / "b"
    e1 = export_folder(synthetic_dir, out1, load_config(SMALL + [f"dfc.checkpoint={path}"]))
    e2 = export_folder(synthetic_dir, out2, load_config(SMALL + [f"dfc.checkpoint={path}", "dfc.channels=999"]))
    assert e1.exported == e2.exported == len(src)
    for p in src:  # the architecture comes from the checkpoint, not from the overrides
        assert np.array_equal(np.load(out1 / f"{p.stem}_mask.npy"), np.load(out2 / f"{p.stem}_mask.npy"))
    direct = seg.predict(prepare(load_image(src[0]), cfg))
    loaded = type(seg).load(path, cfg)
    assert np.array_equal(direct, loaded.predict(prepare(load_image(src[0]), cfg)))


def test_dataset_mode_beats_threshold_on_synthetic_truth(trained, synthetic_dir):
    """A trained network recovers most blobs (measured: mean best IoU ~0.6); an
    untrained one (random weights, same post-processing) stays far below."""
    cfg, seg, _ = trained
    from thinseg.pipeline import segment

    def mean_iou(s):
        vals = []
        for p in list_images(synthetic_dir):
            m = segment(load_image(p), s, cfg).mask
            vals.append(truth_scores(np.load(synthetic_dir / f"{p.stem}_mask.npy"), m)["mean_best_iou"])
        return float(np.mean(vals))

    trained_iou = mean_iou(seg)
    untrained = build_segmenter(cfg)
    untrained.net = DFCNet(8, 32, 32, 2).eval()
    assert trained_iou >= 0.45, trained_iou
    # The shared blob decision (local contrast against the rock) carries much of the
    # masks, so the clusters themselves are compared: a trained network's clusters each
    # hold blob or matrix pixels, an untrained one's mix them.
    from sklearn.metrics import homogeneity_score

    from thinseg.instances import resize_nearest

    def homogeneity(s):
        vals = []
        for p in list_images(synthetic_dir):
            sample = prepare(load_image(p), cfg)
            labels = s.predict(sample)
            truth = resize_nearest(np.load(synthetic_dir / f"{p.stem}_mask.npy") > 0, labels.shape)
            if truth.any():
                vals.append(homogeneity_score(truth.ravel(), labels.ravel()))
        return float(np.mean(vals))

    trained_h, untrained_h = homogeneity(seg), homogeneity(untrained)
    print(f"homogeneity trained {trained_h:.3f} untrained {untrained_h:.3f}; IoU trained {trained_iou:.3f} "
          f"untrained {mean_iou(untrained):.3f}")
    assert trained_h > untrained_h + 0.1, (trained_h, untrained_h)


def test_history_logs_all_loss_terms(trained):
    _, seg, _ = trained
    assert {"sim", "con", "eq", "total", "n_labels"} <= set(seg.history[0])
    assert seg.history[-1]["n_labels"] < seg.history[0]["n_labels"]


def test_bad_mode_and_wrong_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        build_segmenter(load_config(["method=dfc", "dfc.mode=nope"]))
    torch.save({"something": 1}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="not a dfc checkpoint"):
        build_segmenter(load_config(["method=dfc"])).load(tmp_path / "x.ckpt", load_config(["method=dfc"]))


def test_dataset_training_is_deterministic_on_cpu(synthetic_dir):
    cfg = load_config(["method=dfc", "dfc.channels=8", "dfc.n_classes=8", "dfc.train.iterations=4",
                       "dfc.train.crop=32", "dfc.train.batch_size=2", "export.progress=false"])
    samples = [prepare(load_image(p), cfg) for p in list_images(synthetic_dir)[:2]]
    a, b = build_segmenter(cfg).fit(samples), build_segmenter(cfg).fit(samples)
    assert [h["total"] for h in a.history] == [h["total"] for h in b.history]
    for (k, va), vb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(va, vb), k


def test_per_image_mode_through_the_segmenter(synthetic_dir):
    """dfc.mode=per_image: nothing to fit; predict optimises a fresh network at
    per_image_max_side and returns labels at the working size, the same for the same seed."""
    cfg = load_config(["method=dfc", "dfc.mode=per_image", "dfc.channels=16", "dfc.n_classes=16",
                       "dfc.max_iter=15", "dfc.per_image_max_side=96", "export.progress=false"])
    seg = build_segmenter(cfg)
    assert not seg.needs_fit and seg.fit([]) is seg
    sample = prepare(load_image(list_images(synthetic_dir)[0]), cfg)
    a, b = seg.predict(sample), seg.predict(sample)
    assert a.shape == tuple(sample.features.shape[:2]) and a.dtype == np.int64
    assert np.array_equal(a, b) and 1 <= len(np.unique(a)) <= 16
    # optimised at 96 px: the labels are blocky upsamplings (runs of equal labels along a row)
    assert np.mean(a[:, 1:] == a[:, :-1]) > 0.9
