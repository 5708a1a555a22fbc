"""`CamRfTrainConfig`: every setting of a ``wfi-cam-rf`` training run, so the options of ``crmask train wfi-cam-rf``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crmask.cli_options import cli_metadata

from ..report.bench import EVALUATION_FRAMES
from ..sim.physics import DIFFUSION_SIGMA_FULL_UM, READNOISE_E
from ..sim.simulate import DEFAULT_CR_RATE, DEFAULT_XRAY_RATE
from .mix import FrameConditions

__all__ = ["CamRfTrainConfig"]

_COUNT = cli_metadata(low=1)
_FACTOR = cli_metadata(low=0, low_open=True)


@dataclass(frozen=True)
class CamRfTrainConfig:
    """A ``wfi-cam-rf`` training run: where it writes, its simulations, the DenseNet and the forest.

    Each attribute is also an option of ``crmask train wfi-cam-rf`` (and of
    ``python -m crmask_wfi.training.train``), with this default and this
    text as its help (`crmask.cli_options.config_options`). The defaults
    are the shipped model's settings, except that it adds
    ``context_features`` and used 8,000 validation and 16,000 test frames.

    The training conditions (`crmask_wfi.training.mix`) are drawn for each
    frame of the DenseNet's sub-frames and of the forest, validation and
    test frames alike, from the ranges below; a range of one value (the
    defaults) keeps that value and draws nothing, so the defaults give the
    frames of a run without conditions. Geant4 frames go into the forest,
    validation and test sets only: the primaries of even ``PRIMID`` into the
    first two, those of odd ``PRIMID`` (held out) into the test set.

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
        Most DenseNet training epochs.
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
    patience : int or None
        Stop the DenseNet once its validation loss has not fallen for this
        many epochs, keeping the weights of its best epoch; default: train
        every epoch and keep the last.
    cr_rate_max : float
        Largest cosmic-ray rate, as a factor of the nominal one: per frame
        log-uniform between 1 and this factor (a solar event: 12).
    xray_rate_max : float
        Largest number of X-ray photons per quadrant frame: per frame
        log-uniform between 1 and this (a bright source: 50).
    readnoise_min, readnoise_max : float
        Read noise range (electrons RMS), uniform per frame.
    diffusion_scale_min, diffusion_scale_max : float
        Range of the charge-cloud size as a factor of the nominal
        diffusion_sigma_um, log-uniform per frame (0.5 to 2: depth and
        diffusion model).
    geant4_fraction : float
        Fraction of the forest, validation and test frames that hold the
        cosmic rays of the shared Geant4 run 0002 instead of the simulator's
        (0: none; needs data).
    data : pathlib.Path or None
        The shared real-data folder holding the Geant4 run (default: the
        environment variable CRMASK_DATA).
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
    patience: int | None = field(default=None, metadata=_COUNT)
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
    cr_rate_max: float = field(default=1.0, metadata=cli_metadata(low=1))
    xray_rate_max: float = field(default=DEFAULT_XRAY_RATE, metadata=cli_metadata(low=DEFAULT_XRAY_RATE))
    readnoise_min: float = field(default=READNOISE_E, metadata=cli_metadata(low=0))
    readnoise_max: float = field(default=READNOISE_E, metadata=cli_metadata(low=0))
    diffusion_scale_min: float = field(default=1.0, metadata=_FACTOR)
    diffusion_scale_max: float = field(default=1.0, metadata=_FACTOR)
    geant4_fraction: float = field(default=0.0, metadata=cli_metadata(low=0, high=1, high_open=True))
    data: Path | None = None
    threads: int = field(default=1, metadata=_COUNT)
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.conditions  # checks the ranges

    @property
    def conditions(self) -> FrameConditions:
        """The ranges of the conditions drawn per frame (`crmask_wfi.training.mix.FrameConditions`)."""
        return FrameConditions(
            cr_rate=(DEFAULT_CR_RATE, self.cr_rate_max * DEFAULT_CR_RATE),
            xray_rate=(DEFAULT_XRAY_RATE, self.xray_rate_max),
            readnoise=(self.readnoise_min, self.readnoise_max),
            diffusion_sigma_um=(self.diffusion_scale_min * DIFFUSION_SIGMA_FULL_UM,
                                self.diffusion_scale_max * DIFFUSION_SIGMA_FULL_UM),
        )

    @property
    def report_dir(self) -> Path:
        """Where plots and metrics go: ``report``, else ``work``."""
        return self.report or self.work
