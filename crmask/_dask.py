"""Dask cluster plumbing for per-file jobs: connect, map, collect as completed.

Used by `crmask.batch` (and by any other job that runs one task per file,
such as a benchmark run); `dask.distributed` is imported on use only.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterator, Sequence, TypeVar

from .exceptions import CrmaskError, error_line

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "TaskOutcome",
    "failure_message",
    "map_as_completed",
    "open_client",
    "require_distributed",
    "worker_builds",
    "worker_cached",
]

T = TypeVar("T")

_WORKER_CACHE: dict[Hashable, Any] = {}
_WORKER_BUILDS: Counter = Counter()
_WORKER_LOCK = threading.Lock()


def require_distributed():
    """Import and return `distributed`, or raise a `CrmaskError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise CrmaskError(
            "batch processing needs dask.distributed; install it with: pip install 'crmask[dask]'"
        ) from None
    return distributed


@contextlib.contextmanager
def open_client(
    scheduler: Client | str | None = None,
    n_workers: int | None = None,
    *,
    retries: int = 3,
    memory_limit: str | float | None = "auto",
) -> Iterator[Client]:
    """Connect to a Dask cluster for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : `distributed.Client`, str or None
        An existing client (used as is and left open), a scheduler address
        such as ``"tcp://10.0.0.5:8786"`` (connected to, the cluster left
        running), or `None` / ``"local"`` for a new local cluster of worker
        processes, shut down on exit.
    n_workers : int, optional
        Worker processes of a new local cluster (one thread each); default:
        one per CPU core. Not allowed with an existing cluster.
    retries : int
        For a new local cluster: how many times a file whose worker died is
        run again before it is reported as failed (the scheduler's
        ``distributed.scheduler.allowed-failures``). An existing scheduler
        keeps its own setting.
    memory_limit : str or float or None
        Memory limit of each local worker (Dask's syntax, e.g. ``"4GiB"``);
        ``"auto"`` shares the machine's memory between the workers.

    Yields
    ------
    distributed.Client
    """
    distributed = require_distributed()
    if isinstance(scheduler, distributed.Client):
        if n_workers is not None:
            raise ValueError("n_workers applies only to a new local cluster, not to an existing client")
        yield scheduler
        return
    if scheduler is not None and scheduler != "local":
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be a Client, an address or 'local', got {type(scheduler).__name__}")
        if n_workers is not None:
            raise ValueError(f"n_workers applies only to a new local cluster, not to the scheduler at {scheduler}")
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise CrmaskError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    if n_workers is not None and (isinstance(n_workers, bool) or n_workers < 1):
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=":0",  # a free port: never clash with another cluster on 8787
            silence_logs=logging.ERROR,
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


@dataclass(frozen=True)
class TaskOutcome:
    """One finished task of `map_as_completed`.

    Attributes
    ----------
    index : int
        Position of the item in the input sequence.
    item : object
        The item.
    value : object
        What the task returned (`None` if it failed).
    error : BaseException or None
        Why it failed: the exception it raised, or
        `distributed.KilledWorker` when its workers kept dying.
    """

    index: int
    item: Any
    value: Any = None
    error: BaseException | None = None


def map_as_completed(
    client: Client,
    func: Callable[..., Any],
    items: Sequence[Any],
    *args: Any,
    progress: bool = True,
    desc: str = "files",
    **kwargs: Any,
) -> Iterator[TaskOutcome]:
    """Run ``func(item, *args, **kwargs)`` for every item, yielding results as they finish.

    Each item is its own task, so slow items do not hold up fast ones and a
    task that raises is reported without stopping the others. A task whose
    worker dies is re-run by the scheduler on another worker. Keep ``args``
    and ``kwargs`` small (they travel with every task): send a
    `~crmask.batch.DetectorSpec`, not a detector with a loaded model.
    Keyword names that `distributed.Client.submit` uses itself (``key``,
    ``workers``, ``retries``, ...) cannot be passed through.

    Parameters
    ----------
    client : `distributed.Client`
    func : callable
        Importable on the workers (a module-level function).
    items : sequence
        One task per item.
    *args, **kwargs
        Passed to every call.
    progress : bool
        Show a tqdm progress bar on stderr.
    desc : str
        Label of the progress bar.

    Yields
    ------
    TaskOutcome
        In completion order.
    """
    distributed = require_distributed()
    from tqdm.auto import tqdm

    token = uuid.uuid4().hex[:8]
    name = getattr(func, "__name__", "task")
    futures = {
        client.submit(func, item, *args, key=f"{name}-{token}-{index}", pure=False, retries=0, **kwargs): (index, item)
        for index, item in enumerate(items)
    }
    with tqdm(total=len(futures), desc=desc, unit="file", disable=not progress, file=sys.stderr) as bar:
        for future in distributed.as_completed(futures):
            index, item = futures.pop(future)
            if future.status == "finished":
                outcome = TaskOutcome(index, item, value=future.result())
            else:
                outcome = TaskOutcome(index, item, error=future.exception())
            future.release()
            bar.update()
            yield outcome


def failure_message(error: BaseException) -> str:
    """One-line reason for a task that failed with ``error``."""
    distributed = require_distributed()
    if isinstance(error, distributed.KilledWorker):
        return "the worker processing this file died every time it was tried (out of memory?)"
    return error_line(error)


def worker_cached(key: Hashable, build: Callable[[], T]) -> T:
    """Return this process's object for ``key``, calling ``build()`` on first use.

    Called inside a task, this gives one object per worker process (a
    detector and its loaded model), shared by every task the worker runs.

    Parameters
    ----------
    key : hashable
        Identity of the object, e.g. a detector's class and parameters.
    build : callable
        Creates the object; called at most once per key and process.
    """
    with _WORKER_LOCK:
        if key not in _WORKER_CACHE:
            _WORKER_CACHE[key] = build()
            _WORKER_BUILDS[key] += 1
        return _WORKER_CACHE[key]


def worker_builds() -> dict[Hashable, int]:
    """How many times this process built each object of `worker_cached` (for tests and diagnostics)."""
    with _WORKER_LOCK:
        return dict(_WORKER_BUILDS)
