"""Shared fixtures: seeded random generators, the shared real-data directory, a registry reloaded around a test."""

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
def fresh_registry():
    """Reload the plugin registry before and after a test, so that plugin files it loads stay its own."""
    from crmask.registry import reload_plugins

    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture
def hand_made_scores():
    """A probability map whose TPR at an FPR of 1e-4 is known: ``(truth, probability, ignore, 0.7)``.

    100 cosmic-ray pixels (60 at 0.9555, 40 at 0.5555) and 10,000 clean
    pixels (one at 0.8555, two at 0.6555, one tied with the weaker cosmic rays
    at 0.5555, the rest at 0.0555) are scored; a column of 100 clean pixels
    at 0.9955 is ignored. The ROC envelope runs (0, 0), (0, 0.6),
    (4e-4, 1), so the TPR at an FPR of 1e-4 is 0.6 + 0.4 / 4 = 0.7. Counting
    the ignored column, or splitting the tie at 0.5555, changes it.
    """
    shape = (100, 102)
    probability = np.full(shape, 0.0555, dtype=np.float32)
    truth = np.zeros(shape, dtype=bool)
    truth[:60, 0] = truth[:40, 1] = True
    probability[:60, 0] = 0.9555
    probability[:40, 1] = 0.5555
    probability[60, 0] = 0.8555
    probability[61:63, 0] = 0.6555
    probability[40, 1] = 0.5555
    ignore = np.zeros(shape, dtype=bool)
    ignore[:, -1] = True
    probability[ignore] = 0.9955
    return truth, probability, ignore, 0.7
