"""Weights files: round trip, shipped model cards, refusal of tampered and pickled files."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask_unet import weights as weights_module  # noqa: E402
from crmask_unet.model import UNet  # noqa: E402
from crmask_unet.weights import WeightsError, file_sha256, load_weights, shipped_models  # noqa: E402

DETECTORS = ("deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn")


def test_round_trip_restores_configuration_and_outputs(deepcr_weights):
    path, model = deepcr_weights
    loaded = load_weights(str(path))
    assert loaded.config == model.config and loaded.arch == "deepcr" and loaded.threshold == 0.5
    assert (loaded.normalisation.scheme, loaded.normalisation.scale) == ("scale", 100.0)
    restored = UNet(loaded.config)
    restored.load_state_dict(loaded.state_dict)
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(restored.predict_proba(x), model.predict_proba(x))


def test_pickled_checkpoint_is_refused_without_unpickling(tmp_path, deepcr_weights):
    _, model = deepcr_weights
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.pt"
    torch.save({"state_dict": model.state_dict(), "payload": Payload()}, path)
    with pytest.raises(WeightsError, match="not a valid safetensors.*pickled checkpoints"):
        load_weights(str(path))
    assert not marker.exists()


def test_truncated_file_is_refused(tmp_path, deepcr_weights):
    path, _ = deepcr_weights
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_weights(str(broken))


def test_tampered_file_fails_its_model_card_checksum(tmp_path, deepcr_weights):
    path, _ = deepcr_weights
    (tmp_path / "att-deepcr-random.json").write_text(json.dumps({"sha256": file_sha256(path)}))
    load_weights(str(path))  # intact: loads
    data = bytearray(path.read_bytes())
    data[-4] ^= 0xFF  # flip bits of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its model card"):
        load_weights(str(path))


def test_unknown_weights_name_lists_the_shipped_models():
    with pytest.raises(WeightsError, match="neither a shipped model.*deepcr-synthetic"):
        load_weights("no-such-model")


def test_unknown_weights_fail_when_the_detector_is_made():
    with pytest.raises(WeightsError, match="'nope' is neither a shipped model.*deepcr-general-16"):
        crmask.get_detector("deepcr", weights="nope")
    detector = crmask.get_detector("deepcr")
    with pytest.raises(WeightsError, match="neither a shipped model"):
        detector.set_params(weights="/no/such/file.safetensors")


def test_safetensors_without_crmask_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(WeightsError, match="lacks crmask U-Net metadata"):
        load_weights(str(path))


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_ships_default_weights_with_a_model_card(name):
    cls = crmask.get_detector_class(name)
    card = shipped_models()[cls.default_weights]
    for key in ("architecture", "normalisation", "training_data", "training", "epochs", "validation",
                "threshold", "sha256"):
        assert key in card, f"model card of {name} lacks {key}"
    assert card["detector"] == name and "crmask train unet" in card["training"]["command"]
    loaded = load_weights(cls.default_weights)
    assert loaded.threshold == card["threshold"]


def test_tampered_shipped_weights_are_refused(tmp_path, monkeypatch):
    shipped = weights_module.WEIGHTS_DIR
    copy = tmp_path / "weights"
    shutil.copytree(shipped, copy)
    monkeypatch.setattr(weights_module, "WEIGHTS_DIR", copy)
    default = crmask.get_detector("deepcr").get_params()["weights"]  # the model "deepcr" loads by default
    target = weights_module.resolve_weights(default)[0]  # names are arch.tag; files keep their names
    assert target.parent == copy
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="modified or corrupted"):
        crmask.get_detector("deepcr").model()


def test_flipped_bytes_are_refused_without_a_model_card(deepcr_weights):
    path, _ = deepcr_weights
    assert not path.with_suffix(".json").exists()
    data = bytearray(path.read_bytes())
    data[-4] ^= 0xFF  # flip bits of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="do not match the checksum in its metadata"):
        load_weights(str(path))


def _rewrite(path, tensors=None, **metadata):
    """Rewrite a weights file with changed tensors or metadata (the tensor checksum dropped, as in older files)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        meta, state = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    meta.pop("tensors_sha256")
    save_file({**state, **(tensors or {})}, str(path), metadata={**meta, **metadata})


def test_non_finite_tensors_are_refused(deepcr_weights):
    path, model = deepcr_weights
    _rewrite(path, {"outc.bias": torch.full_like(model.outc.bias, float("nan"))})
    with pytest.raises(WeightsError, match="non-finite values in 1 tensor.*outc.bias"):
        load_weights(str(path))


@pytest.mark.parametrize("threshold", ["nan", "7", "-0.1"])
def test_a_threshold_that_is_not_a_probability_is_refused(deepcr_weights, threshold):
    path, _ = deepcr_weights
    _rewrite(path, threshold=threshold)
    with pytest.raises(WeightsError, match=f"threshold {float(threshold)!r}.*in \\[0, 1\\]"):
        load_weights(str(path))


#: The rules a weights file records beside the network: the keyword and metadata entry, a valid rule, invalid
#: metadata (as JSON), an invalid rule for save_weights, and the start of the refusal's message.
RULES = [
    ("wings", {"nsigma": 1.5, "weight": 0.25},
     ('{"nsigma": 1.0, "weight": 0}', '{"nsigma": -1, "weight": 0.5}', '{"nsigma": 1.0}', '"x"'), {"weight": 2},
     "wing growth"),
    ("hits", {"nsigma": 5.0, "ratio": 3.0},
     ('{"nsigma": 0, "ratio": 3}', '{"nsigma": 5, "ratio": 0.5}', '{"nsigma": 5}', '"x"'), {"ratio": 2},
     "isolated hits"),
    ("bright", {"nsigma": 100.0, "target": 50.0},
     ('{"nsigma": 5, "target": 2}', '{"nsigma": 100, "target": 0}', '{"nsigma": 100, "target": 150}',
      '{"nsigma": 100}', '"x"'), {"nsigma": 100.0}, "bright rescaling"),
]


@pytest.mark.parametrize("key, rule, invalid, unsaveable, message", RULES, ids=[rule[0] for rule in RULES])
def test_rules_beside_the_network_are_saved_and_checked(deepcr_weights, tmp_path, key, rule, invalid, unsaveable,
                                                        message):
    from crmask_unet.weights import Normalisation, save_weights

    _, model = deepcr_weights
    path = save_weights(tmp_path / "w.safetensors", model, "deepcr", Normalisation("noise"), **{key: rule})
    assert getattr(load_weights(str(path)), key) == rule
    assert getattr(load_weights(str(save_weights(path, model, "deepcr", Normalisation("noise")))), key) is None
    for metadata in invalid:
        save_weights(path, model, "deepcr", Normalisation("noise"))
        _rewrite(path, **{key: metadata})
        with pytest.raises(WeightsError, match=message):
            load_weights(str(path))
    with pytest.raises(WeightsError, match=message):
        save_weights(tmp_path / "v.safetensors", model, "deepcr", Normalisation("noise"), **{key: unsaveable})


def test_bright_rescaling_needs_noise_unit_input(deepcr_weights, tmp_path):
    from crmask_unet.weights import Normalisation, save_weights

    _, model = deepcr_weights
    with pytest.raises(WeightsError, match="bright rescaling needs noise-unit input, not 'scale'"):
        save_weights(tmp_path / "v.safetensors", model, "deepcr", Normalisation("scale", 100.0),
                     bright={"nsigma": 100.0, "target": 50.0})


def test_mirror_images_are_saved_and_checked(deepcr_weights, tmp_path):
    from crmask_unet.weights import Normalisation, save_weights

    _, model = deepcr_weights
    path = save_weights(tmp_path / "w.safetensors", model, "deepcr", Normalisation("noise"), mirrors="up-down")
    assert load_weights(str(path)).mirrors == "up-down"
    assert load_weights(str(save_weights(path, model, "deepcr", Normalisation("noise")))).mirrors == "none"
    for mirrors in ("2", "diagonal", "None", ""):
        save_weights(path, model, "deepcr", Normalisation("noise"))
        _rewrite(path, mirrors=mirrors)
        with pytest.raises(WeightsError, match=f"mirrors must be one of .*'half-turn'.*got '{mirrors}'"):
            load_weights(str(path))
    with pytest.raises(WeightsError, match="mirrors must be one of"):
        save_weights(tmp_path / "v.safetensors", model, "deepcr", Normalisation("noise"), mirrors=2)


def test_fingerprint_follows_the_weights_file(deepcr_weights, tmp_path):
    from crmask_unet.weights import Normalisation, save_weights

    path, model = deepcr_weights
    copy = tmp_path / "same-name.safetensors"
    shutil.copy(path, copy)
    detector = crmask.get_detector("deepcr", weights=str(copy))
    before = detector.fingerprint()
    assert before == file_sha256(copy)
    save_weights(copy, model, "deepcr", Normalisation("noise"), threshold=0.9)  # retrained under the same name
    assert detector.fingerprint() != before


def test_weights_error_is_the_core_one():
    from crmask.exceptions import WeightsError as CoreWeightsError

    assert WeightsError is CoreWeightsError is crmask.WeightsError
    assert issubclass(WeightsError, crmask.CrmaskError) and issubclass(WeightsError, ValueError)


def test_unknown_weights_name_fails_at_construction_naming_the_detectors_models():
    with pytest.raises(WeightsError) as excinfo:
        crmask.get_detector("deepcr", weights="nope")
    message = str(excinfo.value)
    assert message == ("weights 'nope' is neither a shipped model nor an existing file; models for deepcr: "
                       "deepcr.general (also deepcr-general), deepcr.general-16 (default; also deepcr-general-16), "
                       "deepcr.spectra (also deepcr-spectra), deepcr.synthetic (also deepcr-synthetic)")


def test_a_shipped_model_of_another_detector_fails_at_construction():
    with pytest.raises(WeightsError, match="'cosmic-conn.general' are a 'cosmic-conn' model; detector 'deepcr' "
                                           "needs 'deepcr' weights .*deepcr.general-16"):
        crmask.get_detector("deepcr", weights="cosmic-conn.general")
    with pytest.raises(WeightsError, match="'deepcr-general' are a 'deepcr' model; detector 'att-deepcr'"):
        crmask.get_detector("att-deepcr").set_params(weights="deepcr-general")  # an old name too


@pytest.mark.parametrize("name", DETECTORS)
def test_old_names_new_names_and_file_paths_load_the_same_weights(name):
    from crmask_unet.weights import WEIGHTS_DIR, resolve_weights

    new = crmask.get_detector_class(name).default_weights
    old = new.replace(".", "-")
    path, card = resolve_weights(new)
    assert path == WEIGHTS_DIR / f"{old}.safetensors" and card["name"] == new and card["detector"] == name
    assert resolve_weights(old) == (path, card) and resolve_weights(str(path), name) == (path, card)
    detector = crmask.get_detector(name, weights=old)
    assert detector.get_params()["weights"] == old  # kept as given
    assert detector.fingerprint() == file_sha256(path) == card["sha256"]


def test_the_card_beside_a_weights_file_given_by_path_is_checked(tmp_path):
    from crmask_unet.weights import WEIGHTS_DIR

    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS_DIR / f"deepcr-general{suffix}", tmp_path / f"deepcr-general{suffix}")
    path = tmp_path / "deepcr-general.safetensors"
    assert load_weights(str(path)).detector == "deepcr"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its model card"):
        load_weights(str(path))


#: A third-party plugin shipping a model for the ``deepcr`` detector of the U-Net plugin.
DEEPCR_MODEL_PLUGIN = """
from pathlib import Path

import crmask


@crmask.hookimpl
def register_models(register):
    register(Path(__file__).with_name("mine.json"), aliases=["my-deepcr"])
"""


def test_a_third_party_plugin_ships_a_model_for_a_unet_detector(tmp_path, fresh_registry):
    from crmask.registry import load_plugin_file
    from crmask_unet.weights import WEIGHTS_DIR

    weights = tmp_path / "mine.safetensors"
    shutil.copy(WEIGHTS_DIR / "deepcr-synthetic.safetensors", weights)
    (tmp_path / "mine.json").write_text(json.dumps({"name": "deepcr.mine", "detector": "deepcr",
                                                    "summary": "Mine", "files": {weights.name: file_sha256(weights)}}))
    (tmp_path / "plugin.py").write_text(DEEPCR_MODEL_PLUGIN)
    load_plugin_file(tmp_path / "plugin.py")
    (info,) = [m for m in crmask.list_models("deepcr") if m.name == "deepcr.mine"]
    assert not info.default and info.aliases == ("my-deepcr",)
    detector = crmask.get_detector("deepcr", weights="my-deepcr", threads=1)
    assert detector.model()[0].source == str(weights)
    with pytest.raises(WeightsError, match="'deepcr.mine' are a 'deepcr' model; detector 'cosmic-conn'"):
        crmask.get_detector("cosmic-conn", weights="deepcr.mine")
    data = bytearray(weights.read_bytes())
    data[-4] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="mine.safetensors does not match its model card"):
        crmask.get_detector("deepcr", weights="deepcr.mine").model()
