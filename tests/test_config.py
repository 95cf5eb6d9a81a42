import pytest

from experiments.config import ConfigError, load_config, valid_keys


def test_defaults_and_overrides():
    cfg = load_config(["method=gmm", "gmm.k=7", "features.max_side=256"])
    assert cfg.method == "gmm" and cfg.gmm.k == 7 and cfg.features.max_side == 256
    assert load_config().method == "kmeans"


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(["kmeans.kk=3"])
    msg = str(err.value)
    assert "kmeans.kk" in msg and "kmeans.k\n" in msg + "\n" and "features.max_side" in msg


def test_unknown_method_and_malformed_override():
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        load_config(["method=nope"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(["kmeans.k"])


def test_valid_keys_are_dotted_leaves():
    keys = valid_keys(load_config())
    assert "instances.split_depth" in keys and "gmm.covariance" in keys and "features" not in keys


def test_a_method_in_one_line():
    from experiments.config import make_segmenter

    seg = make_segmenter("kmeans", "seed=3", k=6, scope="dataset")
    assert seg.name == "kmeans" and seg.params.k == 6 and seg.seed == 3 and seg.needs_fit
    with pytest.raises(ConfigError, match="unknown config key"):
        make_segmenter("gmm", kk=2)
