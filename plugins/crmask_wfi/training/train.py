"""Train and evaluate the ``wfi-cam-rf`` model end to end, reproducibly.

Five independent simulations, all drawn from one seed
(`numpy.random.SeedSequence` children, in this order):

1. class-balanced 64×64 sub-frames to train the DenseNet;
2. sub-frames to validate it (loss and accuracy per epoch; early stopping);
3. 512×512 frames whose in-band events train the random forest;
4. 512×512 frames whose events give the ROC and the operating threshold;
5. 512×512 held-out frames on which the filter is compared with the
   classic grade filter (metrics table, Fig. 2/3 plots).

Each set's frames are drawn under the conditions of the run
(`crmask_wfi.training.mix`: cosmic-ray and X-ray rates, read noise and
charge cloud drawn per frame, the Geant4 run's cosmic rays in a fraction of
the 512×512 frames), from five more children of the seed, one per set; the
default conditions draw nothing, and the frames are those of a run without
them. The threshold holds the lost X-ray limit on the validation frames of
that mix.

Usage (the options are the fields of `CamRfTrainConfig`; the defaults are
the shipped model's settings, except that it adds
``--context-features`` and used 8,000 validation and 16,000 test frames,
fewer than the defaults' >= 1,000 CR events; its model card records the
exact command)::

    crmask train wfi-cam-rf --out plugins/crmask_wfi/weights/cam_rf --work out/wfi --context-features

Intermediate products (DenseNet checkpoints, event tables with features)
are cached in ``--work`` so that an interrupted run resumes; the conditions
of each set's frames are written there too (``frames_<set>.ecsv``).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from crmask.cli_options import data_folder
from crmask.provenance import git_commit

from ..events.classic import MIP_THRESHOLD_KEV, apply_classic_cuts
from ..events.reconstruct import SPLIT_THRESHOLD_KEV, add_truth, reconstruct_events
from ..camrf.context import CONTEXT_FEATURE_NAMES, context_features
from ..camrf.features import FEATURE_NAMES
from ..report.metrics import BANDS_KEV, metrics_table, wilson_interval
from ..sim.geant4 import GEANT4_PIXELS_FILE, GEANT4_SUBDIR, read_pixels
from ..sim.simulate import DEFAULT_CR_RATE, DEFAULT_XRAY_RATE, QUADRANT_SHAPE, electrons_to_kev
from .config import CamRfTrainConfig
from .mix import FrameConditions, TrainingMix, geant4_primaries, summarise_conditions

__all__ = [
    "CamRfTrainConfig",
    "collect_events",
    "in_band_training_data",
    "lost_xray_by_frame_group",
    "run_training",
    "train_command",
    "training_mixes",
    "main",
]

#: Columns of the cached event tables (the 3x3/5x5 pixel arrays are dropped to save space).
_KEPT = ("FRAME", "X", "Y", "ENERGY", "GRADE", "SHAPE_OK", "RING_REJECT", "TRUE_CLASS", "VALID")
#: The five data sets, in the order of their seeds; the seeds of their conditions follow.
_SETS = ("subframes", "val_subframes", "forest", "roc", "test")


def collect_events(
    densenet,
    n_frames: int,
    seed: np.random.SeedSequence,
    *,
    chunk: int = 200,
    emin: float = 0.3,
    emax: float = MIP_THRESHOLD_KEV,
    xray_rate: float = DEFAULT_XRAY_RATE,
    cr_rate: float = DEFAULT_CR_RATE,
    device: str = "cpu",
    progress: bool = True,
    mix: TrainingMix | None = None,
    plan: Table | None = None,
) -> Table:
    """Simulate 512×512 frames and tabulate their events with truth, classic decision and CAM features.

    Parameters
    ----------
    densenet : crmask_wfi.camrf.densenet.FrameDenseNet
    n_frames : int
    seed : numpy.random.SeedSequence
        One child per chunk of ``chunk`` simulated frames is spawned from it
        (then one per Geant4 placement, `TrainingMix.batches`).
    chunk : int
        Frames simulated at once (bounds memory).
    emin, emax : float
        Band (keV) whose events get features.
    xray_rate, cr_rate : float
        Events per 512×512 frame (Poliszczuk et al. 2024: 1 and 1), without
        a ``mix``.
    device : str
    progress : bool
    mix : crmask_wfi.training.mix.TrainingMix, optional
        Where the frames come from and under which conditions, with
        ``plan``, its `~crmask_wfi.training.mix.TrainingMix.plan` of
        ``n_frames`` frames; default: the simulator at ``xray_rate`` and
        ``cr_rate``.
    plan : astropy.table.Table, optional

    Returns
    -------
    astropy.table.Table
        ``FRAME``, ``X``, ``Y``, ``ENERGY``, ``GRADE``, ``SHAPE_OK``,
        ``RING_REJECT``, ``TRUE_CLASS``, ``VALID`` and ``CLASSIC_FLAG`` (the
        classic filter), ``IN_BAND``, ``FEATURES`` (``(n, 10)`` CAM features)
        and ``CONTEXT`` (``(n, 2)``, `crmask_wfi.camrf.context`), NaN out of band.
    """
    from tqdm.auto import tqdm

    from ..camrf.filter import cam_event_features

    if mix is None:
        mix = TrainingMix(FrameConditions(cr_rate=(cr_rate, cr_rate), xray_rate=(xray_rate, xray_rate)))
        plan = mix.plan(n_frames, np.random.default_rng())  # fixed conditions: nothing is drawn
    if plan is None or len(plan) != n_frames:
        raise ValueError(f"a mix needs its plan of {n_frames} frames (TrainingMix.plan)")
    tables = []
    start = 0
    bar = tqdm(total=n_frames, desc="frames", unit="frame", disable=not progress)
    for sim in mix.batches(plan, seed, chunk):
        frames_kev = np.asarray(electrons_to_kev(sim.signal), dtype=np.float32)
        events = apply_classic_cuts(add_truth(reconstruct_events(frames_kev), sim))
        table = Table({name: events[name] for name in _KEPT})
        table["CLASSIC_FLAG"] = np.asarray(events["CR_FLAG"])
        energy = np.asarray(table["ENERGY"])
        in_band = (energy >= emin) & (energy < emax)
        features = np.full((len(table), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
        context = np.full((len(table), len(CONTEXT_FEATURE_NAMES)), np.nan, dtype=np.float32)
        if in_band.any():
            frame, x, y = (np.asarray(table[name])[in_band] for name in ("FRAME", "X", "Y"))
            features[in_band] = cam_event_features(densenet, frames_kev, frame, y, x, energy[in_band],
                                                   device=device)
            context[in_band] = context_features(frames_kev, frame, x, y, split_threshold=SPLIT_THRESHOLD_KEV,
                                                mip_threshold=emax)
        table["IN_BAND"] = in_band
        table["FEATURES"] = features
        table["CONTEXT"] = context
        table["FRAME"] = np.asarray(table["FRAME"]) + start
        tables.append(table)
        start += len(sim)
        bar.update(len(sim))
    bar.close()
    return vstack(tables, metadata_conflicts="silent")


def in_band_training_data(events: Table, names=FEATURE_NAMES) -> tuple[np.ndarray, np.ndarray]:
    """Forest inputs (``names``) and CR truth of the in-band X-ray and CR events of `collect_events` output."""
    from ..camrf.filter import assemble_features

    truth = np.asarray(events["TRUE_CLASS"]).astype(str)  # bytes when read back from FITS
    keep = np.asarray(events["IN_BAND"]) & np.isin(truth, ("xray", "cr"))
    features = assemble_features(names, np.asarray(events["FEATURES"])[keep],
                                 lambda: np.asarray(events["CONTEXT"])[keep])
    return features, truth[keep] == "cr"


def _cached_events(path: Path, make) -> Table:
    if path.is_file():
        return Table.read(path)
    table = make()
    table.write(path, overwrite=True)
    return table


def _subframes(mix: TrainingMix, n_per_class: int, seed: np.random.SeedSequence,
               conditions_seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    from ..sim.simfile import frame_classes

    data, _ = mix.subframes(n_per_class, seed, np.random.default_rng(conditions_seed))
    return np.asarray(electrons_to_kev(data.signal), dtype=np.float32), frame_classes(data.label)


def training_mixes(config: CamRfTrainConfig) -> dict[str, TrainingMix]:
    """The mix of each data set of a run: the Geant4 run's even primaries to train and validate, odd to test.

    Raises
    ------
    crmask.exceptions.MissingDataError, crmask.exceptions.FITSReadError
        If a Geant4 fraction is asked and the data folder or the run is missing.
    """
    pixels = {"training": None, "held-out": None}
    if config.geant4_fraction > 0:
        run = read_pixels(data_folder(config.data) / GEANT4_SUBDIR / GEANT4_PIXELS_FILE)
        pixels = {part: geant4_primaries(run, part) for part in pixels}
    mixes = {part: TrainingMix(config.conditions, config.geant4_fraction, pixels[part]) for part in pixels}
    return {name: mixes["held-out" if name == "test" else "training"] for name in _SETS}


def train_command():
    """The ``wfi-cam-rf`` click command (for ``crmask train wfi-cam-rf``); its options are `CamRfTrainConfig`'s."""
    import click

    from crmask.cli_options import RecordedCommand, config_from_options, config_options, recorded_command

    @click.command("wfi-cam-rf", cls=RecordedCommand)
    @config_options(CamRfTrainConfig)
    def train_cam_rf(**options) -> None:
        """Train the wfi-cam-rf DenseNet and random forest, choose the threshold, evaluate held out."""
        run_training(config_from_options(CamRfTrainConfig, options), command=recorded_command())

    return train_cam_rf


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; ``python -m crmask_wfi.training.train --help`` lists the options."""
    train_command().main(args=argv, prog_name="python -m crmask_wfi.training.train", standalone_mode=True)


def run_training(config: CamRfTrainConfig, *, command: str | None = None) -> None:
    """Run the whole training and evaluation of ``config``, writing the model to ``config.out``.

    Parameters
    ----------
    config : CamRfTrainConfig
        The run.
    command : str, optional
        The command line that started it, for the model card (``crmask train
        wfi-cam-rf`` and ``python -m crmask_wfi.training.train`` give theirs);
        default: this call, ``crmask_wfi.training.train.run_training(config)``
        with the configuration written out.
    """
    import torch

    from ..camrf.forest import ForestModel, fit_balanced_forest
    from ..camrf.model_io import DENSENET_FILE, FOREST_FILE, load_densenet, save_densenet, write_model_card
    from ..report.figures import plot_filter_comparison
    from ..report.roc import choose_threshold, plot_roc, roc_curve
    from .train_densenet import train_densenet

    torch.set_num_threads(config.threads)
    started = time.time()
    commit = git_commit(Path(__file__).parent)  # the code (and simulator) the model is made with
    report = config.report_dir
    for directory in (config.out, config.work, report):
        directory.mkdir(parents=True, exist_ok=True)
    # The seeds of the five sets, then of their conditions (the first five are those of a run without them).
    children = np.random.SeedSequence(config.seed).spawn(2 * len(_SETS))
    seeds = dict(zip(_SETS, children))
    conditions_seeds = dict(zip(_SETS, children[len(_SETS):]))
    mixes = training_mixes(config)
    sizes = {"forest": config.forest_frames, "roc": config.roc_frames, "test": config.test_frames}
    plans = {name: mixes[name].plan(n, np.random.default_rng(conditions_seeds[name]))
             for name, n in sizes.items()}
    for name, plan in plans.items():
        plan.write(config.work / f"frames_{name}.ecsv", overwrite=True)

    # Stage 1: the frame DenseNet.
    densenet_path = config.work / DENSENET_FILE
    if densenet_path.is_file():
        densenet = load_densenet(densenet_path, device=config.device)
        history = json.loads((config.work / "densenet_history.json").read_text())
    else:
        frames, classes = _subframes(mixes["subframes"], config.subframes_per_class, seeds["subframes"],
                                     conditions_seeds["subframes"])
        val_frames, val_classes = _subframes(mixes["val_subframes"], config.val_subframes_per_class,
                                             seeds["val_subframes"], conditions_seeds["val_subframes"])
        densenet, hist = train_densenet(
            frames, classes, val_frames_kev=val_frames, val_classes=val_classes, epochs=config.epochs,
            batch_size=config.batch_size, lr=config.lr, lr_decay=config.lr_decay, seed=config.seed,
            checkpoint_dir=config.work / "checkpoints", device=config.device, patience=config.patience,
        )
        history = hist.to_dict()
        save_densenet(densenet, densenet_path, metadata={"seed": config.seed, "history": history})
        (config.work / "densenet_history.json").write_text(json.dumps(history))
    densenet.eval()

    # Stage 2: events, forest, threshold.
    def events_for(name: str, n_frames: int) -> Table:
        return _cached_events(config.work / f"events_{name}.fits",
                              lambda: collect_events(densenet, n_frames, seeds[name], device=config.device,
                                                     mix=mixes[name], plan=plans[name]))

    names = FEATURE_NAMES + (CONTEXT_FEATURE_NAMES if config.context_features else ())
    train_events = events_for("forest", config.forest_frames)
    x_train, y_train = in_band_training_data(train_events, names)
    fit_start = time.time()
    sk_forest = fit_balanced_forest(x_train, y_train, n_trees=config.n_trees, max_features=config.max_features,
                                    seed=config.seed, n_jobs=config.threads)
    fit_seconds = time.time() - fit_start
    import imblearn
    import sklearn

    forest = ForestModel.from_sklearn(sk_forest, names, training={
        "n_trees": config.n_trees, "max_features": config.max_features, "criterion": "gini",
        "sampling_strategy": "all", "replacement": True, "bootstrap": False, "seed": config.seed,
        "sklearn": sklearn.__version__, "imblearn": imblearn.__version__,
    })
    del sk_forest

    roc_events = events_for("roc", config.roc_frames)
    x_roc, y_roc = in_band_training_data(roc_events, names)
    curve = roc_curve(forest.predict_proba(x_roc), y_roc)
    operating = choose_threshold(curve, config.max_lost_xray)
    validation_groups = lost_xray_by_frame_group(_apply_forest(roc_events, forest, operating[0]),
                                                 plans["roc"])
    plot_roc(curve, operating, report / "roc.png",
             title=f"Validation ROC ({int(y_roc.sum())} CR, {int((~y_roc).sum())} X-ray events)")

    # Held-out comparison with the classic filter.
    test_events = events_for("test", config.test_frames)
    ml = _apply_forest(test_events, forest, operating[0])
    classic = test_events.copy(copy_data=False)
    classic["CR_FLAG"] = classic["CLASSIC_FLAG"]
    table = metrics_table({"classic": classic, "wfi-cam-rf": ml}, bands=BANDS_KEV, reference="classic")
    table.write(report / "heldout_metrics.ecsv", overwrite=True)
    print(table)
    plot_filter_comparison({"classic": classic, "wfi-cam-rf": ml}, config.test_frames, QUADRANT_SHAPE,
                           report / "background.png")

    # Ship.
    save_densenet(densenet, config.out / DENSENET_FILE, metadata={"seed": config.seed, "history": history})
    forest.save(config.out / FOREST_FILE)
    mix_record = _mix_record(config, mixes, plans, conditions_seeds)
    mix_record["validation_groups"] = validation_groups
    card = _model_card(config, command, commit, history, forest, operating, table, y_train, y_roc,
                       fit_seconds, time.time() - started, mix_record=mix_record)
    write_model_card(config.out, card)
    print(f"model written to {config.out}; plots and metrics in {report}")


def _apply_forest(events: Table, forest, threshold: float) -> Table:
    """Copy of ``events`` with the filter's P_CR and CR_FLAG (as `CamRandomForestFilter` computes them)."""
    from ..camrf.filter import assemble_features

    out = events.copy(copy_data=False)
    in_band = np.asarray(out["IN_BAND"])
    energy = np.asarray(out["ENERGY"])
    p_cr = np.where(energy >= MIP_THRESHOLD_KEV, 1.0, np.nan)
    features = assemble_features(forest.feature_names, np.asarray(out["FEATURES"])[in_band],
                                 lambda: np.asarray(out["CONTEXT"])[in_band])
    p_cr[in_band] = forest.predict_proba(features)
    out["P_CR"] = p_cr
    with np.errstate(invalid="ignore"):
        out["CR_FLAG"] = p_cr >= threshold
    return out


#: Cosmic-ray rate (times the nominal) from which a validation frame counts as crowded in the model card.
_CROWDED_CR_RATE = 6.0


def lost_xray_by_frame_group(events: Table, plan: Table, emin: float = 0.3, emax: float = MIP_THRESHOLD_KEV
                             ) -> dict[str, dict]:
    """Lost X-ray fraction of flagged events in groups of frames of a plan, with Wilson 95% intervals.

    Parameters
    ----------
    events : astropy.table.Table
        Events with ``FRAME``, ``ENERGY``, ``TRUE_CLASS`` and the filter's ``CR_FLAG``.
    plan : astropy.table.Table
        The frames' `~crmask_wfi.training.mix.TrainingMix.plan`.
    emin, emax : float
        Band of reconstructed energy (keV).

    Returns
    -------
    dict
        Per group (all frames; simulator and Geant4 frames; frames below
        and at or above 6 times the nominal cosmic-ray rate), the frames,
        X-ray events, lost ones, their fraction and its interval; groups
        without frames are left out.
    """
    frame = np.asarray(events["FRAME"])
    energy = np.asarray(events["ENERGY"])
    xray = (np.asarray(events["TRUE_CLASS"]).astype(str) == "xray") & (energy >= emin) & (energy < emax)
    flagged = np.asarray(events["CR_FLAG"], dtype=bool)
    source = np.asarray(plan["SOURCE"]).astype(str)
    crowded = np.asarray(plan["CR_RATE"]) >= _CROWDED_CR_RATE * DEFAULT_CR_RATE
    groups = {
        "all frames": np.ones(len(plan), dtype=bool),
        "simulator frames": source == "simulator",
        "Geant4 frames": source == "geant4",
        f"CR rate < {_CROWDED_CR_RATE:g}x": ~crowded,
        f"CR rate >= {_CROWDED_CR_RATE:g}x": crowded,
    }
    result = {}
    for name, frames in groups.items():
        if not frames.any():
            continue
        mine = xray & frames[frame]
        n, lost = int(mine.sum()), int((mine & flagged).sum())
        result[name] = {"frames": int(frames.sum()), "xray_events": n, "lost": lost,
                        "lost_xray": lost / n if n else None,
                        "lost_xray_interval95": wilson_interval(lost, n)}
    return result


def _mix_record(config: CamRfTrainConfig, mixes: dict[str, TrainingMix], plans: dict[str, Table],
                conditions_seeds: dict[str, np.random.SeedSequence]) -> dict:
    """The training mix for the model card: the ranges, the Geant4 run and its split, what each set holds."""
    sets = {}
    for name, n_per_class in (("subframes", config.subframes_per_class),
                              ("val_subframes", config.val_subframes_per_class)):
        drawn = mixes[name].conditions.draw(np.random.default_rng(conditions_seeds[name]), 4 * n_per_class)
        sets[name] = {"frames": len(drawn), "geant4_frames": 0} | summarise_conditions(drawn)
    sets |= {name: mixes[name].record(plan) for name, plan in plans.items()}
    record = {"conditions": config.conditions.to_dict(), "sets": sets}
    if config.geant4_fraction > 0:
        record["geant4"] = {
            "run": GEANT4_PIXELS_FILE,
            "fraction": config.geant4_fraction,
            "split": "by primary: even PRIMID in the forest and validation frames, odd PRIMID (held out) in "
                     "the test frames only; none in the DenseNet's sub-frames",
            "primaries": {part: int(len(np.unique(np.asarray(mixes[name].geant4_pixels["PRIMID"]))))
                          for part, name in (("training", "forest"), ("held-out", "test"))},
            "charge_cloud": "none on the Geant4 pixels (as Geant4 deposited them); the X-rays' as drawn",
        }
    return record


def _json_value(value):
    """A table cell as plain JSON: numpy scalars converted, NaN as null."""
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return str(value)


def _model_card(config: CamRfTrainConfig, command: str | None, commit: str | None, history, forest, operating,
                table, y_train, y_roc, fit_seconds, total_seconds, mix_record: dict | None = None) -> dict:
    import torch

    from crmask.models import file_sha256

    from ..camrf.densenet import DenseNetConfig
    from ..camrf.filter import CamRandomForestFilter
    from ..camrf.model_io import DENSENET_FILE, FOREST_FILE, SHIPPED_MODEL

    threshold, completeness, lost = operating
    n_val_xray = int((~y_roc).sum())
    rows = [{name: _json_value(row[name]) for name in table.colnames} for row in table]
    mix_record = dict(mix_record or {})
    validation_groups = mix_record.pop("validation_groups", None)
    varied = config.conditions.varied
    data = "crmask_wfi simulated frames" + (f", {', '.join(varied)} drawn per frame" if varied else "")
    if config.geant4_fraction:
        data += f", Geant4 run 0002 cosmic rays in {config.geant4_fraction:.0%} of the frames"
    card = {
        "name": SHIPPED_MODEL,
        "detector": CamRandomForestFilter.name,
        "summary": f"DenseNet class activation maps + balanced random forest ({config.n_trees} trees"
                   f"{', context features' if config.context_features else ''}); {data}",
        "files": {file: file_sha256(config.out / file) for file in (DENSENET_FILE, FOREST_FILE)},
        "description": "DenseNet class activation maps + balanced random forest event filter for "
                       "Athena-WFI-like frames (Poliszczuk et al. 2024)",
        "threshold": threshold,
        "threshold_choice": {
            "rule": f"P_CR threshold of highest CR completeness with lost X-ray fraction <= {config.max_lost_xray} "
                    "on the validation ROC (of equal completeness, the fewest lost X-rays)",
            "validation_cr_completeness": completeness,
            "validation_lost_xray": lost,
            "validation_lost_xray_interval95": wilson_interval(round(lost * n_val_xray), n_val_xray),
            "validation_events": {"cr": int(y_roc.sum()), "xray": int((~y_roc).sum())},
            "validation_frames": f"the {config.roc_frames} validation frames of the training mix (conditions "
                                 "drawn per frame as for training; Geant4 frames, if any, from the primaries "
                                 "that train)",
        },
        "architecture": {
            "densenet": DenseNetConfig().to_dict() | {"final_resolution": "H/4 x W/4 (16x16 for 64x64)",
                                                       "input": "asinh(E / read-noise keV), standardised"},
            "features": list(forest.feature_names),
            "forest": forest.training | {"n_nodes": forest.n_nodes, "max_depth": forest.max_depth},
        },
        "training_data": {
            "simulator": "crmask_wfi.sim.simulate.simulate_frames (defaults: 1 X-ray and 1 CR primary per "
                         "512x512 frame, 7 e- read noise, log-uniform 0.2-10 keV)",
            "seed": config.seed,
            "densenet_subframes_per_class": config.subframes_per_class,
            "densenet_val_subframes_per_class": config.val_subframes_per_class,
            "forest_frames": config.forest_frames,
            "forest_events": {"cr": int(y_train.sum()), "xray": int((~y_train).sum())},
            "roc_frames": config.roc_frames,
            "test_frames": config.test_frames,
        } | mix_record,
        "training": {
            "command": command or f"crmask_wfi.training.train.run_training({config!r})",
            "git_commit": commit,
            "epochs": config.epochs,
            "patience": config.patience,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "lr_decay": config.lr_decay,
            "densenet_history": history,
            "forest_fit_seconds": fit_seconds,
            "total_seconds": total_seconds,
            "threads": config.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "heldout_metrics_percent": rows,
    }
    if validation_groups is not None:
        card["threshold_choice"]["validation_groups"] = validation_groups
    return card


if __name__ == "__main__":
    main()
