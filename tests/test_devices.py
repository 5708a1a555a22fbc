"""One rule for the ``device`` parameter of every learned detector and event filter."""

import subprocess
import sys

import pytest

import crmask
from crmask.devices import DEVICE_CHOICES, device_param, resolve_device


def test_cpu_and_auto_resolve_without_a_gpu_and_cuda_says_why_not():
    torch = pytest.importorskip("torch")
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' but torch finds no CUDA device; use 'cpu' or 'auto'"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="must be one of"):
        resolve_device("gpu")


def test_the_cpu_needs_no_torch_import():
    code = "import sys; from crmask.devices import resolve_device; resolve_device('cpu'); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.parametrize("name", ["deepcr", "att-cosmic-conn"])
def test_learned_detectors_declare_the_shared_device_parameter(name):
    declared = type(crmask.get_detector(name)).parameters["device"]
    assert declared.choices == DEVICE_CHOICES == device_param().choices and declared.default == "auto"
