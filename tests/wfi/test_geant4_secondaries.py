"""Where secondaries land relative to their primary's track, on pixels and steps with known answers."""

import numpy as np
import pytest
from astropy.table import Table

from crmask_wfi.sim.geant4 import secondary_island_distances, secondary_step_distances
from crmask_wfi.sim.physics import PIXEL_PITCH_UM


def pixel_table(rows):
    """Pixel rows (PRIMID, DETID, ACTX, ACTY, ENERGY, PARTYPE) as a Geant4 pixel table."""
    names = ("PRIMID", "DETID", "ACTX", "ACTY", "ENERGY", "PARTYPE")
    return Table(rows=rows, names=names, dtype=(np.int64, np.int64, np.int64, np.int64, float, np.uint8))


def test_secondary_island_distances_on_known_pixels():
    pixels = pixel_table([
        (1, 0, 10, 10, 50.0, 1), (1, 0, 11, 10, 40.0, 3),  # track (proton, proton + e-)
        (1, 0, 12, 11, 0.5, 2),                            # delta ray touching the track: not separate
        (1, 0, 10, 50, 2.0, 2),                            # a separate electron island 40 px away
        (1, 0, 40, 10, 0.05, 2),                           # below the island threshold
        (2, 1, 5, 5, 3.0, 4), (2, 1, 6, 5, 1.0, 4),        # a photon's island with no track in sensor 1
    ])
    found = secondary_island_distances(pixels)
    assert found["PRIMID"].tolist() == [1, 2] and found["DETID"].tolist() == [0, 1]
    assert found["DISTANCE"][0] == pytest.approx(40.0) and np.isnan(found["DISTANCE"][1])
    assert found["X"][1] == pytest.approx(5.25) and found["N_PIX"].tolist() == [1, 2]
    assert found["XRAY_LIKE"].tolist() == [True, True]


def test_secondary_step_distances_on_known_steps():
    mm = PIXEL_PITCH_UM / 1000.0  # one pixel in mm
    columns = ("Event", "Volume", "Parent", "ID", "Step", "Edep", "Particle",
               "LPre-X", "LPre-Y", "LPost-X", "LPost-Y")
    steps = Table(rows=[
        (1, "DEPFETA", 0, 1, 1, 10.0, "proton", 0.0, 0.0, 0.0, 5 * mm),       # track along y, 10 px
        (1, "DEPFETA", 0, 1, 2, 10.0, "proton", 0.0, 5 * mm, 0.0, 10 * mm),
        (1, "DEPFETA", 1, 2, 1, 1.0, "e-", 3 * mm, 4 * mm, 3 * mm, 4 * mm),   # 3 px beside the track
        (1, "DEPFETA", 1, 3, 1, 2.0, "gamma", 0.0, 14 * mm, 0.0, 14 * mm),    # 4 px past its end
        (1, "DEPFETB", 1, 4, 1, 2.0, "e-", 0.0, 0.0, 0.0, 0.0),               # no track in DEPFETB
    ], names=columns)
    found = secondary_step_distances(steps)
    by_particle = {(p, v): d for p, v, d in zip(found["PARTICLE"], found["VOLUME"], found["DISTANCE"])}
    assert by_particle["e-", "DEPFETA"] == pytest.approx(3.0)
    assert by_particle["gamma", "DEPFETA"] == pytest.approx(4.0)
    assert np.isnan(by_particle["e-", "DEPFETB"])


def test_the_run_is_found_in_the_data_folder_and_geant4_dir_is_deprecated():
    from pathlib import Path

    from crmask_wfi.sim import geant4

    assert geant4.GEANT4_SUBDIR == "wfi_geant4" and "GEANT4_DIR" not in geant4.__all__
    with pytest.warns(DeprecationWarning, match="'GEANT4_DIR' is deprecated; use 'crmask.cli_options.data_folder"):
        assert geant4.GEANT4_DIR == Path("../shared/data/wfi_geant4")
