"""Training loop of the frame DenseNet (Poliszczuk et al. 2024, §4.1).

Adam with learning rate ``lr0 · decay**epoch`` (seed: 0.007 and 0.95),
cross-entropy over the four frame classes, seeded shuffling and weight
initialisation, a tqdm progress bar and one checkpoint per epoch that
`train_densenet` can resume from (``torch.load(weights_only=True)``: no
pickle execution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..camrf.densenet import DenseNetConfig, FrameDenseNet

__all__ = ["TrainingHistory", "train_densenet", "evaluate_accuracy"]


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
    """

    loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def evaluate_accuracy(model: FrameDenseNet, frames_kev: np.ndarray, classes: np.ndarray, *,
                      batch_size: int = 256, device: str = "cpu") -> float:
    """Fraction of sub-frames whose most probable class is the true one."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(frames_kev), batch_size):
            batch = torch.as_tensor(frames_kev[start:start + batch_size], device=device).unsqueeze(1)
            predicted = model(batch).argmax(dim=1).cpu().numpy()
            correct += int(np.sum(predicted == classes[start:start + batch_size]))
    return correct / max(len(frames_kev), 1)


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
        Passes over the training set (seed: 100; a few suffice for a
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
    for epoch in range(first_epoch, epochs):
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
        if val_frames_kev is not None and val_classes is not None:
            history.val_accuracy.append(
                evaluate_accuracy(model, val_frames_kev, np.asarray(val_classes), device=device)
            )
        if checkpoint_dir is not None:
            torch.save(
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "history": {"loss": history.loss, "learning_rate": history.learning_rate,
                                "val_accuracy": history.val_accuracy},
                },
                checkpoint_dir / f"epoch_{epoch + 1:03d}.pt",
            )
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
    return int(state["epoch"])
