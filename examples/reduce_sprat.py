"""A ccdproc reduction of a raw SPRAT frame with crmask's cosmic-ray cleaning.

The bundled frame (``examples/data/v_e_20180810_12_1_0_0.fits.gz``) is a raw
120 s Liverpool Telescope SPRAT exposure in adu: no overscan, no bias frame,
``GAIN = 2.45`` in the header and no read noise keyword (the instrument's
read noise is 5.7 electrons). The script

1. subtracts the pedestal: with no overscan and no bias frame, the
   sigma-clipped median of the frame (bias plus a little dark and sky,
   about 917 adu), recorded as ``PEDESTAL``;
2. masks the hot pixels: pixels of a dark frame more than 5 clipped
   standard deviations above its clipped median (`hot_pixels`), counted in
   ``NHOTPIX``; masked pixels are never reported as cosmic rays. By default
   the mask bundled in ``examples/data/v_dark_1_hotpix.fits.gz``, made so
   from the SPRAT dark of the shared data (``v_dark_1.fits.gz``, 600 s), is
   used; ``--dark`` makes it from another dark, ``--no-dark`` masks nothing;
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
#: Hot pixels of the SPRAT dark (``hot_pixels`` of ``v_dark_1.fits.gz``), uint8, 1 = hot.
HOT_PIXELS = HERE / "data" / "v_dark_1_hotpix.fits.gz"
READNOISE = 5.7 * u.electron  # SPRAT instrument page; not in the header
HOT_SIGMA = 5.0


def hot_pixels(dark: Path, sigma: float = HOT_SIGMA) -> np.ndarray:
    """Pixels of ``dark`` more than ``sigma`` clipped standard deviations above its clipped median."""
    data = fits.getdata(dark).astype(float)
    _, median, std = sigma_clipped_stats(data, sigma=3)
    return data > median + sigma * std


def calibrate(raw: Path, hot: np.ndarray | None = None) -> CCDData:
    """Pedestal-subtract, mask the ``hot`` pixels, add the uncertainty and convert to electrons."""
    ccd = CCDData.read(raw, unit="adu")
    gain = ccd.header["GAIN"] * u.electron / u.adu

    _, pedestal, _ = sigma_clipped_stats(ccd.data, sigma=3)
    ccd = ccd.subtract(pedestal * u.adu, handle_meta="first_found")
    ccd.meta["PEDESTAL"] = (float(pedestal), "adu, clipped median subtracted")
    hot = np.zeros(ccd.shape, dtype=bool) if hot is None else hot
    if hot.shape != ccd.shape:
        raise ValueError(f"the hot-pixel mask has shape {hot.shape}, the frame {ccd.shape}")
    ccd.mask = hot
    ccd.meta["NHOTPIX"] = (int(hot.sum()), "hot pixels masked")
    ccd = ccdproc.create_deviation(ccd, gain=gain, readnoise=READNOISE, disregard_nan=True)
    return ccdproc.gain_correct(ccd, gain)


def clean_cosmic_rays(ccd: CCDData, detector: str = "lacosmic", **params) -> CCDData:
    """Find and clean the cosmic rays of a calibrated frame (the read noise is given to detectors that use it)."""
    if "readnoise" in crmask.get_detector_class(detector).parameters:
        params.setdefault("readnoise", READNOISE)
    return crmask.cosmicray_clean(ccd, detector=detector, **params)


def reduce(raw: Path, detector: str = "lacosmic", hot: np.ndarray | None = None, **params) -> CCDData:
    """Reduce one raw SPRAT frame; return the cleaned frame in electrons."""
    return clean_cosmic_rays(calibrate(raw, hot), detector, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=RAW, help="raw SPRAT frame (default: bundled)")
    parser.add_argument("-o", "--output", type=Path, default=Path("reduced_sprat.fits"))
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    darks = parser.add_mutually_exclusive_group()
    darks.add_argument("--dark", type=Path, default=None,
                       help="dark frame to find the hot pixels in (default: the bundled mask of the SPRAT dark)")
    darks.add_argument("--no-dark", action="store_true", help="mask no hot pixels")
    parser.add_argument("--detector", default="lacosmic", help="registered detector name")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="detector parameter (repeatable)")
    args = parser.parse_args()
    if args.output.exists() and not args.overwrite:
        parser.error(f"{args.output} exists; pass --overwrite to replace it")
    from crmask.cli import parse_params

    if args.no_dark:
        hot = None
    else:
        hot = hot_pixels(args.dark) if args.dark is not None else fits.getdata(HOT_PIXELS).astype(bool)
    ccd = calibrate(args.raw, hot)
    clean = clean_cosmic_rays(ccd, args.detector, **parse_params(args.detector, tuple(args.param)))
    cosmic = clean.mask & ~ccd.mask
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_cleaned(clean, cosmic, args.output, overwrite=args.overwrite)

    _, n_events = ndimage.label(cosmic, structure=np.ones((3, 3)))
    header = clean.header
    print(f"{args.raw.name}: {header['CRMDET']} found {header['CRMNPIX']} cosmic-ray pixels in {n_events} events "
          f"after subtracting a {header['PEDESTAL']:.0f} adu pedestal and masking {header['NHOTPIX']} hot pixels; "
          f"written {args.output} (electrons; MASK, UNCERT, CRMASK)")


if __name__ == "__main__":
    main()
