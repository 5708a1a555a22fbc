"""Shared fixtures: seeded random generators and the shared real-data directory."""

from pathlib import Path

import numpy as np
import pytest

#: Real test data shared with CI (absent in a user's fresh clone).
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SPRAT = SHARED_DATA / "sprat_lhs6328"
EXAMPLE_FRAME = Path(__file__).resolve().parents[1] / "examples" / "data" / "v_e_20180810_12_1_0_0.fits.gz"


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (../shared/data beside the checkout)")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)
