"""Throughput of the WFI event filters: 512x512 frames per second, ``wfi-cam-rf`` vs ``classic``.

Both filters run in the same process on the same simulated frames (default
rates: one X-ray and one cosmic-ray primary per frame), alternately, best of
``--repeats``. Three pipelines are timed:

* ``classic``: event reconstruction and grade cuts;
* ``wfi-cam-rf``: the shipped CAM + random-forest filter as registered
  (the DenseNet runs only on the 64x64 sub-frames that events' 5x5 windows
  touch);
* ``full-frame CAM``: the DenseNet on all 64 sub-frames of every frame, as
  the seed's pipeline computes the CAMs (network only, no events), for
  comparison.

The WFI real-time requirement is 800 quadrant-frames/s. Usage::

    python benchmarks/bench_wfi_ml_throughput.py [--frames 64] [--repeats 3] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import time

import astropy.units as u
import numpy as np

import crmask


def _best_time(function, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()

    import torch

    from crmask_wfi.camrf.cam import compute_cams
    from crmask_wfi.sim.simulate import electrons_to_kev, simulate_frames

    torch.set_num_threads(args.threads)
    frames = simulate_frames(args.frames, seed=args.seed).signal * u.electron
    classic = crmask.get_detector("classic")
    ml = crmask.get_detector("wfi-cam-rf", device=args.device, threads=args.threads)
    network = ml.model()["densenet"]
    frames_kev = np.asarray(electrons_to_kev(frames.value), dtype=np.float32)

    runs = {
        "classic": lambda: classic.filter(frames),
        "wfi-cam-rf": lambda: ml.filter(frames),
        "full-frame CAM": lambda: compute_cams(network, frames_kev, device=args.device),
    }
    for run in runs.values():  # warm-up: imports, weights, allocator
        run()
    seconds = {name: _best_time(run, args.repeats) for name, run in runs.items()}
    n_events = len(classic.filter(frames))
    print(f"{args.frames} frames of 512x512 ({n_events} events), device {args.device}, "
          f"torch threads {args.threads}, CPUs visible {os.cpu_count()}, best of {args.repeats}")
    for name, value in seconds.items():
        print(f"{name:15s} {args.frames / value:9.1f} frames/s   ({1e3 * value / args.frames:7.2f} ms/frame)")
    print(f"ratio wfi-cam-rf / classic frame rate: {seconds['classic'] / seconds['wfi-cam-rf']:.3f}")


if __name__ == "__main__":
    main()
