"""crmask.plot_mask and ``crmask detect --plot``: the picture shows what the masks say."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from click.testing import CliRunner
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import crmask
from crmask.cli import cli
from crmask.exceptions import InvalidImageError, OutputExistsError
from crmask.plotting import MASK_COLORS, save_mask_png

from .conftest import EXAMPLE_FRAME

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def frame(rng):
    """A 40 x 60 noise image with 3 found pixels, 2 of them true, and 1 true pixel missed."""
    data = rng.normal(100.0, 5.0, (40, 60))
    mask = np.zeros(data.shape, bool)
    truth = np.zeros(data.shape, bool)
    mask[[10, 10, 30], [5, 6, 50]] = True       # (10,5), (10,6) true; (30,50) false positive
    truth[[10, 10, 20], [5, 6, 25]] = True      # (20,25) missed
    return data, mask, truth


def _axes():
    return Figure().add_subplot()


def _legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_truth_colours_true_false_positives_and_misses(frame):
    data, mask, truth = frame
    ax = crmask.plot_mask(data, mask, truth=truth, ax=_axes())
    assert _legend(ax) == ["true positive: 2 px", "false positive: 1 px", "false negative: 1 px"]
    tp, fp, fn = (np.asarray(image.get_array()) for image in ax.images[1:])
    for layer, where, name in ((tp, (10, 5), "true positive"), (fp, (30, 50), "false positive"),
                               (fn, (20, 25), "false negative")):
        np.testing.assert_allclose(layer[where], to_rgba(MASK_COLORS[name], 0.8))
        assert np.count_nonzero(layer[..., 3]) == {"true positive": 2}.get(name, 1)


def test_ccddata_mask_and_result_are_drawn(frame):
    data, mask, _ = frame
    ccd = CCDData(data, unit="adu", mask=mask)
    assert _legend(crmask.plot_mask(ccd, ax=_axes())) == ["cosmic ray: 3 px"]
    result = crmask.MaskResult(mask=mask)
    assert _legend(crmask.plot_mask(data, result, ax=_axes())) == ["cosmic ray: 3 px"]


def test_region_zooms_in_pixel_coordinates_and_counts_what_is_shown(frame):
    data, mask, truth = frame
    ax = crmask.plot_mask(data, mask, truth=truth, region=np.s_[5:25, 0:30], ax=_axes())
    assert ax.get_xlim() == (-0.5, 29.5) and ax.get_ylim() == (4.5, 24.5)
    assert ax.images[0].get_array().shape == (20, 30)
    assert _legend(ax) == ["true positive: 2 px", "false positive: 0 px", "false negative: 1 px"]


def test_stretch_is_zscale_of_the_region_shown(frame):
    from astropy.visualization import ZScaleInterval

    data, _, _ = frame
    data[0, 0] = 1e6  # a hot pixel outside the region must not set the limits
    ax = crmask.plot_mask(data, region=np.s_[10:40, :], ax=_axes())
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == pytest.approx(ZScaleInterval().get_limits(data[10:40, :]))


@pytest.mark.parametrize("region", [(0, 10, 0, 10), np.s_[5:5, :], np.s_[::2, :], (slice(0, 3),)])
def test_bad_region_is_a_clear_error(frame, region):
    with pytest.raises(ValueError, match="region"):
        crmask.plot_mask(frame[0], region=region, ax=_axes())


def test_bad_inputs_are_clear_errors(frame):
    data, mask, truth = frame
    with pytest.raises(InvalidImageError, match="mask shape"):
        crmask.plot_mask(data, mask[:-1], ax=_axes())
    with pytest.raises(InvalidImageError, match="plot_mask\\(ccd, result\\)"):
        crmask.plot_mask(crmask.MaskResult(mask=mask), ax=_axes())
    with pytest.raises(ValueError, match="stretch must be one of"):
        crmask.plot_mask(data, stretch="cube", ax=_axes())
    with pytest.raises(ValueError, match="truth mask was given without a mask"):
        crmask.plot_mask(data, truth=truth, ax=_axes())


def test_importing_crmask_does_not_import_matplotlib():
    code = "import sys, crmask; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_save_mask_png_never_replaces_its_source_or_an_existing_file(tmp_path, frame):
    data, mask, _ = frame
    path = save_mask_png(data, mask, tmp_path / "a.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(OutputExistsError, match="use --overwrite"):
        save_mask_png(data, mask, path)
    source = tmp_path / "input.png"
    source.write_bytes(b"input data")
    with pytest.raises(OutputExistsError, match="its own input"):
        save_mask_png(data, mask, source, source=source, overwrite=True)
    assert source.read_bytes() == b"input data"


def test_detect_plot_writes_a_png_beside_each_output_and_respects_overwrite(tmp_path):
    runner = CliRunner()
    args = ["detect", str(EXAMPLE_FRAME), "--unit", "adu", "--readnoise", "5.7", "-o", str(tmp_path), "--plot"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    png = tmp_path / "v_e_20180810_12_1_0_0.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert fits.getval(tmp_path / "v_e_20180810_12_1_0_0.fits", "CRMNPIX") > 0
    before = png.read_bytes()
    (tmp_path / "v_e_20180810_12_1_0_0.fits").unlink()
    again = runner.invoke(cli, args)  # the FITS output is gone, the picture is not: refused before any work
    assert again.exit_code == 1 and "v_e_20180810_12_1_0_0.png: exists; use --overwrite" in again.output
    assert not (tmp_path / "v_e_20180810_12_1_0_0.fits").exists() and png.read_bytes() == before
    forced = runner.invoke(cli, [*args, "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert png.read_bytes().startswith(PNG_MAGIC)
