"""The scripts in examples/ run as documented and produce what they say (smoke tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import crmask

from .conftest import EXAMPLE_FRAME, shared_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``examples/NAME`` with ``args`` in ``cwd``; fail with its output if it fails."""
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _require_detector(name: str) -> None:
    names = [d.name for d in [*crmask.list_detectors(), *crmask.list_event_filters()]]
    if name not in names:
        pytest.skip(f"example needs detector {name!r}, which is not registered here (registered: {names})")


def readme_job() -> list[str]:
    """The arguments of the example script that the README's first command runs."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    job = first.split("&&")[1].split()
    assert job[:2] == ["python", "examples/reduce_sprat.py"], f"the README's first command changed: {first}"
    return job[2:]


@pytest.fixture(scope="module")
def reduced_sprat(tmp_path_factory) -> tuple[Path, str]:
    """The README's main job, run as the README runs it (with the shared dark when it is present)."""
    cwd = tmp_path_factory.mktemp("reduce")
    args = readme_job()
    proc = run_example("reduce_sprat.py", *args, cwd=cwd)
    return cwd / args[args.index("-o") + 1], proc.stdout


def test_reduce_sprat_writes_a_cleaned_frame_in_electrons(reduced_sprat):
    path, stdout = reduced_sprat
    raw = fits.getdata(EXAMPLE_FRAME).astype(float)
    with fits.open(path) as hdul:
        header = hdul[0].header
        data = hdul[0].data
        masked = hdul["MASK"].data.astype(bool)
        mask = hdul["CRMASK"].data.astype(bool)
        uncert = hdul["UNCERT"].data
    assert header["BUNIT"] == "electron"
    assert header["CRMDET"] == "lacosmic" and header["CRMRDN"] == 5.7
    assert header["CRMGAIN"] == 1.0, "an image in electrons is not multiplied by the gain again"
    assert header["INSTRUME"] == "SPRAT", "the raw header survives the reduction"
    assert 0 < header["CRMNPIX"] == mask.sum()
    assert masked.sum() == header["CRMNPIX"] + header["NHOTPIX"] and not (mask & ~masked).any()
    assert f"found {header['CRMNPIX']} cosmic-ray pixels" in stdout and len(stdout.splitlines()) == 1
    # The pedestal is the raw frame's level without its sources, about 917 adu (../shared/data/README.md).
    assert 910 < header["PEDESTAL"] < 925
    # Outside the cosmic rays the data are the raw frame, pedestal-subtracted, times the gain.
    expected = (raw - header["PEDESTAL"]) * 2.45
    np.testing.assert_allclose(data[~mask], expected[~mask], rtol=1e-6, atol=1e-6)
    # Cleaning removes the cosmic-ray charge: almost all of it (the frame has no other bright compact source).
    assert data[mask].sum() < 0.1 * expected[mask].sum()
    assert np.all(uncert > 0)


def test_reduce_sprat_finds_the_cosmic_rays_seen_in_the_repeats(reduced_sprat):
    truth_path = shared_path("sprat_lhs6328", "v_e_20180810_12_1_0_0_crmask.fits.gz")
    truth = fits.getdata(truth_path).astype(bool)
    with fits.open(reduced_sprat[0]) as hdul:
        found = hdul["MASK"].data.astype(bool)
    # The truth masks come from comparing five repeated exposures.
    assert (found & truth).sum() / truth.sum() > 0.6


def test_reduce_sprat_masks_the_hot_pixels_of_the_shared_dark(reduced_sprat):
    dark = fits.getdata(shared_path("sprat_lhs6328", "v_dark_1.fits.gz")).astype(float)
    truth = fits.getdata(shared_path("sprat_lhs6328", "v_e_20180810_12_1_0_0_crmask.fits.gz")).astype(bool)
    with fits.open(reduced_sprat[0]) as hdul:
        masked = hdul["MASK"].data.astype(bool)
        found = hdul["CRMASK"].data.astype(bool)
    # Pixels with ten times the dark's median current in 600 s are hot, whatever the threshold.
    hot = dark > 10 * np.median(dark)
    assert hot.sum() > 100 and (masked & hot).sum() == hot.sum() and not (found & hot).any()
    # Most flagged pixels are then cosmic rays of the truth mask; without the hot-pixel mask most were hot pixels.
    assert (found & truth).sum() > 0.3 * found.sum()


def test_the_bundled_hot_pixel_mask_is_the_one_of_the_shared_dark():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import reduce_sprat
    finally:
        sys.path.remove(str(EXAMPLES))
    from_dark = reduce_sprat.hot_pixels(shared_path("sprat_lhs6328", "v_dark_1.fits.gz"))
    bundled = fits.getdata(reduce_sprat.HOT_PIXELS)
    assert bundled.dtype == np.uint8 and from_dark.sum() == fits.getval(reduce_sprat.HOT_PIXELS, "NHOTPIX") > 0
    np.testing.assert_array_equal(bundled.astype(bool), from_dark)


def test_reduce_sprat_runs_without_a_dark(tmp_path):
    proc = run_example("reduce_sprat.py", "--no-dark", "-o", "sub/reduced.fits", cwd=tmp_path)
    header = fits.getheader(tmp_path / "sub" / "reduced.fits")
    assert header["NHOTPIX"] == 0 and header["CRMNPIX"] > 0
    assert "masking 0 hot pixels" in proc.stdout


def test_reduce_sprat_refuses_to_replace_an_output_without_overwrite(tmp_path):
    output = tmp_path / "mine.fits"
    output.write_bytes(b"a file of the user's")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "reduce_sprat.py"), "--no-dark", "-o", str(output)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and f"{output} exists; pass --overwrite to replace it" in proc.stderr
    assert output.read_bytes() == b"a file of the user's"
    run_example("reduce_sprat.py", "--no-dark", "-o", str(output), "--overwrite", cwd=tmp_path)
    assert fits.getheader(output)["CRMNPIX"] > 0


def test_the_readme_command_runs_again(reduced_sprat):
    path, _ = reduced_sprat
    run_example("reduce_sprat.py", *readme_job(), cwd=path.parent.parent)  # the README's output exists: replaced
    assert fits.getheader(path)["CRMNPIX"] > 0


def test_compare_detectors_reports_both_and_draws_the_roc(tmp_path):
    proc = run_example("compare_detectors.py", "-o", "cmp", cwd=tmp_path)
    summary = Table.read(tmp_path / "cmp" / "summary.ecsv")
    assert list(summary["label"])[0] == "lacosmic"
    assert list(summary["label"])[1] in ("att-cosmic-conn", "lacosmic-convolve")
    assert len(summary) == 2
    if summary["set"][0] == "injected":
        # Real footprints injected with exact truth: LACosmic finds nearly all of their pixels.
        assert summary["tpr_1e-3"][0] > 0.9
    assert all(0 <= value <= 1 for value in summary["tpr_1e-3"])
    for plot in ("roc.png", "pr.png"):
        assert (tmp_path / "cmp" / plot).stat().st_size > 10_000
    assert "| lacosmic |" in proc.stdout


def test_wfi_simulate_filter_compare(tmp_path):
    _require_detector("classic")
    proc = run_example("wfi_simulate_filter.py", "--frames", "40", "-o", "cmp", cwd=tmp_path)
    table = Table.read(tmp_path / "cmp" / "metrics.ecsv")
    assert "classic" in set(table["FILTER"])
    assert {"RECALL", "PRECISION", "LOST_XRAY", "FOR", "FOR_IMPROVEMENT"} <= set(table.colnames)
    assert "simulated 40 frames of 512x512" in proc.stdout
    assert "warning: only" in proc.stdout and "too few to compare the filters" in proc.stdout  # ~1 CR event
    assert table["N_XRAY"][0] > 0, "X-rays were simulated, reconstructed and matched to the truth"
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 0
