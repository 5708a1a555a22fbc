"""Throughput of `crmask.batch.detect_many` on a local Dask cluster: 1, 2, 4 ... workers.

Synthetic 2048 x 4096 frames (`crmask.data.synthetic.make_frame`, seeded) are
written once; then, for each detector and each worker count, a fresh local
cluster (one thread per worker process) cleans all of them, writing every
output. The clock covers the whole `detect_many` call after the workers have
started and built their detector (cluster start-up is not included; reading,
cleaning and writing are). Reported per run:

* ``frames_per_s`` and ``speedup`` against one worker in the same run;
* ``cpu_s_per_frame`` and ``cores_busy`` (total CPU time over wall time:
  below the number of workers when the machine had fewer free cores);
* ``baseline_mib``: a worker's resident memory once started with its
  detector built;
* ``peak_mib_max``: the largest peak resident memory of a worker process
  during the run (baseline included).

Usage::

    python benchmarks/bench_dask_scaling.py [--workers 1 2 4] [--frames 8]
        [--detector lacosmic --detector att-cosmic-conn] [--output scaling.ecsv]

A detector that is not registered here is skipped with a message. The
speed-up cannot exceed the number of free CPU cores: say how many the
machine had when quoting the numbers (the script prints it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

import crmask
from crmask import batch
from crmask.cli import parse_params
from crmask.exceptions import UnknownDetectorError
from crmask.data.synthetic import make_frame


def write_frames(folder: Path, n_frames: int, shape: tuple[int, int], seed: int) -> list[Path]:
    """Write ``n_frames`` synthetic frames of ``shape`` as FITS; return their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(n_frames):
        frame = make_frame(shape, rng=rng)
        path = folder / f"frame{index:03d}.fits"
        frame.ccd.write(path)
        paths.append(path)
    return paths


def usable(spec: batch.DetectorSpec) -> str | None:
    """Run the detector once on a small frame here; return why it cannot run, or None."""
    frame = make_frame((64, 64), rng=np.random.default_rng(0))
    try:
        spec.build().detect(frame.ccd)
    except crmask.CrmaskError as exc:
        return str(exc)
    return None


def _warm_up(spec: batch.DetectorSpec) -> float:
    """Build the worker's detector (and load its model); return the worker's resident memory in MiB."""
    import psutil

    spec.cached()
    return psutil.Process().memory_info().rss / 2**20


def markdown(table: Table) -> str:
    """The table as GitHub-flavoured Markdown, with each column's format."""
    lines = ["| " + " | ".join(table.colnames) + " |", "|" + "---|" * len(table.colnames)]
    for row in table:
        cells = [format(row[c], table[c].format or "") for c in table.colnames]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_one(spec: batch.DetectorSpec, paths: list[Path], n_workers: int, outdir: Path) -> dict:
    """Clean ``paths`` on a fresh local cluster of ``n_workers``; return one result row."""
    with batch.open_client(n_workers=n_workers) as client:
        client.wait_for_workers(n_workers)
        baseline = client.run(_warm_up, spec)
        start = time.perf_counter()
        result = batch.detect_many(paths, spec.build(), client, outdir=outdir, overwrite=True, progress=False)
        wall = time.perf_counter() - start
    if result.failed:
        raise RuntimeError(f"{len(result.failed)} files failed, e.g. {result.failed[0].error}")
    peaks = {}
    for item in result:
        peaks[item.worker] = max(peaks.get(item.worker, 0.0), item.peak_memory_mb)
    return {
        "detector": spec.name,
        "workers": n_workers,
        "frames": len(paths),
        "wall_s": wall,
        "frames_per_s": len(paths) / wall,
        "cpu_s_per_frame": sum(item.cpu_seconds for item in result) / len(paths),
        "cores_busy": sum(item.cpu_seconds for item in result) / wall,
        "baseline_mib": float(np.mean(list(baseline.values()))),
        "peak_mib_max": max(peaks.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--frames", type=int, default=8, help="frames per run (default 8)")
    parser.add_argument("--shape", type=int, nargs=2, default=[4096, 2048], metavar=("NY", "NX"))
    parser.add_argument("--detector", action="append", help="detector name (repeatable); "
                        "default: lacosmic and att-cosmic-conn")
    parser.add_argument("--param", action="append", default=[], metavar="DETECTOR:KEY=VALUE",
                        help="detector parameter, e.g. att-cosmic-conn:device=cpu")
    parser.add_argument("--seed", type=int, default=2048)
    parser.add_argument("--output", type=Path, help="also write the table here (ECSV)")
    args = parser.parse_args()
    detectors = args.detector or ["lacosmic", "att-cosmic-conn"]
    if 1 not in args.workers:
        parser.error("--workers must include 1: speed-up is measured against one worker")

    specs = []
    for name in detectors:
        raw = tuple(p.split(":", 1)[1] for p in args.param if p.split(":", 1)[0] == name)
        try:
            params = parse_params(name, raw)
        except UnknownDetectorError:
            print(f"skipping {name!r}: not registered here (registered: "
                  f"{', '.join(d.name for d in crmask.list_detectors())})")
            continue
        spec = batch.DetectorSpec.from_detector(name, params)
        reason = usable(spec)
        if reason is not None:
            print(f"skipping {name!r}: it cannot run here: {reason}")
            continue
        specs.append(spec)

    shape = tuple(args.shape)
    rows = []
    with tempfile.TemporaryDirectory(prefix="crmask-scaling-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        paths = write_frames(folder, args.frames, shape, args.seed)
        print(f"{args.frames} frames of {shape[1]}x{shape[0]} written in {time.perf_counter() - start:.0f} s; "
              f"CPUs visible: {os.cpu_count()}")
        for spec in specs:
            for n_workers in sorted(args.workers):
                row = run_one(spec, paths, n_workers, folder / f"out-{spec.name}-{n_workers}")
                rows.append(row)
                print(f"  {spec.name} {n_workers} worker(s): {row['frames_per_s']:.3f} frames/s, "
                      f"peak {row['peak_mib_max']:.0f} MiB/worker")

    table = Table(rows=rows, names=list(rows[0]) if rows else None)
    if rows:
        base = {r["detector"]: r["frames_per_s"] for r in rows if r["workers"] == 1}
        table["speedup"] = [r["frames_per_s"] / base[r["detector"]] for r in rows]
        for col in ("wall_s", "frames_per_s", "speedup", "baseline_mib", "peak_mib_max"):
            table[col].format = {"frames_per_s": ".4f", "speedup": ".2f"}.get(col, ".0f")
        for col in ("cpu_s_per_frame", "cores_busy"):
            table[col].format = ".2f"
        table.meta.update({"shape": list(shape), "cpus": os.cpu_count(), "seed": args.seed})
        print()
        print(markdown(table))
        if args.output:
            table.write(args.output, format="ascii.ecsv", overwrite=True)


if __name__ == "__main__":
    main()
