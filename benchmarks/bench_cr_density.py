"""False positives of each detector as a function of the cosmic-ray density of the frame.

The same realistic synthetic scene (``crmask.data.synthetic``, stars and galaxies,
sky, read noise) gets the benchmark footprints (``fp_id % 5 == 0``) at several
densities, from none to the crowded 1000 per megapixel of the training frames.
Real exposures hold tens to a few hundred per megapixel. For each detector at
its operating point (shipped threshold, LACosmic defaults) the table gives
the clean pixels flagged per megapixel and the TPR. A detector whose
false positives grow as cosmic rays become rare normalises by the content of
what it sees (group normalisation without cosmic rays to set the scale
amplifies the noise). Usage::

    python benchmarks/bench_cr_density.py --data ../shared/data [--detector NAME[:WEIGHTS] ...] [--size 1024]
"""

from __future__ import annotations

import argparse

import numpy as np

import crmask
from crmask.cli_options import parse_args_with_data
from crmask.data.footprints import load_footprints
from crmask.data.synthetic import FrameSpec, make_frame

DENSITIES = (0.0, 10.0, 100.0, 1000.0)
DEFAULT_DETECTORS = ("lacosmic", "deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn")


def _detector(item: str):
    name, _, weights = item.partition(":")
    return crmask.get_detector(name, weights=weights) if weights else crmask.get_detector(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", action="append", default=None, metavar="NAME[:WEIGHTS]")
    parser.add_argument("--size", type=int, default=1024, help="frame side in pixels")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=1)
    args = parse_args_with_data(parser, help="shared real-data folder with cr_footprints_itl.fits.gz")

    import torch

    torch.set_num_threads(args.threads)
    library = load_footprints(args.data / "cr_footprints_itl.fits.gz", subset="test")
    items = args.detector or list(DEFAULT_DETECTORS)
    detectors = {item: _detector(item) for item in items}
    print(f"frame {args.size} x {args.size}, seed {args.seed}, benchmark footprints; clean pixels flagged per Mpix "
          "(TPR) at each detector's operating point")
    print(f"{'detector':<40}" + "".join(f"{f'{d:g} CR/Mpix':>22}" for d in DENSITIES))
    frames = [make_frame((args.size, args.size), FrameSpec(cr_density=d), rng=np.random.default_rng(args.seed),
                         footprints=library) for d in DENSITIES]
    mpix = args.size**2 / 1e6
    for item, detector in detectors.items():
        cells = []
        for frame in frames:
            flagged = detector.detect(frame.ccd).mask
            clean = ~(frame.crmask | frame.faint)
            fp = np.sum(flagged & clean) / mpix
            tpr = np.sum(flagged & frame.crmask) / frame.crmask.sum() if frame.crmask.any() else float("nan")
            cells.append(f"{fp:12.0f} ({tpr:.3f})" if np.isfinite(tpr) else f"{fp:12.0f} (  –  )")
        print(f"{item:<40}" + "".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
