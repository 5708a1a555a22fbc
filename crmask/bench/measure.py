"""Wall time, CPU time and peak memory of one call.

Peak memory is the largest growth of the process's resident set size (RSS)
above its value at the start, sampled from ``/proc/self/statm`` by a
background thread every few milliseconds, so it sees every allocation
(numpy, C extensions, torch). Before the start, garbage is collected and
glibc is asked to return freed heap memory (``malloc_trim``), so that memory
freed by an earlier call is not silently reused and missed. Where ``/proc`` is absent, numpy and Python
allocations are traced with `tracemalloc` instead (C libraries that bypass
Python's allocator are then missed); `Measurement.memory_method` says which.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measurement", "measure", "available_threads"]

_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def available_threads() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _release_memory() -> None:
    """Collect garbage and return free heap pages to the system (glibc only)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _rss_bytes() -> int:
    return int(_STATM.read_text().split()[1]) * _PAGE


@dataclass
class Measurement:
    """What `measure` records.

    Attributes
    ----------
    wall_s : float
        Elapsed time.
    cpu_s : float
        CPU time of the process (all threads).
    peak_mb : float
        Peak memory growth above the start, MiB.
    memory_method : str
        ``"rss"`` or ``"tracemalloc"``.
    """

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    memory_method: str = "rss"

    @property
    def cores_used(self) -> float:
        """Average number of busy cores, ``cpu_s / wall_s``."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class measure:
    """Context manager measuring the code in its block.

    Examples
    --------
    >>> with measure() as m:
    ...     total = sum(range(1000))
    >>> m.wall_s >= 0
    True
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.result = Measurement(memory_method="rss" if _STATM.exists() else "tracemalloc")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._start_rss = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> Measurement:
        _release_memory()
        if self.result.memory_method == "rss":
            self._start_rss = self._peak = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            tracemalloc.start()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self.result

    def __exit__(self, *exc) -> None:
        self.result.wall_s = time.perf_counter() - self._wall
        self.result.cpu_s = time.process_time() - self._cpu
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes())
            self.result.peak_mb = (self._peak - self._start_rss) / 2**20
        else:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            self.result.peak_mb = peak / 2**20
