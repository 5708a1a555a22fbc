"""Draw the mask figures of the "Getting started" page.

Usage::

    python docs/scripts/plot_masks.py [OUTDIR]      # default: docs/images

Calibrates the bundled SPRAT frame as ``examples/reduce_sprat.py`` does
(pedestal subtracted, the bundled hot-pixel mask applied, electrons), runs
``lacosmic`` and ``deepcr`` on it and draws each mask with `crmask.plot_mask`
against the truth mask from the five repeated exposures: the whole frame
above, a zoomed region with five cosmic-ray events below. Writes
``OUTDIR/masks_lacosmic.png`` and ``OUTDIR/masks_deepcr.png``. Needs
``../shared/data/sprat_lhs6328`` beside the checkout (the truth masks).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from matplotlib.figure import Figure

import crmask

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import reduce_sprat  # noqa: E402  (the example script is the one calibration)

TRUTH = ROOT / ".." / "shared" / "data" / "sprat_lhs6328" / "v_e_20180810_12_1_0_0_crmask.fits.gz"
#: Two zooms holding five of the frame's eight cosmic-ray events in the truth mask (rows, columns).
#: A third holds part of the stellar trace, where a detector may flag the star.
ZOOMS = (np.s_[190:218, 502:542], np.s_[224:254, 715:765], np.s_[110:150, 640:700])
DETECTORS = ("lacosmic", "deepcr")


def draw(ccd, result, truth: np.ndarray, detector: str) -> Figure:
    """The whole frame above, the `ZOOMS` below, all coloured against ``truth``."""
    fig = Figure(figsize=(9.0, 5.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.45))
    crmask.plot_mask(ccd, result, truth=truth, ax=top.add_subplot(),
                     title=f"{detector} on SPRAT v_e_20180810_12_1 (calibrated, hot pixels masked)")
    for number, (region, ax) in enumerate(zip(ZOOMS, bottom.subplots(1, len(ZOOMS))), start=1):
        ys, xs = region
        top.axes[0].add_patch(_box(xs, ys))
        top.axes[0].annotate(str(number), (xs.start, ys.start), color="white", ha="right", va="top")
        crmask.plot_mask(ccd, result, truth=truth, region=region, ax=ax, title=f"zoom {number}")
        legend = ax.get_legend()  # below the zoom rather than beside it: three zooms share the width
        legend.set_loc("upper center")
        legend.set_bbox_to_anchor((0.5, -0.34))
    return fig


def _box(xs: slice, ys: slice):
    from matplotlib.patches import Rectangle

    return Rectangle((xs.start - 0.5, ys.start - 0.5), xs.stop - xs.start, ys.stop - ys.start,
                     fill=False, edgecolor="white", lw=1.0)


def main(outdir: Path) -> None:
    if not TRUTH.exists():
        sys.exit(f"plot_masks.py needs the shared SPRAT data: {TRUTH} not found")
    outdir.mkdir(parents=True, exist_ok=True)
    ccd = reduce_sprat.calibrate(reduce_sprat.RAW, fits.getdata(reduce_sprat.HOT_PIXELS).astype(bool))
    truth = fits.getdata(TRUTH).astype(bool)
    for detector in DETECTORS:
        params = {"readnoise": reduce_sprat.READNOISE} if detector == "lacosmic" else {}
        result = crmask.get_detector(detector, **params).detect(ccd)
        path = outdir / f"masks_{detector}.png"
        draw(ccd, result, truth, detector).savefig(path, dpi=80)
        print(f"{path}: {result.n_cr_pixels} CR pixels, {int((result.mask & truth).sum())} of {int(truth.sum())} "
              f"true ones")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
