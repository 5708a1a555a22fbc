"""DenseNet training loop: learning on a separable toy set, seeding, checkpoint resume, early stopping."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crmask_wfi.camrf.densenet import DenseNetConfig  # noqa: E402
from crmask_wfi.camrf.model_io import load_densenet, save_densenet  # noqa: E402
from crmask_wfi.training import train_densenet as training_loop  # noqa: E402
from crmask_wfi.training.train_densenet import evaluate, evaluate_accuracy, train_densenet  # noqa: E402

TINY = DenseNetConfig(initial_features=8, growth_rate=4, layers_per_block=(2, 2), dropout=0.2)


def _toy_set(rng, n):
    """32x32 frames of four classes: empty, one bright pixel (X-ray), a 10-pixel track (CR), both (mixed)."""
    frames = rng.normal(0, 0.0256, (n, 32, 32)).astype(np.float32)
    classes = np.arange(n) % 4
    for i, c in enumerate(classes):
        if c in (1, 3):
            frames[i, rng.integers(32), rng.integers(32)] += rng.uniform(1, 8)
        if c in (2, 3):
            y, x = rng.integers(0, 22, 2)
            frames[i, y:y + 10, x] += 20.0
    return frames, classes


def test_training_learns_and_is_seeded(rng):
    frames, classes = _toy_set(rng, 256)
    kwargs = dict(epochs=3, batch_size=32, lr=0.007, seed=5, config=TINY, progress=False)
    model, history = train_densenet(frames, classes, val_frames_kev=frames, val_classes=classes, **kwargs)
    assert len(history.loss) == 3 and history.loss[-1] < history.loss[0]
    assert history.learning_rate == pytest.approx([0.007, 0.007 * 0.95, 0.007 * 0.95**2])
    assert history.val_accuracy[-1] > 0.5  # chance is 0.25
    assert len(history.val_loss) == 3 and history.val_loss[-1] < np.log(4)  # chance: ln 4
    assert history.kept_epoch == 3  # no patience: the last epoch
    again, _ = train_densenet(frames, classes, **kwargs)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_resume_from_checkpoint_matches_uninterrupted_run(rng, tmp_path):
    frames, classes = _toy_set(rng, 64)
    kwargs = dict(batch_size=16, seed=2, config=TINY, progress=False)
    straight, _ = train_densenet(frames, classes, epochs=2, **kwargs)
    train_densenet(frames, classes, epochs=1, checkpoint_dir=tmp_path, **kwargs)
    assert (tmp_path / "epoch_001.pt").is_file()
    resumed, history = train_densenet(frames, classes, epochs=2, checkpoint_dir=tmp_path, **kwargs)
    assert len(history.loss) == 2
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_safetensors_round_trip_gives_identical_outputs(rng, tmp_path):
    frames, classes = _toy_set(rng, 32)
    model, _ = train_densenet(frames, classes, epochs=1, batch_size=16, config=TINY, progress=False)
    path = tmp_path / "net.safetensors"
    save_densenet(model, path, metadata={"note": "test"})
    loaded = load_densenet(path)
    assert loaded.config == TINY
    x = torch.as_tensor(frames[:8]).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert evaluate_accuracy(loaded, frames, classes) == evaluate_accuracy(model, frames, classes)


def test_bad_training_input_and_foreign_file_raise(rng, tmp_path):
    with pytest.raises(ValueError, match="need frames"):
        train_densenet(np.zeros((4, 64, 64)), np.zeros(3), epochs=1, config=TINY, progress=False)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "x.safetensors"), metadata={"format": "other"})
    with pytest.raises(ValueError, match="not a crmask-wfi-densenet"):
        load_densenet(tmp_path / "x.safetensors")


def test_evaluate_gives_accuracy_and_mean_cross_entropy(rng):
    frames, classes = _toy_set(rng, 40)
    torch.manual_seed(0)
    model, _ = train_densenet(frames, classes, epochs=1, batch_size=16, config=TINY, progress=False)
    accuracy, loss = evaluate(model, frames, classes, batch_size=7)
    with torch.no_grad():
        logits = model(torch.as_tensor(frames).unsqueeze(1))
    expected = torch.nn.functional.cross_entropy(logits, torch.as_tensor(classes)).item()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert accuracy == evaluate_accuracy(model, frames, classes) == float(np.mean(logits.argmax(1).numpy() == classes))


def test_early_stopping_keeps_the_best_epoch_and_stays_stopped_when_resumed(rng, tmp_path, monkeypatch):
    """Validation losses 1.0, 0.5, 0.7, 0.6 with patience 2: stop after epoch 4, keep epoch 2's weights."""
    frames, classes = _toy_set(rng, 48)
    scripted = iter([1.0, 0.5, 0.7, 0.6, 0.3, 0.2])
    monkeypatch.setattr(training_loop, "evaluate", lambda *args, **kwargs: (0.5, next(scripted)))
    kwargs = dict(val_frames_kev=frames, val_classes=classes, epochs=6, batch_size=16, seed=3, config=TINY,
                  progress=False, patience=2, checkpoint_dir=tmp_path)
    model, history = train_densenet(frames, classes, **kwargs)
    assert history.val_loss == [1.0, 0.5, 0.7, 0.6] and len(history.loss) == 4
    assert history.kept_epoch == 2
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pt")) == [f"epoch_{e:03d}.pt" for e in range(1, 5)]
    best = torch.load(tmp_path / "epoch_002.pt", weights_only=True)["model"]
    last = torch.load(tmp_path / "epoch_004.pt", weights_only=True)["model"]
    assert any(not torch.equal(best[name], last[name]) for name in best)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, best[name], rtol=0, atol=0)
    resumed, again = train_densenet(frames, classes, **kwargs)  # nothing left to train: no evaluation either
    assert again.val_loss == history.val_loss and again.kept_epoch == 2
    for name, tensor in resumed.state_dict().items():
        torch.testing.assert_close(tensor, best[name], rtol=0, atol=0)


def test_early_stopping_needs_validation_and_a_patience(rng):
    frames, classes = _toy_set(rng, 8)
    with pytest.raises(ValueError, match="early stopping needs validation"):
        train_densenet(frames, classes, epochs=1, config=TINY, progress=False, patience=2)
    with pytest.raises(ValueError, match="early stopping needs validation"):
        train_densenet(frames, classes, val_frames_kev=frames, val_classes=classes, epochs=1, config=TINY,
                       progress=False, patience=0)
