"""The one memory measurement of the package (`crmask.memory`), on allocations of known size."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import numpy as np
import pytest

from crmask.bench.measure import measure
from crmask.memory import maxrss_bytes, peak_rss_bytes, rss_bytes, track_peak_memory

MIB = 2**20

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux
def test_block_growth_is_the_size_of_what_it_allocates():
    with track_peak_memory() as memory:
        block = np.ones(64 * MIB // 8)  # 64 MiB, every page written
    assert memory.method == "rss"
    assert 60 <= memory.peak_mb <= 80
    del block
    with measure() as used:
        block = np.ones(32 * MIB // 8)
        time.sleep(0.2)  # a hundred samples
        del block  # freed before the end, still seen: the peak, not the final size
    assert 28 <= used.peak_mb <= 48 and used.memory_method == "rss" and used.wall_s > 0


@linux
def test_process_peak_is_the_high_water_mark():
    # the kernel batches RSS counts per thread (a few pages), so two reads agree to within a MiB
    block = np.ones(128 * MIB // 8)
    holding = rss_bytes()
    assert peak_rss_bytes() >= holding - MIB
    del block
    assert holding - rss_bytes() >= 120 * MIB  # freed (a large numpy block goes back to the system)
    assert peak_rss_bytes() >= holding - MIB  # the peak stays


@linux
def test_a_child_peak_read_from_its_resource_usage():
    code = "import numpy as np; a = np.ones(200 * 2**20 // 8); a.sum()"
    subprocess.run([sys.executable, "-c", code], check=True)
    children = maxrss_bytes(resource.getrusage(resource.RUSAGE_CHILDREN))
    assert children >= 200 * MIB  # KiB on Linux, converted
