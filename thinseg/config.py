"""Configs are data: ``thinseg/configs/base.yaml`` (the shared settings) + one YAML
per method (each under the method's own name), merged with command-line
``key=value`` overrides (omegaconf dotlist).

The core does not know which methods exist: the caller passes the method YAML files
(``experiments.config`` finds them next to the method modules). The merged config is
in struct mode: an unknown key is refused with the list of valid keys. Every method
node gets ``checkpoint: null`` when its YAML has none (export from a trained model:
``METHOD.checkpoint=PATH``), so a method YAML only lists its own hyper-parameters.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
BASE_FILE = CONFIG_DIR / "base.yaml"


class ConfigError(ValueError):
    """A bad override: unknown key, unknown method, or a malformed key=value."""


def _leaf_keys(node, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        if isinstance(v, DictConfig):
            keys.extend(_leaf_keys(v, full + "."))
        else:
            keys.append(full)
    return keys


def valid_keys(cfg: DictConfig) -> list[str]:
    """Every settable dotted key of a config, sorted."""
    return sorted(_leaf_keys(cfg))


def flatten(node, prefix: str = "", sep: str = ".") -> dict:
    """{dotted key: scalar} of a nested config or dict (lists and None left out), e.g.
    for TensorBoard hparams or a table row."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    out = {}
    for k, v in node.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}{sep}", sep))
        elif isinstance(v, (int, float, str, bool)):
            out[f"{prefix}{k}"] = v
    return out


def default_config(method_files: Iterable[Path] = ()) -> DictConfig:
    """base.yaml merged with each method YAML (whose keys live under the method's name);
    a method node without ``checkpoint`` gets ``checkpoint: null``."""
    cfg = OmegaConf.load(BASE_FILE)
    for path in sorted(method_files, key=lambda p: Path(p).name):
        node = OmegaConf.load(path)
        for name in node:
            if isinstance(node[name], DictConfig) and "checkpoint" not in node[name]:
                node[name].checkpoint = None
        cfg = OmegaConf.merge(cfg, node)
    return cfg


def load_config(overrides: Sequence[str] = (), method_files: Iterable[Path] = (),
                methods: Sequence[str] | None = None) -> DictConfig:
    """Default config + ``key=value`` overrides, in struct mode.

    Args:
        overrides: ``key=value`` strings.
        method_files: the method YAMLs to merge (see ``experiments.config``).
        methods: names accepted by ``method=`` (None: not checked).

    Raises:
        ConfigError: with the list of valid keys, for an unknown key, an unknown
            method or an override without ``=``.
    """
    cfg = default_config(method_files)
    OmegaConf.set_struct(cfg, True)
    bad = [o for o in overrides if "=" not in o or o.startswith("=")]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got: {' '.join(bad)}")
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except (ConfigKeyError, ConfigAttributeError) as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"unknown config key {key!r}. Valid keys:\n  " + "\n  ".join(valid_keys(cfg))
        ) from None
    if methods is not None and cfg.method not in methods:
        raise ConfigError(f"unknown method {cfg.method!r}; available: {', '.join(sorted(methods))}")
    return cfg


def report_config_error(exc: ConfigError, quiet: bool = False) -> None:
    """Print a bad override on stderr as ``error: ...`` (command-line entry points exit 2)."""
    if not quiet:
        print(f"error: {exc}", file=sys.stderr)
