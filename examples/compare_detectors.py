"""Benchmark detectors on a small common set and show their ROC curves.

The set is built with `crmask.bench.build`: real cosmic rays (LSST ITL dark
footprints, exact truth) injected into real SPRAT and GMOS frames when the
shared test data (``../shared/data``) is present, otherwise synthetic frames
(`crmask.data.synthetic`). Both detectors then run through the benchmark runner
(`crmask.bench.runner.run_benchmark`) -- the same metrics, the same files,
in the same run -- and the report (Markdown and ECSV tables, ROC and
precision-recall curves as PNG) is written to ``--outdir``.

By default two detectors are compared: ``lacosmic`` and the attention
U-Net ``att-cosmic-conn``; when the U-Net cannot run here (not installed, or
no weights), ``lacosmic`` with the PSF-convolved fine-structure model
(``fsmode=convolve``) takes its place. ``--all`` runs every registered image
detector that can run here (the documentation's benchmark page is made so).

Usage::

    python examples/compare_detectors.py [-o compare/] [--show]
    python examples/compare_detectors.py --detector lacosmic --detector deepcr=att-deepcr
    python examples/compare_detectors.py --all
"""

from __future__ import annotations

import argparse
from pathlib import Path

import crmask
from crmask.bench.build import build_injected, build_synthetic
from crmask.bench.report import aggregate, markdown_table, write_report
from crmask.bench.runner import BenchDetector, run_benchmark
from crmask.testing import conformance_image

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FALLBACK = BenchDetector("lacosmic-convolve", "lacosmic", {"fsmode": "convolve"})
#: A short sweep for detectors without a probability map (LACosmic); `crmask
#: bench` sweeps a finer grid by default.
SWEEP = {"sigclip": (3.0, 4.5, 6.0, 10.0), "objlim": (2.0, 5.0)}


def can_run(spec: BenchDetector) -> str | None:
    """Return why ``spec`` cannot run here (not registered, no weights, ...), or None."""
    try:
        crmask.get_detector(spec.name, **spec.params).detect(conformance_image()[0])
    except crmask.CrmaskError as exc:
        return str(exc)
    return None


def runnable_detectors() -> list[BenchDetector]:
    """Every registered image detector that can run here, with its default parameters."""
    specs = []
    for info in crmask.list_detectors():
        spec = BenchDetector(info.name, info.name)
        reason = "missing " + ", ".join(info.missing) if info.missing else can_run(spec)
        if reason is None:
            specs.append(spec)
        else:
            print(f"skipping {info.name}: {reason}")
    return specs


def build_small_set(workdir: Path, seed: int = 0) -> Path:
    """Build a small benchmark set: injected real CRs if the shared data is here, else synthetic."""
    if (SHARED_DATA / "cr_footprints_itl.fits.gz").exists():
        return build_injected(SHARED_DATA, workdir / "injected", seed=seed, n_sprat=2, n_gmos=1, overwrite=True)
    print(f"shared data not found at {SHARED_DATA}: using synthetic frames")
    return build_synthetic(workdir / "synthetic", seed=seed, n_frames=2, shape=(512, 512), overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", action="append", metavar="[LABEL=]NAME",
                        help="detector to compare (repeatable; default: lacosmic and att-cosmic-conn)")
    parser.add_argument("--all", action="store_true", help="compare every detector that can run here")
    parser.add_argument("-o", "--outdir", type=Path, default=Path("compare"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="show the ROC plot in a window")
    args = parser.parse_args()

    if args.all:
        specs = runnable_detectors()
    elif args.detector:
        specs = [BenchDetector.parse(text) for text in args.detector]
    else:
        specs = [BenchDetector("lacosmic", "lacosmic"), BenchDetector("att-cosmic-conn", "att-cosmic-conn")]
        if (reason := can_run(specs[1])) is not None:
            print(f"att-cosmic-conn cannot run here ({reason}); comparing with {FALLBACK.label} instead")
            specs[1] = FALLBACK

    data = build_small_set(args.outdir / "data", args.seed)
    results = run_benchmark([data], specs, args.outdir, sweep=SWEEP)
    paths = write_report(results, args.outdir)
    print(markdown_table(aggregate(results)))
    print(f"report: {paths['markdown']}; ROC curves: {paths['roc']}")

    if args.show:
        import matplotlib.image
        import matplotlib.pyplot as plt

        plt.imshow(matplotlib.image.imread(paths["roc"]))
        plt.axis("off")
        plt.show()


if __name__ == "__main__":
    main()
