"""Run detectors over benchmark sets and record per-file results.

Every (set, detector, file) gives one JSON file under
``OUTDIR/results/<set>/<label>/<file>.json`` holding the operating-point
counts, the curve counts, the run time, CPU time and peak memory. A run that
finds a result written with the same configuration (detector, parameters,
dilation, sweep, thresholds, and the benchmark file's size and modification
time) reuses it, so an interrupted run resumes where it stopped.

Detectors with a probability map get their curve from thresholds
(`crmask.bench.metrics.score_histogram`); detectors without one are run again over
a parameter sweep (by default ``sigclip`` × ``objlim`` for detectors that
declare them, as LACosmic does).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import metrics
from .._dask import failure_message, map_as_completed, open_client
from .._deprecation import deprecated_module_attributes
from ..batch import DetectorSpec as WorkerSpec
from ..exceptions import CrmaskError, UnknownDetectorError
from ..registry import get_detector_class, list_detectors, load_plugin_file
from ..threads import limit_threads
from .dataset import BenchImage, BenchSet, load_set, read_bench_image
from .measure import available_threads, measure

if TYPE_CHECKING:  # dask is an optional dependency, imported on use
    from distributed import Client

__all__ = [
    "BenchDetector",
    "DEFAULT_SWEEP",
    "default_sweep",
    "detector_class",
    "load_detector_file",
    "evaluate_image",
    "run_benchmark",
    "result_path",
    "limit_threads",
]

#: Default sweep of detectors without a probability map (values per parameter;
#: only the parameters a detector declares are swept).
DEFAULT_SWEEP: dict[str, tuple[float, ...]] = {
    "sigclip": (2.0, 3.0, 4.5, 6.0, 8.0, 12.0, 20.0),
    "objlim": (1.0, 2.0, 5.0),
}


@dataclass(frozen=True)
class BenchDetector:
    """A detector to benchmark: a report label, a registered name and parameters.

    Formerly ``crmask.bench.runner.DetectorSpec`` (that name still works, with a
    `DeprecationWarning`); `crmask.batch.DetectorSpec` is another class, the
    recipe that builds a detector on a Dask worker.

    Parameters
    ----------
    label : str
        Name in the report (defaults to the detector name).
    name : str
        Registered detector name.
    params : dict
        Parameters to construct it with.
    """

    label: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "BenchDetector":
        """Parse ``NAME`` or ``LABEL=NAME`` (a label lets one detector appear twice)."""
        label, sep, name = text.partition("=")
        if not sep:
            label, name = text, text
        label, name = label.strip(), name.strip()
        if not label or not name or "/" in label:
            raise ValueError(f"expected NAME or LABEL=NAME for a detector, got {text!r}")
        return cls(label=label, name=name)


#: Former name of `crmask.registry.load_plugin_file`, kept for compatibility.
load_detector_file = load_plugin_file


def detector_class(name: str, extra: Mapping[str, type] | None = None) -> type:
    """Return the image detector class ``name``: from ``extra``, else from the registry.

    Plugin files (``crmask bench --plugin``) are loaded into the registry
    with `crmask.registry.load_plugin_file`; ``extra`` holds classes that
    are registered nowhere (tests build such classes).

    Raises
    ------
    UnknownDetectorError
        If neither the registry nor ``extra`` has ``name``.
    DetectorKindError
        If ``name`` is an event filter.
    """
    extra = extra or {}
    if name in extra:
        return extra[name]
    try:
        return get_detector_class(name, "mask")
    except UnknownDetectorError:
        raise UnknownDetectorError(name, [d.name for d in list_detectors()] + list(extra)) from None


def default_sweep(cls: type) -> dict[str, tuple[float, ...]]:
    """The part of `DEFAULT_SWEEP` that ``cls`` declares (empty when none)."""
    return {k: v for k, v in DEFAULT_SWEEP.items() if k in getattr(cls, "parameters", {})}


def _sweep_points(sweep: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    names = list(sweep)
    return [dict(zip(names, values)) for values in itertools.product(*(sweep[n] for n in names))]


def evaluate_image(
    detector,
    image: BenchImage,
    *,
    dilate: bool = False,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    thresholds: np.ndarray = metrics.DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Run one detector on one benchmark image and score it.

    Parameters
    ----------
    detector : crmask.Detector
        A constructed mask detector.
    image : BenchImage
    dilate : bool
        Dilate truth and prediction by 3×3 before scoring.
    sweep : mapping, optional
        Parameter values to sweep when the detector returns no probability map.
    thresholds : numpy.ndarray
        Probability thresholds of the curve.

    Returns
    -------
    dict
        JSON-ready result (see the module notes).
    """
    with measure() as used:
        result = detector.detect(image.ccd)
    truth, ignore = image.truth, image.ignore
    pred = result.mask
    operating = metrics.confusion(truth, pred, ignore, dilate=dilate)
    found, total = metrics.event_completeness(truth, pred, ignore, dilate=dilate)
    significant = {"significant_found": None, "significant_total": None}
    if image.significance is not None:
        significant["significant_found"], significant["significant_total"] = metrics.event_completeness(
            truth, pred, ignore, dilate=dilate, significance=image.significance)
    star_fp, star_pixels, star_fp_all = (0, 0, 0)
    if image.starmask is not None:
        star_fp, star_pixels = metrics.star_false_positives(truth, pred, image.starmask, ignore, dilate=dilate)
        # IGNORE included: the own cosmic rays a single exposure ignores are L.A.Cosmic's detections, which
        # would otherwise hide that detector's flags on stars
        star_fp_all, _ = metrics.star_false_positives(truth, pred, image.starmask, dilate=dilate)

    curve: dict[str, Any] | None = None
    if result.probability is not None:
        positives, negatives = metrics.score_histogram(truth, result.probability, thresholds, ignore, dilate=dilate)
        curve = {"kind": "threshold", "thresholds": np.asarray(thresholds).tolist(),
                 "positives": positives.tolist(), "negatives": negatives.tolist()}
    elif sweep:
        base = detector.get_params()
        points = []
        for point in _sweep_points(sweep):
            swept = type(detector)(**{**base, **point}).detect(image.ccd)
            points.append({"params": point, **metrics.confusion(truth, swept.mask, ignore, dilate=dilate).as_dict()})
        curve = {"kind": "sweep", "points": points}

    torch = sys.modules.get("torch")
    return {
        "file": image.name,
        "shape": list(truth.shape),
        "npix": image.npix,
        "n_ignored": int(ignore.sum()),
        "detector": detector.name,
        "version": result.meta.get("version"),
        "params": detector.get_params(),
        "threshold": result.threshold,
        "wall_s": used.wall_s,
        "cpu_s": used.cpu_s,
        "peak_mb": used.peak_mb,
        "memory_method": used.memory_method,
        "threads_available": available_threads(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "operating": {**operating.as_dict(), "events_found": found, "events_total": total, **significant,
                      "star_fp": star_fp, "star_pixels": star_pixels, "star_fp_all": star_fp_all},
        "curve": curve,
    }


def result_path(outdir: str | os.PathLike, set_name: str, label: str, file: str) -> Path:
    """Where the result of ``label`` on ``file`` of ``set_name`` is stored."""
    return Path(outdir) / "results" / set_name / label / f"{file}.json"


def _identity(spec: BenchDetector, detector) -> dict[str, Any]:
    """What results of ``detector`` are stored under: label, name, parameters, `~crmask.Detector.fingerprint`."""
    return {
        "label": spec.label,
        "name": spec.name,
        "params": {k: repr(v) for k, v in sorted(detector.get_params().items())},
        "fingerprint": detector.fingerprint(),
    }


def _config_key(identity: Mapping[str, Any], dilate: bool, sweep: Mapping[str, Sequence[Any]] | None,
                thresholds: np.ndarray, bench_file: Path) -> str:
    stat = bench_file.stat()
    config = {
        **identity,
        "dilate": dilate,
        "sweep": {k: list(v) for k, v in (sweep or {}).items()},
        "thresholds": hashlib.sha1(np.asarray(thresholds, dtype=np.float64).tobytes()).hexdigest(),
        "file": [bench_file.name, stat.st_size, stat.st_mtime_ns],
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_string"):  # astropy units and quantities
        return value.to_string()
    return repr(value)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=_json_default))
    os.replace(tmp, path)


def _read_result(path: Path, key: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if payload.get("config_key") == key else None


def run_benchmark(
    sets: Iterable[str | os.PathLike | BenchSet],
    specs: Sequence[BenchDetector],
    outdir: str | os.PathLike,
    *,
    dilate: bool = False,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    extra_detectors: Mapping[str, type] | None = None,
    resume: bool = True,
    thresholds: np.ndarray = metrics.DEFAULT_THRESHOLDS,
    progress: bool = True,
    threads: int | None = None,
    warmup: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    scheduler: Client | str | None = None,
    n_workers: int | None = None,
) -> list[dict[str, Any]]:
    """Run every detector on every file of every set; return the per-file results.

    Parameters
    ----------
    sets : iterable
        Benchmark set directories (or loaded `BenchSet` objects).
    specs : sequence of BenchDetector
        Detectors to run; labels must be unique.
    outdir : path-like
        Report directory; results go to ``outdir/results``.
    dilate : bool
        Dilate truth and predictions by 3×3 before scoring.
    sweep : mapping, optional
        Sweep for detectors without a probability map; `None` uses
        `default_sweep` of each detector, ``{}`` disables sweeps.
    extra_detectors : mapping, optional
        Detector classes by name that no plugin registers (plugin files are
        loaded into the registry with `crmask.registry.load_plugin_file`).
    resume : bool
        Reuse stored results of the same configuration.
    thresholds : numpy.ndarray
        Probability thresholds of the curves.
    progress : bool
        Show a tqdm progress bar.
    threads : int, optional
        Limit OpenMP, BLAS and torch threads to this number while detecting.
    warmup : bool
        Run each detector once, unmeasured, before its first measured file,
        so that one-off costs (imports, model loading, thread pools) are not
        charged to the first file.
    on_result : callable, optional
        Called with each result as it is produced or reused (on a cluster:
        stored results first, then the others as they finish).
    scheduler : `distributed.Client`, str or None
        `None` runs in this process. Otherwise the files are evaluated on a
        Dask cluster (see `crmask._dask.open_client`): ``"local"`` for a new
        local cluster, a scheduler address, or an existing client. Each
        worker builds each detector once, warms it up once (``warmup``) and
        writes each result file itself, so with a remote cluster the sets
        and ``outdir`` must be on a file system the workers share. The
        results, and so the report, are those of a serial run (times and
        memory are measured on the workers). Detectors that fail on a file
        are reported after the other files are done and stored.
    n_workers : int, optional
        Worker processes of a new local cluster (default: one per core).

    Returns
    -------
    list of dict
        Per-file results, each with ``set`` and ``label`` added, ordered
        by set, detector and file.
    """
    labels = [s.label for s in specs]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"detector label(s) {duplicates} used twice; give each run its own LABEL=NAME")
    extra = dict(extra_detectors or {})
    classes = {s.label: detector_class(s.name, extra) for s in specs}
    detectors = {}
    for s in specs:
        try:
            detectors[s.label] = classes[s.label](**dict(s.params))
        except ValueError as exc:
            raise CrmaskError(f"detector {s.label!r}: {exc}") from None
    identities = {s.label: _identity(s, detectors[s.label]) for s in specs}  # a fingerprint may hash a file: once
    bench_sets = [s if isinstance(s, BenchSet) else load_set(s) for s in sets]
    options = {"dilate": dilate, "thresholds": thresholds, "threads": threads}
    jobs: list[_Job] = []
    for bench in bench_sets:
        for spec in specs:
            det_sweep = default_sweep(classes[spec.label]) if sweep is None else dict(sweep)
            for name in bench.files:
                key = _config_key(identities[spec.label], dilate, det_sweep, thresholds, bench.path / name)
                jobs.append(_Job(bench.name, spec.label, bench.path / name,
                                 result_path(outdir, bench.name, spec.label, name), key, det_sweep))
    stored = [_read_result(job.target, job.key) if resume else None for job in jobs]
    if n_workers is not None and scheduler != "local":
        raise ValueError("n_workers applies only with scheduler='local'")
    if scheduler is None:
        return _run_serial(jobs, stored, detectors, options, warmup=warmup, progress=progress, on_result=on_result)
    return _run_on_dask(jobs, stored, detectors, options, scheduler, n_workers,
                        warmup=warmup, progress=progress, on_result=on_result)


@dataclass(frozen=True)
class _Job:
    """One (set, detector, file) of a run: where its result goes and the configuration it is stored under."""

    set_name: str
    label: str
    file: Path
    target: Path
    key: str
    sweep: Mapping[str, Sequence[Any]]


def _evaluate_job(detector, job: _Job, options: Mapping[str, Any], *, warmup: bool) -> dict[str, Any]:
    """Score ``detector`` on ``job``'s file, store the JSON result atomically and return it.

    ``options`` holds ``dilate``, ``thresholds`` and ``threads`` (see
    `run_benchmark`); with ``warmup`` the detector first runs once, unmeasured.
    """
    image = read_bench_image(job.file)
    try:
        if warmup:
            detector.detect(image.ccd)
        with limit_threads(options["threads"]):
            payload = evaluate_image(detector, image, dilate=options["dilate"], sweep=job.sweep,
                                     thresholds=options["thresholds"])
    except CrmaskError as exc:
        raise CrmaskError(f"{job.label} on {job.set_name}/{job.file.name}: {exc}") from exc
    payload.update({"set": job.set_name, "label": job.label, "config_key": job.key,
                    "dilate": options["dilate"], "threads_limit": options["threads"]})
    _write_json(job.target, payload)
    return payload


def _run_serial(jobs: Sequence[_Job], stored: list[dict[str, Any] | None], detectors: Mapping[str, Any],
                options: Mapping[str, Any], *, warmup: bool, progress: bool,
                on_result: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    """Evaluate the jobs one after the other in this process."""
    from tqdm.auto import tqdm

    results: list[dict[str, Any]] = []
    warm: set[str] = set()
    with tqdm(total=len(jobs), disable=not progress, unit="run", desc="crmask bench") as bar:
        for job, payload in zip(jobs, stored):
            bar.set_postfix_str(f"{job.set_name}/{job.label}/{job.file.name}")
            if payload is None:
                payload = _evaluate_job(detectors[job.label], job, options,
                                        warmup=warmup and job.label not in warm)
                warm.add(job.label)
            results.append(payload)
            if on_result is not None:
                on_result(payload)
            bar.update(1)
    return results


#: Detectors this worker process has warmed up, by `crmask.batch.DetectorSpec.key`.
_WORKER_WARMED: set[tuple] = set()


def _bench_task(item: tuple[_Job, WorkerSpec], options: Mapping[str, Any], warmup: bool) -> dict[str, Any]:
    """Run on a Dask worker: evaluate one job with this worker's cached detector.

    The detector is built once per worker (`crmask.batch.DetectorSpec.cached`)
    and, with ``warmup``, warmed up once per worker.
    """
    job, recipe = item
    first = warmup and recipe.key not in _WORKER_WARMED
    payload = _evaluate_job(recipe.cached(), job, options, warmup=first)
    _WORKER_WARMED.add(recipe.key)
    return payload


def _run_on_dask(jobs: Sequence[_Job], stored: list[dict[str, Any] | None], detectors: Mapping[str, Any],
                 options: Mapping[str, Any], scheduler: Client | str, n_workers: int | None, *,
                 warmup: bool, progress: bool,
                 on_result: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    """Evaluate the jobs without a stored result on a Dask cluster; return all results in job order."""
    results = list(stored)
    for payload in results:
        if payload is not None and on_result is not None:
            on_result(payload)
    pending = [index for index, payload in enumerate(results) if payload is None]
    if not pending:
        return results
    recipes = {label: WorkerSpec.from_detector(det) for label, det in detectors.items()}
    items = [(jobs[i], recipes[jobs[i].label]) for i in pending]
    failures: list[str] = []
    with open_client(scheduler, n_workers) as client:
        for outcome in map_as_completed(client, _bench_task, items, options, warmup,
                                        progress=progress, desc="crmask bench"):
            job = outcome.item[0]
            if outcome.error is not None:
                if isinstance(outcome.error, CrmaskError):  # its message already names the job
                    failures.append(str(outcome.error))
                else:
                    failures.append(f"{job.label} on {job.set_name}/{job.file.name}: {failure_message(outcome.error)}")
                continue
            results[pending[outcome.index]] = outcome.value
            if on_result is not None:
                on_result(outcome.value)
    if failures:
        more = f" (and {len(failures) - 1} more; the others are stored)" if len(failures) > 1 else ""
        raise CrmaskError(f"{failures[0]}{more}")
    return results


#: ``DetectorSpec``, the former name of `BenchDetector`, still works (deprecated).
__getattr__ = deprecated_module_attributes(__name__, renamed={"DetectorSpec": "BenchDetector"})
