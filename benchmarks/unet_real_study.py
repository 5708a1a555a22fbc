"""Train the U-Net study models on real data: input representation, leave-one-source-out, attention, width.

Every run is one ``crmask train unet`` command (printed and recorded in its
model card) with its own checkpoint folder, so an interrupted study resumes
where it stopped: finished runs are skipped, unfinished ones continue from
their last epoch. Runs go ``--jobs`` at a time, one CPU thread each.

    python benchmarks/unet_real_study.py --data ../shared/data -o out/study --jobs 2 [--only PATTERN ...]
    python benchmarks/unet_real_study.py --list
    python benchmarks/unet_real_study.py --data ../shared/data -o out/study --extend RUN [RUN ...] --to-epochs 20

``--extend`` continues finished runs to more epochs in new runs ``<RUN>-e<N>``
(their checkpoint copied, then ``--resume`` with the larger ``--epochs``; the
model card records both steps).

Scoring is ``crmask bench`` on the real sets (``crmask bench build``), with
each run's weights: see ``benchmarks/score_study.sh``.

The split of the real frames (``crmask.bench.sources.REAL_SOURCES``) is by
source file. Main split, used by the representation, attention, width and
learning-rate-schedule runs and by the shipped models: SPRAT exposures 1-3, the KPNO M51 frame and
the UVES echelle frame train; SPRAT exposure 4 and the SAAO frame validate
(epoch and threshold are chosen there); SPRAT exposure 5 and GMOS are never
used. Leave-one-source-out: for each source, the main split without any
frame of that source.
"""

from __future__ import annotations

import argparse
import fnmatch
import itertools
import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crmask.cli_options import parse_args_with_data

MAIN_TRAIN = ("sprat-1", "sprat-2", "sprat-3", "m51", "uves")
MAIN_VAL = ("sprat-4", "saao")
#: Sources of the leave-one-source-out table and their frames. GMOS is outside the main split, so the
#: main-split model is its leave-one-out model.
SOURCES = {"sprat": ("sprat-1", "sprat-2", "sprat-3", "sprat-4", "sprat-5"), "m51": ("m51",), "uves": ("uves",),
           "saao": ("saao",)}
#: Training budget shared by every run (equal budget for every comparison).
BUDGET = ["--width", "8", "--epochs", "10", "--steps-per-epoch", "200", "--loss", "bce",
          "--train-frames", "32", "--val-frames", "8", "--spectra-fraction", "0.5", "--real-fraction", "0.5",
          "--threads", "1"]


def split(left_out: str | None = None) -> tuple[list[str], list[str]]:
    """Training and validation frames of the main split, without those of source ``left_out``."""
    gone = set(SOURCES.get(left_out, ()))
    return [t for t in MAIN_TRAIN if t not in gone], [v for v in MAIN_VAL if v not in gone]


def _sources(train: list[str], val: list[str]) -> list[str]:
    return ["--train-sources", ",".join(train), "--val-sources", ",".join(val)]


def runs() -> dict[str, list[str]]:
    """Run name -> ``crmask train unet`` arguments (without data, output and checkpoint options).

    ``input-<arch>-noise`` is also seed 1 of the attention ablation's
    models without gates.
    """
    table: dict[str, list[str]] = {}
    main = _sources(*split())
    for arch in ("deepcr", "cosmic-conn"):
        table[f"input-{arch}-native"] = ["--arch", arch, *main, "--seed", "1"]
        table[f"input-{arch}-noise"] = ["--arch", arch, "--input", "noise", *main, "--seed", "1"]
        for seed in (1, 2, 3):
            table[f"attention-{arch}-att-s{seed}"] = ["--arch", arch, "--input", "noise", "--attention", *main,
                                                      "--seed", str(seed)]
            if seed > 1:
                table[f"attention-{arch}-plain-s{seed}"] = ["--arch", arch, "--input", "noise", *main,
                                                            "--seed", str(seed)]
    for source in SOURCES:
        table[f"loso-{source}"] = ["--arch", "deepcr", "--input", "noise", *_sources(*split(source)), "--seed", "1"]
    table["width16-deepcr-noise"] = ["--arch", "deepcr", "--input", "noise", *main, "--seed", "1", "--width", "16"]
    families = {"deepcr": ["--arch", "deepcr"], "att-deepcr": ["--arch", "deepcr", "--attention"],
                "cosmic-conn": ["--arch", "cosmic-conn"], "att-cosmic-conn": ["--arch", "cosmic-conn", "--attention"]}
    for family, arch in families.items():
        if family != "deepcr":
            table[f"width16-{family}-noise"] = [*arch, "--input", "noise", *main, "--seed", "1", "--width", "16"]
        for width, seed in itertools.product((12, 16), (1, 2, 3)):
            # the learning rate decays over the run instead of dropping on a plateau
            cosine = [*arch, "--input", "noise", *main, "--seed", str(seed), "--width", str(width),
                      "--lr-schedule", "cosine"]
            table[f"width{width}-{family}-cosine-s{seed}"] = cosine
            # and each frame's cosmic-ray density drawn from 30-1000 per Mpix: sparse patches, as real exposures
            table[f"width{width}-{family}-sparse-s{seed}"] = [*cosine, "--cr-density-low", "30"]
            if family.endswith("cosmic-conn"):  # and a variance floor in the group normalisations
                table[f"width{width}-{family}-floor-s{seed}"] = [*cosine, "--cr-density-low", "30", "--group-eps", "1"]
    for family in ("cosmic-conn", "att-cosmic-conn"):
        for seed in (1, 2, 3):
            # group normalisation over 252-pixel patches (SPRAT frames have 254 rows), closer to the whole frames
            # it normalises over in validation and inference; a quarter of the batch: about the same pixels per step
            table[f"patch252-{family}-s{seed}"] = [*families[family], "--input", "noise", *main, "--seed", str(seed),
                                                   "--patch", "252", "--batch-size", "2"]
    # injected truth grown into its 2 sigma neighbours, as the SPRAT repeat masks are made (faint wings):
    # the recipes of the shipped deepcr and cosmic-conn defaults with that one change
    grow = ["--truth-grow", "2"]
    table["wings-deepcr-s1"] = [*table["width16-deepcr-cosine-s1"], *grow]
    table["wings-cosmic-conn-s1"] = [*table["input-cosmic-conn-noise"], *grow]
    # the loss stresses the non-CR pixels bordering each cosmic ray (the halo a network paints around a track is
    # what uses up the false-positive budget at FPR 1e-4 on the injected sets): the recipes of the 10-epoch runs
    # behind the shipped deepcr and cosmic-conn defaults with that one change
    border = ["--border-weight", "5"]
    table["border-deepcr-s1"] = [*table["width16-deepcr-cosine-s1"], *border]
    table["border-cosmic-conn-s1"] = [*table["input-cosmic-conn-noise"], *border]
    # and its seeds 2 and 3 (the spread that decides whether the border weight ships in cosmic-conn)
    for seed in (2, 3):
        table[f"border-cosmic-conn-s{seed}"] = [*table[f"attention-cosmic-conn-plain-s{seed}"], *border]
    # and of the 10-epoch runs behind the shipped att-cosmic-conn and att-deepcr (the leave-one-source-out runs
    # below favour the border weight)
    table["border-att-cosmic-conn-s3"] = [*table["attention-cosmic-conn-att-s3"], *border]
    table["border-att-deepcr-s1"] = [*table["attention-deepcr-att-s1"], *border]
    # the cosmic-conn recipe with and without the border weight, left out one source at a time: a comparison of
    # the two recipes on sources they did not see, where the one validation split could not tell them apart
    # (seed 1 without a suffix, as first run; seeds 2 and 3 after it, to tell the difference from the spread)
    for source, seed in itertools.product(SOURCES, (1, 2, 3)):
        suffix = "" if seed == 1 else f"-s{seed}"
        loso = ["--arch", "cosmic-conn", "--input", "noise", *_sources(*split(source)), "--seed", str(seed)]
        table[f"loso-cosmic-conn-{source}{suffix}"] = loso
        table[f"loso-border-cosmic-conn-{source}{suffix}"] = [*loso, *border]
        # and the deepcr recipe of the leave-one-source-out table, with and without the border weight
        loso = ["--arch", "deepcr", "--input", "noise", *_sources(*split(source)), "--seed", str(seed)]
        if seed > 1:
            table[f"loso-{source}{suffix}"] = loso
        table[f"loso-border-{source}{suffix}"] = [*loso, *border]
    # the group-norm recipe left out of M51 with one change each: resolved spiral galaxies (arms, dust lanes,
    # star-forming knots) in 60% of its synthetic imaging frames (30% of all; the long-slit half as before), does
    # crowded galaxy structure in training carry to a galaxy it never saw?; and a moving average of the weights
    # (about 500 steps, 2.5 epochs), since the runs above swing by up to 0.25 in real-validation TPR from one epoch
    # to the next, so the epoch kept is partly luck
    changes = {"galaxies": ["--galaxy-fraction", "0.6"], "ema": ["--ema-decay", "0.998"]}
    for (change, options), seed in itertools.product(changes.items(), (1, 2, 3)):
        suffix = "" if seed == 1 else f"-s{seed}"
        table[f"loso-border-cosmic-conn-m51-{change}{suffix}"] = [*table[f"loso-border-cosmic-conn-m51{suffix}"],
                                                                   *options]
    # and with the SAAO frame moved from validation into training (SPRAT 4 alone validates): the only real imaging
    # frame with stars outside M51, so a model left out of M51 otherwise sees real stars only in validation; does
    # one real star field carry to a galaxy never seen?
    without_m51, _ = split("m51")
    for seed in (1, 2, 3):
        suffix = "" if seed == 1 else f"-s{seed}"
        table[f"loso-border-cosmic-conn-m51-saao-trained{suffix}"] = [
            "--arch", "cosmic-conn", "--input", "noise", *_sources([*without_m51, "saao"], ["sprat-4"]),
            "--seed", str(seed), *border]
    # the same question on the main split (M51 in training): the group-norm recipe validated on SPRAT 4 alone, with
    # and without the SAAO frame in training, so that the two differ by that frame only
    train, _ = split()
    for seed in (1, 2, 3):
        recipe = ["--arch", "cosmic-conn", "--input", "noise", "--seed", str(seed), *border]
        table[f"border-cosmic-conn-sprat4-validated-s{seed}"] = [*recipe, *_sources(train, ["sprat-4"])]
        table[f"border-cosmic-conn-saao-trained-s{seed}"] = [*recipe, *_sources([*train, "saao"], ["sprat-4"])]
    return table


def command(name: str, args: list[str], data: Path, out: Path) -> list[str]:
    """The full command of run ``name``; later options override ``BUDGET``'s."""
    run_dir = out / name
    return ["crmask", "train", "unet", *BUDGET, *args, "--data", str(data),
            "--checkpoint-dir", str(run_dir / "checkpoint"), "-o", str(run_dir / f"{name}.safetensors")]


def _run(name: str, cmd: list[str], out: Path) -> tuple[str, int]:
    run_dir = out / name
    weights = run_dir / f"{name}.safetensors"
    if weights.is_file():
        return name, 0
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / "checkpoint" / "checkpoint.pt").is_file():
        cmd = [*cmd, "--resume"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with open(run_dir / "train.log", "a") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return name, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("out/study"))
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one CPU thread each)")
    parser.add_argument("--only", nargs="*", default=["*"], help="run-name patterns (fnmatch), run in this order")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    parser.add_argument("--extend", nargs="*", default=[], metavar="RUN", help="finished runs to continue")
    parser.add_argument("--to-epochs", type=int, default=20, help="total epochs of the extended runs")
    opts = parse_args_with_data(parser, argv, required=lambda opts: not opts.list)
    table = runs()
    if opts.extend:
        unknown = sorted(set(opts.extend) - set(table))
        if unknown:
            parser.error(f"unknown run(s) {unknown}")
        selected = {f"{run}-e{opts.to_epochs}": [*table[run], "--epochs", str(opts.to_epochs)]
                    for run in opts.extend}
    else:
        selected = {n: table[n] for pattern in opts.only for n in table if fnmatch.fnmatch(n, pattern)}
    if opts.list:
        for name, args in selected.items():
            print(f"{name}: {shlex.join(command(name, args, opts.data or Path('DATA'), opts.out))}")
        return 0
    for run in opts.extend:  # an extension starts from the finished run's checkpoint
        source, target = opts.out / run / "checkpoint", opts.out / f"{run}-e{opts.to_epochs}" / "checkpoint"
        if not (source / "checkpoint.pt").is_file():
            parser.error(f"run {run} has no checkpoint in {source}")
        if not target.exists():
            shutil.copytree(source, target)
    with ThreadPoolExecutor(opts.jobs) as pool:
        jobs = [pool.submit(_run, n, command(n, a, opts.data, opts.out), opts.out) for n, a in selected.items()]
        failed = []
        for job in jobs:
            name, code = job.result()
            print(f"{name}: {'done' if code == 0 else f'failed (exit {code}), see its train.log'}", flush=True)
            if code:
                failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
