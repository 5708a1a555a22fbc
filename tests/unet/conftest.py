"""Fixtures of the U-Net plugin tests: small untrained networks saved as weights files."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from crmask_unet.model import UNet, UNetConfig  # noqa: E402
from crmask_unet.weights import Normalisation, save_weights  # noqa: E402


#: The real CR footprint catalogue shared with CI.
FOOTPRINTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cr_footprints_itl.fits.gz"


@pytest.fixture(scope="session")
def footprints_path() -> Path:
    """Path of the real ITL footprints, skipping when the shared data is absent."""
    if not FOOTPRINTS.exists():
        pytest.skip(f"shared test data not found at {FOOTPRINTS} (../shared/data beside the checkout)")
    return FOOTPRINTS


def _random_weights(path, arch: str, attention: bool, width: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    norm = "batch" if arch == "deepcr" else "group"
    model = UNet(UNetConfig(depth=3, width=width, norm=norm, attention=attention))
    if norm == "batch":  # non-trivial running statistics, as after training
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    scheme = "scale" if arch == "deepcr" else "median"
    return save_weights(path, model, arch, Normalisation(scheme, 100.0), threshold=0.5), model


@pytest.fixture
def deepcr_weights(tmp_path):
    """An untrained width-4 deepCR network with attention, saved to a safetensors file."""
    return _random_weights(tmp_path / "att-deepcr-random.safetensors", "deepcr", True)


@pytest.fixture
def cosmic_weights(tmp_path):
    """An untrained width-4 Cosmic-CoNN network, saved to a safetensors file."""
    return _random_weights(tmp_path / "cosmic-random.safetensors", "cosmic-conn", False)
