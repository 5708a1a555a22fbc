"""benchmarks/validation_difference.py: per-event counts at the threshold of FPR 1e-4."""

from types import SimpleNamespace

import numpy as np
import pytest

from ..conftest import shared_path
from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("validation_difference")


class _Fixed:
    """A stand-in detector whose probability map is given."""

    def __init__(self, maps):
        self.maps = iter(maps)
        self.bad = []

    def probability(self, image, bad=None):
        self.bad.append(bad)
        return next(self.maps)


def test_event_counts_at_the_threshold_of_fpr_1e4(script):
    shape = (200, 200)  # 39995 negative pixels: FPR 1e-4 allows 3 false positives
    mask = np.zeros(shape, dtype=bool)
    mask[10, 10:14] = True  # a 4-pixel track
    mask[50, 50] = True  # a 1-pixel hit
    ignore = np.zeros(shape, dtype=bool)
    prob = np.zeros(shape, dtype=np.float32)
    prob[10, 10:12] = 0.9  # half the track clearly found
    prob[10, 12:14] = 0.3  # the rest below the threshold
    prob[50, 50] = 0.95
    prob[100, 100:5 + 100] = [0.8, 0.7, 0.6, 0.5, 0.4]  # negatives: at most 3 may be flagged, so 0.3 is out
    bad = np.zeros(shape, dtype=bool)
    bad[150, :] = True  # the frame's known defects, handed to the detector
    sample = SimpleNamespace(image=np.zeros(shape), mask=mask, ignore=ignore, bad=bad)
    detector = _Fixed([prob])
    counts = script.event_counts(detector, [sample])
    np.testing.assert_array_equal(counts, [[4, 2], [1, 1]])  # pixels and pixels found, event by event
    assert detector.bad == [bad]


def test_a_model_must_name_its_detector(script, tmp_path):
    with pytest.raises(SystemExit):
        script.main(["--data", str(tmp_path), "deepcr.general-16", "deepcr=deepcr.general"])


def test_paired_difference_interval(script):
    rng = np.random.default_rng(1)
    pixels = rng.integers(1, 20, 300)
    first = np.stack([pixels, rng.binomial(pixels, 0.8)], axis=1)
    mean, low, high = script.paired_difference(first, first.copy())
    assert mean == low == high == 0.0  # the same model: no difference in any resample
    better = first.copy()
    better[:, 1] = np.minimum(better[:, 1] + 1, better[:, 0])  # one more pixel found in every cosmic ray
    mean, low, high = script.paired_difference(first, better)
    assert 0 < low < mean < high
    worse_somewhere = first.copy()
    worse_somewhere[:150, 1] = np.maximum(worse_somewhere[:150, 1] - 1, 0)
    worse_somewhere[150:, 1] = np.minimum(worse_somewhere[150:, 1] + 1, worse_somewhere[150:, 0])
    _, low, high = script.paired_difference(first, worse_somewhere)
    assert low < 0 < high  # as many cosmic rays lose a pixel as gain one: no sure difference


def test_validation_samples_count_each_real_cosmic_ray_once(script):
    from scipy import ndimage

    from crmask.bench.sources import load_real_frames

    data = shared_path("sprat_lhs6328").parent
    shared_path("cr_footprints_itl.fits.gz")
    frames = load_real_frames(data, script.VALIDATION_SOURCES)
    labels = frames["sprat-4"].labels
    samples = script.validation_samples(frames, data / "cr_footprints_itl.fits.gz", realisations=3)
    assert len(samples) == 6  # SPRAT 4 three times, then SAAO three times
    first, *others = samples[:3]
    assert (first.mask & labels).sum() == labels.sum()  # the repeat labels are truth in the first injection
    for sample in others:  # and out of every other one, neither truth nor negative
        assert not (sample.mask & labels).any() and sample.ignore[labels].all()
        assert ndimage.label(sample.mask)[1] > 0  # the injected cosmic rays are still there
    assert all(s.image.shape == frames["saao"].data.shape for s in samples[3:])
