"""Memory of this process: its resident set size (RSS), its peak, and the peak growth during a block.

One measurement serves the package: `peak_rss_bytes` is the high-water mark
of the process (``crmask detect``'s per-file records on Dask workers, the
memory tests), `maxrss_bytes` reads the same quantity from a finished child's
resource usage, and `track_peak_memory` the largest growth of the RSS while
a block runs (``crmask bench``'s ``peak_mb``).

On Linux the high-water mark is ``VmHWM`` of ``/proc/self/status``, the
peak of this process's own pages. ``getrusage``'s ``ru_maxrss`` (the
fallback elsewhere) also keeps the largest RSS of the process before an
``exec`` and counts the parent's memory at the ``fork`` that started it
(proc(5), getrusage(2)).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

__all__ = ["rss_bytes", "peak_rss_bytes", "maxrss_bytes", "PeakMemory", "track_peak_memory"]

_STATM = Path("/proc/self/statm")
_STATUS = Path("/proc/self/status")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Resident set size of this process now, in bytes (`None` without ``/proc``)."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE
    except OSError:
        return None


def maxrss_bytes(usage) -> int:
    """``ru_maxrss`` of a `resource.struct_rusage` in bytes (it is in KiB, in bytes on macOS).

    Parameters
    ----------
    usage : resource.struct_rusage
        From `resource.getrusage` or `os.wait4` (a finished child's peak).
    """
    return int(usage.ru_maxrss) * (1 if sys.platform == "darwin" else 1024)


def peak_rss_bytes() -> int | None:
    """Peak resident set size of this process in bytes (`None` where unknown).

    ``VmHWM`` of ``/proc/self/status`` on Linux, ``getrusage``'s
    ``ru_maxrss`` elsewhere (see the module notes).
    """
    try:
        with _STATUS.open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF))


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


@dataclass
class PeakMemory:
    """What `track_peak_memory` records.

    Attributes
    ----------
    peak_mb : float
        Largest growth above the start, MiB (set when the block ends).
    method : str
        ``"rss"`` (resident set size, sampled) or ``"tracemalloc"``.
    """

    peak_mb: float = 0.0
    method: str = "rss"


class track_peak_memory:
    """Context manager recording the largest memory growth while its block runs.

    The RSS is sampled from ``/proc/self/statm`` by a background thread every
    ``interval`` seconds, so every allocation counts (numpy, C extensions,
    torch); a peak shorter than the interval can be missed. Before the start,
    garbage is collected and glibc is asked to return freed heap memory
    (``malloc_trim``), so that memory freed by an earlier call is not
    silently reused and missed. Without ``/proc``, Python and numpy
    allocations are traced with `tracemalloc` instead (C libraries that
    bypass Python's allocator are then missed); `PeakMemory.method` says
    which.

    Parameters
    ----------
    interval : float
        Seconds between RSS samples.

    Examples
    --------
    >>> import numpy as np
    >>> with track_peak_memory() as memory:
    ...     block = np.ones(2**25)  # 256 MiB
    >>> memory.peak_mb > 200
    True
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.result = PeakMemory(method="rss" if _STATM.exists() else "tracemalloc")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = self._start = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        _release_memory()
        if self.result.method == "rss":
            self._start = self._peak = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            tracemalloc.start()
        return self.result

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, rss_bytes())
            self.result.peak_mb = (self._peak - self._start) / 2**20
        else:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            self.result.peak_mb = peak / 2**20
