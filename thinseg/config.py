"""Configs are data: ``experiments/configs/base.yaml`` + one YAML per method,
merged with command-line ``key=value`` overrides (omegaconf dotlist).

The merged config is in struct mode: an unknown key is refused with the list of
valid keys. Every method's settings live under its own name (``kmeans.k=6``).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ConfigAttributeError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "experiments" / "configs"


class ConfigError(ValueError):
    """A bad override: unknown key, or a malformed key=value."""


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


def default_config(config_dir: Path | None = None) -> DictConfig:
    """base.yaml merged with every ``methods/*.yaml`` (each under its method's name)."""
    root = Path(config_dir) if config_dir else CONFIG_DIR
    cfg = OmegaConf.load(root / "base.yaml")
    for path in sorted((root / "methods").glob("*.yaml")):
        cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
    return cfg


def load_config(overrides: Sequence[str] = (), config_dir: Path | None = None) -> DictConfig:
    """Default config + ``key=value`` overrides, in struct mode.

    Raises:
        ConfigError: with the list of valid keys, for an unknown key or an
            override without ``=``.
    """
    cfg = default_config(config_dir)
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
    from .segmenter import available_methods

    methods = available_methods()
    if cfg.method not in methods:
        raise ConfigError(f"unknown method {cfg.method!r}; available: {', '.join(methods)}")
    return cfg


def config_from_cli(overrides: Sequence[str], quiet: bool = False) -> DictConfig | None:
    """``load_config`` for command-line entry points: a bad override is printed on
    stderr as ``error: ...`` (unless ``quiet``) and None is returned (the caller exits
    with status 2)."""
    try:
        return load_config(overrides)
    except ConfigError as exc:
        if not quiet:
            print(f"error: {exc}", file=sys.stderr)
        return None
