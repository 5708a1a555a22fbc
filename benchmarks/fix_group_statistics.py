"""Fix a shipped group-norm U-Net's normalisation statistics on its training frames, where real validation says so.

A group-normalised U-Net normalises each image by its own statistics, so a
frame with few cosmic rays gets its sky noise scaled up and flagged
(`crmask_unet.group_statistics`). For each model named, this script

1. measures every group normalisation's statistics on the model's own real
   training frames (those of its card, one injection of the training
   footprints at the training density and seed, as ``crmask train unet``
   builds them; no validation or test frame);
2. scores the model with image statistics and with the fixed ones on its
   real validation frames (the card's validation sources with the
   validation footprints, as in training): TPR at FPR 1e-4 without wing
   growth, the study's rule, and the false positives on the same frames
   without injected cosmic rays, at their natural density;
3. keeps the fixed statistics if they raise that TPR, or if only with them
   does a threshold keep the false-positive rate on every uninjected
   validation frame within `crmask_unet.training.MAX_NATURAL_FPR`; the
   threshold is then chosen again on the same frames with the model's wing
   growth, by training's rule within that bound
   (`crmask_unet.training.choose_threshold`), and both are written into the
   weights file and its model card.

    python benchmarks/fix_group_statistics.py --data ../shared/data \\
        --apply att-cosmic-conn-general cosmic-conn-general \\
        -o benchmarks/results/unet_real_study/group_statistics.json

``--write DIR`` only measures the statistics and writes each model with them
(and its threshold) to ``DIR/<model>-fixed.safetensors``, the starting point
of ``crmask train unet --init-weights`` (training under fixed statistics).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from crmask.cli_options import parse_args_with_data

FPR = 1e-4


def calibration_inputs(card: dict, frames, footprints: Path, multiple: int):
    """Network inputs of the model's real training frames, injected as in its training (one realisation).

    Each is cropped to a multiple of the network's pooling factor ``multiple``.
    """
    import torch

    from crmask_unet.data import real_samples, split_footprints
    from crmask_unet.detector import normalise

    data = card["training_data"]
    seed = card["training"]["seed"]
    train = [frames[name] for name in data["real"]["train"]]
    samples = real_samples(train, split_footprints(str(footprints), "train"), seed, 1, data["cr_density_per_mpix"])
    scheme, scale = card["normalisation"]["scheme"], card["normalisation"].get("scale", 1.0)
    for sample in samples:
        ny, nx = (s - s % multiple for s in sample.image.shape)
        x = normalise(sample.image[:ny, :nx], np.zeros((ny, nx), dtype=bool), scheme, scale)
        yield torch.from_numpy(x)[None, None]


def validation_scores(detector, card: dict, frames, footprints: Path, events: str = "all") -> dict:
    """The model on its real validation frames: TPR at `FPR`, threshold by training's rule, natural false positives.

    The threshold is `crmask_unet.training.choose_threshold`'s on the injected
    frames, among those that keep the false-positive rate on every validation
    frame without injected cosmic rays within
    `crmask_unet.training.MAX_NATURAL_FPR`; ``usable`` says whether one did.
    ``events`` is `crmask_unet.training.choose_threshold`'s: which cosmic rays
    the threshold must find. Each frame's known defects are handed to the
    detector as its bad-pixel mask, as ``crmask bench`` hands them over
    (`crmask_unet.data.Sample.bad`).
    """
    from crmask.bench.metrics import DEFAULT_THRESHOLDS, Curve, score_histogram
    from crmask.growth import grow_probability
    from crmask_unet.data import real_samples, split_footprints
    from crmask_unet.training import MAX_NATURAL_FPR, ValidationMap, choose_threshold

    data = card["training_data"]
    names = list(data["real"]["validate"])
    samples = real_samples([frames[n] for n in names], split_footprints(str(footprints), "val"),
                           card["training"]["seed"] + 1, 2, data["val_cr_density_per_mpix"])
    wings = detector.wing_growth()

    def as_run(image: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the frame's known defects are handed over as its bad-pixel mask, as `Detector.detect` does with a mask
        prob = detector.probability(image, bad)
        grown = prob if wings is None else grow_probability(prob, image, nsigma=wings["nsigma"],
                                                            weight=wings["weight"], bad=bad)
        return prob, grown

    positives = negatives = 0
    maps = []
    for sample in samples:
        prob, grown = as_run(sample.image, sample.bad)
        pos, neg = score_histogram(sample.mask, prob, DEFAULT_THRESHOLDS, sample.ignore)
        positives, negatives = positives + pos, negatives + neg
        maps.append(ValidationMap(grown, sample.mask, sample.ignore, sample.significance))
    natural = {}
    for name in names:
        frame = frames[name]
        electrons = np.asarray(frame.data, dtype=np.float32) * np.float32(frame.gain)
        labels = frame.labels if frame.labels is not None else np.zeros(electrons.shape, dtype=bool)
        natural[name] = ValidationMap(as_run(electrons, frame.defects)[1], labels, frame.own_crs | frame.defects)
    point = choose_threshold(maps, events=events, natural=list(natural.values()))
    counts = {name: {"false_positives": int(((m.probability >= point.threshold) & ~m.truth & ~m.ignore).sum()),
                     "negatives": int((~m.truth & ~m.ignore).sum())} for name, m in natural.items()}
    return {"tpr@1e-4": Curve.from_histogram(positives, negatives, DEFAULT_THRESHOLDS).tpr_at_fpr(FPR),
            "operating_point": point.as_dict(), "natural_frames": counts,
            "usable": bool(point.natural_fpr <= MAX_NATURAL_FPR)}


def card_frames(data: Path, names: list[str], parts: tuple[str, ...]):
    """The real frames the named shipped models' cards use in ``parts`` (``"train"``, ``"validate"``), read once.

    Returns
    -------
    frames : dict
        `crmask.bench.sources.load_real_frames` of those sources.
    footprints : pathlib.Path
        The footprint catalogue in ``data``.
    """
    from crmask.bench.sources import load_real_frames
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    needed = {frame for name in names for part in parts
              for frame in read_card(WEIGHTS_DIR / f"{name}.json")["training_data"]["real"][part]}
    return load_real_frames(data, sorted(needed)), data / "cr_footprints_itl.fits.gz"


def replace_weights(path: Path, stats: dict, threshold: float | None = None,
                    metadata: dict[str, str | None] | None = None) -> str:
    """Rewrite the weights file ``path`` in place with ``stats``, ``threshold`` and ``metadata`` added; its sha256.

    The new file is written beside it and renamed over it, so an interruption leaves the old one whole.
    """
    from crmask_unet.weights import file_sha256

    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=path.suffix, delete=False) as handle:
        candidate = Path(handle.name)
    try:
        write_weights(path, candidate, stats, threshold, metadata)
        candidate.replace(path)
    finally:
        candidate.unlink(missing_ok=True)
    return file_sha256(path)


def write_weights(source: Path, target: Path, stats: dict, threshold: float | None = None,
                  metadata: dict[str, str | None] | None = None) -> None:
    """Copy weights file ``source`` to ``target`` with group statistics, a threshold and metadata entries added.

    A threshold or metadata entry that is not given keeps its value in ``source``; an entry given as `None` is
    removed.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    from crmask_unet.weights import tensor_digest

    with safe_open(str(source), framework="pt") as handle:
        header = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    tensors.update(stats)
    header.update(metadata or {})
    header = {key: value for key, value in header.items() if value is not None}
    if threshold is not None:
        header["threshold"] = repr(float(threshold))
    header["tensors_sha256"] = tensor_digest(tensors)
    save_file(tensors, str(target), metadata=header)


def measure(name: str, frames, footprints: Path):
    """The shipped model ``name``'s card, its `crmask_unet.weights.LoadedWeights` and, unless it already has
    them, the group statistics of its training frames (`calibration_inputs`), else None."""
    from crmask_unet.group_statistics import measure_group_statistics
    from crmask_unet.weights import WEIGHTS_DIR, load_weights, read_card

    card = read_card(WEIGHTS_DIR / f"{name}.json")
    loaded = load_weights(name)
    if loaded.group_statistics is not None:
        return card, loaded, None
    return card, loaded, measure_group_statistics(
        loaded.network(), calibration_inputs(card, frames, footprints, loaded.config.multiple))


def fix_model(name: str, frames, footprints: Path, apply: bool, evidence: str | None) -> dict:
    """Measure, compare and (with ``apply``, where validation favours them) keep fixed statistics for ``name``."""
    import crmask
    from crmask_unet.weights import WEIGHTS_DIR

    card, loaded, stats = measure(name, frames, footprints)
    if stats is None:
        return {"model": name, "skipped": "already has fixed group statistics"}
    card_path = WEIGHTS_DIR / f"{name}.json"
    path = WEIGHTS_DIR / card["weights_file"]
    image = validation_scores(crmask.get_detector(card["detector"], weights=name, threads=1), card, frames,
                              footprints)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / card["weights_file"]
        write_weights(path, candidate, stats, loaded.threshold or 0.5)
        fixed = validation_scores(crmask.get_detector(card["detector"], weights=str(candidate), threads=1), card,
                                  frames, footprints)
        keep = fixed["usable"] and (fixed["tpr@1e-4"] > image["tpr@1e-4"] or not image["usable"])
        record = {"model": name, "image_statistics": image, "fixed_statistics": fixed, "kept": keep}
        if apply and keep:
            threshold = fixed["operating_point"]["threshold"]
            card["sha256"] = replace_weights(path, stats, threshold)
            card["threshold_before_group_statistics"] = card["threshold"]
            card["threshold"] = threshold
            card["summary"] += "; group normalisation with fixed statistics measured on its training frames"
            card["group_statistics"] = {
                "what": "every group normalisation uses fixed per-group statistics (crmask_unet.group_statistics) "
                        "instead of each image's own",
                "calibration": "the model's real training frames " + ", ".join(card["training_data"]["real"]["train"])
                               + f", one injection of the training footprints at "
                               f"{card['training_data']['cr_density_per_mpix']:g} per Mpix, seed "
                               f"{card['training']['seed']}",
                "rule": "kept because they raise real-validation TPR at FPR 1e-4 (no wing growth) or because only "
                        "with them does a threshold keep the false-positive rate on every uninjected validation "
                        "frame within the bound; threshold chosen again on the same frames with the model's wing "
                        "growth by training's rule within that bound",
                "validation": {"image_statistics": image, "fixed_statistics": fixed},
                "command": "python " + " ".join(sys.argv),
                "evidence": evidence,
            }
            card_path.write_text(json.dumps(card, indent=2) + "\n")
    return record


def write_fixed(name: str, frames, footprints: Path, outdir: Path) -> Path:
    """Write the shipped model ``name`` with fixed statistics measured on its training frames to ``outdir``."""
    from crmask_unet.weights import WEIGHTS_DIR

    card, loaded, stats = measure(name, frames, footprints)
    if stats is None:
        raise SystemExit(f"{name} already has fixed group statistics")
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / f"{name}-fixed.safetensors"
    write_weights(WEIGHTS_DIR / card["weights_file"], target, stats, loaded.threshold or 0.5)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help="shipped group-norm models to compare only")
    parser.add_argument("--apply", nargs="*", default=[], metavar="MODEL",
                        help="shipped group-norm models whose weights and cards get the statistics where they help")
    parser.add_argument("--write", type=Path, default=None, metavar="DIR",
                        help="only write each named model with fixed statistics to DIR/<model>-fixed.safetensors")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the comparison")
    opts = parse_args_with_data(parser, argv)
    names = [*opts.models, *opts.apply]
    if opts.write is not None:
        frames, footprints = card_frames(opts.data, names, ("train",))
        for name in names:
            print(f"{name}: {write_fixed(name, frames, footprints, opts.write)}")
        return 0
    frames, footprints = card_frames(opts.data, names, ("train", "validate"))
    records = []
    for name in names:
        record = fix_model(name, frames, footprints, name in opts.apply, str(opts.output) if opts.output else None)
        records.append(record)
        if "skipped" in record:
            print(f"{name}: {record['skipped']}")
            continue
        for kind in ("image_statistics", "fixed_statistics"):
            r = record[kind]
            natural = ", ".join(f"{n} {v['false_positives']}" for n, v in r["natural_frames"].items())
            print(f"{name} {kind}: validation TPR@1e-4 {r['tpr@1e-4']:.4f}; threshold "
                  f"{r['operating_point']['threshold']:g} (events {r['operating_point']['event_completeness']:.3f}); "
                  f"false positives on the uninjected validation frames: {natural}", flush=True)
        print(f"{name}: fixed statistics {'kept' if record['kept'] else 'not kept'}", flush=True)
    if opts.output:
        opts.output.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "models": records}, indent=1)
                               + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
