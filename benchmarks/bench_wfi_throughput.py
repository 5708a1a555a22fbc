"""Throughput of the WFI simulator and of the classic grade filter on 512 x 512 frames, one core.

Measures, on the same simulated frames (default rates: one X-ray and one CR
event per frame):

* ``simulate``: `crmask_wfi.sim.simulate.simulate_frames`, frames/s;
* ``noise``: its peer, drawing the read noise alone (``Generator.standard_normal``
  in float32), the floor any simulator of these frames pays;
* ``classic``: ``crmask.get_detector("classic").filter`` on a stack of frames
  in electrons (unit handling, reconstruction, grading), frames/s;
* ``reconstruct``: the filter's own work without the core's frame
  validation (`crmask_wfi.events.reconstruct.reconstruct_scaled` on the electron array);
* ``peer``: a plain full-frame implementation of the same local-maximum
  search (``scipy.ndimage.maximum_filter`` over every pixel), frames/s;
  its events are checked to be identical to the classic filter's.

The classic/peer ratio shows what searching only rows that reach the event
threshold gains. The goal is 200 frames/s on one core: the WFI reads each
quadrant every 5 ms (52.4 Mpix/s per quadrant). Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_wfi_throughput.py [--frames 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import astropy.units as u
import numpy as np
from scipy import ndimage

import crmask
from crmask_wfi.events.reconstruct import EVENT_THRESHOLD_KEV, reconstruct_scaled
from crmask_wfi.sim.physics import KEV_PER_ELECTRON
from crmask_wfi.sim.simulate import simulate_frames


def peer_local_maxima(frames_kev: np.ndarray) -> np.ndarray:
    """Event centres found by a full-frame 3x3 maximum filter: (frame, y, x) rows, raster order."""
    peaks = ndimage.maximum_filter(frames_kev, size=(1, 3, 3), mode="constant", cval=0.0)
    centres = (frames_kev == peaks) & (frames_kev >= EVENT_THRESHOLD_KEV)
    return np.argwhere(centres)


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="512x512 frames per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    n = args.frames
    t_sim = best_of(lambda: simulate_frames(n, seed=args.seed), args.repeats)
    rng = np.random.default_rng(args.seed)
    t_noise = best_of(lambda: rng.standard_normal((n, 512, 512), dtype=np.float32), args.repeats)
    sim = simulate_frames(n, seed=args.seed)
    frames = sim.signal * u.electron
    frames_kev = sim.signal * np.float32(KEV_PER_ELECTRON)
    classic = crmask.get_detector("classic")

    events = classic.filter(frames)
    peer = peer_local_maxima(frames_kev)
    ours = np.stack([events["FRAME"], events["Y"], events["X"]], axis=1)
    assert np.array_equal(peer, ours), "classic filter and full-frame peer found different events"

    t_classic = best_of(lambda: classic.filter(frames), args.repeats)
    t_reco = best_of(lambda: reconstruct_scaled(sim.signal, KEV_PER_ELECTRON), args.repeats)
    t_peer = best_of(lambda: peer_local_maxima(frames_kev), args.repeats)
    print(f"{n} frames of 512x512, default rates, seed {args.seed}; CPUs visible {os.cpu_count()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; best of {args.repeats}")
    print(f"events per frame: {len(events) / n:.2f}")
    timings = (("simulate", t_sim), ("noise", t_noise), ("classic", t_classic), ("reconstruct", t_reco),
               ("peer", t_peer))
    for name, seconds in timings:
        print(f"{name:11s} {n / seconds:8.1f} frames/s  ({seconds / n * 1e3:6.2f} ms/frame, "
              f"{n * 512 * 512 / seconds / 1e6:6.1f} Mpix/s)")
    print(f"simulate / noise time ratio: {t_sim / t_noise:.2f}")
    print(f"classic / peer speed ratio: {t_peer / t_classic:.2f}")
    print(f"classic vs the 200 frames/s goal: {n / t_classic / 200:.2f}x")


if __name__ == "__main__":
    main()
