"""Peak memory of ``crmask wfi filter`` on a FITS cube of many quadrant frames.

Writes a cube of ``--frames`` 512 x 512 float32 frames in electrons (the
frames of a ``--distinct``-frame simulation, repeated; written with
`astropy.io.fits.StreamingHDU`, so the cube is never in memory here), then
runs ``crmask wfi filter`` on it in a child process per filter and reports
the child's peak resident memory (``ru_maxrss`` from `os.wait4`, by
`crmask.memory.maxrss_bytes`). Memory must
not grow with the number of frames: the target is < 2 GB for 10^4 frames
(issue 13). Peak memory, not time, is measured, so the numbers hold on a
loaded machine; the cube needs about 1 GB of disk per 1,000 frames.

Usage::

    python benchmarks/bench_wfi_filter_memory.py --frames 10000 -f classic -f wfi-cam-rf
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from crmask_wfi.sim.simulate import simulate_frames

from crmask.memory import maxrss_bytes, peak_rss_bytes

#: Peak memory the filter may use, bytes (issue 13: 10^4 frames in < 2 GB).
LIMIT_BYTES = 2 * 1024**3


def write_cube(path: Path, n_frames: int, distinct: int, seed: int) -> None:
    """Write ``n_frames`` frames, cycling through ``distinct`` simulated ones."""
    signal = simulate_frames(distinct, seed=seed).signal.astype(np.float32)
    header = fits.PrimaryHDU(np.zeros((1, *signal.shape[1:]), np.float32)).header
    header["NAXIS3"] = n_frames
    header["BUNIT"] = "electron"
    stream = fits.StreamingHDU(path, header)
    try:
        for start in range(0, n_frames, distinct):
            stream.write(signal[: min(distinct, n_frames - start)])
    finally:
        stream.close()


def peak_memory(command: list[str]) -> tuple[int, str]:
    """Run ``command``; return its peak resident memory in bytes and its output."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{output}")
    return maxrss_bytes(usage), output.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames in the cube (default 10000)")
    parser.add_argument("--distinct", type=int, default=100, help="distinct simulated frames (default 100)")
    parser.add_argument("-f", "--filter", dest="filters", action="append", help="event filter (repeatable; "
                        "default classic)")
    parser.add_argument("--chunk", type=int, default=None, help="frames per chunk (default: the CLI's)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the cube goes (default: a temporary directory, removed afterwards)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    filters = args.filters or ["classic"]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        cube = Path(tmp) / "cube.fits"
        write_cube(cube, args.frames, args.distinct, args.seed)
        print(f"{args.frames} frames of 512x512 float32: {cube.stat().st_size / 1e9:.2f} GB on disk")
        print(f"{'filter':<12} {'peak RSS (GB)':>14} {'< 2 GB':>7}  output")
        failed = False
        for name in filters:
            command = [sys.executable, "-c", "from crmask.cli import main; main()",
                       "wfi", "filter", str(cube), "-f", name, "-o", str(Path(tmp) / f"{name}.fits")]
            if args.chunk:
                command += ["--chunk", str(args.chunk)]
            peak, output = peak_memory(command)
            ok = peak < LIMIT_BYTES
            failed |= not ok
            print(f"{name:<12} {peak / 1024**3:>14.2f} {'yes' if ok else 'NO':>7}  {output.splitlines()[-1]}")
    print(f"(this script, which wrote the cube: {peak_rss_bytes() / 1024**3:.2f} GB peak)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
