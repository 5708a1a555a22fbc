"""benchmarks/fix_group_statistics.py: rewriting a weights file with fixed statistics and a new threshold."""

import pytest

from .conftest import load_benchmark

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def script():
    return load_benchmark("fix_group_statistics")


def test_replace_weights_adds_statistics_and_threshold_in_place(script, tmp_path):
    from crmask_unet.group_statistics import measure_group_statistics
    from crmask_unet.model import UNet, UNetConfig
    from crmask_unet.weights import Normalisation, file_sha256, load_weights, save_weights

    torch.manual_seed(0)
    model = UNet(UNetConfig(depth=2, width=4, norm="group")).eval()
    stats = measure_group_statistics(model, [torch.randn(1, 1, 32, 32)])
    path = save_weights(tmp_path / "model.safetensors", model, "cosmic-conn", Normalisation("median", 100.0),
                        threshold=0.5)
    sha = script.replace_weights(path, stats, 0.3)
    assert sha == file_sha256(path)
    loaded = load_weights(str(path))
    assert loaded.threshold == 0.3 and loaded.group_statistics.keys() == stats.keys()
    assert all(torch.equal(loaded.group_statistics[k], v) for k, v in stats.items())
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in model.state_dict().items())
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file left
