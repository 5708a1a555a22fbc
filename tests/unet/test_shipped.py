"""The shipped models detect cosmic rays they never saw, in a frame they never saw."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask.bench.metrics import DEFAULT_THRESHOLDS, Curve, score_histogram  # noqa: E402

DETECTORS = ("deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn")


@pytest.fixture(scope="module")
def unseen_frame(footprints_path):
    """A synthetic frame with cosmic rays from the footprints reserved for tests (fp_id % 5 == 0)."""
    from crmask.data.footprints import load_footprints
    from crmask.data.synthetic import FrameSpec, make_frame

    library = load_footprints(footprints_path, "test")
    spec = FrameSpec(cr_density=600.0, track_fraction=0.0, seeing=2.5, sky=300.0)
    return make_frame((256, 384), spec, rng=np.random.default_rng(777), footprints=library)


@pytest.mark.parametrize("name", DETECTORS)
def test_shipped_model_finds_unseen_cosmic_rays(name, unseen_frame):
    result = crmask.get_detector(name, threads=1).detect(unseen_frame.ccd)
    scored = ~unseen_frame.faint
    truth = unseen_frame.crmask[scored]
    curve = Curve.from_histogram(*score_histogram(truth, result.probability[scored], DEFAULT_THRESHOLDS),
                                 DEFAULT_THRESHOLDS)
    tpr = curve.tpr_at_fpr(1e-3)
    assert tpr >= 0.8, f"{name}: TPR at FPR 1e-3 is {tpr:.3f}"
    flagged = result.mask[scored]
    precision = np.count_nonzero(flagged & truth) / max(np.count_nonzero(flagged), 1)
    assert precision >= 0.7, f"{name}: precision at the shipped threshold is {precision:.3f}"
    stars = unseen_frame.starmask & ~unseen_frame.crmask
    assert np.count_nonzero(result.mask & stars) <= 0.01 * np.count_nonzero(stars), f"{name}: flags stars"


@pytest.mark.parametrize("name", DETECTORS)
def test_shipped_model_flags_nothing_beside_a_masked_dead_line(name):
    """A dead line through a bright galaxy, masked as a reduction would: nothing there is a cosmic ray.

    Set to the image median, the line was a dark groove across the galaxy whose edges the networks took for cosmic
    rays; in-painted from its neighbours it continues the galaxy.
    """
    import astropy.units as u
    from astropy.nddata import CCDData

    rng = np.random.default_rng(0)
    y, x = np.mgrid[:128, :128]
    galaxy = 200.0 + 20000.0 * np.exp(-((x - 64) ** 2 + (y - 64) ** 2) / (2 * 15.0**2))
    image = rng.poisson(galaxy) + rng.normal(0.0, 5.0, galaxy.shape)
    mask = np.zeros(image.shape, dtype=bool)
    mask[60] = True
    image[60] = 0.0
    result = crmask.get_detector(name, threads=1).detect(CCDData(image, unit=u.electron, mask=mask))
    assert not result.mask.any(), f"{name} flags {np.count_nonzero(result.mask)} pixels of a galaxy"
