"""Where Geant4 cosmic-ray secondaries land relative to their primary's track (shared run 0002).

Analysis only (issue 13, point 5): it trains nothing. Two views of the
public Geant4 WFI run in ``wfi_geant4`` of the shared data folder:

* pixel islands, as a frame shows them (`crmask_wfi.sim.geant4.secondary_island_distances`):
  islands of a primary's pixels (>= 0.1 keV, 8-connected) that its track
  does not touch, and the distance from each to the nearest track pixel in
  the same sensor, or on the array's common pixel grid when the primary
  crossed another sensor only;
* Geant4 steps (`crmask_wfi.sim.geant4.secondary_step_distances`): every
  secondary particle's energy-weighted position against its primary's
  track segment in the same sensor.

The distances are compared with the half width of the 64 x 64 sub-frame
the CAM sees (32 px) and with the 35-152 px that the context
(distance-to-track) features assume (``../shared/WFI_PHYSICS.md``).

Usage::

    python benchmarks/wfi_secondary_distance.py --data ../shared/data   # or set CRMASK_DATA
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from astropy.table import Table

from crmask.cli_options import parse_args_with_data
from crmask_wfi.sim.geant4 import (
    GEANT4_PIXELS_FILE,
    GEANT4_SUBDIR,
    read_pixels,
    read_step_log,
    secondary_island_distances,
    secondary_step_distances,
)

#: Distance bins (px): on the track, inside a 64 x 64 sub-frame's half width, up to the
#: 35-152 px of WFI_PHYSICS.md, and beyond.
EDGES_PX = (0.0, 1.0, 32.0, 35.0, 152.0, np.inf)


def distribution(distance: np.ndarray, where: str = "in the sensor") -> str:
    """Counts per `EDGES_PX` bin and percentiles of the finite distances (NaN: no track ``where``)."""
    finite = distance[np.isfinite(distance)]
    counts, _ = np.histogram(finite, bins=EDGES_PX)
    bins = ", ".join(f"{lo:g}-{hi:g} px: {n}" for lo, hi, n in zip(EDGES_PX[:-1], EDGES_PX[1:], counts))
    if not len(finite):
        return f"no track {where}: {int(np.sum(~np.isfinite(distance)))}"
    p10, p50, p90 = np.percentile(finite, [10, 50, 90])
    return (f"{len(finite)} with a track {where} ({bins}); percentiles 10/50/90 = "
            f"{p10:.1f}/{p50:.1f}/{p90:.1f} px, max {finite.max():.1f} px; "
            f"no track {where}: {int(np.sum(~np.isfinite(distance)))}")


def array_distance(islands: Table, pixels: Table) -> np.ndarray:
    """Distance (px, ACTX/ACTY grid) from each island to its primary's track on any sensor (NaN: none)."""
    track = (np.asarray(pixels["PARTYPE"]) & 1) > 0
    out = np.full(len(islands), np.nan)
    for i, row in enumerate(islands):
        mine = track & (np.asarray(pixels["PRIMID"]) == row["PRIMID"])
        if mine.any():
            out[i] = np.min(np.hypot(np.asarray(pixels["ACTX"])[mine] - row["X"],
                                     np.asarray(pixels["ACTY"])[mine] - row["Y"]))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    opts = parse_args_with_data(parser, argv, help=f"shared real-data folder with {GEANT4_SUBDIR}/")
    run = opts.data / GEANT4_SUBDIR
    pixels = read_pixels(run / GEANT4_PIXELS_FILE)
    steps = read_step_log(run / "20201006173157_StepLog_0002.gdat.gz")

    islands = secondary_island_distances(pixels)
    n_primaries = len(np.unique(np.asarray(pixels["PRIMID"])))
    print(f"Pixel islands of {n_primaries} primaries: {len(islands)} secondary islands "
          f"(not touching their primary's track)")
    print(f"  all:        {distribution(np.asarray(islands['DISTANCE']))}")
    xray = islands[islands["XRAY_LIKE"]]
    print(f"  X-ray-like: {distribution(np.asarray(xray['DISTANCE']))}")
    lone = islands[~np.isfinite(islands["DISTANCE"])]
    print(f"  the {len(lone)} without a track in their sensor, against the track on the whole array: "
          f"{distribution(array_distance(lone, pixels), 'on any sensor')}")

    print("Geant4 steps: each secondary particle's deposit against its primary's track segment")
    found = secondary_step_distances(steps)
    for particle in np.unique(np.asarray(found["PARTICLE"])):
        mine = found[found["PARTICLE"] == particle]
        print(f"  {particle:<6} {len(mine):>6} particles: {distribution(np.asarray(mine['DISTANCE']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
