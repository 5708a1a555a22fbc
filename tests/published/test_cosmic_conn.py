"""Cosmic-CoNN's models by name: conformance, the package's own result, every pixel seen, CRs found."""

import numpy as np
import pytest
from astropy.nddata import CCDData

from crmask.testing import iter_checks

from .conftest import fraction_of_events_found

pytest.importorskip("cosmic_conn", reason="cosmic-conn is not installed (pip install 'crmask[published]')")

from cosmic_conn import init_model  # noqa: E402
from cosmic_conn.dl_framework.options import ModelOptions  # noqa: E402

from crmask_published.cosmic_conn import CosmicCoNNGround, CosmicCoNNHST, CosmicCoNNNRES  # noqa: E402

CLASSES = (CosmicCoNNGround, CosmicCoNNNRES, CosmicCoNNHST)
MODELS = {CosmicCoNNGround: "ground_imaging", CosmicCoNNNRES: "NRES", CosmicCoNNHST: "HST_ACS_WFC"}


def package_model(name: str, crop: int):
    options = ModelOptions()
    options.crop = crop
    return init_model(name, options)


@pytest.mark.parametrize(("cls", "check_name"),
                         [(cls, name) for cls in CLASSES for name, _ in iter_checks(cls)],
                         ids=lambda value: getattr(value, "name", value))
def test_conformance(cls, check_name):
    dict(iter_checks(cls))[check_name]()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.name)
def test_finds_most_cosmic_rays_at_its_default_threshold(cls, frame):
    result = cls().detect(frame.ccd)
    assert fraction_of_events_found(result.mask, frame.crmask) >= 0.8
    assert np.count_nonzero(result.mask & frame.crmask) >= 0.5 * frame.crmask.sum()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.name)
def test_result_is_cosmic_conns_own_on_electrons(cls, frame):
    electrons = (frame.ccd.data.astype(np.float64) * 2.0).astype(np.float32)  # the frame is in adu, gain 2
    expected = package_model(MODELS[cls], crop=128).detect_cr(electrons.copy(), ret_numpy=True)
    result = cls(tile=128).detect(frame.ccd)
    np.testing.assert_array_equal(result.probability, expected)
    np.testing.assert_array_equal(result.mask, expected > 0.5)
    assert result.threshold == 0.5 and result.meta["package"] == "cosmic-conn 0.6.1"


def test_whole_image_without_tiles_is_cosmic_conns_full_image_detection(frame):
    electrons = (frame.ccd.data.astype(np.float64) * 2.0).astype(np.float32)
    expected = package_model("ground_imaging", crop=0).detect_cr(electrons.copy(), ret_numpy=True)
    np.testing.assert_array_equal(CosmicCoNNGround(tile=None).detect(frame.ccd).probability, expected)


def test_every_pixel_is_examined_when_the_size_is_not_a_multiple_of_16(frame):
    data = frame.ccd.data[:250, :310].copy()  # 10 rows and 6 columns beyond the last multiple of 16
    hits = [(246, 120), (247, 120), (248, 121), (100, 307), (101, 308)]
    for y, x in hits:
        data[y, x] += 3000.0
    rows, cols = zip(*hits)
    electrons = (data.astype(np.float64) * 2.0).astype(np.float32)
    alone = init_model("ground_imaging").detect_cr(electrons.copy(), ret_numpy=True)
    assert not alone[rows, cols].any()  # the package alone leaves them at probability 0
    result = CosmicCoNNGround().detect(CCDData(data, unit="adu", header=frame.ccd.header))
    assert result.mask[rows, cols].all()
