"""Fixtures for the benchmark tests: a tiny benchmark set with a known answer."""

import importlib.util
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io.fits import Header
from astropy.nddata import CCDData

from crmask import Detector, MaskResult, Param
from crmask.bench.dataset import write_bench_image, write_manifest


#: The repository's benchmark scripts.
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` (not a package) as a module, in `sys.modules` (dataclasses need it)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def bench_header(gain=2.0, readnoise=5.0):
    header = Header()
    header["INSTRUME"] = "TEST"
    header["EXPTIME"] = 100.0
    header["GAIN"] = gain
    header["RDNOISE"] = readnoise
    return header


class SpikeDetector(Detector):
    """A detector with a probability map: logistic in the pixel's significance above the median."""

    name = "test-spike"
    summary = "test detector"
    needs = ("gain", "readnoise")
    parameters = {"threshold": Param(0.5, "probability threshold", low=0.0, high=1.0),
                  "gain": Param(None, "gain", allow_none=True), "readnoise": Param(None, "rn", allow_none=True)}
    calls = 0

    def _detect(self, image):
        type(self).calls += 1
        e = image.in_electrons
        z = (e - np.median(e)) / np.sqrt(image.readnoise**2 + np.clip(np.median(e), 0, None))
        probability = (1 / (1 + np.exp(-(z - 6.0)))).astype(np.float32)
        t = self.params["threshold"]
        return MaskResult(mask=probability >= t, probability=probability, threshold=t)


@pytest.fixture
def spike_detector():
    SpikeDetector.calls = 0
    return SpikeDetector


@pytest.fixture
def tiny_set(tmp_path, rng):
    """Three 64x80 frames in adu: flat sky + noise, 6 bright 2-pixel CRs, a star, one ignored pixel."""
    directory = tmp_path / "tiny"
    directory.mkdir()
    rows = []
    for k in range(3):
        sky = 100.0
        data = sky + np.sqrt(25 / 4 + sky / 2) * rng.standard_normal((64, 80))
        truth = np.zeros(data.shape, bool)
        for y, x in rng.integers(5, 55, size=(6, 2)):
            truth[y, x:x + 2] = True
        data[truth] += 400.0
        star = np.zeros(data.shape, bool)
        star[58:61, 70:73] = True
        data[star] += 50.0
        ignore = np.zeros(data.shape, bool)
        ignore[0, 0] = True
        ccd = CCDData(data.astype(np.float32), unit=u.adu, header=bench_header())
        write_bench_image(directory / f"f{k}.fits", ccd, truth, ignore, star)
        rows.append({"FILE": f"f{k}.fits", "SOURCE": "test"})
    write_manifest(directory, rows, {"set": "tiny"})
    return directory


@pytest.fixture(autouse=True)
def one_thread():
    """Run detectors single-threaded: OpenMP threads spin badly on a shared 2-core machine."""
    import astroscrappy  # noqa: F401  (load its OpenMP runtime so that it can be limited)

    from crmask.bench.runner import limit_threads

    with limit_threads(1):
        yield
