"""Wall time, CPU time and peak memory of one call.

Peak memory is the largest growth of the process's resident set size above
its value at the start (`crmask.memory.track_peak_memory`, which says how it
is sampled and what it misses).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..memory import track_peak_memory

__all__ = ["Measurement", "measure", "available_threads"]


def available_threads() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
        self._memory = track_peak_memory(interval)
        self.result = Measurement(memory_method=self._memory.result.method)

    def __enter__(self) -> Measurement:
        self._memory.__enter__()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self.result

    def __exit__(self, *exc) -> None:
        self.result.wall_s = time.perf_counter() - self._wall
        self.result.cpu_s = time.process_time() - self._cpu
        self._memory.__exit__(*exc)
        self.result.peak_mb = self._memory.result.peak_mb
