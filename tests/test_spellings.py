"""One spelling per calibration quantity (``readnoise``, ``satlevel``); the former ones warn and still work."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

import crmask.ccd
from crmask.bench import sources
from crmask.ccd import prepare_image
from crmask.data.footprints import FootprintLibrary, inject_footprints
from crmask.data.synthetic import FrameSpec

ROOT = Path(__file__).resolve().parents[1]
#: Names that spelled read noise or the saturation level another way.
FORMER = {"read_noise", "READ_NOISE_E", "rdnoise", "saturation", "saturation_key", "saturate", "SATURATION_KEYS",
          "UVES_SATURATION"}
#: Where a former name is still accepted, as a deprecated alias of the new one (`crmask._deprecation`).
ALIASES = {("crmask/ccd.py", "saturation"), ("crmask/ccd.py", "saturation_key"),
           ("crmask/bench/sources.py", "saturation"), ("crmask/data/footprints.py", "saturation"),
           ("crmask/data/synthetic.py", "saturate"), ("plugins/crmask_wfi/sim/simulate.py", "read_noise")}


def _names(path: Path) -> set[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return {t.string for t in tokens if t.type == tokenize.NAME}


def test_the_code_uses_one_spelling_for_read_noise_and_saturation():
    found = []
    for folder in ("crmask", "plugins", "benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            found += [(where, name) for name in _names(path) & FORMER if (where, name) not in ALIASES]
    assert not found, f"use readnoise / satlevel: {found}"


@pytest.fixture
def frame() -> CCDData:
    data = np.random.default_rng(1).normal(1000.0, 10.0, (16, 16))
    return CCDData(data, unit="adu", meta=fits.Header({"GAIN": 2.0, "FULLWELL": 30000.0}))


def test_prepare_image_takes_the_former_saturation_keywords_with_a_warning(frame):
    new = prepare_image(frame, satlevel=50000 * u.electron)
    with pytest.warns(DeprecationWarning, match="'saturation' is deprecated; use 'satlevel'"):
        old = prepare_image(frame, saturation=50000 * u.electron)
    assert new.satlevel == old.satlevel == 25000.0
    with pytest.warns(DeprecationWarning, match="'saturation_key' is deprecated; use 'satlevel_key'"):
        assert prepare_image(frame, saturation_key="FULLWELL").satlevel == 30000.0
    with pytest.warns(DeprecationWarning, match="PreparedImage: 'saturation' is deprecated; use 'satlevel'"):
        assert new.saturation == 25000.0
    with pytest.raises(TypeError, match="got both 'saturation' and 'satlevel'"):
        prepare_image(frame, saturation=1.0, satlevel=1.0)
    with pytest.warns(DeprecationWarning, match="'SATURATION_KEYS' is deprecated; use 'SATLEVEL_KEYS'"):
        assert crmask.ccd.SATURATION_KEYS == crmask.ccd.SATLEVEL_KEYS == ("SATURATE", "SATLEVEL")
    assert crmask.ccd.FrameStack is crmask.events.FrameStack  # the module's other old names still resolve


def test_injection_and_synthetic_frames_take_the_former_spellings_with_a_warning():
    library = FootprintLibrary(fp_id=np.array([0]), offsets=np.array([0, 1]), dy=np.array([0]), dx=np.array([0]),
                               charge=np.array([1e6], dtype=np.float32), height=np.array([1]), width=np.array([1]))
    new = inject_footprints(np.zeros((8, 8)), library, 1, gain=1.0, readnoise=1.0,
                            rng=np.random.default_rng(3), satlevel=1000.0)
    with pytest.warns(DeprecationWarning, match="inject_footprints: 'saturation' is deprecated"):
        old = inject_footprints(np.zeros((8, 8)), library, 1, gain=1.0, readnoise=1.0,
                                rng=np.random.default_rng(3), saturation=1000.0)
    np.testing.assert_array_equal(new.data, old.data)
    assert new.data.max() == 1000.0
    spec = FrameSpec(gain=2.0, full_well=90000.0, adc_max=65535.0)
    with pytest.warns(DeprecationWarning, match="FrameSpec: 'saturate' is deprecated; use 'satlevel'"):
        assert spec.saturate == spec.satlevel == 45000.0


def test_real_frames_take_the_former_saturation_spelling_with_a_warning():
    data = np.random.default_rng(2).normal(100.0, 3.0, (32, 32))
    common = dict(name="test", path="t.fits", data=data, gain=2.0, readnoise=5.0, own_crs=np.zeros(data.shape, bool),
                  labels=None, defects=np.zeros(data.shape, bool), header=fits.Header(), calibration="test",
                  instrument="TEST", exptime=1.0)
    with pytest.warns(DeprecationWarning, match="RealFrame.__init__: 'saturation' is deprecated"):
        old = sources.RealFrame(saturation=60000.0, **common)
    assert old == sources.RealFrame(satlevel=60000.0, **common)
    with pytest.warns(DeprecationWarning, match="RealFrame: 'saturation' is deprecated"):
        assert old.saturation == 60000.0
    data[10, 10] = 1e6  # one cosmic-ray pixel, above the saturation level
    new = sources.own_cosmic_rays(data, 2.0, 5.0, satlevel=1e5, grow=0)
    with pytest.warns(DeprecationWarning, match="own_cosmic_rays: 'saturation' is deprecated"):
        np.testing.assert_array_equal(sources.own_cosmic_rays(data, 2.0, 5.0, saturation=1e5, grow=0), new)
    with pytest.warns(DeprecationWarning, match="'UVES_SATURATION' is deprecated; use 'UVES_SATLEVEL'"):
        assert sources.UVES_SATURATION == sources.UVES_SATLEVEL == 65300.0
