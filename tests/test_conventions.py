"""The anchors' calling conventions: Quantities, plain arrays, named header keywords, --skip-existing."""

from __future__ import annotations

import astropy.units as u
import ccdproc
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from click.testing import CliRunner

import crmask
from crmask.ccd import prepare_image
from crmask.cli import cli
from crmask.io import read_ccd

from .conftest import EXAMPLE_FRAME

GAIN = 2.45  # e-/adu, the GAIN keyword of the example frame
READNOISE = 5.7  # e-


@pytest.fixture(scope="module")
def frame() -> CCDData:
    """The example frame in adu, its 917 adu pedestal removed."""
    ccd = read_ccd(EXAMPLE_FRAME, unit="adu")
    ccd.data = ccd.data - 917.0
    return ccd


def test_quantities_give_the_mask_of_the_plain_numbers_as_in_ccdproc(frame):
    # sky_pedestal=False: the frame has almost no sky, and ccdproc does not add one back
    plain = crmask.cosmicray_clean(frame, "lacosmic", gain=GAIN, readnoise=READNOISE, sky_pedestal=False)
    quantities = crmask.cosmicray_clean(frame, "lacosmic", gain=GAIN * u.electron / u.adu,
                                        readnoise=READNOISE * u.electron, sky_pedestal=False)
    in_adu = crmask.cosmicray_clean(frame, "lacosmic", readnoise=(READNOISE / GAIN) * u.adu, sky_pedestal=False)
    expected = ccdproc.cosmicray_lacosmic(frame, gain=GAIN * u.electron / u.adu,
                                          readnoise=READNOISE * u.electron, gain_apply=False)
    assert expected.mask.sum() > 0
    for result in (plain, quantities, in_adu):
        np.testing.assert_array_equal(result.mask, expected.mask)
    assert quantities.header["CRMGAIN"] == GAIN and in_adu.header["CRMRDN"] == pytest.approx(READNOISE)


def test_saturation_quantity_in_electrons_is_converted_to_the_image_unit(frame):
    image = prepare_image(frame, gain=GAIN * u.electron / u.adu, satlevel=49000 * u.electron)
    assert image.satlevel == pytest.approx(20000.0)
    assert prepare_image(frame, satlevel=60000 * u.adu).satlevel == 60000.0
    electrons = CCDData(np.asarray(frame.data) * GAIN, unit="electron")
    assert prepare_image(electrons, satlevel=49000 * u.electron).satlevel == 49000.0
    with pytest.raises(crmask.InvalidImageError, match="cannot be converted to electron"):
        prepare_image(electrons, satlevel=20000 * u.adu)
    with pytest.raises(crmask.InvalidImageError, match="image is in electrons"):
        prepare_image(electrons, readnoise=2.3 * u.adu)
    unknown_gain = CCDData(np.asarray(frame.data), unit="adu")
    with pytest.raises(crmask.MissingCalibrationError, match="gain is unknown"):
        prepare_image(unknown_gain, satlevel=49000 * u.electron)


@pytest.mark.parametrize("name, value, physical", [
    ("gain", 2.45 * u.electron, "electron"),
    ("readnoise", 5.7 * u.m, "length"),
    ("satlevel", 6e4 * u.electron / u.s, "electron / s"),
])
def test_a_quantity_of_the_wrong_physical_type_is_a_one_line_error(name, value, physical):
    with pytest.raises(ValueError, match=f"parameter '{name}' has unit .*{physical}.*; give it in") as info:
        crmask.get_detector("lacosmic", **{name: value})
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="must be a float in"):
        crmask.get_detector("lacosmic", gain=-2 * u.electron / u.adu)


def test_a_plain_array_gives_the_result_of_the_equivalent_ccddata(frame):
    array = np.asarray(frame.data, dtype=np.float32)
    options = {"gain": GAIN, "readnoise": READNOISE, "sky_pedestal": False}  # astroscrappy's own noise model
    from_array = crmask.cosmicray_clean(array, "lacosmic", **options)
    from_ccd = crmask.cosmicray_clean(CCDData(array, unit="adu"), "lacosmic", **options)
    assert isinstance(from_array, CCDData) and from_array.unit == u.adu
    assert from_array.mask.sum() > 0
    np.testing.assert_array_equal(from_array.mask, from_ccd.mask)
    np.testing.assert_array_equal(from_array.data, from_ccd.data)
    # astroscrappy's own (crmask, cleanarr) for the same array
    import astroscrappy

    mask, _ = astroscrappy.detect_cosmics(array, gain=GAIN, readnoise=READNOISE, satlevel=65535.0)
    np.testing.assert_array_equal(from_array.mask, mask)
    quantity = crmask.cosmicray_clean(array * GAIN * u.electron, "lacosmic", readnoise=READNOISE)
    assert quantity.unit == u.electron and quantity.mask.sum() > 0
    with pytest.raises(crmask.MissingCalibrationError, match="gain is not known"):
        crmask.cosmicray_clean(array, "lacosmic", readnoise=READNOISE)


def test_header_keywords_can_be_named(frame):
    ccd = frame.copy()
    ccd.meta = fits.Header({"DETGAIN": GAIN, "NOISE_E": READNOISE, "FULLWELL": 30000.0})
    image = prepare_image(ccd, gain_key="DETGAIN", readnoise_key="noise_e", satlevel_key="FULLWELL",
                          needs=("gain", "readnoise"))
    assert (image.gain, image.readnoise, image.satlevel) == (GAIN, READNOISE, 30000.0)
    named = crmask.cosmicray_clean(ccd, "lacosmic", gain_key="DETGAIN", readnoise_key="NOISE_E")
    np.testing.assert_array_equal(named.mask, crmask.cosmicray_clean(frame, "lacosmic", gain=GAIN,
                                                                      readnoise=READNOISE).mask)
    with pytest.raises(crmask.MissingCalibrationError, match="EGAIN keyword"):
        crmask.cosmicray_clean(ccd, "lacosmic", gain_key="EGAIN", readnoise=READNOISE)
    # The keyword the user names replaces the defaults: GAIN is not read.
    ccd.meta["GAIN"] = 99.0
    assert prepare_image(ccd, gain_key="DETGAIN").gain == GAIN


def test_cli_gain_key_and_choices(tmp_path):
    runner = CliRunner()
    source = tmp_path / "in.fits"
    header = fits.getheader(EXAMPLE_FRAME)
    header["DETGAIN"] = header.pop("GAIN")
    header.remove("EPERDN", ignore_missing=True)
    fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME), header=header).writeto(source)
    args = ["detect", str(source), "--unit", "adu", "--readnoise", "5.7", "-o", str(tmp_path / "out")]
    missing = runner.invoke(cli, args)
    assert missing.exit_code == 1 and "gain is not known" in missing.output
    named = runner.invoke(cli, [*args, "--gain-key", "DETGAIN"])
    assert named.exit_code == 0, named.output
    assert fits.getval(tmp_path / "out" / "in.fits", "CRMGAIN") == 2.45
    for option, value in (("--unit", "Jy"), ("--device", "gpu")):
        wrong = runner.invoke(cli, [*args, option, value])
        assert wrong.exit_code == 2 and "Invalid value for" in wrong.output and option in wrong.output


def _commands(group, prefix="crmask"):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def test_every_option_of_the_core_and_unet_commands_has_help():
    import click

    owners = ("crmask", "crmask_unet")
    missing = [f"{path} {param.opts[-1]}" for path, command in _commands(cli)
               if not command.callback or command.callback.__module__.split(".")[0] in owners
               for param in command.params if isinstance(param, click.Option) and not param.help]
    assert not missing, f"options without help text: {missing}"


def test_skip_existing_runs_only_the_files_without_an_output(tmp_path):
    runner = CliRunner()
    frames = []
    for name in ("a.fits", "b.fits"):
        frames.append(tmp_path / name)
        fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME), header=fits.getheader(EXAMPLE_FRAME)).writeto(frames[-1])
    out = tmp_path / "out"
    args = ["detect", *map(str, frames), "--unit", "adu", "--readnoise", "5.7", "-o", str(out)]
    assert runner.invoke(cli, [*args[:2], *args[3:]]).exit_code == 0  # only a.fits
    before = (out / "a.fits").read_bytes()
    skipping = runner.invoke(cli, [*args, "--skip-existing"])
    assert skipping.exit_code == 0, skipping.output
    assert "a.fits -> " in skipping.output and "skipped, the output exists" in skipping.output
    assert "b.fits" in skipping.output and "CR pixels" in skipping.output
    assert (out / "a.fits").read_bytes() == before and (out / "b.fits").exists()
    again = runner.invoke(cli, args)  # without the flag an existing output is still an error
    assert again.exit_code == 1 and "a.fits: exists; use --overwrite" in again.output
    both = runner.invoke(cli, [*args, "--skip-existing", "--overwrite"])
    assert both.exit_code != 0 and "contradict" in both.output


def test_skip_existing_on_dask_reports_skipped_files(tmp_path):
    pytest.importorskip("distributed")
    from crmask.batch import detect_many

    frames = []
    for name in ("a.fits", "b.fits"):
        frames.append(tmp_path / name)
        fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME), header=fits.getheader(EXAMPLE_FRAME)).writeto(frames[-1])
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.fits").write_bytes(b"an earlier result")
    result = detect_many(frames, "lacosmic", client="local", outdir=out, n_workers=1, skip_existing=True,
                         unit="adu", progress=False, readnoise=5.7)
    assert [f.status for f in result] == ["skipped", "done"], [f.error for f in result]
    assert result.ok and result.skipped[0].path == str(frames[0])
    assert (out / "a.fits").read_bytes() == b"an earlier result"
    with pytest.raises(ValueError, match="contradict"):
        detect_many(frames, "lacosmic", outdir=out, skip_existing=True, overwrite=True)
