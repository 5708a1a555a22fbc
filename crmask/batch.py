"""Cosmic-ray detection over many files on a Dask cluster.

`detect_many` maps FITS files to the workers of a `dask.distributed`
cluster. Each worker reads a file, cleans it with `~crmask.cosmicray_clean`
and writes the result atomically (`~crmask.io.write_cleaned`) as soon as it
is done, so a batch interrupted at any point leaves only complete outputs.
Only a small `FileResult` travels back to the client.

* **Detectors are built once per worker.** The client sends a
  `DetectorSpec` (class and parameters); each worker keeps the detectors it
  built, and any model they loaded, in a process-local cache.
* **Failures are per file.** A file that cannot be read or cleaned is
  reported in the `BatchResult` and the batch goes on. A file whose worker
  dies (killed, out of memory) is run again on another worker by the
  scheduler, up to ``retries`` times.
* **Memory per worker is bounded by one image.** A worker holds one image
  at a time (one thread per worker) plus a few working copies;
  array-model detectors (the U-Nets) process large images tile by tile
  (`crmask.tiling`), so their network activations do not grow with the
  image.

The same machinery (`open_client`, `map_as_completed`, `DetectorSpec`) is
meant for other per-file jobs such as benchmark runs.

Examples
--------
>>> from crmask.batch import detect_many
>>> result = detect_many(["a.fits", "b.fits"], "lacosmic", outdir="clean",
...                      readnoise=5.7, n_workers=2)  # doctest: +SKIP
>>> print(result.to_table())  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from astropy.table import Table

from ._dask import TaskOutcome, failure_message, map_as_completed, open_client, worker_builds, worker_cached
from .detector import Detector
from .exceptions import CrmaskError, OutputDirectoryError
from .files import check_output_dir, clean_file, plan_outputs, split_existing
from .memory import peak_rss_bytes
from .registry import load_plugin_file, plugin_file_of, resolve

if TYPE_CHECKING:  # dask is an optional dependency, imported on use
    from distributed import Client

__all__ = [
    "BatchResult",
    "DetectorSpec",
    "FileResult",
    "TaskOutcome",
    "detect_many",
    "map_as_completed",
    "open_client",
]


# --------------------------------------------------------------------------
# Detectors, built once per worker process
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorSpec:
    """A detector class and its parameters: what a worker needs to build it.

    Sending the spec instead of a detector keeps loaded models off the wire:
    each worker builds the detector on first use and reuses it (see
    `cached`). It is the one recipe for every per-file job on Dask
    (``crmask detect``, ``crmask bench``). A class loaded from a plugin file
    (`crmask.registry.load_plugin_file`) lives in a module that exists only
    in the process that loaded it, so its spec travels as the file's path and
    the class's name, and a worker loads the file itself.

    Attributes
    ----------
    cls : type
        A `~crmask.Detector` subclass, importable on the workers.
    params : tuple of (str, object)
        Its complete, validated parameters, sorted by name.
    """

    cls: type
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def from_detector(cls, detector: str | Detector, params: dict[str, Any] | None = None) -> DetectorSpec:
        """Validate a detector name (with parameters) or instance into a spec.

        Parameters
        ----------
        detector : str or `~crmask.Detector`
            A registered image-detector name, or a configured instance.
        params : dict, optional
            Parameters for a detector given by name.

        Raises
        ------
        UnknownDetectorError
            If the name is not registered.
        DetectorKindError
            For an X-ray event filter.
        ValueError
            For an invalid parameter, or parameters given with an instance.
        """
        instance = resolve(detector, "mask", params)
        return cls(type(instance), tuple(sorted(instance.get_params().items())))

    @property
    def name(self) -> str:
        """Registry name of the detector."""
        return self.cls.name

    @property
    def key(self) -> tuple[str, str, str]:
        """Hashable identity of the spec in a process's detector cache."""
        return (self.cls.__module__, self.cls.__qualname__, repr(self.params))

    def build(self) -> Detector:
        """Create a new detector from the spec."""
        return self.cls(**dict(self.params))

    def cached(self) -> Detector:
        """Return this process's detector for the spec, building it on first use.

        Called inside a worker's task, this gives one detector (and one
        loaded model) per worker process, shared by every file it handles
        (`crmask._dask.worker_cached`).
        """
        return worker_cached(self.key, self.build)

    def __reduce__(self):
        path = plugin_file_of(self.cls)
        if path is None:
            return type(self), (self.cls, self.params)
        return _spec_from_plugin_file, (str(path), self.cls.name, self.params)


def _spec_from_plugin_file(path: str, name: str, params: tuple[tuple[str, Any], ...]) -> DetectorSpec:
    """Rebuild a `DetectorSpec` of a plugin-file class in a process that has not loaded the file."""
    return DetectorSpec(load_plugin_file(path)[name], params)


def _detector_builds() -> dict[tuple, int]:
    """How many times this process built each cached detector (inspected by tests)."""
    return worker_builds()


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    """Outcome of one file of a batch.

    Attributes
    ----------
    path : str
        Input file.
    output : str or None
        File written (`None` when the file failed).
    status : {"done", "failed", "skipped"}
    n_cr_pixels : int or None
        Cosmic-ray pixels flagged.
    seconds : float or None
        Wall time of reading, cleaning and writing on the worker.
    cpu_seconds : float or None
        CPU time the worker process used meanwhile; well below ``seconds``
        when the worker waited for a busy CPU or for the disk.
    worker : str or None
        Address of the worker that processed the file.
    peak_memory_mb : float or None
        Peak resident memory of that worker process so far, in MiB.
    error : str or None
        One-line reason for a failure.
    """

    path: str
    output: str | None
    status: str
    n_cr_pixels: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    worker: str | None = None
    peak_memory_mb: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file was processed and written."""
        return self.status == "done"


@dataclass
class BatchResult:
    """Outcome of a batch: one `FileResult` per input file, in input order.

    Attributes
    ----------
    files : list of FileResult
    detector : str
        Detector name.
    run_id : str
        Id written to every output's ``CRMBATCH`` keyword.
    seconds : float
        Wall time of the whole batch, as seen by the client.
    """

    files: list[FileResult]
    detector: str
    run_id: str
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[FileResult]:
        return iter(self.files)

    @property
    def done(self) -> list[FileResult]:
        """Files processed and written."""
        return [f for f in self.files if f.ok]

    @property
    def failed(self) -> list[FileResult]:
        """Files that failed, each with its reason in ``error``."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def skipped(self) -> list[FileResult]:
        """Files left alone because their output existed (``skip_existing=True``)."""
        return [f for f in self.files if f.status == "skipped"]

    @property
    def ok(self) -> bool:
        """Whether no file failed (skipped files are not failures)."""
        return not self.failed

    def to_table(self) -> Table:
        """Return the per-file results as an `~astropy.table.Table`."""
        names = [f.name for f in FileResult.__dataclass_fields__.values()]
        rows = [asdict(f) for f in self.files]
        table = Table(rows=[[row[n] for n in names] for row in rows], names=names) if rows else Table(names=names)
        table.meta.update({"detector": self.detector, "run_id": self.run_id, "seconds": self.seconds})
        return table


# --------------------------------------------------------------------------
# The per-file job
# --------------------------------------------------------------------------


def _peak_memory_mb() -> float | None:
    """Peak resident set size of this process in MiB (`crmask.memory.peak_rss_bytes`; None where unknown)."""
    peak = peak_rss_bytes()
    return None if peak is None else peak / 2**20


def _detect_task(item: tuple[str, str], spec: DetectorSpec, options: dict[str, Any]) -> FileResult:
    """Run on a worker: clean ``item = (path, target)`` and report a `FileResult`.

    Bad input is reported in the result; only unexpected errors raise.
    """
    path, target = item
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):  # run outside a worker (tests, debugging)
        worker = None

    def result(**fields: Any) -> FileResult:
        return FileResult(path, seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start,
                          worker=worker, peak_memory_mb=_peak_memory_mb(), **fields)

    try:
        n_cr = clean_file(path, target, spec.cached(), **options)
    except CrmaskError as exc:
        return result(output=None, status="failed", error=str(exc))
    return result(output=target, status="done", n_cr_pixels=n_cr)


# --------------------------------------------------------------------------
# Output directory
# --------------------------------------------------------------------------


def _check_output_dir_on_workers(client: Client, outdir: Path) -> None:
    """Run `check_output_dir` on every worker; a remote worker may see another file system."""
    try:
        client.run(check_output_dir, str(outdir))
    except OutputDirectoryError as exc:
        raise OutputDirectoryError(f"on a Dask worker: {exc}") from None


# --------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------


def _plan_targets(paths: Sequence[Path], outdir: Path) -> tuple[list[tuple[int, Path, Path]], list[FileResult]]:
    """Map inputs to outputs (`crmask.files.plan_outputs`); inputs whose output name is taken already fail here."""
    planned, clashes = plan_outputs(paths, outdir)
    return planned, [(index, FileResult(str(path), None, "failed", error=message)) for index, path, message in clashes]


def detect_many(
    paths: Iterable[str | os.PathLike],
    detector: str | Detector = "lacosmic",
    client: Client | str | None = None,
    *,
    outdir: str | os.PathLike,
    hdu: int | str | None = None,
    unit: str | None = None,
    background: str | None = None,
    grow: int = 0,
    inpaint: bool = True,
    overwrite: bool = False,
    skip_existing: bool = False,
    plot: bool = False,
    n_workers: int | None = None,
    retries: int = 3,
    progress: bool = True,
    **params: Any,
) -> BatchResult:
    """Detect and clean cosmic rays in many FITS files on a Dask cluster.

    Each file is one task: a worker reads it, cleans it with
    `~crmask.cosmicray_clean` and writes ``OUTDIR/<name>.fits`` atomically
    (cleaned data, ``MASK`` and ``CRMASK`` extensions and the provenance
    header, as ``crmask detect`` writes) as soon as it is done.

    Parameters
    ----------
    paths : iterable of path-like
        Input FITS files. With a remote cluster, the paths (and ``outdir``)
        must be valid on the workers, e.g. on a shared file system.
    detector : str or `~crmask.Detector`
        A registered image-detector name, or a configured instance (its
        class must be importable on the workers).
    client : `distributed.Client`, str or None
        Where to run: an existing client, a scheduler address, or
        `None` / ``"local"`` for a local cluster that lives as long as the
        call (see `open_client`).
    outdir : path-like
        Output directory, created if needed. It is checked to be writable
        (here and on every worker) before any work starts.
    hdu, unit
        Image HDU and pixel unit, as for `~crmask.io.read_ccd`.
    background : str, optional
        EXTNAME of each file's background (sky) model, as for
        `crmask.files.clean_file`.
    grow : int
        Dilate the CR mask by this radius in pixels.
    inpaint : bool
        Replace CR pixels; with `False` only the masks are written.
    overwrite : bool
        Replace existing outputs; otherwise a file whose output exists fails.
    skip_existing : bool
        Leave a file whose output exists alone (status ``"skipped"``), to
        re-run a batch that stopped; not together with ``overwrite``.
    plot : bool
        Also write ``OUTDIR/<name>.png``, the image with its cosmic rays
        (see `crmask.files.clean_file`).
    n_workers : int, optional
        Worker processes of a new local cluster (default: one per core).
    retries : int
        Runs of a file after its worker died, for a new local cluster.
    progress : bool
        Show a progress bar on stderr.
    **params
        Detector parameters (``sigclip=5``, ``readnoise=5.7``, ...) for a
        detector given by name.

    Returns
    -------
    BatchResult
        One `FileResult` per input, in input order. Failed files carry a
        one-line ``error``; the other files are processed regardless.

    Raises
    ------
    OutputDirectoryError
        If ``outdir`` cannot be created or written to (before any work).
    UnknownDetectorError, ValueError
        For an unknown detector, an invalid parameter or a background for a
        detector that does not use one (before any work).

    Notes
    -----
    Memory: a worker holds one image at a time (``threads_per_worker=1``):
    the input, its float copy, the cleaned copy and the masks, plus the
    detector's working arrays (L.A.Cosmic needs about ten float32 copies of
    the image; tiled U-Nets about one tile's activations). Measured peak
    memory per worker is reported in each `FileResult` and by
    ``benchmarks/bench_dask_scaling.py``.

    Examples
    --------
    >>> result = detect_many(sorted(Path("raw").glob("*.fits")), "lacosmic",
    ...                      outdir="clean", readnoise=5.7)  # doctest: +SKIP
    >>> [f.error for f in result.failed]  # doctest: +SKIP
    """
    start = time.perf_counter()
    if skip_existing and overwrite:
        raise ValueError("skip_existing and overwrite contradict each other; use one")
    spec = DetectorSpec.from_detector(detector, params)
    if background is not None:
        spec.cls.check_background()
    paths = [Path(p) for p in paths]
    outdir = check_output_dir(outdir)
    options = {"hdu": hdu, "unit": unit, "background": background, "grow": grow, "inpaint": inpaint,
               "overwrite": overwrite, "plot": plot}
    run_id = uuid.uuid4().hex[:16]
    planned, clashes = _plan_targets(paths, outdir)
    results: dict[int, FileResult] = dict(clashes)
    if skip_existing:
        planned, skipped = split_existing(planned)
        results.update((index, FileResult(str(path), str(target), "skipped")) for index, path, target in skipped)
    if planned:
        with open_client(client, n_workers, retries=retries) as active:
            _check_output_dir_on_workers(active, outdir)
            items = [(str(path), str(target)) for _, path, target in planned]
            task_options = {**options, "run_id": run_id}
            for outcome in map_as_completed(
                active, _detect_task, items, spec, task_options, progress=progress, desc=f"crmask {spec.name}"
            ):
                index = planned[outcome.index][0]
                if outcome.error is None:
                    results[index] = outcome.value
                else:
                    results[index] = FileResult(outcome.item[0], None, "failed",
                                                error=failure_message(outcome.error))
    files = [results[i] for i in range(len(paths))]
    return BatchResult(files, detector=spec.name, run_id=run_id, seconds=time.perf_counter() - start)
