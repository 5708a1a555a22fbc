"""The wfi-cam-rf event filter on a small model built here (random DenseNet, small forest)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from crmask.exceptions import CrmaskError

torch = pytest.importorskip("torch")
pytest.importorskip("imblearn")

from crmask_wfi.camrf import filter as camrf_filter  # noqa: E402
from crmask_wfi.camrf.filter import CamRandomForestFilter, cam_event_features  # noqa: E402
from crmask_wfi.events.stream import filter_file  # noqa: E402
from crmask_wfi.camrf.densenet import DenseNetConfig, FrameDenseNet  # noqa: E402
from crmask_wfi.camrf.features import FEATURE_NAMES  # noqa: E402
from crmask_wfi.camrf.forest import ForestModel, fit_balanced_forest  # noqa: E402
from crmask_wfi.camrf.model_io import (  # noqa: E402
    DENSENET_FILE, FOREST_FILE, SHIPPED_MODEL_DIR, load_densenet, save_densenet, write_model_card,
)
from crmask_wfi.sim.physics import ELECTRONS_PER_KEV  # noqa: E402
from crmask_wfi.sim.simulate import electrons_to_kev, simulate_frames  # noqa: E402

TINY = DenseNetConfig(initial_features=8, growth_rate=4, layers_per_block=(2, 2))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cam_rf")
    torch.manual_seed(0)
    net = FrameDenseNet(TINY)
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        net.train()
        net(torch.rand(16, 1, 64, 64))
    save_densenet(net.eval(), directory / DENSENET_FILE)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, len(FEATURE_NAMES))).astype(np.float32)
    x[:, 0] = rng.uniform(0.3, 10, 600)
    is_cr = x[:, 0] + rng.normal(0, 2, 600) > 8
    forest = fit_balanced_forest(x, is_cr, n_trees=25, seed=0)
    ForestModel.from_sklearn(forest, FEATURE_NAMES).save(directory / FOREST_FILE)
    write_model_card(directory, {"name": "wfi-cam-rf", "threshold": 0.5})
    return directory


@pytest.fixture(scope="module")
def frames():
    """Three 128x128 frames with ~10 X-rays and a cosmic ray or two each, in electrons."""
    return simulate_frames(3, shape=(128, 128), xray_rate=160.0, cr_rate=40.0, seed=4).signal


def test_table_has_classic_columns_and_scores(model_dir, frames):
    filt = CamRandomForestFilter(weights=str(model_dir))
    table = filt.filter(frames * u.electron)
    for column in ("FRAME", "X", "Y", "ENERGY", "GRADE", "PHAS", "IN_BAND", "P_CR", "CR_FLAG"):
        assert column in table.colnames
    energy, p_cr, in_band = (np.asarray(table[c]) for c in ("ENERGY", "P_CR", "IN_BAND"))
    assert in_band.sum() >= 10
    np.testing.assert_array_equal(in_band, (energy >= 0.3) & (energy < 10.0))
    assert np.all((p_cr[in_band] >= 0) & (p_cr[in_band] <= 1))
    assert np.all(p_cr[energy >= 10.0] == 1.0) and np.all(np.isnan(p_cr[energy < 0.3]))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(table["CR_FLAG"], p_cr >= 0.5)
    assert table.meta["threshold"] == 0.5 and filt.threshold == 0.5


def test_threshold_change_reflags_without_running_the_model(model_dir, frames, monkeypatch):
    filt = CamRandomForestFilter(weights=str(model_dir))
    table = filt.filter(frames * u.electron)
    in_band = np.asarray(table["IN_BAND"])
    p_cr = np.asarray(table["P_CR"])
    low = float(np.quantile(p_cr[in_band], 0.25))

    def no_network(*args, **kwargs):
        raise AssertionError("flag() must not run the network")

    monkeypatch.setattr(camrf_filter, "cam_event_features", no_network)
    lowered = filt.flag(table, low)
    assert lowered["CR_FLAG"][in_band].sum() > table["CR_FLAG"][in_band].sum()
    np.testing.assert_array_equal(lowered["P_CR"], table["P_CR"])
    np.testing.assert_array_equal(lowered["CR_FLAG"][in_band], p_cr[in_band] >= low)
    assert lowered.meta["threshold"] == low
    # The default re-applies the model card's threshold.
    np.testing.assert_array_equal(filt.flag(lowered)["CR_FLAG"], table["CR_FLAG"])
    with pytest.raises(ValueError, match="threshold"):
        filt.flag(table, 1.5)


def test_threshold_parameter_equals_flagging_afterwards(model_dir, frames):
    table = CamRandomForestFilter(weights=str(model_dir), threshold=0.3).filter(frames * u.electron)
    again = CamRandomForestFilter(weights=str(model_dir)).filter(frames * u.electron)
    np.testing.assert_array_equal(table["CR_FLAG"], CamRandomForestFilter(weights=str(model_dir)).flag(again, 0.3)["CR_FLAG"])


def test_loaded_model_reproduces_in_memory_predictions(model_dir, frames):
    """Save/load round trip: the filter (reading the files) equals the in-memory pipeline."""
    table = CamRandomForestFilter(weights=str(model_dir)).filter(frames * u.electron)
    band = table[np.asarray(table["IN_BAND"])]
    net = load_densenet(model_dir / DENSENET_FILE)
    forest = ForestModel.load(model_dir / FOREST_FILE)
    frames_kev = np.asarray(electrons_to_kev(frames), dtype=np.float32)
    features = cam_event_features(net, frames_kev, np.asarray(band["FRAME"]), np.asarray(band["Y"]),
                                  np.asarray(band["X"]), np.asarray(band["ENERGY"]))
    np.testing.assert_array_equal(forest.predict_proba(features), np.asarray(band["P_CR"]))


def test_electrons_and_kev_give_the_same_events(model_dir, frames):
    filt = CamRandomForestFilter(weights=str(model_dir))
    in_e = filt.filter([CCDData(f, unit=u.electron) for f in frames])
    in_kev = filt.filter((frames / ELECTRONS_PER_KEV) * u.keV)
    np.testing.assert_array_equal(in_e["X"], in_kev["X"])
    np.testing.assert_allclose(in_e["P_CR"], in_kev["P_CR"], equal_nan=True)


def test_bad_parameters_and_missing_weights(tmp_path):
    with pytest.raises(ValueError, match="emin"):
        CamRandomForestFilter(emin=10.0, emax=5.0)
    with pytest.raises(ValueError, match="split_threshold"):
        CamRandomForestFilter(split_threshold=0.5, event_threshold=0.26)
    with pytest.raises(FileNotFoundError, match="densenet.safetensors"):
        CamRandomForestFilter(weights=str(tmp_path))
    with pytest.raises(CrmaskError, match="model directory .*nonexistent does not exist"):
        CamRandomForestFilter(weights=str(tmp_path / "nonexistent"))


def test_shipped_model_has_a_card_with_an_operating_threshold():
    if not (SHIPPED_MODEL_DIR / "model_card.json").is_file():
        pytest.skip("no shipped wfi-cam-rf weights in this checkout")
    filt = CamRandomForestFilter()
    card = filt.model()["card"]
    assert 0.0 <= filt.threshold <= 1.0 and filt.threshold == card["threshold"]
    for key in ("architecture", "training_data", "training", "heldout_metrics_percent"):
        assert key in card


def test_forest_inputs_follow_the_forest_feature_names():
    from crmask_wfi.camrf.filter import assemble_features
    from crmask_wfi.camrf.context import CONTEXT_FEATURE_NAMES

    cam = np.arange(20, dtype=np.float32).reshape(2, 10)
    context = np.array([[3.0, 1.0], [60.0, 2.0]], dtype=np.float32)

    def no_context():
        raise AssertionError("context computed although the forest does not use it")

    assert assemble_features(FEATURE_NAMES, cam, no_context) is cam
    both = assemble_features(FEATURE_NAMES + CONTEXT_FEATURE_NAMES, cam, lambda: context)
    np.testing.assert_array_equal(both, np.hstack([cam, context]))
    with pytest.raises(ValueError, match="the forest expects features"):
        assemble_features(("ENERGY", "SOMETHING_ELSE"), cam, lambda: context)


def test_shipped_model_scores_simulated_frames():
    if not (SHIPPED_MODEL_DIR / "model_card.json").is_file():
        pytest.skip("no shipped wfi-cam-rf weights in this checkout")
    sim = simulate_frames(2, seed=8, xray_rate=8.0, cr_rate=4.0)
    table = CamRandomForestFilter(threads=1).filter(sim.signal * u.electron)
    in_band = np.asarray(table["IN_BAND"])
    assert in_band.sum() >= 5
    p_cr = np.asarray(table["P_CR"])[in_band]
    assert np.all((p_cr >= 0) & (p_cr <= 1))


def test_no_event_on_a_masked_pixel(model_dir, frames):
    filt = CamRandomForestFilter(weights=str(model_dir))
    table = filt.filter(frames * u.electron)
    f, y, x = int(table["FRAME"][0]), int(table["Y"][0]), int(table["X"][0])
    mask = np.zeros(frames.shape, bool)
    mask[f, y, x] = True
    masked = filt.filter(CCDData(frames, unit="electron", mask=mask))
    near = (table["FRAME"] == f) & (abs(table["Y"] - y) <= 1) & (abs(table["X"] - x) <= 1)
    assert len(masked) == len(table) - int(near.sum())
    assert not np.any((masked["FRAME"] == f) & (masked["Y"] == y) & (masked["X"] == x))


def test_chunked_file_gives_the_events_of_all_frames_at_once(model_dir, frames, tmp_path):
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(frames, header=fits.Header({"BUNIT": "electron"})).writeto(path)
    filt = CamRandomForestFilter(weights=str(model_dir))
    whole = filt.filter(frames * u.electron)
    chunked = filter_file(filt, path, chunk_frames=1)
    assert chunked.colnames == whole.colnames and len(whole) > 0
    for name in whole.colnames:
        np.testing.assert_array_equal(chunked[name], whole[name], err_msg=name)


def test_threads_parameter_holds_for_the_network_only(model_dir, frames, monkeypatch):
    seen = []
    features = camrf_filter.cam_event_features

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return features(*args, **kwargs)

    monkeypatch.setattr(camrf_filter, "cam_event_features", spy)
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    CamRandomForestFilter(weights=str(model_dir), threads=other).filter(frames * u.electron)
    assert seen and set(seen) == {other}
    assert torch.get_num_threads() == before


def test_shipped_model_card_has_the_fields_of_every_model_card():
    from crmask.models import find_model, read_card, verify_file

    card = read_card(SHIPPED_MODEL_DIR / "model_card.json")
    assert (card["name"], card["detector"]) == ("wfi-cam-rf.simulated", "wfi-cam-rf")
    assert card["summary"] and card["training"]["command"].startswith("python -m crmask_wfi.")
    assert sorted(card["files"]) == [DENSENET_FILE, FOREST_FILE] and card["heldout_metrics_percent"]
    for file, sha256 in card["files"].items():
        verify_file(SHIPPED_MODEL_DIR / file, sha256)
    info = find_model("wfi-cam-rf.simulated", "wfi-cam-rf")
    assert info.default and info.card == SHIPPED_MODEL_DIR / "model_card.json"
    assert CamRandomForestFilter().get_params()["weights"] == info.name


def test_weights_by_name_and_unknown_names():
    from crmask.exceptions import WeightsError
    from crmask_wfi.camrf.model_io import ModelDirectoryError, resolve_model_dir

    assert resolve_model_dir("wfi-cam-rf.simulated") == resolve_model_dir(None) == SHIPPED_MODEL_DIR
    assert issubclass(ModelDirectoryError, WeightsError) and issubclass(ModelDirectoryError, FileNotFoundError)
    with pytest.raises(WeightsError, match=r"weights 'nope' is neither a shipped model nor a model directory; "
                                           r".*models for wfi-cam-rf: wfi-cam-rf.simulated \(default\)"):
        CamRandomForestFilter(weights="nope")
    with pytest.raises(WeightsError, match="'deepcr.general' are a 'deepcr' model; detector 'wfi-cam-rf'"):
        CamRandomForestFilter(weights="deepcr.general")


@pytest.mark.parametrize("file", [DENSENET_FILE, FOREST_FILE])
def test_a_file_that_differs_from_the_card_checksum_is_refused(model_dir, tmp_path, file):
    import shutil

    from crmask.exceptions import WeightsError
    from crmask.models import file_sha256
    from crmask_wfi.camrf.model_io import read_model_card

    directory = tmp_path / "model"
    shutil.copytree(model_dir, directory)
    card = read_model_card(directory)
    card["files"] = {name: file_sha256(directory / name) for name in (DENSENET_FILE, FOREST_FILE)}
    write_model_card(directory, card)
    assert CamRandomForestFilter(weights=str(directory)).model()["card"]["files"] == card["files"]  # intact: loads
    data = bytearray((directory / file).read_bytes())
    data[-3] ^= 0x01
    (directory / file).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=f"{file} does not match its model card .*modified or corrupted"):
        CamRandomForestFilter(weights=str(directory)).model()
