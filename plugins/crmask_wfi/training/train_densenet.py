"""Training loop of the frame DenseNet (Poliszczuk et al. 2024, §4.1).

Adam with learning rate ``lr0 · decay**epoch`` (seed: 0.007 and 0.95),
cross-entropy over the four frame classes, seeded shuffling and weight
initialisation, a tqdm progress bar and one checkpoint per epoch that
`train_densenet` can resume from (``torch.load(weights_only=True)``: no
pickle execution). With validation sub-frames, the validation loss and
accuracy after every epoch; with a ``patience``, training stops once the
validation loss has not fallen for that many epochs and keeps the weights of
its best epoch (early stopping, Prechelt 1998).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..camrf.densenet import DenseNetConfig, FrameDenseNet

__all__ = ["TrainingHistory", "train_densenet", "evaluate", "evaluate_accuracy"]


@dataclass
class TrainingHistory:
    """Per-epoch training record.

    Attributes
    ----------
    loss : list of float
        Mean training cross-entropy per epoch.
    learning_rate : list of float
        Learning rate used in each epoch.
    val_accuracy : list of float
        Validation accuracy after each epoch (empty without validation data).
    val_loss : list of float
        Mean validation cross-entropy after each epoch (empty without
        validation data).
    kept_epoch : int or None
        The epoch (1-based) whose weights the model holds: the last one, or
        with early stopping the one of lowest validation loss.
    """

    loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    kept_epoch: int | None = None

    def to_dict(self) -> dict:
        """The record as plain JSON values (the model card's ``densenet_history``)."""
        return {"loss": self.loss, "learning_rate": self.learning_rate, "val_accuracy": self.val_accuracy,
                "val_loss": self.val_loss, "kept_epoch": self.kept_epoch}


def evaluate(model: FrameDenseNet, frames_kev: np.ndarray, classes: np.ndarray, *,
             batch_size: int = 256, device: str = "cpu") -> tuple[float, float]:
    """Accuracy and mean cross-entropy of the model on labelled sub-frames (evaluation mode, no gradients).

    Returns
    -------
    accuracy : float
        Fraction of sub-frames whose most probable class is the true one.
    loss : float
        Mean cross-entropy over the sub-frames.
    """
    model.eval()
    correct, total = 0, 0.0
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    classes = np.asarray(classes, dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(frames_kev), batch_size):
            batch = torch.as_tensor(frames_kev[start:start + batch_size], device=device).unsqueeze(1)
            target = torch.as_tensor(classes[start:start + batch_size], device=device)
            logits = model(batch)
            total += float(loss_fn(logits, target))
            correct += int((logits.argmax(dim=1) == target).sum())
    n = max(len(frames_kev), 1)
    return correct / n, total / n


def evaluate_accuracy(model: FrameDenseNet, frames_kev: np.ndarray, classes: np.ndarray, *,
                      batch_size: int = 256, device: str = "cpu") -> float:
    """Fraction of sub-frames whose most probable class is the true one (`evaluate`'s accuracy)."""
    return evaluate(model, frames_kev, classes, batch_size=batch_size, device=device)[0]


def _stalled(val_loss: list[float], patience: int | None) -> bool:
    """Whether the validation loss has not fallen below its best for ``patience`` epochs."""
    if patience is None or not val_loss:
        return False
    return len(val_loss) - 1 - int(np.argmin(val_loss)) >= patience


def train_densenet(
    frames_kev: np.ndarray,
    classes: np.ndarray,
    *,
    val_frames_kev: np.ndarray | None = None,
    val_classes: np.ndarray | None = None,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.007,
    lr_decay: float = 0.95,
    seed: int = 0,
    config: DenseNetConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    patience: int | None = None,
) -> tuple[FrameDenseNet, TrainingHistory]:
    """Train a `FrameDenseNet` on labelled 64×64 sub-frames.

    Parameters
    ----------
    frames_kev : numpy.ndarray, shape (n, 64, 64)
        Training sub-frames in keV.
    classes : numpy.ndarray of int, shape (n,)
        Frame classes 0 empty, 1 X-ray, 2 CR, 3 mixed.
    val_frames_kev, val_classes : numpy.ndarray, optional
        Validation sub-frames, evaluated after every epoch.
    epochs : int
        Most passes over the training set (seed: 100; a few suffice for a
        CPU-trained model, see the model card).
    batch_size : int
    lr, lr_decay : float
        Initial Adam learning rate and its per-epoch decay factor.
    seed : int
        Seeds the weight initialisation, dropout and shuffling.
    config : DenseNetConfig, optional
        Architecture; default: Poliszczuk et al. (2024).
    checkpoint_dir : str or Path, optional
        Where ``epoch_NNN.pt`` checkpoints go; training resumes from the last
        one found there.
    device : str
    progress : bool
        Show a tqdm progress bar.
    patience : int, optional
        Stop once the validation loss has not fallen below its lowest value
        for this many epochs, and return the weights of the epoch of lowest
        validation loss (needs validation sub-frames). Default: train all
        ``epochs`` and return the last epoch's weights.

    Returns
    -------
    model : FrameDenseNet
        The trained network, in evaluation mode.
    history : TrainingHistory
    """
    from tqdm.auto import tqdm

    frames_kev = np.asarray(frames_kev, dtype=np.float32)
    classes = np.asarray(classes, dtype=np.int64)
    if frames_kev.ndim != 3 or len(frames_kev) != len(classes):
        raise ValueError(f"need frames (n, ny, nx) and n classes, got {frames_kev.shape} and {classes.shape}")
    validated = val_frames_kev is not None and val_classes is not None
    if patience is not None and (patience < 1 or not validated):
        raise ValueError(f"early stopping needs validation sub-frames and a patience >= 1, got {patience!r}")
    torch.manual_seed(seed)
    model = FrameDenseNet(config).to(device)
    sample = torch.as_tensor(frames_kev[: min(len(frames_kev), 2048)])
    model.set_input_statistics(sample.to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    history = TrainingHistory()
    first_epoch = 0
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        first_epoch = _resume(checkpoint_dir, model, optimizer, scheduler, history)
    loss_fn = nn.CrossEntropyLoss()
    shuffler = np.random.default_rng(seed)
    for _ in range(first_epoch):  # replay the shuffles of completed epochs
        shuffler.permutation(len(frames_kev))
    best_state = None  # the weights of the lowest validation loss so far, with early stopping
    if patience is not None and history.val_loss:
        best_epoch = int(np.argmin(history.val_loss)) + 1
        best_state = torch.load(checkpoint_dir / f"epoch_{best_epoch:03d}.pt", map_location="cpu",
                                weights_only=True)["model"]
    for epoch in range(first_epoch, epochs):
        if _stalled(history.val_loss, patience):
            break
        model.train()
        order = shuffler.permutation(len(frames_kev))
        total, count = 0.0, 0
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress)
        for start in bar:
            index = order[start:start + batch_size]
            if len(index) < 2:  # BatchNorm needs two samples
                continue
            batch = torch.as_tensor(frames_kev[index], device=device).unsqueeze(1)
            target = torch.as_tensor(classes[index], device=device)
            loss = loss_fn(model(batch), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            count += len(index)
            bar.set_postfix(loss=f"{total / count:.4f}")
        history.loss.append(total / max(count, 1))
        history.learning_rate.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
        if validated:
            accuracy, val_loss = evaluate(model, val_frames_kev, val_classes, device=device)
            if patience is not None and (not history.val_loss or val_loss < min(history.val_loss)):
                best_state = copy.deepcopy(model.state_dict())
            history.val_accuracy.append(accuracy)
            history.val_loss.append(val_loss)
        if checkpoint_dir is not None:
            torch.save(
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "history": {"loss": history.loss, "learning_rate": history.learning_rate,
                                "val_accuracy": history.val_accuracy, "val_loss": history.val_loss},
                },
                checkpoint_dir / f"epoch_{epoch + 1:03d}.pt",
            )
    history.kept_epoch = len(history.loss)
    if best_state is not None:
        model.load_state_dict(best_state)
        history.kept_epoch = int(np.argmin(history.val_loss)) + 1
    return model.eval(), history


def _resume(directory: Path, model, optimizer, scheduler, history: TrainingHistory) -> int:
    """Load the last checkpoint in ``directory``; return the number of completed epochs."""
    checkpoints = sorted(directory.glob("epoch_*.pt"))
    if not checkpoints:
        return 0
    state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    history.loss[:] = state["history"]["loss"]
    history.learning_rate[:] = state["history"]["learning_rate"]
    history.val_accuracy[:] = state["history"]["val_accuracy"]
    history.val_loss[:] = state["history"].get("val_loss", [])  # checkpoints before val_loss lack it
    return int(state["epoch"])
