"""How sure is a difference in real-validation TPR at FPR 1e-4 between two U-Net models?

The study's rule ranks runs by their TPR at FPR 1e-4 on the real validation
frames (SPRAT exposure 4 and SAAO with the validation footprints, as
``crmask train unet`` builds them). This script scores two models there,
each frame injected `REALISATIONS` times (training uses two injections, too
few cosmic rays to tell runs 0.005 apart), and gives a paired bootstrap
interval of the difference, resampling the validation cosmic rays (the
negative pixels, and so each model's threshold at FPR 1e-4, stay fixed, so
the interval is if anything too narrow):

    python benchmarks/validation_difference.py --data ../shared/data \\
        deepcr=deepcr.general-16 deepcr=out/study/width16-deepcr-cosine-s1-e20/width16-deepcr-cosine-s1-e20.safetensors

Each model is ``DETECTOR=WEIGHTS`` (a shipped model name or a weights file);
wing growth is off, as in training's validation.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from crmask.cli_options import parse_args_with_data

FPR = 1e-4
RESAMPLES = 4000
#: The real validation frames of the study's main split.
VALIDATION_SOURCES = ("sprat-4", "saao")
#: Injections of each validation frame: 16 give about 2,000 cosmic rays (training validates on 2, about 230).
REALISATIONS = 16


def event_counts(detector, samples) -> np.ndarray:
    """``(pixels, pixels found)`` per validation cosmic ray at the detector's operating threshold for `FPR`.

    The threshold is the project's one rule (`crmask.bench.metrics.threshold_at_fpr`) on the curve of all
    the frames together.
    """
    return operating_point(detector, samples)[0]


def operating_point(detector, samples) -> tuple[np.ndarray, float]:
    """`event_counts` and the threshold they were counted at (each frame's defects handed to the detector as its
    bad-pixel mask, `crmask_unet.data.Sample.bad`)."""
    from crmask.bench.metrics import Curve, threshold_at_fpr

    maps = [detector.probability(s.image, s.bad) for s in samples]
    pooled = [np.concatenate([a.ravel() for a in arrays])
              for arrays in ([s.mask for s in samples], maps, [s.ignore for s in samples])]
    curve = Curve.from_scores(*pooled)
    threshold, _, _ = threshold_at_fpr(curve.fpr, curve.tpr, curve.thresholds, FPR)
    counts = []
    for prob, sample in zip(maps, samples):
        labels, n = ndimage.label(sample.mask & ~sample.ignore, structure=np.ones((3, 3), dtype=bool))
        index = np.arange(1, n + 1)
        counts.append(np.stack([ndimage.sum(np.ones(labels.shape), labels, index),
                                ndimage.sum(prob >= threshold, labels, index)], axis=1))
    return np.concatenate(counts), float(threshold)


def validation_samples(frames, footprints: Path, realisations: int = REALISATIONS):
    """The real validation frames, injected as training injects them, ``realisations`` times each.

    ``frames`` holds (at least) `VALIDATION_SOURCES`, as
    `crmask.bench.sources.load_real_frames` reads them; ``footprints`` is the
    footprint catalogue, whose validation footprints are injected at 250 per
    Mpix, seed 2 (`crmask_unet.data.real_samples`). SPRAT 4's real cosmic
    rays (its repeat labels) are the same in every injection, so they are
    truth in the first only and left out of the others: each counts once.
    """
    from crmask_unet.data import real_samples, split_footprints

    ordered = [frames[name] for name in VALIDATION_SOURCES]
    val_footprints = split_footprints(str(footprints), "val")
    samples = real_samples(ordered, val_footprints, 2, realisations, 250.0)  # frame by frame, injections in a row
    for index, frame in enumerate(ordered):
        if frame.labels is not None:
            for k in range(index * realisations + 1, (index + 1) * realisations):
                samples[k] = replace(samples[k], mask=samples[k].mask & ~frame.labels,
                                     ignore=samples[k].ignore | frame.labels)
    return samples


def paired_difference(first: np.ndarray, second: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% interval of ``second``'s TPR minus ``first``'s, resampling the cosmic rays of `event_counts`."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(first), (RESAMPLES, len(first)))
    diff = (second[draws, 1].sum(1) / second[draws, 0].sum(1)) - (first[draws, 1].sum(1) / first[draws, 0].sum(1))
    low, high = np.percentile(diff, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    import crmask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs=2, metavar="DETECTOR=WEIGHTS")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    opts = parse_args_with_data(parser, argv)
    data = opts.data
    detectors = []
    for model in opts.models:
        name, sep, weights = model.partition("=")
        if not sep:
            parser.error(f"a model is DETECTOR=WEIGHTS, got {model!r}")
        detectors.append(crmask.get_detector(name, weights=weights, wings=False, threads=1))
    from crmask.bench.sources import load_real_frames

    samples = validation_samples(load_real_frames(data, VALIDATION_SOURCES), data / "cr_footprints_itl.fits.gz")
    counts = []
    for model, detector in zip(opts.models, detectors):
        counts.append(event_counts(detector, samples))
        print(f"{model}: TPR at FPR {FPR:g} {counts[-1][:, 1].sum() / counts[-1][:, 0].sum():.4f} "
              f"({len(counts[-1])} cosmic rays)")
    mean, low, high = paired_difference(*counts, seed=opts.seed)
    print(f"second - first: {mean:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
