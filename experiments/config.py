"""The orchestration layer's config: find the methods, then merge their YAMLs.

A method is one module with a class decorated by ``@register("NAME")`` (``thinseg.segmenter``)
plus one file ``configs/methods/NAME.yaml`` (keys under ``NAME:``) in the same package.
:func:`discover_methods` imports every module of the method packages
(``pkgutil.walk_packages``: ``baselines``, ``research`` and any package named in the
environment variable ``THINSEG_METHOD_PACKAGES``, comma-separated) and collects their
``configs/methods/*.yaml``; nothing else has to list a new method.

    python -m experiments.config --methods      # the registered methods and their YAMLs
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from thinseg import config as core
from thinseg.config import ConfigError, flatten, valid_keys  # noqa: F401  (re-exported)
from thinseg.segmenter import available_methods, build_segmenter, method_class  # noqa: F401

METHOD_PACKAGES = ("baselines", "research")
ENV_PACKAGES = "THINSEG_METHOD_PACKAGES"


def method_packages() -> tuple[str, ...]:
    """The packages scanned for methods: the built-in ones plus ``$THINSEG_METHOD_PACKAGES``."""
    extra = [p.strip() for p in os.environ.get(ENV_PACKAGES, "").split(",") if p.strip()]
    return tuple(dict.fromkeys([*METHOD_PACKAGES, *extra]))


@lru_cache(maxsize=None)
def _scan(packages: tuple[str, ...]) -> tuple[Path, ...]:
    files: list[Path] = []
    for name in packages:
        pkg = importlib.import_module(name)
        for folder in getattr(pkg, "__path__", []):
            files.extend(sorted((Path(folder) / "configs" / "methods").glob("*.yaml")))
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            importlib.import_module(info.name)  # @register runs on import
    return tuple(files)


def discover_methods() -> list[Path]:
    """Import every module of the method packages (filling the registry) and return
    their method YAML files."""
    return list(_scan(method_packages()))


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """base.yaml + every discovered method YAML + ``key=value`` overrides (struct mode).
    Raises ConfigError (with the valid keys) for an unknown key or method."""
    files = discover_methods()
    return core.load_config(overrides, files, available_methods())


def make_segmenter(method: str, *overrides: str, device: str = "cpu", **params):
    """A segmenter in one line (a notebook, a test): its YAML defaults, then ``params``
    for its own keys and ``overrides`` (``key=value``) for shared ones::

        seg = make_segmenter("kmeans", k=6)
        seg = make_segmenter("dfc", "features.max_side=256", mode="per_image")
    """
    own = [f"{method}.{k}={v}" for k, v in params.items()]
    return build_segmenter(load_config([f"method={method}", *overrides, *own]), device)


def config_from_cli(overrides: Sequence[str], quiet: bool = False) -> DictConfig | None:
    """``load_config`` for command-line entry points: a bad override is printed on
    stderr as ``error: ...`` (unless ``quiet``) and None is returned (exit status 2)."""
    try:
        return load_config(overrides)
    except ConfigError as exc:
        core.report_config_error(exc, quiet)
        return None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    files = discover_methods()
    for name in available_methods():
        cls = method_class(name)
        yaml = next((str(f) for f in files if f.stem == name), "(no YAML)")
        print(f"{name:10s} {cls.__module__}.{cls.__qualname__}  {yaml}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
