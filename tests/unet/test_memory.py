"""Bounded memory: a 4096 x 4096 image goes through every default model in under 2 GB (tiles or blocks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch")

_SCRIPT = """
import numpy as np
from astropy.nddata import CCDData
import crmask
from crmask.memory import peak_rss_bytes

rng = np.random.default_rng(0)
data = rng.normal(400.0, 20.0, (4096, 4096)).astype(np.float32)
result = crmask.get_detector("{name}", device="cpu", threads=1).detect(CCDData(data, unit="electron"))
assert result.probability.shape == (4096, 4096)
print(peak_rss_bytes())
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="crmask.memory has no peak RSS on Windows")
@pytest.mark.parametrize("name", ["deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn"])
def test_4096_square_image_peaks_under_2_gb(name):
    out = subprocess.run([sys.executable, "-c", _SCRIPT.format(name=name)], capture_output=True, text=True,
                         check=True)
    peak_gb = int(out.stdout.strip().splitlines()[-1]) / 1024**3
    assert peak_gb < 2.0, f"{name}: peak resident memory {peak_gb:.2f} GB"
