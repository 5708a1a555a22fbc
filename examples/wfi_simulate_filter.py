"""Simulate WFI frames, run the X-ray event filters on them and compare the filters.

The ``crmask_wfi`` plugin simulates frames of an Athena-WFI-like DEPFET
detector (X-ray photons, cosmic-ray primaries and their secondaries, 7 e-
read noise, with a truth label for every pixel), reconstructs events and
filters them. This script

1. simulates ``--frames`` frames (seeded, so the run is reproducible) in
   batches of 100, so memory stays bounded whatever their number,
2. runs every registered event filter that can run here (the classic grade
   filter always; a machine-learning filter when its model is installed),
3. matches each event to the truth and prints, per energy band, recall,
   precision and F1 of the cosmic-ray class, the fraction of X-rays lost and
   the cosmic-ray fraction left in the accepted signal (FOR), with the FOR
   improvement over the classic filter,
4. saves the table (ECSV) and the comparison figure (PNG): unrejected
   cosmic-ray background spectrum, FOR improvement and lost X-rays per
   energy bin.

Only about one quadrant frame in a hundred holds a cosmic-ray event that the
grade filter lets through, so the default of 4,000 frames (under a minute
per filter) gives a few dozen; with fewer than `MIN_CR_EVENTS` the script
says the comparison is too thin to read.

Usage::

    python examples/wfi_simulate_filter.py [--frames 4000] [--shape 512 512] [-o wfi_compare/]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import crmask

#: Fewer cosmic-ray events than this (0.3-10 keV, after the reference filter) make the comparison meaningless.
MIN_CR_EVENTS = 20


def usable_filters() -> list:
    """Every registered event filter that can be built and run here, the classic filter first."""
    filters = []
    for info in crmask.list_event_filters():
        if not info.available:
            print(f"skipping {info.name}: missing {', '.join(info.missing)}")
            continue
        try:
            filters.append(crmask.get_detector(info.name))
        except crmask.CrmaskError as exc:
            print(f"skipping {info.name}: {exc}")
    filters.sort(key=lambda f: f.name != "classic")
    return filters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4000, help="frames to simulate (default 4000)")
    parser.add_argument("--shape", type=int, nargs=2, default=[512, 512], metavar=("NY", "NX"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--outdir", type=Path, default=Path("wfi_compare"))
    args = parser.parse_args()

    from crmask_wfi.report.bench import filter_simulated_batches
    from crmask_wfi.report.figures import plot_filter_comparison
    from crmask_wfi.report.metrics import event_metrics, metrics_table

    shape = tuple(args.shape)
    filters = usable_filters()
    results = filter_simulated_batches(filters, args.frames, seed=args.seed, shape=shape)
    for name, events in results.items():
        print(f"{name}: {len(events)} events, {int(events['CR_FLAG'].sum())} flagged as cosmic rays")
    n_cr = event_metrics(results[filters[0].name]).n_cr
    print(f"simulated {args.frames} frames of {shape[1]}x{shape[0]}: {n_cr} cosmic-ray events in 0.3-10 keV")
    if n_cr < MIN_CR_EVENTS:
        print(f"warning: only {n_cr} cosmic-ray events: too few to compare the filters; "
              f"use --frames {max(4000, 2 * args.frames)} or more")

    table = metrics_table(results, reference=filters[0].name)
    print()
    table.pprint_all()
    args.outdir.mkdir(parents=True, exist_ok=True)
    table.write(args.outdir / "metrics.ecsv", overwrite=True)
    plot_filter_comparison(results, args.frames, shape, args.outdir / "comparison.png", reference=filters[0].name)
    print(f"written {args.outdir}/")


if __name__ == "__main__":
    main()
