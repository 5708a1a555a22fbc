"""Are isolated one-pixel cosmic rays found, from the faintest to the brightest? (U-Net defaults against LACosmic.)

A cosmic ray that crosses a thin CCD, or a thick one near normal incidence,
leaves its charge in one pixel, from a few sigma to saturation. This script
adds such hits, one pixel each, at a known significance (times the pixel's
noise from the frame's gain, read noise and level) on a grid 12 pixels apart
over the clean background of real frames: not on the frame's own cosmic rays,
defects, sources (`crmask.bench.sources.source_mask` of the frame) or within 8
pixels of its edge. Each significance goes to every sixth grid point, so one
frame tests them all, and each detector runs as shipped (its own threshold).
A hit counts as found when its pixel is flagged.

The default frames are the real validation sources of the shipped models
(SPRAT exposure 4 and SAAO); ``--frames`` takes any of
`crmask.bench.sources.REAL_SOURCES` (``gmos`` was in no model's training or
validation).

    python benchmarks/one_pixel_hits.py --data ../shared/data \\
        --detector deepcr --detector att-deepcr --detector cosmic-conn --detector att-cosmic-conn \\
        --detector lacosmic -o benchmarks/results/unet_real_study/one_pixel_hits.json

``--detector LABEL=NAME:WEIGHTS`` runs a U-Net detector with other weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from crmask.cli_options import parse_args_with_data

SIGNIFICANCES = (5.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
#: Hits at least this significant are the ones the shipping gate counts (`gate_hits`): at 5 sigma a pixel is
#: at the noise floor of FPR 1e-4, from 10 sigma LACosmic flags every one.
GATE_SIGNIFICANCE = 10.0
SPACING = 12
MARGIN = 8


def hit_positions(frame, spacing: int = SPACING, margin: int = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Grid points on the clean background of a `crmask.bench.sources.RealFrame` (rows, columns)."""
    from crmask.bench.sources import source_mask

    electrons = np.asarray(frame.data, dtype=np.float64) * frame.gain
    blocked = frame.own_crs | frame.defects | source_mask(electrons, frame.readnoise)
    if frame.labels is not None:
        blocked |= frame.labels
    ny, nx = electrons.shape
    ys, xs = np.meshgrid(np.arange(margin, ny - margin, spacing), np.arange(margin, nx - margin, spacing),
                         indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    keep = ~blocked[ys, xs]
    return ys[keep], xs[keep]


def with_hits(frame, significances=SIGNIFICANCES) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The frame (adu) with one-pixel hits added, their rows and columns, and each hit's significance."""
    ys, xs = hit_positions(frame)
    significance = np.asarray(significances, dtype=np.float64)[np.arange(len(ys)) % len(significances)]
    data = np.asarray(frame.data, dtype=np.float64).copy()
    level = np.clip(data[ys, xs] * frame.gain, 0, None)
    noise = np.sqrt(level + frame.readnoise**2)  # electrons
    data[ys, xs] += significance * noise / frame.gain
    return data.astype(np.float32), ys, xs, significance


def gate_hits(frames, min_significance: float = GATE_SIGNIFICANCE) -> list[tuple[np.ndarray, ...]]:
    """Each frame with its hits (`with_hits`), in electrons, the rows and columns of those of ``min_significance``,
    and the frame's known defects (its bad-pixel mask).

    Made once for the shipping gate, which reads them with every network it compares (`flagged_hits`).
    """
    hits = []
    for frame in frames:
        data, ys, xs, significance = with_hits(frame)
        keep = significance >= min_significance
        hits.append((data * np.float32(frame.gain), ys[keep], xs[keep], frame.defects))
    return hits


def flagged_hits(detector, hits, threshold: float, rule: dict[str, float] | None = None) -> np.ndarray:
    """Whether each hit of `gate_hits` reaches ``threshold`` in a U-Net's probability map, or ``rule`` flags it.

    The map is the network's (`UNetDetector.probability`, no wing growth), so
    that two networks compare at their thresholds for one false-positive
    rate, as the shipping gate compares them. ``rule`` is an isolated-hit
    rule (``{"nsigma", "ratio"}``, `crmask.isolated.isolated_hits`), as the
    detector adds it to the network's map. Both get the frame's defects as
    the bad-pixel mask, as ``crmask bench`` hands them over.
    """
    from crmask.isolated import isolated_hits

    flagged = []
    for electrons, ys, xs, bad in hits:
        found = detector.probability(electrons, bad)[ys, xs] >= threshold
        if rule is not None:
            found |= isolated_hits(electrons, nsigma=rule["nsigma"], ratio=rule["ratio"], bad=bad)[ys, xs]
        flagged.append(found)
    return np.concatenate(flagged)


def found_fractions(detector, frames, significances=SIGNIFICANCES) -> dict[str, dict[str, float]]:
    """Per frame, the fraction of hits flagged at each significance."""
    import astropy.units as u
    from astropy.io.fits import Header
    from astropy.nddata import CCDData

    out = {}
    for frame in frames:
        data, ys, xs, significance = with_hits(frame, significances)
        header = Header({"GAIN": frame.gain, "RDNOISE": frame.readnoise})  # as `crmask bench build` writes them
        if frame.satlevel is not None:
            header["SATURATE"] = frame.satlevel
        mask = detector.detect(CCDData(data, unit=u.adu, header=header, mask=frame.defects)).mask
        flagged = mask[ys, xs]
        out[frame.name] = {f"{s:g}": float(flagged[significance == s].mean()) for s in significances}
        out[frame.name]["hits"] = int(len(ys))
    return out


def detector_from_spec(spec: str):
    """``(label, detector)`` of a ``--detector`` value, ``[LABEL=]NAME[:WEIGHTS]`` (one thread where it has threads)."""
    import crmask

    label, _, name = spec.partition("=") if "=" in spec else (spec, "", spec)
    name, _, weights = name.partition(":")
    params = {"weights": weights} if weights else {}
    if "threads" in crmask.get_detector_class(name).parameters:
        params["threads"] = 1
    return label, crmask.get_detector(name, **params)


def probe_options(description: str, argv: list[str] | None, add_arguments=None) -> argparse.Namespace:
    """The options of a script that probes detectors on real frames (``--data``, resolved; ``--detector``,
    ``--frames``, ``--output``, and those ``add_arguments(parser)`` adds)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--detector", action="append", required=True, metavar="[LABEL=]NAME[:WEIGHTS]",
                        help="detector to test (repeatable)")
    parser.add_argument("--frames", default="sprat-4,saao", help="real sources, comma-separated")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the fractions")
    if add_arguments is not None:
        add_arguments(parser)
    return parse_args_with_data(parser, argv)


def measure_detectors(specs: list[str], measure, columns: list[str], count: str) -> dict[str, dict]:
    """``measure(detector)`` (per frame, a row of ``columns`` and ``count``) of each ``--detector`` spec, printed."""
    results = {}
    for spec in specs:
        label, detector = detector_from_spec(spec)
        results[label] = measure(detector)
        for name, row in results[label].items():
            print(f"{label:24s} {name:8s} ({row[count]} {count.replace('_', ' ')}): "
                  + "  ".join(f"{row[column]:.2f}" for column in columns), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    opts = probe_options(__doc__.splitlines()[0], argv)

    from crmask.bench.sources import load_real_frames

    frames = list(load_real_frames(opts.data, opts.frames.split(",")).values())
    print("fraction of one-pixel hits flagged, by significance: " + ", ".join(f"{s:g}" for s in SIGNIFICANCES))
    results = measure_detectors(opts.detector, lambda detector: found_fractions(detector, frames),
                                [f"{s:g}" for s in SIGNIFICANCES], "hits")
    if opts.output:
        opts.output.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "significances": SIGNIFICANCES,
                                           "spacing": SPACING, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
