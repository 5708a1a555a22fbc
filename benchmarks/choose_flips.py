"""Choose how many mirror images (``flips``) each shipped U-Net averages its probability over.

Averaging a network's probabilities over the image and its mirror images
(test-time augmentation, `crmask_unet.inference.predict_mirrored`) costs
one network pass per image. The rule takes the candidates in order (1, 2,
4 mirror images) and moves to the next while it

* raises TPR at FPR 1e-4 on the real validation frames beyond chance: the
  paired bootstrap's 95% interval of its gain over the current choice lies
  above zero (`validation_difference`: SPRAT exposure 4 and SAAO, 16
  injections of the validation footprints each, wing growth off), and
* keeps the detector's wall time within `SPEED_GOAL` of astroscrappy's
  (``lacosmic``) on the 4096 x 2048 speed frame
  (`bench_unet_speed.speed_frame`), measured here on one and on two
  threads, the best of ``--repeats`` interleaved runs.

No bench set is read. With ``--apply`` the choice goes into the weights
file's metadata and the model card (``flips``, with the evidence); the wing
growth and the threshold were chosen for the maps of the previous choice,
so run ``choose_wing_growth.py --apply`` and ``choose_threshold.py --apply``
again afterwards. Run it with nothing else running on the machine::

    python benchmarks/choose_flips.py --data ../shared/data \\
        -o benchmarks/results/unet_real_study/flips_choice.json \\
        --apply deepcr-general-16 att-deepcr-general cosmic-conn-general att-cosmic-conn-general
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crmask.cli_options import data_folder
from crmask.exceptions import MissingDataError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_unet_speed import best_times, speed_frame  # sibling scripts  # noqa: E402
from fix_group_statistics import replace_weights  # noqa: E402
from validation_difference import VALIDATION_SOURCES, event_counts, paired_difference, validation_samples  # noqa: E402

#: Candidate numbers of mirror images, in the order the rule takes them.
CANDIDATES = (1, 2, 4)
#: Most wall time a shipped detector may take, as a fraction of astroscrappy's (issue: <= 0.5x).
SPEED_GOAL = 0.5
#: Thread counts the speed goal must hold at.
THREADS = (1, 2)


def speed_ratios(detector_name: str, weights: str, flips: int, repeats: int) -> dict[int, float]:
    """Wall time of ``detector_name`` with ``weights`` and ``flips`` over astroscrappy's, by thread count.

    Every thread pool is limited (`crmask.threads.limit_threads`: torch, and astroscrappy's OpenMP once a
    first run has loaded it), as ``crmask bench run --threads`` does.
    """
    import crmask
    from crmask.threads import limit_threads

    ccd = speed_frame()
    detectors = {"lacosmic": crmask.get_detector("lacosmic"),
                 "model": crmask.get_detector(detector_name, weights=weights, flips=flips, device="cpu")}
    for detector in detectors.values():  # loads the libraries whose thread pools are limited
        detector.detect(ccd)
    ratios = {}
    for threads in THREADS:
        with limit_threads(threads):
            times = best_times(detectors, ccd, repeats)
        ratios[threads] = times["model"] / times["lacosmic"]
    return ratios


def choose(name: str, samples, repeats: int) -> dict:
    """Apply the rule to shipped model ``name``; the record of every step."""
    import crmask
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    detector_name = read_card(WEIGHTS_DIR / f"{name}.json")["detector"]
    steps = []
    chosen = CANDIDATES[0]
    counts = event_counts(crmask.get_detector(detector_name, weights=name, wings=False, flips=chosen, threads=1),
                          samples)
    steps.append({"flips": chosen, "tpr": float(counts[:, 1].sum() / counts[:, 0].sum())})
    for flips in CANDIDATES[1:]:
        trial = event_counts(crmask.get_detector(detector_name, weights=name, wings=False, flips=flips, threads=1),
                             samples)
        mean, low, high = paired_difference(counts, trial)
        step = {"flips": flips, "tpr": float(trial[:, 1].sum() / trial[:, 0].sum()),
                "gain": {"mean": mean, "low": low, "high": high}}
        steps.append(step)
        if low <= 0:
            step["outcome"] = "no gain beyond chance"
            break
        step["speed_ratio"] = {str(t): r for t, r in speed_ratios(detector_name, name, flips, repeats).items()}
        if max(step["speed_ratio"].values()) > SPEED_GOAL:
            step["outcome"] = f"slower than {SPEED_GOAL}x astroscrappy"
            break
        step["outcome"] = "taken"
        chosen, counts = flips, trial
    return {"model": name, "flips": chosen, "steps": steps}


def apply(record: dict, evidence: str | None) -> None:
    """Write ``record``'s choice into the shipped model's weights file and card."""
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    card_path = WEIGHTS_DIR / f"{record['model']}.json"
    card = read_card(card_path)
    card["sha256"] = replace_weights(WEIGHTS_DIR / card["weights_file"], {}, metadata={"flips": str(record["flips"])})
    card["flips"] = {
        "value": record["flips"],
        "rule": (f"most mirror images of {list(CANDIDATES)} each raising real-validation TPR@1e-4 "
                 f"({', '.join(VALIDATION_SOURCES)}, 16 injections, no wing growth) beyond chance (paired bootstrap "
                 f"95% interval above 0) and keeping wall time <= {SPEED_GOAL}x astroscrappy's on "
                 f"{' and '.join(map(str, THREADS))} threads"),
        "steps": record["steps"],
        "command": "python " + " ".join(sys.argv),
        "evidence": evidence,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared real-data folder (default: CRMASK_DATA)")
    parser.add_argument("models", nargs="*", metavar="MODEL", help="shipped models to score without applying")
    parser.add_argument("--apply", nargs="*", default=[], metavar="MODEL",
                        help="shipped models whose weights and cards get the choice")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each detector (best kept)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="JSON file for the records")
    opts = parser.parse_args(argv)
    names = [*opts.models, *opts.apply]
    if not names:
        parser.error("name at least one shipped model")
    try:
        data = data_folder(opts.data)
    except MissingDataError as exc:
        parser.error(str(exc))
    from crmask.bench.sources import load_real_frames

    samples = validation_samples(load_real_frames(data, VALIDATION_SOURCES), data / "cr_footprints_itl.fits.gz")
    records = []
    for name in names:
        record = choose(name, samples, opts.repeats)
        records.append(record)
        steps = "; ".join(f"{s['flips']}: TPR {s['tpr']:.4f}" + (f" {s['outcome']}" if "outcome" in s else "")
                          for s in record["steps"])
        print(f"{name}: flips {record['flips']} ({steps})", flush=True)
    if opts.output is not None:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(records, indent=2) + "\n")
    for record in records:
        if record["model"] in opts.apply:
            apply(record, str(opts.output) if opts.output else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
