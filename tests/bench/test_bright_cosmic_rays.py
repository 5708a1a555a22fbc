"""benchmarks/bright_cosmic_rays.py: footprints scaled to a chosen brightest or mean pixel."""

import numpy as np
import pytest

from crmask.data.footprints import load_footprints

from ..conftest import shared_path
from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("bright_cosmic_rays")


def test_every_footprint_is_scaled_to_the_peak_and_keeps_its_shape(script):
    library = load_footprints(shared_path("cr_footprints_itl.fits.gz")).select(np.arange(40))
    scaled = script.peak_scaled(library, 3e4)
    for k in range(len(library)):
        before, after = library.stamp(k), scaled.stamp(k)
        assert after.max() == pytest.approx(3e4, rel=1e-6)
        np.testing.assert_allclose(after, before * (3e4 / before.max()), rtol=1e-6)
    np.testing.assert_array_equal(scaled.offsets, library.offsets)


def test_every_footprint_is_scaled_to_the_mean_and_keeps_its_shape(script):
    library = load_footprints(shared_path("cr_footprints_itl.fits.gz")).select(np.arange(40))
    scaled = script.mean_scaled(library, 1e4)
    for k in range(len(library)):
        before, after = library.stamp(k), scaled.stamp(k)
        pixels = library.charge[library.offsets[k]:library.offsets[k + 1]]
        assert scaled.charge[scaled.offsets[k]:scaled.offsets[k + 1]].mean() == pytest.approx(1e4, rel=1e-5)
        np.testing.assert_allclose(after, before * (1e4 / pixels.mean()), rtol=1e-5)
    assert set(script.SCALINGS) == {"peak", "mean"}
