"""``crmask train unet``: train a U-Net detector and write its weights and model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crmask.cli_options import (RecordedCommand, command_arguments, config_from_options, config_options,
                                data_option, recorded_command)
from crmask.exceptions import WeightsError

from .config import HOT_PIXELS, TrainConfig

__all__ = ["train_unet"]

_FOOTPRINTS = "cr_footprints_itl.fits.gz"


def _read_electrons(paths: tuple[Path, ...], what: str) -> list:
    """Read FITS images and convert them to electrons (gain from the header for adu)."""
    from crmask import prepare_image
    from crmask.io import read_ccd

    arrays = []
    for path in paths:
        image = prepare_image(read_ccd(path), needs=("gain",))
        arrays.append(image.in_electrons.astype("float32"))
    if not arrays:
        raise click.UsageError(f"no {what} given")
    return arrays


@click.command("unet", cls=RecordedCommand)
@config_options(TrainConfig)
@data_option(required=False, help="The shared real-data folder (see its README.md): the CR footprint catalogue "
                                  "and the frames of --train-sources and --val-sources.")
@click.option("--footprints", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help=f"CR footprint catalogue [default: {_FOOTPRINTS} in --data].")
@click.option("--train-sources", default="", metavar="NAMES",
              help="Comma-separated real frames to train on (crmask.bench.sources.REAL_SOURCES, e.g. "
                   "sprat-1,m51,uves), mixed with the synthetic frames.")
@click.option("--val-sources", default="", metavar="NAMES",
              help="Comma-separated real frames that validate: the epoch and the threshold are chosen on them; "
                   "the synthetic validation frames are then only reported.")
@click.option("--real-fraction", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of training patches drawn from the real frames (with --train-sources).")
@click.option("--realisations", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="Independent footprint injections per real training frame.")
@click.option("--train-frames", type=click.IntRange(1, 10000), default=32, show_default=True,
              help="Synthetic training frames.")
@click.option("--val-frames", type=click.IntRange(1, 10000), default=8, show_default=True,
              help="Synthetic validation frames.")
@click.option("--frame-size", type=click.IntRange(64, 8192), default=512, show_default=True,
              help="Side of the synthetic frames, in pixels.")
@click.option("--cr-density", type=float, default=1000.0, show_default=True, help="Training CRs per megapixel.")
@click.option("--cr-density-low", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Draw each training frame's CR density log-uniformly from this to --cr-density "
                   "(sparse patches, as in real exposures).")
@click.option("--spectra-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of synthetic frames with long-slit traces and sky lines added.")
@click.option("--galaxy-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of the synthetic imaging frames (those without long-slit structures) with a large "
                   "resolved spiral galaxy (arms, dust lanes, star-forming knots; "
                   "crmask.data.synthetic.resolved_spiral); every shipped model was trained with 0.")
@click.option("--truth-grow", type=click.FloatRange(min=0, min_open=True), default=None, metavar="NSIGMA",
              help="Grow the truth of injected cosmic rays into neighbours NSIGMA above their local background "
                   "(up to 3 rings), as the SPRAT repeat masks grow their seeds (2 there).")
@click.option("--hot-pixels", type=click.Choice(HOT_PIXELS), default="clean", show_default=True,
              help="The synthetic frames' hot pixels: 'clean' teaches them as clean pixels (every shipped model was "
                   "trained so, and misses bright one-pixel cosmic rays), 'ignore' leaves them out of the loss.")
@click.option("--bright-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of the cosmic rays injected into the real training frames made brighter, by a factor "
                   "drawn log-uniformly up to --bright-factor (the catalogue has one pixel above 2e4 e-; every "
                   "shipped model was trained with 0).")
@click.option("--bright-factor", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Largest brightening factor of --bright-fraction.")
@click.option("--darks", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="Dark frames: train on the paper's dark-frame pairs instead of synthetic frames.")
@click.option("--clean", "clean_images", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="CR-free images for --darks.")
@click.option("--init-weights", default=None, metavar="MODEL",
              help="Start from these weights (a shipped model's name or a .safetensors file) instead of a random "
                   "initialisation; the architecture options must match them. Fixed group statistics they carry "
                   "stay fixed (the network trains in evaluation mode).")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for one checkpoint per epoch (needed by --resume).")
@click.option("--resume", is_flag=True, help="Continue from --checkpoint-dir.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to train: CUDA when available (auto), or the one named.")
@click.option("--threads", type=click.IntRange(1, 1024), default=None, help="CPU threads for torch.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Weights file to write (.safetensors); the model card goes beside it.")
def train_unet(**opts) -> None:
    """Train a deepCR / Cosmic-CoNN U-Net (optionally with attention gates).

    The data are realistic synthetic frames (crmask.data.synthetic) with real ITL
    CR footprints injected, and, with --train-sources, real frames of the
    shared data with real footprints injected (their own cosmic rays left
    out of the loss; the SPRAT repeat masks as real labels). Footprints with
    fp_id % 5 == 0 are never used (reserved for benchmarks), fp_id % 5 == 1
    validate. With --val-sources the epoch and the threshold are chosen on
    real frames. With --darks and --clean, patches are built as in Bhavanam
    et al. (2022, §2.1.1) and validated on patches drawn with another seed.
    """
    import numpy as np
    import torch

    from crmask.provenance import git_commit

    from .card import save_trained
    from .data import DarkFrameSource, FramePool, MixedSource, grow_truth, synthetic_training_data
    from .training import train

    _check_options(opts)
    initial, initial_record = (None, None) if opts["init_weights"] is None else _initial_weights(opts["init_weights"])
    if opts["threads"]:
        torch.set_num_threads(opts["threads"])
    config = config_from_options(TrainConfig, opts)
    train_names, val_names = _source_names(opts["train_sources"], "--train-sources"), \
        _source_names(opts["val_sources"], "--val-sources")
    overlap = sorted(set(train_names) & set(val_names))
    if overlap:
        raise click.UsageError(f"real frames {overlap} are in both --train-sources and --val-sources")
    report = None
    if opts["darks"]:
        source = DarkFrameSource(_read_electrons(opts["clean_images"], "--clean images"),
                                 _read_electrons(opts["darks"], "--darks frames"))
        rng = np.random.default_rng([opts["seed"], 10**6])
        validation = [source.sample(rng, config.patch * 2) for _ in range(opts["val_frames"])]
        data = {"kind": "dark-frame pairs (Bhavanam et al. 2022, section 2.1.1, k_c = 1/8)",
                "darks": [str(p) for p in opts["darks"]], "clean": [str(p) for p in opts["clean_images"]]}
    else:
        footprints = _footprints_path(opts)
        source, validation = synthetic_training_data(
            str(footprints), opts["seed"], opts["train_frames"], opts["val_frames"],
            opts["frame_size"], opts["cr_density"], opts["spectra_fraction"], opts["cr_density_low"],
            opts["hot_pixels"], opts["galaxy_fraction"])
        if opts["truth_grow"] is not None:
            source = FramePool([grow_truth(s, opts["truth_grow"]) for s in source.samples])
            validation = [grow_truth(s, opts["truth_grow"]) for s in validation]
        data = {"kind": "crmask.data.synthetic frames with real ITL CR footprints (crmask.data.footprints)",
                "footprints": footprints.name,
                "footprint_split": "train fp_id % 5 in {2, 3, 4}; validation fp_id % 5 == 1; "
                                   "fp_id % 5 == 0 reserved for benchmarks, never used",
                "train_frames": opts["train_frames"], "val_frames": opts["val_frames"],
                "frame_size": opts["frame_size"], "cr_density_per_mpix": opts["cr_density"],
                "cr_density_low_per_mpix": opts["cr_density_low"],
                "val_cr_density_per_mpix": opts["cr_density"] / 4,
                "spectra_fraction": opts["spectra_fraction"],
                "galaxy_fraction": opts["galaxy_fraction"],
                "truth_grow_nsigma": opts["truth_grow"],
                "hot_pixels": opts["hot_pixels"],
                "frame_seeds": [opts["seed"], opts["seed"] + 1]}
        if train_names or val_names:
            real_train, real_val, split = _real_data(opts, footprints, train_names, val_names)
            data["real"] = split
            if real_train:
                source = MixedSource([source, real_train], [1 - opts["real_fraction"], opts["real_fraction"]])
            if real_val:
                report, validation = {"synthetic": validation}, real_val
    commit = git_commit(Path(__file__).parent)  # the code this training runs, before anything can change it
    grown_from = _checkpoint_length(opts["checkpoint_dir"]) if opts["resume"] else None
    if initial_record is not None:
        data["initial_weights"] = initial_record
    result = train(config, source, validation, report=report, checkpoint_dir=opts["checkpoint_dir"],
                   resume=opts["resume"], device=opts["device"], log=click.echo, initial=initial)
    command = _recorded_command(config.epochs, grown_from)
    weights, card = save_trained(result, config, opts["output"], command=command, training_data=data,
                                 selected_on="real" if report else "synthetic", source_commit=commit)
    click.echo(f"wrote {weights} and {card} (threshold {result.threshold:.2f}, "
               f"validation TPR@1e-4 {result.best['tpr@1e-4']:.4f})")


def _check_options(opts) -> None:
    """Refuse options that cannot work together, before any data is read."""
    import torch

    if not str(opts["output"]).endswith(".safetensors"):
        raise click.BadParameter("the output must end in .safetensors", param_hint="--output")
    if not opts["darks"] and opts["patch"] > opts["frame_size"]:
        raise click.BadParameter(f"--patch {opts['patch']} is larger than --frame-size {opts['frame_size']}; "
                                 "training patches are cut from the frames", param_hint="--patch")
    if opts["bright_fraction"] and (opts["darks"] or not opts["train_sources"]):
        raise click.UsageError("--bright-fraction brightens the cosmic rays injected into real training frames: "
                               "it needs --train-sources (and no --darks)")
    if opts["resume"] and opts["checkpoint_dir"] is None:
        raise click.UsageError("--resume needs --checkpoint-dir (the directory the interrupted run wrote)")
    if opts["device"] == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("cuda was asked for but torch finds no CUDA device; use --device cpu or auto",
                                 param_hint="--device")


def _initial_weights(name: str) -> tuple[Any, dict[str, Any]]:
    """The weights a training starts from and what its card records of them (one line of error if unreadable)."""
    from crmask.models import file_sha256

    from .weights import load_weights

    try:
        loaded = load_weights(name)
    except (WeightsError, OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--init-weights") from None
    return loaded, {"weights": name, "file": Path(loaded.source).name, "sha256": file_sha256(loaded.source),
                    "fixed_group_statistics": loaded.group_statistics is not None}


def _checkpoint_length(checkpoint_dir: Path | None) -> tuple[int, int] | None:
    """``(planned epochs, epochs done)`` of the checkpoint a run resumes from, if there is one."""
    import torch

    from .training import CHECKPOINT

    path = None if checkpoint_dir is None else checkpoint_dir / CHECKPOINT
    if path is None or not path.is_file():
        return None  # train() says why it cannot resume
    state = torch.load(path, map_location="cpu", weights_only=True)
    return int(state["config"]["epochs"]), int(state["epoch"])


def _recorded_command(epochs: int, grown_from: tuple[int, int] | None) -> str:
    """The command that reproduces this model, for its card.

    A run resumed with the ``--epochs`` it was started with is bit-identical
    to an uninterrupted one, so the plain command is recorded. A run grown
    on resume is not (the batch-norm freeze epoch and the schedule follow
    ``--epochs``): both steps are recorded.
    """
    args = [a for a in command_arguments() if a != "--resume"]
    command = recorded_command(args)
    if grown_from is None or grown_from[0] == epochs:
        return command
    planned, done = grown_from
    first = list(args)
    last = len(first) - 1 - first[::-1].index("--epochs")  # the one click takes
    first[last + 1] = str(planned)
    return f"{recorded_command(first)}  (ran {done} of {planned} epochs), then {command} --resume"


def _source_names(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return []
    from crmask.bench.sources import REAL_SOURCES

    unknown = sorted(set(names) - set(REAL_SOURCES))
    if unknown:
        raise click.BadParameter(f"unknown real frame(s) {unknown}; choose from {', '.join(REAL_SOURCES)}",
                                 param_hint=option)
    return names


def _footprints_path(opts) -> Path:
    if opts["footprints"] is not None:
        return opts["footprints"]
    if opts["data_dir"] is None:
        raise click.UsageError("give --footprints or --data (or set CRMASK_DATA) for the CR footprint catalogue")
    path = opts["data_dir"] / _FOOTPRINTS
    if not path.is_file():
        raise click.UsageError(f"{path} does not exist: --data must be the shared real-data folder")
    return path


def _density_text(opts) -> str:
    low, high = opts["cr_density_low"], opts["cr_density"]
    return f"{high:g}" if low is None or low >= high else f"log-uniform {low:g}-{high:g} (per realisation)"


def _real_data(opts, footprints: Path, train_names: list[str], val_names: list[str]):
    """Real training pool, real validation frames and the split recorded in the model card."""
    from crmask.bench.sources import REAL_SOURCES, load_real_frames

    from .data import FramePool, grow_truth, real_samples, split_footprints

    if opts["data_dir"] is None:
        raise click.UsageError("--train-sources and --val-sources need --data (or CRMASK_DATA)")
    frames = load_real_frames(opts["data_dir"], train_names + val_names)
    seed = opts["seed"]
    train_frames = [frames[n] for n in train_names]
    val_frames = [frames[n] for n in val_names]
    grow = opts["truth_grow"]

    def grown(samples):
        return samples if grow is None else [grow_truth(s, grow) for s in samples]

    brighten = (opts["bright_fraction"], opts["bright_factor"]) if opts["bright_fraction"] else None
    pool = FramePool(grown(real_samples(train_frames, split_footprints(str(footprints), "train"), seed,
                                        opts["realisations"], opts["cr_density"], opts["cr_density_low"],
                                        brighten))) if train_frames else None
    val = grown(real_samples(val_frames, split_footprints(str(footprints), "val"), seed + 1, 2,
                             opts["cr_density"] / 4)) if val_frames else None
    split = {
        "train": {n: frames[n].path for n in train_names},
        "validate": {n: frames[n].path for n in val_names},
        "test_only": [n for n in REAL_SOURCES if n not in train_names and n not in val_names],
        "real_fraction": opts["real_fraction"] if train_frames else 0.0,
        "realisations": opts["realisations"],
        "train_injection": f"fp_id % 5 in {{2, 3, 4}}, {_density_text(opts)} per Mpix, seed {seed}"
                           + ("" if brighten is None else f"; {brighten[0]:g} of them brightened up to "
                              f"{brighten[1]:g}x (log-uniform)"),
        "val_injection": f"fp_id % 5 == 1, {opts['cr_density'] / 4:g} per Mpix, 2 per frame, seed {seed + 1}",
        "ignored": "each frame's own cosmic rays and doubtful pixels (crmask.bench.sources.own_cosmic_rays, "
                   "SPRAT: repeat significance), defects, faint injected charge",
        "labels": "injected footprints (3 sigma truth" + ("" if grow is None else f", grown into {grow:g} sigma "
                  "neighbours, crmask_unet.data.grow_truth") + ") and, for SPRAT, the repeat-derived masks",
        "calibration": {n: frames[n].calibration for n in train_names + val_names},
    }
    return pool, val, split
