"""Where a detector's false positives at FPR 1e-4 lie, and which cosmic rays its shipped threshold misses.

For a detector, on ``crmask bench build`` sets:

* where it has a probability map, the highest-ranked negative pixels, as
  many as FPR 1e-4 allows, sorted by where they lie: within 2 pixels of a
  truth pixel, of an ignored pixel (a frame's own cosmic rays, faint
  footprint pixels, defects), on STARMASK, or elsewhere;
* the cosmic rays (8-connected truth groups) found in its mask (at its own
  threshold: half their pixels flagged, `crmask.bench.metrics.event_completeness`),
  with the single-pixel ones less than 5 sigma above their local background
  (`crmask.growth.local_significance`) counted apart: at FPR 1e-4 such a
  pixel is at the noise floor (a Gaussian's one-sided 1e-4 tail starts at
  3.7 sigma).

    python benchmarks/analyse_operating_point.py --sets bench-sets --set m51 --set saao deepcr [key=value ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from crmask.bench.metrics import SIGNIFICANT_EVENT_SIGMA

FPR = 1e-4
#: Pixels around truth or ignored pixels that count as "beside" them.
NEAR = 2
#: Single-pixel cosmic rays less significant than this above their local background are at the noise floor
#: (the bench's significant-event limit, applied here to the observed pixel rather than to its injected charge).
FLOOR_SIGMA = SIGNIFICANT_EVENT_SIGMA
_SQUARE = np.ones((3, 3), dtype=bool)
PLACES = ("beside truth", "beside ignored", "on stars", "elsewhere")


def analyse(detector, images) -> dict:
    """False positives at `FPR` by place (`None` without a probability map) and events found, over ``images``."""
    from crmask.bench.metrics import event_completeness
    from crmask.ccd import background_noise
    from crmask.growth import local_significance

    scores, places = [], []
    events = {"found": 0, "total": 0, "floor_found": 0, "floor_total": 0}
    for image in images:
        result = detector.detect(image.ccd)
        prob, truth, ignore = result.probability, image.truth, image.ignore
        if prob is not None:
            stars = image.starmask if image.starmask is not None else np.zeros_like(truth)
            negative = ~truth & ~ignore
            beside_truth = ndimage.binary_dilation(truth, _SQUARE, iterations=NEAR)
            beside_ignored = ndimage.binary_dilation(ignore, _SQUARE, iterations=NEAR)
            place = np.select([beside_truth, beside_ignored, stars], [0, 1, 2], default=3)
            scores.append(prob[negative])
            places.append(place[negative])
        found, total = event_completeness(truth, result.mask, ignore)
        # the single-pixel cosmic rays at the noise floor, as a truth mask of their own
        labels, _ = ndimage.label(truth & ~ignore, structure=_SQUARE)
        single = (np.bincount(labels.ravel())[labels] == 1) & (labels > 0)
        ys, xs = np.nonzero(single)
        electrons, good = result.image.in_electrons, ~result.image.bad
        significance = local_significance(electrons, (ys, xs), background_noise(electrons, good),
                                          float(np.median(electrons[good])))
        floor = np.zeros_like(truth)
        floor[ys[significance < FLOOR_SIGMA], xs[significance < FLOOR_SIGMA]] = True
        floor_found, floor_total = event_completeness(floor, result.mask, ignore)
        events["found"] += found
        events["total"] += total
        events["floor_found"] += floor_found
        events["floor_total"] += floor_total
    if not scores:
        return {"false_positives": None, "events": events}
    scores, places = np.concatenate(scores), np.concatenate(places)
    budget = int(FPR * scores.size)
    top = places[np.argsort(-scores, kind="stable")[:budget]]
    return {"budget": budget, "false_positives": {name: int((top == i).sum()) for i, name in enumerate(PLACES)},
            "events": events}


def main(argv: list[str] | None = None) -> int:
    import crmask
    from crmask.bench.dataset import load_set
    from crmask.params import parse_assignments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, required=True, help="folder of the sets built by crmask bench build")
    parser.add_argument("--set", dest="names", action="append", required=True, help="a set to analyse (repeatable)")
    parser.add_argument("detector", help="a registered detector")
    parser.add_argument("params", nargs="*", metavar="key=value", help="detector parameters")
    opts = parser.parse_args(argv)
    cls = type(crmask.get_detector(opts.detector))
    detector = crmask.get_detector(opts.detector, **parse_assignments(opts.detector, cls.parameters, opts.params))
    for name in opts.names:
        report = analyse(detector, load_set(opts.sets / name))
        ev = report["events"]
        rest_total = ev["total"] - ev["floor_total"]
        rest_found = ev["found"] - ev["floor_found"]
        if report["false_positives"] is not None:
            places = ", ".join(f"{count} {place}" for place, count in report["false_positives"].items())
            print(f"{name}: the {report['budget']} highest-ranked negatives (FPR {FPR:g}): {places}")
        print(f"{name}: cosmic rays found at the threshold {ev['found']}/{ev['total']} ({ev['found'] / ev['total']:.3f}); "
              f"single pixels under {FLOOR_SIGMA:g} sigma {ev['floor_found']}/{ev['floor_total']}; the others "
              f"{rest_found}/{rest_total} ({rest_found / max(rest_total, 1):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
