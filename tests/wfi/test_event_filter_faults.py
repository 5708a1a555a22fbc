"""The fault matrix of the X-ray event filters: bad and unusual inputs through the API and the CLI.

Each case is a small FITS file of frames (or in-memory frames) and what must
come of it: a one-line error naming the problem, or a correct result. For
every registered event filter, a file case goes through
`crmask_wfi.events.stream.filter_file` (the API behind ``crmask wfi
filter``) and through ``crmask wfi filter`` itself; an in-memory case goes
through ``crmask.resolve(name, "events").filter(frames)``. Each run must

* raise (API) or print (CLI) exactly one line naming the problem, with a
  non-zero exit status and no traceback, or give a correct result (the
  events of frames with a known answer, an event file written);
* leave every input file byte-identical (sha256);
* leave no output file lost or half-written (an existing output untouched
  unless it was meant to be replaced, no temporary file behind).

Test ids read ``<case>-<filter>-<api|cli>``, so ``pytest -rA`` lists every
run; ``test_fault_matrix_summary`` prints the counts (cases, clear errors,
correct results, failures).
"""

from __future__ import annotations

import collections
import functools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from crmask_wfi.events.reconstruct import read_events
from crmask_wfi.events.stream import filter_file
from crmask_wfi.sim.simfile import write_simulation
from crmask_wfi.sim.simulate import simulate_frames

import crmask
from crmask.events import EVENT_COLUMNS
from crmask.exceptions import CrmaskError

from ..conftest import (empty_file, file_sha256, folder_snapshot, run_cli, temporary_files, text_file,
                        truncated_file)

#: Event filters the matrix runs: every registered one whose plugin is available.
FILTERS = [info.name for info in crmask.list_event_filters() if info.available]
SHAPE = (2, 64, 64)
#: Single-pixel 2 keV events (frame, y, x) on empty frames: each is one accepted single, for every filter.
SINGLES = [(0, 10, 10), (0, 40, 40), (1, 10, 10), (1, 40, 40)]
#: Bad pixels (frame, y, x), two or more pixels away from every event.
BAD_PIXELS = [(0, 20, 50), (1, 55, 5)]
#: Counts for the summary: outcome -> number of runs.
OUTCOMES: collections.Counter = collections.Counter()


def _frames(bad=None) -> np.ndarray:
    frames = np.zeros(SHAPE, np.float32)
    for f, y, x in SINGLES:
        frames[f, y, x] = 2.0
    for f, y, x in BAD_PIXELS if bad is not None else ():
        frames[f, y, x] = bad
    return frames


def _positions(events) -> list[tuple[int, int, int]]:
    return sorted(zip(events["FRAME"].tolist(), events["Y"].tolist(), events["X"].tolist()))


def _cube(path: Path, data=None, mask=None, **cards) -> Path:
    """A FITS cube of frames in keV (``cards`` override or, with None, remove header keywords)."""
    hdu = fits.PrimaryHDU(_frames() if data is None else data)
    hdu.header["BUNIT"] = "keV"
    for key, value in cards.items():
        if value is None:
            hdu.header.remove(key)
        else:
            hdu.header[key] = value
    hdus = [hdu] if mask is None else [hdu, fits.ImageHDU(mask.astype(np.uint8), name="MASK")]
    fits.HDUList(hdus).writeto(path)
    return path


@dataclass
class Case:
    """One bad or unusual input and what must come of it."""

    name: str
    make: Callable[[Path], Path]
    #: Regex of the one-line error, or None for a correct result; a callable gets the filter name.
    error: str | None | Callable[[str], str | None] = None
    #: Extra command-line arguments.
    args: tuple[str, ...] = ()
    #: Filter parameters (API: given to `crmask.resolve`; CLI: ``-p KEY=VALUE``); ``{tmp}`` is the
    #: temporary folder.
    params: dict = field(default_factory=dict)
    #: The unit given for frames without BUNIT (API ``unit=``, CLI ``--unit``).
    unit: str | None = None
    #: Output path, relative to the temporary folder, ``{input}`` for the input itself.
    output: str = "out/events.fits"
    #: The output exists before the run: False, or "keep" (must be left as it was) / "replace" (--overwrite).
    existing_output: bool | str = False
    #: Whether the case is about the output, so only the CLI runs it.
    cli_only: bool = False
    #: Extra checks of a correct result: check(events).
    check: Callable | None = None

    def expected_error(self, name: str) -> str | None:
        return self.error(name) if callable(self.error) else self.error


# --- input files -----------------------------------------------------------------------------------------

@functools.cache
def _simulation_bytes() -> bytes:
    sim = simulate_frames(4, shape=(64, 64), xray_rate=400.0, cr_rate=100.0, seed=12)
    with tempfile.TemporaryDirectory() as tmp:
        return write_simulation(sim, Path(tmp) / "sim.fits").read_bytes()


def _simulation(path):
    path.write_bytes(_simulation_bytes())
    return path


def _truncated(path):
    return truncated_file(path, _cube, 2880 + 4000)  # the header and part of the first frame


def _not_fits(path):
    return text_file(path, "observing log, not a cube of frames\n")


def _bad_pixels(value, masked: bool):
    def make(path):
        mask = np.zeros(SHAPE, bool)
        for f, y, x in BAD_PIXELS:
            mask[f, y, x] = True
        return _cube(path, _frames(bad=value), mask=mask if masked else None)
    return make


def _all_nan(masked: bool):
    def make(path):
        return _cube(path, np.full(SHAPE, np.nan, np.float32), mask=np.ones(SHAPE, bool) if masked else None)
    return make


def _wrong_mask(path):
    return _cube(path, mask=np.zeros((32, 32), bool))


# --- checks of correct results ----------------------------------------------------------------------------

def _singles(events):
    assert _positions(events) == SINGLES


def _no_events(events):
    assert len(events) == 0


def _simulated_events(events):
    """The simulation's 4 frames hold X-rays and cosmic rays: both are found, each event has its truth."""
    assert {"TRUE_CLASS", "TRUE_ID", "TRUE_ENERGY"} <= set(events.colnames)
    assert {"xray", "cr"} <= set(events["TRUE_CLASS"].tolist())
    assert set(events["FRAME"].tolist()) <= {0, 1, 2, 3}


def _huge_pixels_flagged(events):
    """A 3e38 keV pixel is an event far above every X-ray energy: a cosmic ray; the singles are kept."""
    assert _positions(events) == sorted(SINGLES + BAD_PIXELS)
    assert _positions(events[events["CR_FLAG"]]) == BAD_PIXELS


def _first_frame_singles(events):
    assert _positions(events) == [s for s in SINGLES if s[0] == 0]


CASES = [
    Case("valid-simulation", _simulation, check=_simulated_events),
    Case("valid-cube", _cube, check=_singles),
    Case("not-fits", _not_fits, "not a readable FITS file"),
    Case("truncated-fits", _truncated, "not a readable FITS file"),
    Case("empty-file", empty_file, "not a readable FITS file|empty"),
    Case("nan-pixels", _bad_pixels(np.nan, masked=False), "frame 0 has NaN or infinite pixels"),
    Case("inf-pixels", _bad_pixels(np.inf, masked=False), "frame 0 has NaN or infinite pixels"),
    Case("nan-pixels-masked", _bad_pixels(np.nan, masked=True), check=_singles),
    Case("inf-pixels-masked", _bad_pixels(-np.inf, masked=True), check=_singles),
    Case("3e38-pixels", _bad_pixels(3e38, masked=False),
         lambda name: r"frame 0: .* overflow \(pixel values up to 3e\+38 keV\)" if name == "wfi-cam-rf"
         else None,
         check=_huge_pixels_flagged),
    Case("no-frames", lambda p: _cube(p, np.zeros((0, 64, 64), np.float32)),
         r"HDU PRIMARY holds no frames \(shape \(0, 64, 64\)\)"),
    Case("all-nan", _all_nan(masked=False), "NaN or infinite pixels"),
    Case("all-nan-masked", _all_nan(masked=True), check=_no_events),
    Case("1d-array", lambda p: _cube(p, _frames()[0, 0]), "is 1-D; frames must be 2-D or a 3-D cube"),
    Case("4d-array", lambda p: _cube(p, _frames()[np.newaxis]), "is 4-D; frames must be 2-D or a 3-D cube"),
    Case("2d-frame", lambda p: _cube(p, _frames()[0]),
         check=_first_frame_singles),
    Case("adu-unit", lambda p: _cube(p, BUNIT="adu"), 
         "frame unit adu is not supported; use one of: electron, keV"),
    Case("no-bunit", lambda p: _cube(p, BUNIT=None), 
         r"no BUNIT keyword; give the unit explicitly \(--unit\)"),
    Case("no-bunit-with-unit", lambda p: _cube(p, BUNIT=None), unit="keV", check=_singles),
    Case("bad-bunit", lambda p: _cube(p, BUNIT="furlongs"), "unit 'furlongs' is not a valid unit"),
    Case("mask-wrong-shape", _wrong_mask, r"MASK extension has shape \(32, 32\), the frames \(2, 64, 64\)"),
    Case("weights-nonexistent", _cube, params={"weights": "{tmp}/nonexistent"},
         error=lambda name: "nonexistent" if name == "wfi-cam-rf" else "weights"),
    Case("unknown-parameter", _cube, params={"sigclp": "3"}, error="sigclp"),
    Case("output-onto-input", _cube, "output would replace its own input", output="{input}",
         args=("--overwrite",), cli_only=True),
    Case("output-in-missing-directory", _cube, "directory .*nodir does not exist", output="nodir/events.fits",
         cli_only=True),
    Case("output-under-a-file", _cube, "is not a directory", output="in/input.fits/events.fits",
         cli_only=True),
    Case("output-onto-a-directory", _cube, "is a directory; give the output file's name", output="out",
         args=("--overwrite",), cli_only=True),
    Case("output-exists", _cube, "exists; use --overwrite", existing_output="keep", cli_only=True),
    Case("output-exists-overwrite", _cube, args=("--overwrite",), existing_output="replace", check=_singles,
         cli_only=True),
]


# --- the runs -----------------------------------------------------------------------------------------------

def _fill(text: str, source: Path, tmp_path: Path) -> str:
    return text.replace("{input}", str(source)).replace("{tmp}", str(tmp_path))


def _prepare(case: Case, tmp_path: Path):
    inputs, outdir = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), outdir.mkdir()
    source = case.make(inputs / "input.fits")
    target = Path(_fill(case.output, source, tmp_path))
    if not target.is_absolute():
        target = tmp_path / target
    if case.existing_output:
        target.write_bytes(b"an earlier result")
    params = {key: _fill(value, source, tmp_path) for key, value in case.params.items()}
    return source, outdir, target, params, folder_snapshot(inputs), folder_snapshot(outdir)


def _check_after(case, source, outdir, target, inputs_before, outputs_before, failed: bool, cli_run: bool):
    assert folder_snapshot(source.parent) == inputs_before, "an input file changed"
    for folder in (folder for folder in (outdir, target.parent) if folder.is_dir()):
        leftovers = temporary_files(folder)
        assert leftovers == [], f"temporary files left behind: {leftovers}"
    if failed or not cli_run:
        assert folder_snapshot(outdir) == outputs_before, "the output directory changed"
        return
    events = read_events(target)
    assert set(EVENT_COLUMNS) <= set(events.colnames)
    return events


def _params(kind: str) -> list:
    return [pytest.param(case, name, id=f"{case.name}-{name}-{kind}")
            for case in CASES if kind == "cli" or not case.cli_only for name in FILTERS]


@pytest.mark.parametrize(("case", "name"), _params("api"))
def test_api(case, name, tmp_path):
    source, outdir, target, params, inputs_before, outputs_before = _prepare(case, tmp_path)
    expected = case.expected_error(name)
    if expected is None:
        events = filter_file(crmask.resolve(name, "events", params), source, unit=case.unit)
        assert set(EVENT_COLUMNS) <= set(events.colnames)
        if case.check is not None:
            case.check(events)
        outcome = "correct result"
    else:
        with pytest.raises((CrmaskError, ValueError), match=expected) as info:
            filter_file(crmask.resolve(name, "events", params), source, unit=case.unit)
        assert "\n" not in str(info.value).strip(), "an error must be one line"
        outcome = "clear error"
    _check_after(case, source, outdir, target, inputs_before, outputs_before, expected is not None, False)
    OUTCOMES[outcome] += 1


def _invoke(args) -> tuple:
    return run_cli(["wfi", "filter", *args])


#: click's usage hint, printed above the error line of a usage error (exit status 2) such as a bad ``-p``.
_USAGE_HINT = re.compile(r"(Usage: .* wfi filter \[OPTIONS\] INPUT|Try '.* wfi filter --help' for help\.)?$")


def _one_line_error(result, lines, expected: str) -> None:
    assert result.exit_code != 0
    errors = [line for line in lines if re.match(r"(crmask: error|Error): ", line)]
    others = [line for line in lines if line not in errors]
    assert len(errors) == 1, result.output
    usage_error = result.exit_code == 2 and all(_USAGE_HINT.match(line) for line in others)
    assert others == [] or usage_error, result.output
    assert re.search(expected, errors[0]), errors[0]


@pytest.mark.parametrize(("case", "name"), _params("cli"))
def test_cli(case, name, tmp_path):
    source, outdir, target, params, inputs_before, outputs_before = _prepare(case, tmp_path)
    args = [source, "-f", name, "-o", target, *case.args]
    for key, value in params.items():
        args += ["-p", f"{key}={value}"]
    if case.unit is not None:
        args += ["--unit", case.unit]
    result, lines = _invoke(args)
    expected = case.expected_error(name)
    if expected is None:
        assert result.exit_code == 0, result.output
        assert len(lines) == 1 and lines[0].endswith(f"flagged as cosmic rays ({name})"), result.output
        outcome = "correct result"
    else:
        _one_line_error(result, lines, expected)
        outcome = "clear error"
    if case.existing_output == "replace":
        outputs_before.pop(target.name)
    events = _check_after(case, source, outdir, target, inputs_before, outputs_before, expected is not None,
                          True)
    if expected is None and case.check is not None:
        case.check(events)
    OUTCOMES[outcome] += 1


# --- inputs that never were a file, and names that are not event filters ------------------------------

def _masked_nan() -> CCDData:
    mask = np.zeros(SHAPE, bool)
    for f, y, x in BAD_PIXELS:
        mask[f, y, x] = True
    return CCDData(_frames(bad=np.nan), unit="keV", mask=mask)


#: (name, frames, regex of the one-line error or None with a check of the events).
_IN_MEMORY = [
    ("quantity-kev", lambda: _frames() * u.keV, None, _singles),
    ("quantity-electron", lambda: _frames() * 1000 * u.electron, None, _singles),
    ("ccddata-list", lambda: [CCDData(frame, unit="keV") for frame in _frames()], None, _singles),
    ("nan-quantity", lambda: _frames(bad=np.nan) * u.keV, "frame 0 has NaN or infinite pixels", None),
    ("inf-ccddata", lambda: CCDData(_frames(bad=np.inf), unit="keV"), "frame 0 has NaN or infinite pixels",
     None),
    ("nan-masked-ccddata", _masked_nan, None, _singles),
    ("nan-in-a-later-frame",  # frame 0, then a stack of frames 1 and 2 with NaN in frame 2
     lambda: [_frames()[0] * u.keV, np.stack([_frames()[1], _frames(bad=np.nan)[1]]) * u.keV],
     "frame 2 has NaN or infinite pixels", None),
    ("all-nan", lambda: np.full(SHAPE, np.nan) * u.keV, "NaN or infinite pixels", None),
    ("1d-quantity", lambda: _frames()[0, 0] * u.keV, r"frame 0 must be 2-D \(or a 3-D stack\), got 1-D",
     None),
    ("4d-quantity", lambda: _frames()[np.newaxis] * u.keV, r"frame 0 must be 2-D \(or a 3-D stack\), got 4-D",
     None),
    ("adu-ccddata", lambda: CCDData(_frames(), unit="adu"), "frame unit adu is not supported", None),
    ("dimensionless-quantity", lambda: _frames() * u.one,
     "frame unit +is not supported; use one of: electron, keV", None),
    ("plain-array", _frames, "frame 0 is a ndarray; give CCDData or a Quantity with a unit", None),
    ("no-frames", list, "no frames given", None),
    ("different-shapes", lambda: [_frames()[0] * u.keV, _frames()[0, :32] * u.keV],
     "frames have different shapes", None),
    ("different-units", lambda: [_frames()[0] * u.keV, _frames()[1] * u.electron],
     "frames have different units", None),
]


@pytest.mark.parametrize(("case", "frames", "message", "check", "name"),
                         [pytest.param(*row, name, id=f"{row[0]}-{name}-api")
                          for row in _IN_MEMORY for name in FILTERS])
def test_api_in_memory(case, frames, message, check, name):
    det = crmask.resolve(name, "events")
    if message is None:
        events = det.filter(frames())
        assert set(EVENT_COLUMNS) <= set(events.colnames)
        check(events)
        OUTCOMES["correct result"] += 1
        return
    with pytest.raises(CrmaskError, match=message) as info:
        det.filter(frames())
    assert "\n" not in str(info.value)
    OUTCOMES["clear error"] += 1


#: Names given to ``crmask.resolve(name, "events")`` and ``crmask wfi filter -f`` that are no event filter.
_NAMES = [
    ("unknown-filter", "nope", "unknown (event filter|detector) 'nope'"),
    ("image-detector", "lacosmic", "not an X-ray event filter|is an image detector"),
]


@pytest.mark.parametrize(("case", "name", "message"), _NAMES, ids=[f"{c}-api" for c, _, _ in _NAMES])
def test_api_not_an_event_filter(case, name, message):
    with pytest.raises(CrmaskError, match=message) as info:
        crmask.resolve(name, "events")
    assert "\n" not in str(info.value)
    OUTCOMES["clear error"] += 1


@pytest.mark.parametrize(("case", "name", "message"), _NAMES, ids=[f"{c}-cli" for c, _, _ in _NAMES])
def test_cli_not_an_event_filter(case, name, message, tmp_path):
    source = _cube(tmp_path / "input.fits")
    before = file_sha256(source)
    result, lines = _invoke([source, "-f", name, "-o", tmp_path / "events.fits"])
    _one_line_error(result, lines, message)
    assert file_sha256(source) == before and sorted(p.name for p in tmp_path.iterdir()) == ["input.fits"]
    OUTCOMES["clear error"] += 1


def test_fault_matrix_summary(request):
    """Counts for the issue's closing note (complete when the whole module ran, in one process)."""
    file_runs = sum(len(FILTERS) * (1 if case.cli_only else 2) for case in CASES)
    runs = file_runs + len(_IN_MEMORY) * len(FILTERS) + 2 * len(_NAMES)
    done = sum(OUTCOMES.values())
    failed = request.session.testsfailed
    print(f"\nevent-filter fault matrix: {len(CASES)} file cases + {len(_IN_MEMORY)} in-memory cases + "
          f"{len(_NAMES)} filter names, filters {', '.join(FILTERS)}; {runs} runs: "
          f"{OUTCOMES['clear error']} clear errors, {OUTCOMES['correct result']} correct results, "
          f"{failed} failures")
    if done < runs:
        pytest.skip(f"only {done} of {runs} runs were in this process (-k, -x or xdist)")
    assert failed == 0
