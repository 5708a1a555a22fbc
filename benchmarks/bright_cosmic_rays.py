"""How bright may a cosmic ray be before a detector passes over it? (U-Net defaults against LACosmic, on real frames.)

The shipped networks flag tracks and spots of 3,000 e- per pixel and pass
over most of them at 30,000 e- (``tests/unet/test_bright_cosmic_rays.py``,
on a flat sky). This script measures it on real frames: each frame gets the
footprint catalogue's validation split (`crmask_unet.data.split_footprints`)
at 250 cosmic rays per Mpix, each footprint scaled so that its brightest
pixel holds ``PEAK`` e- (the frame's saturation clips it, as it would), the
same placements for every ``PEAK``. Each detector runs as shipped (its own
threshold) and the fraction of the injected cosmic-ray pixels (3-sigma
truth, the frame's own cosmic rays and defects left out) it flags is
reported per ``PEAK``.

A footprint scaled by its brightest pixel keeps its faint parts faint.
``--scale mean`` scales each so that its pixels hold ``PEAK`` e- on
average instead: cosmic rays bright all over, as the spots and thick
tracks the networks passed over (the brightest pixel then holds more).

    python benchmarks/bright_cosmic_rays.py --data ../shared/data --frames sprat-4,saao,gmos,m51 \\
        --detector deepcr --detector att-deepcr --detector cosmic-conn --detector att-cosmic-conn \\
        --detector lacosmic -o benchmarks/results/unet_real_study/bright_cosmic_rays.json

``--detector LABEL=NAME:WEIGHTS`` runs a U-Net detector with other weights.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from one_pixel_hits import measure_detectors, probe_options  # a sibling script  # noqa: E402

PEAKS = (1e3, 3e3, 1e4, 3e4)
DENSITY = 250.0  # cosmic rays per Mpix, as the validation frames of training


def peak_scaled(library, peak: float):
    """``library`` with every footprint's charge scaled so that its brightest pixel holds ``peak`` e-."""
    brightest = np.maximum.reduceat(library.charge.astype(np.float64), library.offsets[:-1])
    per_pixel = np.repeat(peak / brightest, np.diff(library.offsets))
    return dataclasses.replace(library, charge=library.charge * per_pixel)


def mean_scaled(library, mean: float):
    """``library`` with every footprint's charge scaled so that its pixels hold ``mean`` e- on average."""
    charge = library.charge.astype(np.float64)
    counts = np.diff(library.offsets)
    per_pixel = np.repeat(mean * counts / np.add.reduceat(charge, library.offsets[:-1]), counts)
    return dataclasses.replace(library, charge=library.charge * per_pixel)


#: How a footprint is scaled to a charge (``--scale``).
SCALINGS = {"peak": peak_scaled, "mean": mean_scaled}


def found_fractions(detector, frames, library, peaks=PEAKS, scale: str = "peak") -> dict[str, dict[str, float]]:
    """Per frame, the fraction of the injected cosmic-ray pixels flagged at each charge (``scale``: the
    brightest pixel's, or the mean pixel's, see `SCALINGS`), the number of cosmic rays and the fewest cosmic-ray
    pixels counted at any charge."""
    import astropy.units as u
    from astropy.io.fits import Header
    from astropy.nddata import CCDData

    from crmask.data.footprints import inject_footprints

    scaled = {peak: SCALINGS[scale](library, peak) for peak in peaks}
    out = {}
    for frame in frames:
        electrons = np.asarray(frame.data, dtype=np.float32) * np.float32(frame.gain)
        satlevel = None if frame.satlevel is None else frame.satlevel * frame.gain
        header = Header({"RDNOISE": frame.readnoise})
        if satlevel is not None:
            header["SATURATE"] = satlevel
        n = int(round(DENSITY * electrons.size / 1e6))
        row, pixels = {}, []
        for peak in peaks:
            injection = inject_footprints(electrons, scaled[peak], n, gain=1.0,
                                          readnoise=frame.readnoise, rng=np.random.default_rng(0), satlevel=satlevel)
            counted = injection.mask & ~(frame.own_crs | frame.defects)
            mask = detector.detect(CCDData(injection.data, unit=u.electron, header=header, mask=frame.defects)).mask
            row[f"{peak:g}"] = float(mask[counted].mean())
            pixels.append(int(np.count_nonzero(counted)))
        row["cosmic_rays"], row["pixels"] = n, min(pixels)
        out[frame.name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    opts = probe_options(__doc__.splitlines()[0], argv, lambda parser: parser.add_argument(
        "--scale", choices=tuple(SCALINGS), default="peak",
        help="scale each footprint by its brightest pixel's charge (default) or its pixels' mean"))

    from crmask.bench.sources import load_real_frames
    from crmask_unet.data import split_footprints

    frames = list(load_real_frames(opts.data, opts.frames.split(",")).values())
    library = split_footprints(str(opts.data / "cr_footprints_itl.fits.gz"), "val")
    print(f"fraction of cosmic-ray pixels flagged, by the {'brightest' if opts.scale == 'peak' else 'mean'} "
          "pixel's charge (e-): " + ", ".join(f"{p:g}" for p in PEAKS))
    results = measure_detectors(opts.detector,
                                lambda detector: found_fractions(detector, frames, library, scale=opts.scale),
                                [f"{p:g}" for p in PEAKS], "cosmic_rays")
    if opts.output:
        opts.output.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "peaks": PEAKS,
                                           "scale": opts.scale,
                                           "density_per_mpix": DENSITY, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
