"""`CamRfTrainConfig`: every setting of a ``wfi-cam-rf`` training run, so the options of ``crmask train wfi-cam-rf``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crmask.cli_options import cli_metadata

from ..report.bench import EVALUATION_FRAMES

__all__ = ["CamRfTrainConfig"]

_COUNT = cli_metadata(low=1)


@dataclass(frozen=True)
class CamRfTrainConfig:
    """A ``wfi-cam-rf`` training run: where it writes, its simulations, the DenseNet and the forest.

    Each attribute is also an option of ``crmask train wfi-cam-rf`` (and of
    ``python -m crmask_wfi.training.train``), with this default and this
    text as its help (`crmask.cli_options.config_options`). The defaults
    are the shipped model's settings, except that it adds
    ``context_features`` and used 8,000 validation and 16,000 test frames.

    Attributes
    ----------
    out : pathlib.Path
        Model directory to write.
    work : pathlib.Path
        Cache directory (DenseNet checkpoints, event tables); a rerun
        resumes from it.
    report : pathlib.Path or None
        Where plots and metrics go; default: ``work``.
    seed : int
        Seed of the five simulations (`numpy.random.SeedSequence` children),
        the DenseNet and the forest.
    subframes_per_class : int
        Class-balanced 64x64 sub-frames of each class (empty, X-ray, CR,
        mixed) that train the DenseNet.
    val_subframes_per_class : int
        Sub-frames of each class that validate the DenseNet (accuracy per
        epoch).
    epochs : int
        DenseNet training epochs.
    batch_size : int
        Sub-frames per DenseNet optimisation step.
    lr : float
        Initial Adam learning rate of the DenseNet.
    lr_decay : float
        Factor applied to the DenseNet's learning rate after each epoch.
    forest_frames : int
        512x512 frames whose in-band events train the random forest.
    roc_frames : int
        Validation frames for the threshold (>= 1,000 CR events after the
        grade filter).
    test_frames : int
        Held-out test frames (>= 1,000 CR events after the grade filter).
    n_trees : int
        Trees of the balanced random forest.
    max_features : int
        Features considered at each split of a tree.
    max_lost_xray : float
        Largest lost X-ray fraction allowed at the operating threshold
        (validation ROC).
    context_features : bool
        Add the frame-wide track features of `crmask_wfi.camrf.context` to
        the ten CAM features (an extension of Poliszczuk et al. 2024).
    threads : int
        CPU threads for torch and for fitting the forest.
    device : str
        Where the DenseNet trains and computes its activation maps (a torch
        device: cpu, cuda, ...).
    """

    out: Path
    work: Path
    report: Path | None = None
    seed: int = 2024
    subframes_per_class: int = field(default=4000, metadata=_COUNT)
    val_subframes_per_class: int = field(default=500, metadata=_COUNT)
    epochs: int = field(default=3, metadata=_COUNT)
    batch_size: int = field(default=64, metadata=_COUNT)
    lr: float = field(default=0.007, metadata=cli_metadata(low=0, low_open=True))
    lr_decay: float = field(default=0.95, metadata=cli_metadata(low=0, high=1, low_open=True))
    forest_frames: int = field(default=16000, metadata=_COUNT)
    roc_frames: int = field(default=EVALUATION_FRAMES, metadata=_COUNT)
    test_frames: int = field(default=EVALUATION_FRAMES, metadata=_COUNT)
    n_trees: int = field(default=1000, metadata=_COUNT)
    max_features: int = field(default=3, metadata=_COUNT)
    max_lost_xray: float = field(default=0.015, metadata=cli_metadata(low=0, high=1))
    context_features: bool = False
    threads: int = field(default=1, metadata=_COUNT)
    device: str = "cpu"

    @property
    def report_dir(self) -> Path:
        """Where plots and metrics go: ``report``, else ``work``."""
        return self.report or self.work
