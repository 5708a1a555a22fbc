"""The simulator's cosmic rays against the public Geant4 WFI run (../shared/data/wfi_geant4)."""

from pathlib import Path

import numpy as np
import pytest

from crmask_wfi.sim.geant4 import (
    geant4_islands,
    proton_losses,
    read_pixels,
    read_step_log,
    simulation_islands,
    summarise_islands,
)
from crmask_wfi.sim.simulate import simulate_frames

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wfi_geant4"
STEPS = DATA / "20201006173157_StepLog_0002.gdat.gz"
PIXELS = DATA / "geant_events_202010061731570002_pix.fits.gz"

pytestmark = pytest.mark.skipif(not STEPS.exists(), reason=f"Geant4 reference run not found at {DATA}")


@pytest.fixture(scope="module")
def geant4_crossings():
    losses = proton_losses(read_step_log(STEPS))
    return losses[losses["DEPTH"] > 449.0]  # primaries that cross the whole 450 um


@pytest.fixture(scope="module")
def simulated():
    return simulate_frames(100, shape=(256, 256), xray_rate=0.0, cr_rate=32.0, readnoise=0.0, seed=21)


def mode(values, width=0.025):
    hist, edges = np.histogram(values, bins=np.arange(0.0, 1.5 + width, width))
    return edges[np.argmax(hist)] + width / 2


def test_step_log_reading(geant4_crossings):
    assert len(geant4_crossings) > 500
    assert np.all(geant4_crossings["PATH"] >= 449.0)
    assert np.all(geant4_crossings["EDEP_ALL"] >= geant4_crossings["EDEP"])


def test_projected_track_length(geant4_crossings, simulated):
    protons = simulated.truth[simulated.truth["PARTICLE"] == "proton"]
    ours = np.hypot(protons["X_END"] - protons["X"], protons["Y_END"] - protons["Y"])
    theirs = np.asarray(geant4_crossings["PROJECTED"])
    assert np.median(ours) == pytest.approx(np.median(theirs), rel=0.1)
    assert np.percentile(ours, 90) == pytest.approx(np.percentile(theirs, 90), rel=0.15)


def test_most_probable_energy_per_um(geant4_crossings, simulated):
    """Energy in the sensor per um of primary path: same most probable value (one 0.025 keV/um bin)."""
    truth = simulated.truth
    ny, nx = simulated.shape
    protons = truth[truth["PARTICLE"] == "proton"]
    inside = np.ones(len(protons), bool)
    for col, size in (("X", nx), ("X_END", nx), ("Y", ny), ("Y_END", ny)):
        inside &= (protons[col] > 3) & (protons[col] < size - 4)
    protons = protons[inside]
    path = 450.0 / np.cos(np.radians(np.asarray(protons["THETA"])))
    ours = mode(np.asarray(protons["EDEP"]) / path)
    theirs = mode(np.asarray(geant4_crossings["LOSS_ALL"]))
    assert ours == pytest.approx(theirs, abs=0.026)


def test_islands_per_primary(simulated):
    theirs = summarise_islands(geant4_islands(read_pixels(PIXELS)))
    ours = summarise_islands(simulation_islands(simulated))
    assert ours["median_pixels"] == pytest.approx(theirs["median_pixels"], abs=1.5)
    assert ours["median_extent_px"] == pytest.approx(theirs["median_extent_px"], rel=0.2)
    sigma = np.sqrt(theirs["multi_island_fraction"] / theirs["primaries"])
    assert abs(ours["multi_island_fraction"] - theirs["multi_island_fraction"]) < 3 * sigma
