"""CPU wall time of the four U-Net detectors vs astroscrappy (``lacosmic``) on one 2048 x 4096 frame.

Every detector runs through ``Detector.detect`` on the same realistic
synthetic frame (``crmask.data.synthetic``, 4096 rows x 2048 columns, 8.4 Mpix),
interleaved over the repeats so that load changes hit all of them alike;
the best of the repeats is reported in s/Mpix with its ratio to
astroscrappy's time. ``--paper-config`` also times an untrained UNet-3-32
(the published deepCR size) to show what the default architecture costs.
For each network the table also gives the floating-point operations per
megapixel of a whole tiled run (``torch.utils.flop_counter``, one
multiply-add counted as 2), the rate they were done at, and that rate as a
fraction of the machine's measured peak (a 2048 x 2048 float32 matrix
product on the same threads). The number of CPU threads torch and the
machine use is printed. Usage::

    python benchmarks/bench_unet_speed.py [--repeats 3] [--threads N] [--paper-config] [--also deepcr:deepcr-general-16]

``--also DETECTOR:WEIGHTS`` times more models (a shipped model name or a
weights file) with the same detector code.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import crmask
from crmask.data.synthetic import make_frame

DETECTORS = ("deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn")


def _paper_sized_weights(path: str) -> str:
    """Save an untrained UNet-3-32 deepCR network (timing only, its output is meaningless)."""
    import torch

    from crmask_unet.model import UNet, UNetConfig
    from crmask_unet.weights import Normalisation, save_weights

    torch.manual_seed(0)
    save_weights(path, UNet(UNetConfig(depth=3, width=32, norm="batch")), "deepcr", Normalisation("scale", 100.0))
    return path


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a float32 ``size`` x ``size`` matrix product, best of ``repeats``."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def network_flops(detector, ccd) -> float:
    """Floating-point operations of the network over one tiled run of ``detector`` on ``ccd``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        detector.detect(ccd)
    return float(counter.get_total_flops())


def speed_frame():
    """The 4096 x 2048 synthetic frame (8.4 Mpix, `CCDData`) every speed ratio is measured on."""
    return make_frame((4096, 2048), rng=np.random.default_rng(2024)).ccd


def best_times(detectors: dict, ccd, repeats: int) -> dict[str, float]:
    """Best wall time (s) of each detector's ``detect`` on ``ccd``, the repeats interleaved.

    Interleaving makes a change of the machine's load hit every detector
    alike; weights are loaded before the timing.
    """
    for det in detectors.values():
        if hasattr(det, "model"):
            det.model()
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(repeats):
        for name, det in detectors.items():
            times[name].append(_timed(lambda: det.detect(ccd)))
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--paper-config", action="store_true", help="also time an untrained UNet-3-32")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--also", action="append", default=[], metavar="DETECTOR:WEIGHTS",
                        help="also time this detector with these weights (repeatable)")
    args = parser.parse_args()

    import tempfile

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    ccd = speed_frame()
    mpix = ccd.data.size / 1e6
    detectors = {"lacosmic": crmask.get_detector("lacosmic")}
    for name in DETECTORS:
        detectors[name] = crmask.get_detector(name, device="cpu", tile=args.tile)
    for item in args.also:
        name, _, weights = item.partition(":")
        if not weights:
            parser.error(f"--also needs DETECTOR:WEIGHTS, got {item!r}")
        detectors[f"{name}, {weights}"] = crmask.get_detector(name, weights=weights, device="cpu", tile=args.tile)
    tmp = tempfile.TemporaryDirectory()
    if args.paper_config:
        weights = _paper_sized_weights(os.path.join(tmp.name, "unet-3-32.safetensors"))
        detectors["UNet-3-32 (untrained)"] = crmask.get_detector("deepcr", weights=weights, device="cpu",
                                                                 tile=args.tile)
    times = best_times(detectors, ccd, args.repeats)

    print(f"frame {ccd.shape[0]} x {ccd.shape[1]} ({mpix:.1f} Mpix), best of {args.repeats}; "
          f"torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    base = times["lacosmic"]
    peak = matmul_peak(torch.get_num_threads())
    print(f"float32 matrix-product peak: {peak:.1f} GFLOP/s")
    print(f"{'detector':<36} {'s':>8} {'s/Mpix':>8} {'ratio vs astroscrappy':>22} {'GFLOP/Mpix':>11} "
          f"{'GFLOP/s':>8} {'of peak':>8}")
    for name, best in times.items():
        row = f"{name:<36} {best:8.2f} {best / mpix:8.3f} {best / base:22.2f}"
        if hasattr(detectors[name], "model"):
            flops = network_flops(detectors[name], ccd)
            row += f" {flops / mpix / 1e9:11.1f} {flops / best / 1e9:8.1f} {flops / best / 1e9 / peak:8.0%}"
        print(row)


if __name__ == "__main__":
    main()
