"""benchmarks/fix_group_statistics.py: rewriting a weights file with fixed statistics and a new threshold; the
validation scores' bound on the uninjected frames and the defects they hand over."""

import numpy as np
import pytest

from ..conftest import shared_path
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


class _Constant:
    """A stand-in detector giving every pixel one probability, without wing growth."""

    def __init__(self, value):
        self.value = value
        self.bad = []

    def probability(self, image, bad=None):
        self.bad.append(bad)
        return np.full(image.shape, self.value, dtype=np.float32)

    def wing_growth(self):
        return None


def test_validation_scores_bound_the_uninjected_frames_false_positive_rate(script):
    from crmask.bench.sources import load_real_frames
    from crmask_unet.training import THRESHOLD_GRID

    data = shared_path("saao_a8280271.fits").parent
    shared_path("cr_footprints_itl.fits.gz")
    frames = load_real_frames(data, ["saao"])
    card = {"training_data": {"real": {"validate": {"saao": "saao_a8280271.fits"}}, "val_cr_density_per_mpix": 250.0},
            "training": {"seed": 1}}
    footprints = data / "cr_footprints_itl.fits.gz"
    # a map that flags every pixel at thresholds up to 0.42 and none above: only thresholds above it are in bound
    low = script.validation_scores(_Constant(0.42), card, frames, footprints)
    assert low["usable"] and low["operating_point"]["threshold"] == 0.45
    assert low["operating_point"]["natural_fpr"] == 0.0 and low["natural_frames"]["saao"]["false_positives"] == 0
    # above every threshold of the grid: no threshold is in bound, and the scores say so
    high = script.validation_scores(_Constant(0.97), card, frames, footprints)
    assert not high["usable"] and high["operating_point"]["threshold"] == max(THRESHOLD_GRID)
    natural = high["natural_frames"]["saao"]
    assert natural["false_positives"] == natural["negatives"] == (~frames["saao"].own_crs & ~frames["saao"].defects).sum()


def test_validation_scores_hand_each_frame_its_defects_as_the_bad_pixel_mask(script):
    from crmask.bench.sources import load_real_frames

    data = shared_path("sprat_lhs6328").parent
    shared_path("cr_footprints_itl.fits.gz")
    frames = load_real_frames(data, ["sprat-4"])
    defects = frames["sprat-4"].defects
    assert defects.any()  # the dark's hot pixels and bad columns
    card = {"training_data": {"real": {"validate": {"sprat-4": "sprat_lhs6328/v_e_20180810_12_4_0_0.fits.gz"}},
                              "val_cr_density_per_mpix": 250.0}, "training": {"seed": 1}}
    detector = _Constant(0.6)
    script.validation_scores(detector, card, frames, data / "cr_footprints_itl.fits.gz")
    # two injected realisations and the uninjected frame, each handed the frame's defects, as crmask bench does
    assert len(detector.bad) == 3
    for bad in detector.bad:
        np.testing.assert_array_equal(bad, defects)
