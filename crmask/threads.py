"""Thread limits for a block of code: torch's intra-op threads and the OpenMP/BLAS pools.

`torch_threads` sets the number of threads torch computes with and puts the
previous number back when the block ends (also on an error), so that a
detector's ``threads`` parameter does not leak into the caller's process.
`limit_threads` does the same for every thread pool already loaded (through
`threadpoolctl`, when installed) and for torch, when something has imported
it. Neither imports torch at crmask import time.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["torch_threads", "limit_threads"]


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (`torch.set_num_threads`), then restore the previous number.

    Parameters
    ----------
    threads : int or None
        Number of threads; `None` leaves torch's setting as it is.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> with torch_threads(1):  # doctest: +SKIP
    ...     torch.get_num_threads()
    1
    """
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def limit_threads(threads: int | None) -> Iterator[None]:
    """Limit the threads of OpenMP/BLAS pools (threadpoolctl) and torch inside the block.

    Only libraries already loaded are limited, so call it after a first run;
    torch is limited only when it has been imported. Without threadpoolctl
    only torch is limited.

    Parameters
    ----------
    threads : int or None
        Number of threads; `None` limits nothing.
    """
    if threads is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            stack.enter_context(threadpool_limits(limits=threads))
        if "torch" in sys.modules:
            stack.enter_context(torch_threads(threads))
        yield
