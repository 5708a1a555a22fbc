"""A ccdproc reduction of a raw SPRAT frame with crmask's cosmic-ray cleaning.

The bundled frame (``examples/data/v_e_20180810_12_1_0_0.fits.gz``) is a raw
120 s Liverpool Telescope SPRAT exposure in adu: no overscan, no bias frame,
``GAIN = 2.45`` in the header and no read noise keyword (the instrument's
read noise is 5.7 electrons). The script

1. subtracts the pedestal (bias plus a little dark and sky, the clipped
   median of the frame),
2. adds the per-pixel uncertainty (Poisson plus read noise) with ccdproc,
3. converts to electrons with ccdproc's ``gain_correct``,
4. finds and cleans cosmic rays with `crmask.cosmicray_clean` (in electrons
   the gain is not applied again; the read noise is given explicitly),
5. writes the result (data, uncertainty, mask, provenance header).

Usage::

    python examples/reduce_sprat.py [-o reduced.fits] [--detector lacosmic] [--param sigclip=5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import ccdproc
import numpy as np
from astropy.nddata import CCDData
from astropy.stats import sigma_clipped_stats

import crmask

RAW = Path(__file__).resolve().parent / "data" / "v_e_20180810_12_1_0_0.fits.gz"
READNOISE = 5.7 * u.electron  # SPRAT instrument page; not in the header


def reduce(raw: Path, detector: str = "lacosmic", **params) -> CCDData:
    """Reduce one raw SPRAT frame; return the cleaned frame in electrons."""
    ccd = CCDData.read(raw, unit="adu")
    gain = ccd.header["GAIN"] * u.electron / u.adu

    _, pedestal, _ = sigma_clipped_stats(ccd.data, sigma=3)
    ccd = ccd.subtract(pedestal * u.adu, handle_meta="first_found")
    ccd.meta["PEDESTAL"] = float(pedestal)  # adu, clipped median subtracted
    ccd = ccdproc.create_deviation(ccd, gain=gain, readnoise=READNOISE, disregard_nan=True)
    ccd = ccdproc.gain_correct(ccd, gain)
    return crmask.cosmicray_clean(ccd, detector=detector, readnoise=READNOISE.value, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=RAW, help="raw SPRAT frame (default: bundled)")
    parser.add_argument("-o", "--output", type=Path, default=Path("reduced_sprat.fits"))
    parser.add_argument("--detector", default="lacosmic", help="registered detector name")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="detector parameter (repeatable)")
    args = parser.parse_args()
    from crmask.cli import parse_params

    clean = reduce(args.raw, args.detector, **parse_params(args.detector, tuple(args.param)))
    clean.write(args.output, overwrite=True)

    n_cr = clean.header["CRMNPIX"]
    print(f"{args.raw.name}: {n_cr} cosmic-ray pixels ({n_cr / clean.data.size:.2e} of the frame) "
          f"found by {clean.header['CRMDET']}; unit {clean.unit}; "
          f"largest cleaned value {np.nanmax(clean.data):.0f} e-")
    print(f"written {args.output} (extensions: data, UNCERT, MASK)")


if __name__ == "__main__":
    main()
