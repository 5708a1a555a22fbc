"""Two faster CPU paths for the shipped U-Nets, against the detector's eager float32 one, in the same run.

Each shipped default network, prepared as the detector runs it
(`crmask_unet.inference.prepare_for_inference`: batch norm folded, split
skip convolutions, channels-last), runs on a 512 x 512 tile (the detector's
tile) of a real frame (SPRAT exposure 1 from ``crmask bench build``'s
``repeats`` set, in the model's input units), three ways interleaved over the
repeats: eagerly in float32, through ``torch.compile`` (inductor), and
eagerly under bfloat16 autocast. For each, the best time, the ratio to
eager float32 and the largest difference of the probabilities from it (the
fast-inference issue allows 1e-3); for the compiled network also the
compilation and warm-up time. The detector uses neither: this script is
the evidence for that choice. Usage::

    python benchmarks/bench_unet_paths.py --sets bench-sets [--threads 1] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

MODELS = ("deepcr-general-16", "att-deepcr-general", "cosmic-conn-general", "att-cosmic-conn-general")


def _seconds(func, x) -> float:
    """Wall time of one ``func(x)`` without autograd."""
    import torch

    with torch.inference_mode():
        start = time.perf_counter()
        func(x)
        return time.perf_counter() - start


def _tile(sets: Path, size: int):
    """A ``size`` x ``size`` tile of SPRAT exposure 1 in electrons (float32)."""
    from crmask.bench.dataset import read_bench_image

    image = read_bench_image(sets / "repeats" / "v_e_20180810_12_1_0_0.fits")
    electrons = np.asarray(image.ccd.data, dtype=np.float32) * np.float32(image.ccd.header["GAIN"])
    if min(electrons.shape) < size:
        electrons = np.pad(electrons, [(0, max(size - n, 0)) for n in electrons.shape], mode="reflect")
    return electrons[:size, :size]


def main(argv: list[str] | None = None) -> int:
    import torch
    from crmask_unet.detector import normalise
    from crmask_unet.inference import MEMORY_FORMAT, prepare_for_inference
    from crmask_unet.weights import load_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, required=True, help="folder of the sets built by crmask bench build")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tile", type=int, default=512)
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    electrons = _tile(opts.sets, opts.tile)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {opts.tile} x {opts.tile} tile of SPRAT "
          f"exposure 1, best of {opts.repeats}")
    print("| model | eager float32 ms | compiled ms (ratio) | compile + warm-up s | compiled max difference "
          "| bfloat16 ms (ratio) | bfloat16 max difference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in MODELS:
        loaded = load_weights(name)
        eager = prepare_for_inference(loaded.network().eval())
        norm = loaded.normalisation
        x = torch.from_numpy(normalise(electrons, np.zeros(electrons.shape, dtype=bool), norm.scheme, norm.scale))
        x = x[None, None].contiguous(memory_format=MEMORY_FORMAT)

        def bfloat16(tile, net=eager):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return net(tile).float()

        start = time.perf_counter()
        compiled = torch.compile(eager)
        with torch.inference_mode():
            compiled(x)
        setup = time.perf_counter() - start
        paths = {"eager": eager, "compiled": compiled, "bfloat16": bfloat16}
        times = {path: [] for path in paths}
        for _ in range(opts.repeats):  # interleaved: a load change hits every path
            for path, func in paths.items():
                times[path].append(_seconds(func, x))
        with torch.inference_mode():
            reference = torch.sigmoid(eager(x))
            diff = {path: float((torch.sigmoid(paths[path](x)) - reference).abs().max())
                    for path in ("compiled", "bfloat16")}
        best = {path: min(t) for path, t in times.items()}
        print(f"| {name} | {best['eager'] * 1e3:.1f} | {best['compiled'] * 1e3:.1f} "
              f"({best['compiled'] / best['eager']:.2f}) | {setup:.1f} | {diff['compiled']:.1e} "
              f"| {best['bfloat16'] * 1e3:.1f} ({best['bfloat16'] / best['eager']:.2f}) | {diff['bfloat16']:.1e} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
