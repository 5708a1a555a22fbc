"""Training loop of the U-Net detectors.

`train` follows Bhavanam et al. (2022, appendix) and the originals: Adam,
learning rate divided by 10 when the validation loss has not improved by
0.1 % for ``patience`` epochs (or, with ``lr_schedule="cosine"``, a cosine
decay over the run, Loshchilov & Hutter 2017), binary cross-entropy (or Cosmic-CoNN's
median-weighted BCE), deepCR's sky augmentation and, for batch
normalisation, deepCR's two phases (running statistics frozen for the last
60 % of the epochs). Each epoch ends with a validation ROC (TPR at FPR 1e-4
and 1e-3, computed by `crmask.bench.metrics` exactly as ``crmask bench`` does) and
a checkpoint from which training resumes exactly: the batches of step ``s``
of epoch ``e`` are drawn from ``default_rng([seed, e, s])``.

The epoch kept and the threshold are chosen on the selection set (real
frames, when the training has them); other validation sets (e.g.
synthetic frames) are evaluated and reported beside it, never used to choose.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from crmask.devices import resolve_device
from crmask.bench.metrics import DEFAULT_THRESHOLDS, Curve, confusion, event_completeness, score_histogram

from .config import COSINE_FLOOR, LR_SCHEDULES, TrainConfig
from .data import PatchSource, Sample, augment_sky
from .detector import normalise
from .losses import border_weights, median_weights, weighted_bce
from .model import UNet
from .weights import LoadedWeights, Normalisation

__all__ = ["TrainConfig", "TrainResult", "OperatingPoint", "ValidationMap", "train", "evaluate", "tpr_key",
           "choose_threshold",
           "THRESHOLD_GRID", "MIN_EVENT_COMPLETENESS", "MAX_NATURAL_FPR", "CHECKPOINT", "LR_SCHEDULES", "cosine_lr"]

#: False-positive rates at which validation reports the true-positive rate.
FPR_POINTS = (1e-4, 1e-3)
#: Candidate probability thresholds of `choose_threshold`.
THRESHOLD_GRID = tuple(float(t) for t in np.round(np.arange(0.05, 0.96, 0.05), 2))
#: Fraction of validation cosmic rays (at least half their pixels flagged) the threshold must keep.
MIN_EVENT_COMPLETENESS = 0.90
#: Highest false-positive rate the threshold may give on any real validation frame without injected cosmic rays
#: (its own density of cosmic rays): a model whose output depends on how many cosmic rays a frame holds (per-image
#: group normalisation) can pass on injected frames and flag one pixel in a hundred of a sparse one.
MAX_NATURAL_FPR = 1e-3
#: File name of the checkpoint written after every epoch.
CHECKPOINT = "checkpoint.pt"


def tpr_key(fpr: float) -> str:
    """History key of the TPR at ``fpr``, e.g. ``"tpr@1e-4"``."""
    return f"tpr@{fpr:.0e}".replace("e-0", "e-")


_MAIN = tpr_key(FPR_POINTS[0])


@dataclass
class TrainResult:
    """Outcome of `train`.

    Attributes
    ----------
    model : crmask_unet.model.UNet
        The network of the best epoch (highest selection-set TPR at FPR
        1e-4, then lowest selection-set loss), in evaluation mode.
    threshold : float
        Probability threshold chosen on the selection set (`choose_threshold`).
    history : list of dict
        Per epoch: train loss, validation loss, TPR at each FPR point, learning
        rate; the same with a ``<name>/`` prefix for every reported set.
    best : dict
        The history entry of the selected epoch, with the operating point at
        ``threshold`` on the selection set and on every reported set.
    """

    model: Any
    threshold: float
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)


class ValidationMap(NamedTuple):
    """A model's probability map of one validation frame, with the frame's truth.

    ``significance`` (`crmask_unet.data.Sample.significance`) is `None`
    where the truth's significance is not known.
    """

    probability: np.ndarray
    truth: np.ndarray
    ignore: np.ndarray
    significance: np.ndarray | None = None


@dataclass(frozen=True)
class OperatingPoint:
    """Pixel and event scores of a mask ``probability >= threshold`` on validation frames.

    ``event_completeness`` counts every cosmic ray; ``significant_event_completeness``
    only those whose brightest pixel holds `crmask.bench.metrics.SIGNIFICANT_EVENT_SIGMA`
    times the noise (NaN where a frame's significance is not known).
    ``natural_fpr`` is the highest false-positive rate on the frames without
    injected cosmic rays (NaN where none were given).
    """

    threshold: float
    f1: float
    precision: float
    recall: float
    event_completeness: float
    events: int
    significant_event_completeness: float = float("nan")
    significant_events: int = 0
    natural_fpr: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        """The fields as a dict, without ``natural_fpr`` where no natural frame was scored."""
        fields = asdict(self)
        if math.isnan(self.natural_fpr):
            del fields["natural_fpr"]
        return fields


def _operating_point(maps: Sequence[ValidationMap], threshold: float,
                     natural: Sequence[ValidationMap] = ()) -> OperatingPoint:
    total, found, events = None, 0, 0
    significant = [0, 0] if all(m.significance is not None for m in maps) else None
    for prob, truth, ignore, sig in maps:
        flagged = prob >= threshold
        counts = confusion(truth, flagged, ignore)
        total = counts if total is None else total + counts
        hit, n = event_completeness(truth, flagged, ignore)
        found, events = found + hit, events + n
        if significant is not None:
            hit, n = event_completeness(truth, flagged, ignore, significance=sig)
            significant = [significant[0] + hit, significant[1] + n]
    extra = {}
    if significant is not None:
        extra = {"significant_event_completeness": significant[0] / significant[1] if significant[1] else float("nan"),
                 "significant_events": significant[1]}
    if natural:
        extra["natural_fpr"] = max(confusion(m.truth, m.probability >= threshold, m.ignore).fpr for m in natural)
    return OperatingPoint(threshold=float(threshold), f1=total.f1, precision=total.precision, recall=total.tpr,
                          event_completeness=found / events if events else float("nan"), events=events, **extra)


def choose_threshold(
    maps: Sequence[ValidationMap],
    grid: Sequence[float] = THRESHOLD_GRID,
    min_completeness: float = MIN_EVENT_COMPLETENESS,
    events: str = "all",
    natural: Sequence[ValidationMap] = (),
    max_natural_fpr: float = MAX_NATURAL_FPR,
) -> OperatingPoint:
    """The threshold of best pixel F1 among those that find ``min_completeness`` of the cosmic rays.

    A cosmic ray (8-connected group of truth pixels) counts as found when at
    least half its pixels are flagged (`crmask.bench.metrics.event_completeness`).
    When no threshold of ``grid`` keeps that completeness, the one with the
    highest completeness is taken (ties: best F1). With ``natural`` frames,
    only thresholds whose false-positive rate on each of them is at most
    ``max_natural_fpr`` are candidates; when none is, the one of lowest
    rate is returned, and its ``natural_fpr`` above the bound says that the
    model has no usable threshold.

    Parameters
    ----------
    maps : sequence of ValidationMap
        Whole validation frames.
    grid : sequence of float
        Candidate thresholds.
    min_completeness : float
        Fraction of cosmic rays the threshold must find.
    events : {"all", "significant"}
        Which cosmic rays count: every one (training's rule), or only those
        whose brightest pixel holds `crmask.bench.metrics.SIGNIFICANT_EVENT_SIGMA`
        times the noise (every map must then carry its significance).
    natural : sequence of ValidationMap
        The validation frames without injected cosmic rays (truth: their
        real labels, if any; ignored: their own cosmic rays and defects).
    max_natural_fpr : float
        Highest false-positive rate allowed on any of ``natural``.

    Raises
    ------
    ValueError
        If ``events`` is neither, or is ``"significant"`` and a map has no significance.
    """
    if events not in ("all", "significant"):
        raise ValueError(f"events must be 'all' or 'significant', got {events!r}")
    if events == "significant" and any(m.significance is None for m in maps):
        raise ValueError("events='significant' needs the significance of every validation map")
    points = [_operating_point(maps, t, natural) for t in grid]
    if natural:
        within = [p for p in points if p.natural_fpr <= max_natural_fpr]
        if not within:
            return min(points, key=lambda p: (p.natural_fpr, -p.threshold))
        points = within

    def completeness(point: OperatingPoint) -> float:
        return point.significant_event_completeness if events == "significant" else point.event_completeness

    complete = [p for p in points if completeness(p) >= min_completeness]
    if complete:
        return max(complete, key=lambda p: (p.f1, p.threshold))
    return max(points, key=lambda p: (np.nan_to_num(completeness(p)), p.f1))


def _network_input(image: np.ndarray, norm: Normalisation) -> np.ndarray:
    return normalise(image, np.zeros(image.shape, dtype=bool), norm.scheme, norm.scale)


def evaluate(model, samples: Sequence[Sample], norm: Normalisation, device="cpu") -> dict[str, Any]:
    """Validation loss, TPR at `FPR_POINTS` and the probability maps of whole frames.

    Pixels in ``sample.ignore`` are left out. Frames are cropped to a
    multiple of the model's pooling factor. Known defects (``sample.bad``)
    reach the network as they are, as in the training patches; the choices
    made for the detector after training (its threshold, wing growth,
    isolated hits, bright rescaling) hand them over as a bad-pixel mask
    (``benchmarks/fix_group_statistics.py``, ``choose_wing_growth.py``). The TPRs are read off the ROC
    curve summed over the frames with `crmask.bench.metrics.Curve`, as
    ``crmask bench`` does.

    Returns
    -------
    dict
        ``loss`` (mean BCE per frame), ``tpr`` (``{fpr: tpr}``) and ``maps``,
        a list of `ValidationMap` per frame.
    """
    import torch
    import torch.nn.functional as F

    m = model.config.multiple
    maps, losses = [], []
    positives = negatives = 0
    model.eval()
    for sample in samples:
        ny, nx = (s - s % m for s in sample.image.shape)
        x = torch.from_numpy(_network_input(sample.image[:ny, :nx], norm)).to(device)[None, None]
        with torch.inference_mode():
            logits = model(x)[0, 0].float().cpu()
        truth, ignore = sample.mask[:ny, :nx], sample.ignore[:ny, :nx]
        significance = None if sample.significance is None else sample.significance[:ny, :nx]
        valid = torch.from_numpy(~ignore)
        target = torch.from_numpy(truth.astype(np.float32))
        losses.append(F.binary_cross_entropy_with_logits(logits[valid], target[valid]).item())
        prob = torch.sigmoid(logits).numpy()
        pos, neg = score_histogram(truth, prob, DEFAULT_THRESHOLDS, ignore)
        positives, negatives = positives + pos, negatives + neg
        maps.append(ValidationMap(prob, truth, ignore, significance))
    curve = Curve.from_histogram(positives, negatives, DEFAULT_THRESHOLDS)
    return {"loss": float(np.mean(losses)), "tpr": {f: curve.tpr_at_fpr(f) for f in FPR_POINTS}, "maps": maps}


def _batch(config: TrainConfig, source: PatchSource, epoch: int, step: int, alpha: float):
    import torch

    rng = np.random.default_rng([config.seed, epoch, step])
    norm = config.normalisation()
    xs, ys, ws, vs = [], [], [], []
    for _ in range(config.batch_size):
        sample = augment_sky(source.sample(rng, config.patch), rng, config.sky_low, config.sky_high,
                             noise=norm.scheme == "noise")
        xs.append(_network_input(sample.image, norm))
        ys.append(sample.mask.astype(np.float32))
        weights = border_weights(sample.mask, config.border_weight, config.border_width)
        if config.loss == "median-bce":
            weights *= median_weights(sample.clean, alpha)
        ws.append(weights)
        vs.append((~sample.ignore).astype(np.float32))
    return tuple(torch.from_numpy(np.stack(a)[:, None]) for a in (xs, ys, ws, vs))


def cosine_lr(config: TrainConfig, step: int) -> float:
    """Learning rate of the cosine schedule at global step ``step`` (0-based) of ``config``'s run."""
    total = config.epochs * config.steps_per_epoch
    floor = COSINE_FLOOR * config.lr
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * min(step, total) / total))


def train(
    config: TrainConfig,
    source: PatchSource,
    validation: Sequence[Sample],
    *,
    report: Mapping[str, Sequence[Sample]] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    initial: LoadedWeights | None = None,
) -> TrainResult:
    """Train a U-Net on patches of ``source``, validating on ``validation`` frames.

    The network validated after each epoch, kept at the best one and
    checkpointed is the trained one, or with ``config.ema_decay`` the moving
    average of its weights.

    Parameters
    ----------
    config : TrainConfig
    source : PatchSource
        Training patches (e.g. `~crmask_unet.data.FramePool`).
    validation : sequence of Sample
        Whole validation frames with truth (never trained on): the selection
        set on which the epoch and the threshold are chosen.
    report : mapping of str to sequence of Sample, optional
        More validation sets, by name, evaluated every epoch and reported
        in the history with a ``<name>/`` prefix; never used to choose.
    checkpoint_dir : path, optional
        Where ``checkpoint.pt`` is written after every epoch.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir``; the configuration
        must be the same except for ``epochs``, which may grow.
    device : {"auto", "cpu", "cuda"}
    progress : bool
        Show a tqdm progress bar.
    log : callable, optional
        Receives one line per epoch.
    initial : LoadedWeights, optional
        Start from these weights (`crmask_unet.weights.load_weights`)
        instead of a random initialisation; their architecture must be
        ``config``'s. Where they
        carry fixed group statistics (`crmask_unet.group_statistics`), the
        network trains in evaluation mode throughout, as deepCR's second
        phase does with batch statistics, so the statistics stay as they
        are and the weights learn to work with them.

    Returns
    -------
    TrainResult
    """
    import torch
    from tqdm.auto import tqdm

    if not validation:
        raise ValueError("train needs at least one validation frame")
    dev = torch.device(resolve_device(device))
    torch.manual_seed(config.seed)
    model = UNet(config.unet_config())
    fixed_statistics = False
    if initial is not None:
        if initial.config != model.config:
            raise ValueError(f"the initial weights {initial.source} are a {initial.config}; the training builds a "
                             f"{model.config}")
        model = initial.network()
        fixed_statistics = initial.group_statistics is not None
    model = model.to(dev)
    # what is validated, kept and saved: the weights as trained, or their moving average (config.ema_decay)
    averaged = None if config.ema_decay is None else torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    judged = model if averaged is None else averaged.module
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.1, patience=config.patience, threshold=1e-3)
    history: list[dict[str, float]] = []
    best_state, best_key, start = None, None, 0
    ckpt = Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir is not None else None
    if resume:
        if ckpt is None or not ckpt.is_file():
            raise FileNotFoundError(f"cannot resume: no {CHECKPOINT} in {checkpoint_dir}")
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        defaults = TrainConfig.__dataclass_fields__  # keys that older checkpoints lack have their default
        changed = sorted(k for k, v in asdict(config).items()
                         if k != "epochs" and state["config"].get(k, defaults[k].default) != v)
        if changed:
            raise ValueError(f"cannot resume from {ckpt}: it was written with different {', '.join(changed)}")
        model.load_state_dict(state["model"])
        if averaged is not None:
            averaged.load_state_dict(state["averaged"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_state, start = state["history"], state["best_model"], state["epoch"]
        best_key = (history[state["best_epoch"]][_MAIN], -history[state["best_epoch"]]["val_loss"])
    frozen_from = math.ceil(config.bn_train_fraction * config.epochs) if model.config.norm == "batch" else None
    if fixed_statistics:
        frozen_from = 0
    norm = config.normalisation()

    for epoch in range(start, config.epochs):
        alpha = min(epoch / config.alpha_epochs, 1.0)
        model.train()
        if frozen_from is not None and epoch >= frozen_from:
            model.eval()  # deepCR phase two (or fixed group statistics): frozen normalisation statistics
        losses = []
        steps = range(config.steps_per_epoch)
        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for step in bar:
            if config.lr_schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(config, epoch * config.steps_per_epoch + step)
            x, y, w, v = (t.to(dev) for t in _batch(config, source, epoch, step, alpha))
            optimizer.zero_grad()
            loss = weighted_bce(model(x), y, w, v)
            loss.backward()
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        val = evaluate(judged, validation, norm, dev)
        if config.lr_schedule == "plateau":
            scheduler.step(val["loss"])
        entry = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val["loss"],
                 **{tpr_key(f): t for f, t in val["tpr"].items()}, "lr": optimizer.param_groups[0]["lr"]}
        for name, frames in (report or {}).items():
            other = evaluate(judged, frames, norm, dev)
            entry[f"{name}/val_loss"] = other["loss"]
            entry.update({f"{name}/{tpr_key(f)}": t for f, t in other["tpr"].items()})
        history.append(entry)
        key = (entry[_MAIN], -entry["val_loss"])
        if best_key is None or key > best_key:
            best_key = key
            best_state = {k: v.detach().cpu().clone() for k, v in judged.state_dict().items()}
        if log is not None:
            rates = ", ".join(f"TPR@{f:g} {entry[tpr_key(f)]:.4f}" for f in FPR_POINTS)
            log(f"epoch {epoch + 1}: train loss {entry['train_loss']:.4f}, "
                f"val loss {entry['val_loss']:.4f}, {rates}, lr {entry['lr']:.2g}")
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            best_epoch = max(range(len(history)), key=lambda i: (history[i][_MAIN], -history[i]["val_loss"]))
            torch.save({"config": asdict(config), "epoch": epoch + 1, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "history": history, "best_model": best_state, "best_epoch": best_epoch,
                        **({} if averaged is None else {"averaged": averaged.state_dict()})}, ckpt)

    model.load_state_dict(best_state)
    model.eval()
    point = choose_threshold(evaluate(model, validation, norm, dev)["maps"])
    best = {**max(history, key=lambda h: (h[_MAIN], -h["val_loss"])), **point.as_dict()}
    for name, frames in (report or {}).items():
        at = _operating_point(evaluate(model, frames, norm, dev)["maps"], point.threshold).as_dict()
        best.update({f"{name}/{key}": value for key, value in at.items() if key != "threshold"})
    return TrainResult(model=model.cpu(), threshold=point.threshold, history=history, best=best)
