"""Does ``torch.compile`` speed up the shipped U-Nets' CPU inference? Eager against compiled, same run.

Each shipped default network, prepared as the detector runs it
(`crmask_unet.inference.prepare_for_inference`: batch norm folded, split
skip convolutions, channels-last), runs on 512 x 512 tiles (the detector's
tile) of a noise image, eagerly and through ``torch.compile`` (inductor),
interleaved over the repeats; the best time of each is reported with the
compilation and warm-up time and the largest difference of the
probabilities. The detector does not compile: this script is the evidence
for that choice. Usage::

    python benchmarks/bench_unet_compile.py [--threads 1] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time

MODELS = ("deepcr-general-16", "att-deepcr-general", "cosmic-conn-general", "att-cosmic-conn-general")


def _best(func, x, repeats: int) -> float:
    import torch

    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            func(x)
            best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    import torch
    from crmask_unet.inference import MEMORY_FORMAT, prepare_for_inference
    from crmask_unet.weights import load_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tile", type=int, default=512)
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    torch.manual_seed(0)
    x = torch.randn(1, 1, opts.tile, opts.tile).contiguous(memory_format=MEMORY_FORMAT)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {opts.tile} x {opts.tile} tile, "
          f"best of {opts.repeats}")
    print("| model | eager ms | compiled ms | compiled / eager | compile + warm-up s | max probability difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in MODELS:
        eager = prepare_for_inference(load_weights(name).network().eval())
        start = time.perf_counter()
        compiled = torch.compile(eager)
        with torch.inference_mode():
            compiled(x)
        setup = time.perf_counter() - start
        times = {"eager": [], "compiled": []}
        for _ in range(opts.repeats):  # interleaved: a load change hits both
            times["eager"].append(_best(eager, x, 1))
            times["compiled"].append(_best(compiled, x, 1))
        with torch.inference_mode():
            diff = float((torch.sigmoid(eager(x)) - torch.sigmoid(compiled(x))).abs().max())
        t_eager, t_compiled = min(times["eager"]), min(times["compiled"])
        print(f"| {name} | {t_eager * 1e3:.1f} | {t_compiled * 1e3:.1f} | {t_compiled / t_eager:.2f} | {setup:.1f} "
              f"| {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
