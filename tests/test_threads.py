"""Thread limits set for a block and restored after it (`crmask.threads`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crmask.threads import limit_threads, torch_threads


def test_torch_is_not_imported_by_the_helpers():
    code = ("import sys, crmask.threads, crmask.bench.runner; from crmask.threads import limit_threads\n"
            "with limit_threads(1): pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_torch_threads_are_set_inside_and_restored_after_even_on_error():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError), limit_threads(other):
        assert torch.get_num_threads() == other
        raise KeyError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None), limit_threads(None):
        assert torch.get_num_threads() == before


def test_a_detector_threads_parameter_does_not_leak():
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    import numpy as np
    from astropy.nddata import CCDData

    import crmask

    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    data = np.random.default_rng(3).normal(100.0, 5.0, (64, 64)).astype(np.float32)
    detector = crmask.get_detector("deepcr", device="cpu", threads=other)
    result = detector.detect(CCDData(data, unit="electron"))
    assert result.probability.shape == (64, 64)
    assert torch.get_num_threads() == before
