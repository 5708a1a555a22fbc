"""Choose a shipped U-Net's threshold again on its real validation frames, by training's rule.

For each model named, the detector (with its wing growth, as it runs)
scores its card's real validation frames, built as ``crmask train unet``
builds them (the card's validation sources, the validation footprints,
two injections per frame at the validation density, the training's seed
plus one), and `crmask_unet.training.choose_threshold` picks the threshold:
the best pixel F1 among those that find 90% of the cosmic rays, every one
(``--events all``, training's rule) or only the significant ones
(``--events significant``: brightest pixel at
`crmask.bench.metrics.SIGNIFICANT_EVENT_SIGMA` times the noise or more),
and that flag at most `crmask_unet.training.MAX_NATURAL_FPR` of the clean
pixels of each validation frame without injected cosmic rays.
No bench set is read. With ``--apply`` the threshold goes into the weights
file and the model card, which records the previous one, the operating
point and this command (also where the threshold stays the same).

    python benchmarks/choose_threshold.py --data ../shared/data --events significant \
        deepcr-general-16 att-deepcr-general cosmic-conn-general att-cosmic-conn-general \
        -o benchmarks/results/unet_real_study/threshold_choice22.json

That comparison (``docs/learned_detectors.rst``, "Significant cosmic rays") is
why the shipped thresholds still follow training's rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crmask.cli_options import parse_args_with_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fix_group_statistics import card_frames, replace_weights, validation_scores  # a sibling script  # noqa: E402


def choose(name: str, frames, footprints: Path, events: str, apply: bool, evidence: str | None) -> dict:
    """Score model ``name`` on its real validation frames; with ``apply``, ship the threshold chosen there."""
    import crmask
    from crmask_unet.training import MAX_NATURAL_FPR, MIN_EVENT_COMPLETENESS
    from crmask_unet.weights import WEIGHTS_DIR, load_weights, read_card

    card_path = WEIGHTS_DIR / f"{name}.json"
    card = read_card(card_path)
    previous = load_weights(name).threshold
    detector = crmask.get_detector(card["detector"], weights=name, threads=1)
    scores = validation_scores(detector, card, frames, footprints, events)
    point = scores["operating_point"]
    record = {"model": name, "previous_threshold": previous, **scores}
    if apply:  # the card records the choice even where the threshold stays
        if point["threshold"] != previous:
            card["sha256"] = replace_weights(WEIGHTS_DIR / card["weights_file"], {}, point["threshold"])
        card["threshold"] = point["threshold"]
        which = "significant cosmic rays (brightest pixel >= 5 sigma of injected charge; the SPRAT repeat labels " \
            "count as significant)" if events == "significant" else "cosmic rays"
        card["threshold_rule"] = (f"maximum pixel F1 on the real validation frames (grid 0.05..0.95, wing growth on) "
                                  f"among thresholds that find >= {MIN_EVENT_COMPLETENESS:.0%} of their {which} "
                                  f"and flag at most {MAX_NATURAL_FPR:g} of the clean pixels of each of them without "
                                  f"injected cosmic rays")
        card["threshold_choice"] = {
            "previous_threshold": previous,
            "validation": scores,
            "command": "python " + " ".join(sys.argv),
            "evidence": evidence,
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        record["applied"] = True
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help="shipped models to score only")
    parser.add_argument("--apply", nargs="*", default=[], metavar="MODEL",
                        help="shipped models whose weights and cards get the threshold chosen")
    parser.add_argument("--events", choices=("all", "significant"), default="all",
                        help="which cosmic rays the threshold must find 90%% of (default: all, training's rule)")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the records")
    opts = parse_args_with_data(parser, argv)
    names = [*opts.models, *opts.apply]
    if not names:
        parser.error("name at least one shipped model")
    frames, footprints = card_frames(opts.data, names, ("validate",))
    records = []
    for name in names:
        record = choose(name, frames, footprints, opts.events, name in opts.apply,
                        str(opts.output) if opts.output else None)
        record["events"] = opts.events
        records.append(record)
        p = record["operating_point"]
        natural = ", ".join(f"{n} {v['false_positives']}" for n, v in record["natural_frames"].items())
        print(f"{name}: threshold {record['previous_threshold']:g} -> {p['threshold']:g} (F1 {p['f1']:.3f}, "
              f"significant events {p['significant_event_completeness']:.3f} of {p['significant_events']}, "
              f"all events {p['event_completeness']:.3f} of {p['events']}); false positives on the uninjected "
              f"validation frames: {natural}{'' if record['usable'] else ' (above the bound at every threshold)'}"
              f"{' (applied)' if record.get('applied') else ''}", flush=True)
    if opts.output:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
