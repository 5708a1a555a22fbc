"""Where a detector's false positives at FPR 1e-4 lie, and which cosmic rays its shipped threshold misses.

For a detector, on ``crmask bench build`` sets:

* where it has a probability map, the highest-ranked negative pixels, as
  many as FPR 1e-4 allows, sorted by where they lie: within 2 pixels of a
  truth pixel, of an ignored pixel (a frame's own cosmic rays, faint
  footprint pixels, defects), on STARMASK, or elsewhere;
* the cosmic rays (8-connected truth groups) found in its mask (at its own
  threshold: half their pixels flagged, `crmask.bench.metrics.event_completeness`),
  all of them and, on sets with injected cosmic rays, the significant ones
  (brightest pixel at `crmask.bench.metrics.SIGNIFICANT_EVENT_SIGMA` times the
  noise in injected charge or more, as ``crmask bench`` counts them): the others
  are at the noise floor (a Gaussian's one-sided 1e-4 tail starts at 3.7 sigma);
* where it has a probability map, the truth pixels it misses at FPR 1e-4, by
  their significance in injected charge (`MISSED_BINS`), and the one cosmic
  ray that holds the most of them: a gap to a peer made of one large
  footprint differs from one spread over the faint edges of many.

    python benchmarks/analyse_operating_point.py --sets bench-sets --set m51 --set saao deepcr [key=value ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

FPR = 1e-4
#: Pixels around truth or ignored pixels that count as "beside" them.
NEAR = 2
_SQUARE = np.ones((3, 3), dtype=bool)
PLACES = ("beside truth", "beside ignored", "on stars", "elsewhere")
#: Edges of the significance bins (injected charge over the noise) the missed truth pixels are counted in.
MISSED_BINS = (3.0, 5.0, 10.0, 20.0, np.inf)


def analyse(detector, images) -> dict:
    """False positives at `FPR` by place (`None` without a probability map) and events found, over ``images``.

    ``events`` holds ``found`` and ``total`` over every cosmic ray, and
    ``significant_found`` and ``significant_total`` over the significant ones
    (`None` unless every image has its injected significance). ``missed``
    (with a probability map) holds the truth pixels at or below the `FPR`
    threshold: ``total``, ``by_significance`` (counts in `MISSED_BINS`, where
    every image has its significance) and ``largest`` (the most held by one
    cosmic ray, 8-connected) with that cosmic ray's ``largest_size``.
    """
    from crmask.bench.metrics import event_completeness

    scores, places, maps = [], [], []
    significant = all(getattr(image, "significance", None) is not None for image in images)
    events = {"found": 0, "total": 0, "significant_found": 0 if significant else None,
              "significant_total": 0 if significant else None}
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
            maps.append((prob, image))
        found, total = event_completeness(truth, result.mask, ignore)
        events["found"] += found
        events["total"] += total
        if significant:
            found, total = event_completeness(truth, result.mask, ignore, significance=image.significance)
            events["significant_found"] += found
            events["significant_total"] += total
    if not scores:
        return {"false_positives": None, "events": events}
    scores, places = np.concatenate(scores), np.concatenate(places)
    budget = int(FPR * scores.size)
    order = np.argsort(-scores, kind="stable")
    top = places[order[:budget]]
    return {"budget": budget, "false_positives": {name: int((top == i).sum()) for i, name in enumerate(PLACES)},
            "events": events, "missed": _missed(maps, float(scores[order[budget]]), significant)}


def _missed(maps, threshold: float, significant: bool) -> dict:
    """Truth pixels scored ``threshold`` or less in ``maps`` ((probability, image) pairs), as `analyse` reports."""
    missed = {"total": 0, "by_significance": np.zeros(len(MISSED_BINS) - 1, dtype=int) if significant else None,
              "largest": 0, "largest_size": 0}
    for prob, image in maps:
        lost = image.truth & ~image.ignore & (prob <= threshold)
        missed["total"] += int(lost.sum())
        if significant:
            missed["by_significance"] += np.histogram(image.significance[lost], MISSED_BINS)[0]
        labels, n = ndimage.label(image.truth, _SQUARE)
        if n:
            per_event = np.bincount(labels[lost], minlength=n + 1)[1:]
            worst = int(np.argmax(per_event))
            if per_event[worst] > missed["largest"]:
                missed["largest"] = int(per_event[worst])
                missed["largest_size"] = int(np.count_nonzero(labels == worst + 1))
    return missed


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
        if report["false_positives"] is not None:
            places = ", ".join(f"{count} {place}" for place, count in report["false_positives"].items())
            print(f"{name}: the {report['budget']} highest-ranked negatives (FPR {FPR:g}): {places}")
            missed = report["missed"]
            line = f"{name}: truth pixels missed at FPR {FPR:g}: {missed['total']}"
            if missed["by_significance"] is not None:
                edges = [f"{low:g}-{high:g}" if np.isfinite(high) else f">={low:g}"
                         for low, high in zip(MISSED_BINS, MISSED_BINS[1:])]
                line += " (" + ", ".join(f"{e} sigma {c}" for e, c in zip(edges, missed["by_significance"])) + ")"
            print(f"{line}; one cosmic ray holds {missed['largest']} of them (its {missed['largest_size']} pixels)")
        line = f"{name}: cosmic rays found at the threshold {ev['found']}/{ev['total']} ({ev['found'] / ev['total']:.3f})"
        if ev["significant_total"] is not None:
            floor_found = ev["found"] - ev["significant_found"]
            floor_total = ev["total"] - ev["significant_total"]
            line += (f"; significant ones {ev['significant_found']}/{ev['significant_total']} "
                     f"({ev['significant_found'] / max(ev['significant_total'], 1):.3f}); at the noise floor "
                     f"{floor_found}/{floor_total}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
