"""Wall time of crmask.cosmicray_clean(detector="lacosmic") vs ccdproc.cosmicray_lacosmic.

Both run on the same 2048 x 4096 frame with the same parameters, alternately,
so the ratio shows what the crmask wrapper (validation, provenance, masks)
adds on top of astroscrappy. Usage::

    python benchmarks/bench_clean_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from astropy.nddata import CCDData

import ccdproc
import crmask


def make_frame(seed: int = 0, shape=(4096, 2048)) -> CCDData:
    """A sky + noise frame with a few hundred single-pixel and short-track hits."""
    rng = np.random.default_rng(seed)
    gain, readnoise, sky = 2.0, 5.0, 300.0
    data = (rng.poisson(sky * gain, shape) + rng.normal(0, readnoise, shape)) / gain
    ys, xs = rng.integers(5, shape[0] - 5, 400), rng.integers(5, shape[1] - 5, 400)
    for k in range(4):
        data[ys + k * (xs % 2), xs + k] += rng.uniform(200, 3000, ys.size)
    return CCDData(data.astype(np.float32), unit="adu", header={"GAIN": gain, "RDNOISE": readnoise})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ccd = make_frame()
    times = {"ccdproc": [], "crmask": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        reference = ccdproc.cosmicray_lacosmic(ccd, gain=2.0, readnoise=5.0)
        times["ccdproc"].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours = crmask.cosmicray_clean(ccd, "lacosmic")
        times["crmask"].append(time.perf_counter() - start)
    assert np.array_equal(reference.mask, ours.mask), "masks differ"
    best = {k: min(v) for k, v in times.items()}
    print(f"image 2048x4096, CPUs visible: {os.cpu_count()}, repeats: {args.repeats} (best of)")
    for name, value in best.items():
        print(f"{name:8s} {value:7.2f} s  ({value / (2048 * 4096 / 1e6):.3f} s/Mpix)")
    print(f"ratio crmask/ccdproc: {best['crmask'] / best['ccdproc']:.3f}")


if __name__ == "__main__":
    main()
