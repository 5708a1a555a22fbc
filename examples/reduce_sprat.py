"""A ccdproc reduction of a raw SPRAT frame with crmask's cosmic-ray cleaning.

The bundled frame (``examples/data/v_e_20180810_12_1_0_0.fits.gz``) is a raw
120 s Liverpool Telescope SPRAT exposure in adu: no overscan, no bias frame,
``GAIN = 2.45`` in the header and no read noise keyword (the instrument's
read noise is 5.7 electrons). The script

1. subtracts the pedestal: with no overscan and no bias frame, the
   sigma-clipped median of the frame (bias plus a little dark and sky,
   about 917 adu), recorded as ``PEDESTAL``;
2. masks the hot pixels of a dark frame, when one is given (by default the
   SPRAT dark in ``../shared/data/sprat_lhs6328`` when it is present): pixels
   more than 5 clipped standard deviations above the dark's clipped median,
   counted in ``NHOTPIX``; masked pixels are never reported as cosmic rays;
3. adds the per-pixel uncertainty (Poisson plus read noise) with ccdproc;
4. converts to electrons with ccdproc's ``gain_correct``;
5. finds and cleans cosmic rays with `crmask.cosmicray_clean` (in electrons
   the gain is not applied again; the read noise is given explicitly);
6. writes the result as ``crmask detect`` does (data, ``MASK``, ``UNCERT``,
   ``CRMASK``, provenance header) and says in one line what it found.

Usage::

    python examples/reduce_sprat.py [-o reduced.fits] [--dark dark.fits | --no-dark] [--detector lacosmic]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import ccdproc
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.stats import sigma_clipped_stats
from scipy import ndimage

import crmask
from crmask.io import write_cleaned

HERE = Path(__file__).resolve().parent
RAW = HERE / "data" / "v_e_20180810_12_1_0_0.fits.gz"
#: The SPRAT dark beside a checkout (600 s, bias-subtracted, adu); absent in a fresh clone.
SHARED_DARK = HERE.parent / ".." / "shared" / "data" / "sprat_lhs6328" / "v_dark_1.fits.gz"
READNOISE = 5.7 * u.electron  # SPRAT instrument page; not in the header
HOT_SIGMA = 5.0


def hot_pixels(dark: Path, sigma: float = HOT_SIGMA) -> np.ndarray:
    """Pixels of ``dark`` more than ``sigma`` clipped standard deviations above its clipped median."""
    data = fits.getdata(dark).astype(float)
    _, median, std = sigma_clipped_stats(data, sigma=3)
    return data > median + sigma * std


def calibrate(raw: Path, dark: Path | None = None) -> CCDData:
    """Pedestal-subtract, mask hot pixels, add the uncertainty and convert to electrons."""
    ccd = CCDData.read(raw, unit="adu")
    gain = ccd.header["GAIN"] * u.electron / u.adu

    _, pedestal, _ = sigma_clipped_stats(ccd.data, sigma=3)
    ccd = ccd.subtract(pedestal * u.adu, handle_meta="first_found")
    ccd.meta["PEDESTAL"] = (float(pedestal), "adu, clipped median subtracted")
    hot = hot_pixels(dark) if dark is not None else np.zeros(ccd.shape, dtype=bool)
    if hot.shape != ccd.shape:
        raise ValueError(f"dark {dark} has shape {hot.shape}, the frame {ccd.shape}")
    ccd.mask = hot
    ccd.meta["NHOTPIX"] = (int(hot.sum()), f"hot pixels masked, from {dark.name if dark else 'no dark'}")
    ccd = ccdproc.create_deviation(ccd, gain=gain, readnoise=READNOISE, disregard_nan=True)
    return ccdproc.gain_correct(ccd, gain)


def clean_cosmic_rays(ccd: CCDData, detector: str = "lacosmic", **params) -> CCDData:
    """Find and clean the cosmic rays of a calibrated frame (the read noise is given to detectors that use it)."""
    if "readnoise" in crmask.get_detector_class(detector).parameters:
        params.setdefault("readnoise", READNOISE)
    return crmask.cosmicray_clean(ccd, detector=detector, **params)


def reduce(raw: Path, detector: str = "lacosmic", dark: Path | None = None, **params) -> CCDData:
    """Reduce one raw SPRAT frame; return the cleaned frame in electrons."""
    return clean_cosmic_rays(calibrate(raw, dark), detector, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=RAW, help="raw SPRAT frame (default: bundled)")
    parser.add_argument("-o", "--output", type=Path, default=Path("reduced_sprat.fits"))
    darks = parser.add_mutually_exclusive_group()
    darks.add_argument("--dark", type=Path, default=SHARED_DARK if SHARED_DARK.exists() else None,
                       help="dark frame for the hot-pixel mask (default: the shared SPRAT dark when present)")
    darks.add_argument("--no-dark", dest="dark", action="store_const", const=None, help="mask no hot pixels")
    parser.add_argument("--detector", default="lacosmic", help="registered detector name")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="detector parameter (repeatable)")
    args = parser.parse_args()
    from crmask.cli import parse_params

    ccd = calibrate(args.raw, args.dark)
    clean = clean_cosmic_rays(ccd, args.detector, **parse_params(args.detector, tuple(args.param)))
    cosmic = clean.mask & ~ccd.mask
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_cleaned(clean, cosmic, args.output, overwrite=True)

    _, n_events = ndimage.label(cosmic, structure=np.ones((3, 3)))
    header = clean.header
    print(f"{args.raw.name}: {header['CRMDET']} found {header['CRMNPIX']} cosmic-ray pixels in {n_events} events "
          f"after subtracting a {header['PEDESTAL']:.0f} adu pedestal and masking {header['NHOTPIX']} hot pixels; "
          f"written {args.output} (electrons; MASK, UNCERT, CRMASK)")


if __name__ == "__main__":
    main()
