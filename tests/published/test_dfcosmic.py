"""dfcosmic by name: conformance, the package's own result, cosmic rays found on a known frame."""

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData

from crmask.testing import iter_checks

from .conftest import fraction_of_events_found

pytest.importorskip("dfcosmic", reason="dfcosmic is not installed (pip install 'crmask[published]')")

from dfcosmic import lacosmic  # noqa: E402

from crmask_published.dfcosmic import DFCosmic  # noqa: E402


@pytest.mark.parametrize("check_name", [name for name, _ in iter_checks(DFCosmic)])
def test_conformance(check_name):
    dict(iter_checks(DFCosmic))[check_name]()


def test_finds_most_cosmic_rays_at_its_defaults(frame):
    result = DFCosmic(readnoise=5.0).detect(frame.ccd)
    assert fraction_of_events_found(result.mask, frame.crmask) >= 0.8


def test_result_is_dfcosmics_own_with_crmasks_gain_and_read_noise(frame):
    cleaned, mask = lacosmic(frame.ccd.data, sigclip=5.0, objlim=2.0, gain=2.0, readnoise=5.0, device="cpu")
    result = DFCosmic(sigclip=5.0, objlim=2.0, readnoise=5.0).detect(frame.ccd)
    np.testing.assert_array_equal(result.mask, mask)
    np.testing.assert_array_equal(result.cleaned, cleaned)


def test_an_image_in_electrons_is_run_with_gain_one(frame):
    electrons = CCDData(frame.ccd.data * 2.0, unit=u.electron)
    _, mask = lacosmic(electrons.data, gain=1.0, readnoise=5.0, device="cpu")
    np.testing.assert_array_equal(DFCosmic(readnoise=5.0).detect(electrons).mask, mask)


def test_masked_pixels_are_handed_over_as_nan(frame):
    ccd = frame.ccd.copy()
    ccd.mask = frame.crmask.copy()  # every cosmic ray masked: nothing left to find there
    given = frame.ccd.data.astype(np.float64)
    given[frame.crmask] = np.nan
    _, mask = lacosmic(given, gain=2.0, readnoise=5.0, device="cpu")
    result = DFCosmic(readnoise=5.0).detect(ccd)
    np.testing.assert_array_equal(result.mask, mask)
    assert not (result.mask & frame.crmask).any()
