from pathlib import Path

import pytest

from experiments.config import load_config
from thinseg.synthetic import write_synthetic_set

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (present in CI); tests that need it skip otherwise."""
    if not (SHARED / "images").is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """6 synthetic images (3 UV, 3 plain) of 384 x 512 (the working size) with truth masks."""
    folder = tmp_path_factory.mktemp("synthetic")
    write_synthetic_set(folder, n_images=6, height=384, width=512, seed=3)
    return folder


@pytest.fixture
def cfg():
    return load_config(["export.progress=false"])
