"""The numpy random forest: agreement with scikit-learn, exact thresholds, file format."""

import json

import numpy as np
import pytest

pytest.importorskip("imblearn")

from crmask_wfi.camrf.forest import FOREST_FORMAT, ForestModel, fit_balanced_forest  # noqa: E402

NAMES = tuple(f"f{i}" for i in range(4))


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 4)).astype(np.float32)
    positive = x[:, 0] + 0.7 * x[:, 2] + 0.3 * rng.normal(size=3000) > 2.0  # ~5 % minority class
    forest = fit_balanced_forest(x, positive, n_trees=40, max_features=3, seed=1)
    return forest, ForestModel.from_sklearn(forest, NAMES, training={"n_trees": 40})


def test_numpy_forest_reproduces_sklearn(fitted, rng):
    forest, model = fitted
    x = rng.normal(size=(2000, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(x, chunk=300), forest.predict_proba(x)[:, 1], atol=1e-6)
    assert model.n_trees == 40


def test_inputs_equal_to_split_thresholds_go_left(fitted):
    forest, model = fitted
    # Every float32 just at, below and above each split value: the float32-floored thresholds must
    # route them exactly as scikit-learn's float64 thresholds do.
    tree = forest.estimators_[0].tree_
    values = tree.threshold[tree.children_left >= 0]
    probe = np.concatenate([values.astype(np.float32), np.nextafter(values.astype(np.float32), np.float32(9))])
    x = np.repeat(probe[:, None], 4, axis=1).astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(x), forest.predict_proba(x)[:, 1], atol=1e-6)
    assert len(values) > 10


def test_balanced_bootstrap_finds_the_minority_class(fitted, rng):
    _, model = fitted
    x = rng.normal(size=(4000, 4)).astype(np.float32)
    truth = x[:, 0] + 0.7 * x[:, 2] > 2.0
    p = model.predict_proba(x)
    # Class-balanced trees put the minority class at p > 0.5 most of the time.
    assert np.mean(p[truth] > 0.5) > 0.8
    assert np.mean(p[~truth] > 0.5) < 0.2


def test_save_load_round_trip_is_identical(fitted, tmp_path, rng):
    _, model = fitted
    path = tmp_path / "forest.safetensors"
    model.save(path)
    loaded = ForestModel.load(path)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.feature_names == NAMES and loaded.training == {"n_trees": 40}


def test_wrong_format_or_version_is_refused(fitted, tmp_path):
    from safetensors.numpy import save_file

    _, model = fitted
    tensors = {n: getattr(model, n) for n in
               ("tree_offsets", "children_left", "children_right", "feature", "threshold", "p_positive")}
    meta = {"format": FOREST_FORMAT, "format_version": "99", "feature_names": json.dumps(NAMES)}
    save_file(tensors, str(tmp_path / "future.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="format version 99"):
        ForestModel.load(tmp_path / "future.safetensors")
    save_file(tensors, str(tmp_path / "other.safetensors"), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not a crmask-wfi-forest"):
        ForestModel.load(tmp_path / "other.safetensors")


def test_bad_features_raise(fitted):
    _, model = fitted
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        model.predict_proba(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict_proba(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="both classes"):
        fit_balanced_forest(np.zeros((10, 4)), np.zeros(10, bool), n_trees=2)
