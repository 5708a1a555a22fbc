"""Bounded memory: lacosmic cleans a 4096 x 4096 float32 image in under 2 GB (the U-Nets: tests/unet)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_SCRIPT = """
import numpy as np
from astropy.nddata import CCDData
import crmask
from crmask.memory import peak_rss_bytes

rng = np.random.default_rng(0)
data = rng.normal(400.0, 20.0, (4096, 4096)).astype(np.float32)
result = crmask.get_detector("lacosmic", gain=1.0, readnoise=5.0).detect(CCDData(data, unit="electron"))
assert result.mask.shape == (4096, 4096)
print(peak_rss_bytes())
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="crmask.memory has no peak RSS on Windows")
def test_lacosmic_4096_square_image_peaks_under_2_gb():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    peak_gb = int(out.stdout.strip().splitlines()[-1]) / 1024**3
    assert peak_gb < 2.0, f"lacosmic: peak resident memory {peak_gb:.2f} GB"
