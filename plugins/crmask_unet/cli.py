"""``crmask train unet``: train a U-Net detector and write its weights and model card."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

__all__ = ["train_unet"]

_FOOTPRINTS = "../shared/data/cr_footprints_itl.fits.gz"


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


@click.command("unet")
@click.option("--arch", type=click.Choice(["deepcr", "cosmic-conn"]), default="cosmic-conn", show_default=True,
              help="Batch-norm deepCR or group-norm Cosmic-CoNN U-Net.")
@click.option("--attention/--no-attention", default=False, show_default=True, help="Attention gates on skips.")
@click.option("--depth", type=click.IntRange(1, 6), default=3, show_default=True)
@click.option("--width", type=click.IntRange(2, 256), default=32, show_default=True, help="Channels of level 1.")
@click.option("--patch", type=click.IntRange(16, 2048), default=128, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 1024), default=8, show_default=True)
@click.option("--epochs", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--steps-per-epoch", type=click.IntRange(1, 10**6), default=100, show_default=True)
@click.option("--lr", type=float, default=0.005, show_default=True, help="Initial Adam learning rate.")
@click.option("--loss", type=click.Choice(["bce", "median-bce"]), default="bce", show_default=True)
@click.option("--scale", type=float, default=None,
              help="Electrons per network input unit [default: 100 for deepcr, 1 for cosmic-conn, as the originals].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--footprints", type=click.Path(exists=True, dir_okay=False), default=_FOOTPRINTS, show_default=True,
              help="CR footprint catalogue for the synthetic training data.")
@click.option("--train-frames", type=click.IntRange(1, 10000), default=32, show_default=True)
@click.option("--val-frames", type=click.IntRange(1, 10000), default=8, show_default=True)
@click.option("--frame-size", type=click.IntRange(64, 8192), default=512, show_default=True)
@click.option("--cr-density", type=float, default=1000.0, show_default=True, help="Training CRs per megapixel.")
@click.option("--spectra-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of synthetic frames with long-slit traces and sky lines added.")
@click.option("--darks", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="Dark frames: train on the paper's dark-frame pairs instead of synthetic frames.")
@click.option("--clean", "clean_images", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="CR-free images for --darks.")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--resume", is_flag=True, help="Continue from --checkpoint-dir.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(1, 1024), default=None, help="CPU threads for torch.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Weights file to write (.safetensors); the model card goes beside it.")
def train_unet(**opts) -> None:
    """Train a deepCR / Cosmic-CoNN U-Net (optionally with attention gates).

    By default the data are realistic synthetic frames (crmask.synthetic)
    with real ITL CR footprints injected; footprints with fp_id % 5 == 0
    are never used (reserved for benchmarks), fp_id % 5 == 1 validate. With
    --darks and --clean, patches are built as in Bhavanam et al. (2022,
    §2.1.1) and validated on patches drawn with another seed.
    """
    import numpy as np
    import torch

    from .card import save_trained
    from .data import DarkFrameSource, synthetic_training_data
    from .training import TrainConfig, train

    if opts["threads"]:
        torch.set_num_threads(opts["threads"])
    if not str(opts["output"]).endswith(".safetensors"):
        raise click.BadParameter("the output must end in .safetensors", param_hint="--output")
    try:
        config = TrainConfig(
            arch=opts["arch"], attention=opts["attention"], depth=opts["depth"], width=opts["width"],
            patch=opts["patch"], batch_size=opts["batch_size"], epochs=opts["epochs"],
            steps_per_epoch=opts["steps_per_epoch"], lr=opts["lr"], loss=opts["loss"],
            scale=opts["scale"] or (100.0 if opts["arch"] == "deepcr" else 1.0),
            seed=opts["seed"],
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if opts["darks"]:
        source = DarkFrameSource(_read_electrons(opts["clean_images"], "--clean images"),
                                 _read_electrons(opts["darks"], "--darks frames"))
        rng = np.random.default_rng([opts["seed"], 10**6])
        validation = [source.sample(rng, config.patch * 2) for _ in range(opts["val_frames"])]
        data = {"kind": "dark-frame pairs (Bhavanam et al. 2022, section 2.1.1, k_c = 1/8)",
                "darks": [str(p) for p in opts["darks"]], "clean": [str(p) for p in opts["clean_images"]]}
    else:
        source, validation = synthetic_training_data(
            opts["footprints"], opts["seed"], opts["train_frames"], opts["val_frames"],
            opts["frame_size"], opts["cr_density"], opts["spectra_fraction"])
        data = {"kind": "crmask.synthetic frames with real ITL CR footprints (crmask.footprints)",
                "footprints": Path(opts["footprints"]).name,
                "footprint_split": "train fp_id % 5 in {2, 3, 4}; validation fp_id % 5 == 1; "
                                   "fp_id % 5 == 0 reserved for benchmarks, never used",
                "train_frames": opts["train_frames"], "val_frames": opts["val_frames"],
                "frame_size": opts["frame_size"], "cr_density_per_mpix": opts["cr_density"],
                "val_cr_density_per_mpix": opts["cr_density"] / 4,
                "spectra_fraction": opts["spectra_fraction"],
                "frame_seeds": [opts["seed"], opts["seed"] + 1]}
    result = train(config, source, validation, checkpoint_dir=opts["checkpoint_dir"], resume=opts["resume"],
                   device=opts["device"], log=click.echo)
    # A resumed run is bit-identical to an uninterrupted one, so the command recorded is the plain one.
    args = [a for a in sys.argv[3:] if a != "--resume"]
    command = "crmask train unet " + " ".join(shlex.quote(a) for a in args) \
        if sys.argv[1:3] == ["train", "unet"] else "crmask_unet.cli.train_unet"
    weights, card = save_trained(result, config, opts["output"], command=command, training_data=data)
    click.echo(f"wrote {weights} and {card} (threshold {result.threshold:.2f}, "
               f"validation TPR@1e-4 {result.best['tpr@1e-4']:.4f})")
