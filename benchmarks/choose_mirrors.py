"""Choose which mirror images (``mirrors``) each shipped U-Net averages its probability over.

Averaging a network's probabilities over the image and its mirror images
(test-time augmentation, `crmask_unet.inference.predict_mirrored`) costs
one network pass per image. The rule scores on the real validation frames
(`validation_difference`: SPRAT exposure 4 and SAAO, 16 injections of the
validation footprints each, wing growth off) the image alone, each pair of
`crmask_unet.mirrors.PAIRS` (the image and its left-right, up-down or
half-turn mirror image; a network's errors are not equally symmetric under
each) and all four images, and takes in order

* the pair of highest TPR at FPR 1e-4, then all four, each while it raises
  TPR beyond chance over the current choice (the paired bootstrap's 95%
  interval of the gain lies above zero), and
* keeps the detector's wall time within `SPEED_GOAL` of astroscrappy's
  (``lacosmic``) on the 4096 x 2048 speed frame
  (`bench_unet_speed.speed_frame`), measured here on one and on two
  threads, the best of ``--repeats`` interleaved runs.

No bench set is read. ``--no-speed`` scores the accuracy half alone (no
timing, nothing applied): each step that gains beyond chance is recorded as
such and the next is scored over it, and no choice is made. With
``--apply`` the choice goes into the weights
file's metadata and the model card (``mirrors``, with the evidence); the
wing growth and the threshold were chosen for the maps of the previous
choice, so run ``choose_wing_growth.py --apply`` and ``choose_threshold.py
--apply`` again afterwards. Run it with nothing else running on the
machine::

    python benchmarks/choose_mirrors.py --data ../shared/data \\
        -o benchmarks/results/unet_real_study/mirrors_choice.json \\
        --apply deepcr-general-16 att-deepcr-general cosmic-conn-general att-cosmic-conn-general
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from crmask.cli_options import parse_args_with_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_unet_speed import best_times, speed_frame  # sibling scripts  # noqa: E402
from fix_group_statistics import replace_weights  # noqa: E402
from validation_difference import VALIDATION_SOURCES, event_counts, paired_difference, validation_samples  # noqa: E402

#: Most wall time a shipped detector may take, as a fraction of astroscrappy's (issue: <= 0.5x).
SPEED_GOAL = 0.5
#: Thread counts the speed goal must hold at.
THREADS = (1, 2)


def speed_ratios(detector_name: str, weights: str, mirrors: str, repeats: int) -> dict[int, float]:
    """Wall time of ``detector_name`` with ``weights`` and ``mirrors`` over astroscrappy's, by thread count.

    Every thread pool is limited (`crmask.threads.limit_threads`: torch, and astroscrappy's OpenMP once a
    first run has loaded it), as ``crmask bench run --threads`` does.
    """
    import crmask
    from crmask.threads import limit_threads

    ccd = speed_frame()
    detectors = {"lacosmic": crmask.get_detector("lacosmic"),
                 "model": crmask.get_detector(detector_name, weights=weights, mirrors=mirrors, device="cpu")}
    for detector in detectors.values():  # loads the libraries whose thread pools are limited
        detector.detect(ccd)
    ratios = {}
    for threads in THREADS:
        with limit_threads(threads):
            times = best_times(detectors, ccd, repeats)
        ratios[threads] = times["model"] / times["lacosmic"]
    return ratios


def choose(name: str, samples, repeats: int | None) -> dict:
    """Apply the rule to shipped model ``name``; the record of every step.

    With ``repeats`` `None` no speed is measured: a step that gains beyond
    chance is recorded as such and taken for the next step, and the record's
    ``mirrors`` is `None` (the accuracy half of the rule alone).
    """
    import crmask
    from crmask_unet.mirrors import PAIRS
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    detector_name = read_card(WEIGHTS_DIR / f"{name}.json")["detector"]

    def counts(mirrors: str) -> np.ndarray:
        detector = crmask.get_detector(detector_name, weights=name, wings=False, mirrors=mirrors, threads=1)
        return event_counts(detector, samples)

    def tpr(found: np.ndarray) -> float:
        return float(found[:, 1].sum() / found[:, 0].sum())

    chosen, found = "none", counts("none")
    pairs = {pair: counts(pair) for pair in PAIRS}
    record = {"model": name, "tpr": {"none": tpr(found), **{pair: tpr(c) for pair, c in pairs.items()}}, "steps": []}
    best = max(PAIRS, key=lambda pair: record["tpr"][pair])
    for candidate, trial in ((best, pairs[best]), ("all", None)):
        trial = counts(candidate) if trial is None else trial
        record["tpr"][candidate] = tpr(trial)
        mean, low, high = paired_difference(found, trial)
        step = {"mirrors": candidate, "over": chosen, "gain": {"mean": mean, "low": low, "high": high}}
        record["steps"].append(step)
        if low <= 0:
            step["outcome"] = "no gain beyond chance"
            break
        if repeats is None:
            step["outcome"] = "gain beyond chance; speed not measured"
            chosen, found = candidate, trial
            continue
        step["speed_ratio"] = {str(t): r for t, r in speed_ratios(detector_name, name, candidate, repeats).items()}
        if max(step["speed_ratio"].values()) > SPEED_GOAL:
            step["outcome"] = f"slower than {SPEED_GOAL}x astroscrappy"
            break
        step["outcome"] = "taken"
        chosen, found = candidate, trial
    record["mirrors"] = chosen if repeats is not None else None
    return record


def apply(record: dict, evidence: str | None) -> None:
    """Write ``record``'s choice into the shipped model's weights file and card."""
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    card_path = WEIGHTS_DIR / f"{record['model']}.json"
    card = read_card(card_path)
    card["sha256"] = replace_weights(WEIGHTS_DIR / card["weights_file"], {}, metadata={"mirrors": record["mirrors"]})
    card["mirrors"] = {
        "value": record["mirrors"],
        "rule": ("the best pair of mirror images on real validation TPR@1e-4, then all four, each taken while it "
                 f"raises that TPR ({', '.join(VALIDATION_SOURCES)}, 16 injections, no wing growth) beyond chance "
                 f"(paired bootstrap 95% interval above 0) and keeps wall time <= {SPEED_GOAL}x astroscrappy's on "
                 f"{' and '.join(map(str, THREADS))} threads"),
        "validation_tpr": record["tpr"],
        "steps": record["steps"],
        "command": "python " + " ".join(sys.argv),
        "evidence": evidence,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help="shipped models to score without applying")
    parser.add_argument("--apply", nargs="*", default=[], metavar="MODEL",
                        help="shipped models whose weights and cards get the choice")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each detector (best kept)")
    parser.add_argument("--no-speed", action="store_true",
                        help="score the accuracy half of the rule alone: no timing, no choice, nothing applied")
    parser.add_argument("-o", "--output", type=Path, default=None, help="JSON file for the records")
    opts = parse_args_with_data(parser, argv)
    names = [*opts.models, *opts.apply]
    if not names:
        parser.error("name at least one shipped model")
    if opts.no_speed and opts.apply:
        parser.error("--no-speed makes no choice to apply")
    data = opts.data
    from crmask.bench.sources import load_real_frames

    samples = validation_samples(load_real_frames(data, VALIDATION_SOURCES), data / "cr_footprints_itl.fits.gz")
    records = []
    for name in names:
        record = choose(name, samples, None if opts.no_speed else opts.repeats)
        records.append(record)
        tprs = ", ".join(f"{mirrors} {value:.4f}" for mirrors, value in record["tpr"].items())
        steps = "; ".join(f"{s['mirrors']} {s['outcome']}" for s in record["steps"])
        print(f"{name}: mirrors {record['mirrors']} (TPR: {tprs}; {steps})", flush=True)
    if opts.output is not None:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(records, indent=2) + "\n")
    for record in records:
        if record["model"] in opts.apply:
            apply(record, str(opts.output) if opts.output else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
