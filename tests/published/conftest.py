"""Synthetic frames with exact cosmic-ray truth for the published detectors."""

import numpy as np
import pytest
from scipy import ndimage

from crmask.registry import reload_plugins
from crmask.data.synthetic import make_frame


@pytest.fixture(scope="module")
def frame():
    """A 256 x 320 synthetic frame in adu, gain 2 (sides that are multiples of 16, as Cosmic-CoNN wants)."""
    return make_frame((256, 320), rng=np.random.default_rng(3))


def fraction_of_events_found(mask: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of cosmic rays (8-connected groups of truth pixels) with at least one pixel in ``mask``."""
    labels, n = ndimage.label(truth, structure=np.ones((3, 3)))
    hit = np.unique(labels[mask & truth])
    return np.count_nonzero(hit) / n


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """The plugin registered through an entry point, as ``pip install crmask`` registers it."""
    info = tmp_path / "crmask_published_probe-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmask_published_probe\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[crmask]\npublished = crmask_published\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reload_plugins()
    yield
    reload_plugins()
