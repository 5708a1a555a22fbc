"""benchmarks/one_pixel_hits.py: isolated one-pixel hits of known significance on a frame's clean background."""

from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("one_pixel_hits")


def _frame(gain=2.0, readnoise=5.0):
    data = np.full((100, 90), 50.0, dtype=np.float32)  # 100 e- of sky per pixel
    own = np.zeros(data.shape, dtype=bool)
    own[20, 20] = True  # an own cosmic ray on a grid point
    defects = np.zeros(data.shape, dtype=bool)
    defects[:, 44] = True  # a bad column through grid points
    data[56, 56] += 1000.0  # a source on a grid point
    return SimpleNamespace(name="flat", data=data, gain=gain, readnoise=readnoise, own_crs=own, defects=defects,
                           labels=None, satlevel=None)


def test_hits_lie_on_the_clean_grid_at_their_significance(script):
    frame = _frame()
    data, ys, xs, significance = script.with_hits(frame)
    grid = {(y, x) for y in range(8, 92, 12) for x in range(8, 82, 12)}
    assert set(zip(ys.tolist(), xs.tolist())) == grid - {(20, 20), (56, 56)} - {(y, 44) for y in range(8, 92, 12)}
    noise = np.sqrt(100.0 + 5.0**2)  # electrons
    np.testing.assert_allclose((data[ys, xs] - 50.0) * 2.0 / noise, significance, rtol=1e-5)
    assert set(significance.tolist()) == set(script.SIGNIFICANCES)
    untouched = np.ones(data.shape, dtype=bool)
    untouched[ys, xs] = False
    np.testing.assert_array_equal(data[untouched], frame.data[untouched])


def test_flagged_hits_reads_the_network_map_at_a_threshold(script):
    frame = _frame()
    _, ys, xs, significance = script.with_hits(frame)
    noise = np.sqrt(100.0 + 5.0**2)
    # a stand-in network whose probability rises with the excess: 30 sigma gives 0.5, 10 sigma 0.17
    network = SimpleNamespace(probability=lambda electrons, bad: np.clip((electrons - 100.0) / (60 * noise), 0, 1))
    flagged = script.flagged_hits(network, script.gate_hits([frame]), threshold=0.4)
    gated = significance[significance >= script.GATE_SIGNIFICANCE]
    np.testing.assert_array_equal(flagged, gated >= 30.0)
    assert flagged.size == np.count_nonzero(significance >= 10.0)


def test_flagged_hits_adds_the_isolated_hit_rule_to_the_network(script):
    frame = _frame()
    noise = np.sqrt(100.0 + 5.0**2)  # electrons: the sky the rule measures must be as noisy as the hits assume
    scatter = np.random.default_rng(2).normal(0, noise / frame.gain, frame.data.shape)
    frame.data = frame.data + scatter.astype(np.float32)
    _, _, _, significance = script.with_hits(frame)
    blind = SimpleNamespace(probability=lambda electrons, bad: np.zeros(electrons.shape, dtype=np.float32))
    hits = script.gate_hits([frame])
    assert not script.flagged_hits(blind, hits, threshold=0.5).any()
    flagged = script.flagged_hits(blind, hits, threshold=0.5, rule={"nsigma": 50.0, "ratio": 3.0})
    gated = significance[significance >= script.GATE_SIGNIFICANCE]
    np.testing.assert_array_equal(flagged, gated >= 50.0)  # the rule alone: the hits of 100 sigma and more
