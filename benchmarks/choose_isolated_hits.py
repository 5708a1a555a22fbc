"""Choose the U-Net detectors' isolated one-pixel hit rule (``hit_sigma``) on real validation data.

The shipped networks pass over bright one-pixel cosmic rays: their
training taught the synthetic hot pixels as clean (``docs/learned_detectors.rst``,
"One-pixel cosmic rays"). `crmask.isolated.isolated_hits` finds such hits
from the image alone (a pixel ``hit_sigma`` above its local background and
`crmask.isolated.PEAK_RATIO` times brighter than its brightest neighbour),
and the detector gives them probability 1 after its wing growth. What the
rule can cost is a clean pixel taken for a hit: a warm pixel no defect list
names, a sharp star. So for each shipped model and each ``hit_sigma`` of
the grid, on the model's real validation frames and with the map as the
detector makes it (mirror images, wing growth):

* cost: TPR at FPR 1e-4 lost on the injected validation frames (SAAO and
  SPRAT 4 with the validation footprints, seed 2, as ``crmask train unet``
  builds them) and on SPRAT exposures 1-4 with their repeat labels (their
  doubtful pixels and defects left out, as in training): every clean pixel
  the rule flags is one more false positive there;
* gain: the fraction of the one-pixel hits of 10 sigma or more added to
  SAAO and SPRAT 4 (`one_pixel_hits.gate_hits`, the shipping gate's) that
  the detector flags at its threshold for FPR 1e-4 on the injected
  validation frames.

The grid starts at 5 sigma, the bench's significance of a cosmic ray
(`crmask.bench.metrics.SIGNIFICANT_EVENT_SIGMA`): a Gaussian noise pixel
reaches it with probability 3e-7, a few thousandths of the false positives
FPR 1e-4 allows, where at 4 sigma it would be a third of them.

The rule taken is the lowest ``hit_sigma`` that costs at most one
cosmic-ray pixel on both (TPR at a fixed FPR is interpolated, so less than
a pixel is no pixel lost) and flags more hits than no rule; none where no
grid point does. With ``--apply`` it goes into the model's weights file
and model card, with the grid behind it.

    python benchmarks/choose_isolated_hits.py --data ../shared/data \\
        -o benchmarks/results/unet_real_study/isolated_hits_choice.json \\
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
from choose_wing_growth import one_pixel, validation_maps  # sibling scripts  # noqa: E402
from fix_group_statistics import replace_weights  # noqa: E402
from one_pixel_hits import gate_hits  # noqa: E402

SIGMAS = (5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0)
FPR = 1e-4


def detector_map(detector, electrons: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
    """The probability map ``detector`` makes of an image in electrons, ``bad`` its bad-pixel mask."""
    import astropy.units as u
    from astropy.nddata import CCDData

    return detector.detect(CCDData(electrons, unit=u.electron, mask=bad)).probability


def _with_hits(maps, nsigma: float | None):
    """``maps`` (electrons, probability, ..., bad) with the isolated hits of ``nsigma`` at probability 1 (never at
    the bad pixels, as the detector adds them)."""
    from crmask.isolated import isolated_hits

    if nsigma is None:
        return maps
    return [(electrons, np.where(isolated_hits(electrons, nsigma=nsigma, bad=rest[-1]), np.float32(1), prob), *rest)
            for electrons, prob, *rest in maps]


def pooled_curve(maps):
    """The pooled ROC curve of ``(electrons, probability, truth, ignore, ...)`` maps, at every distinct score."""
    from crmask.bench.metrics import Curve

    pooled = [np.concatenate([np.ravel(m[i]) for m in maps]) for i in (2, 1, 3)]
    return Curve.from_scores(*pooled)


def score(detector, frames, footprints: Path) -> dict:
    """The grid for one detector: costs and hits flagged at each ``hit_sigma`` (`None`: no rule)."""
    from crmask.bench.metrics import threshold_at_fpr

    real, injected = validation_maps(lambda electrons, bad: detector_map(detector, electrons, bad), frames, footprints)
    hits = [(electrons, detector_map(detector, electrons, bad), ys, xs, bad)
            for electrons, ys, xs, bad in gate_hits([frames["sprat-4"], frames["saao"]])]
    rows = []
    for nsigma in (None, *SIGMAS):
        curve = pooled_curve(_with_hits(injected, nsigma))
        threshold, _, _ = threshold_at_fpr(curve.fpr, curve.tpr, curve.thresholds, FPR)
        flagged = np.concatenate([prob[ys, xs] >= threshold for _, prob, ys, xs, _ in _with_hits(hits, nsigma)])
        rows.append({"hit_sigma": nsigma, "injected_tpr": curve.tpr_at_fpr(FPR),
                     "sprat_tpr": pooled_curve(_with_hits(real, nsigma)).tpr_at_fpr(FPR),
                     "hits_flagged": float(flagged.mean()), "threshold": float(threshold)})
    return {"grid": rows, "injected_pixel": one_pixel(injected), "sprat_pixel": one_pixel(real),
            "hits": int(len(flagged))}


def choose(scores: dict) -> dict | None:
    """The grid row the rule takes (lowest ``hit_sigma`` within one pixel of cost that flags more hits), or `None`."""
    base, *grid = scores["grid"]
    allowed = [row for row in grid
               if base["injected_tpr"] - row["injected_tpr"] <= scores["injected_pixel"]
               and base["sprat_tpr"] - row["sprat_tpr"] <= scores["sprat_pixel"]
               and row["hits_flagged"] > base["hits_flagged"]]
    return min(allowed, key=lambda row: row["hit_sigma"]) if allowed else None


def record_rule(name: str, key: str, rule: dict | None, empty: dict, entry: dict) -> str:
    """Write ``rule`` (`None`: none) into shipped model ``name``'s weights metadata under ``key``, and into its card
    with ``entry`` (how it was chosen; ``empty`` stands for no rule there); the weights' new sha256."""
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    card_path = WEIGHTS_DIR / f"{name}.json"
    card = read_card(card_path)
    card["sha256"] = replace_weights(WEIGHTS_DIR / card["weights_file"], {},
                                     metadata={key: None if rule is None else json.dumps(rule)})
    card[key] = {**(rule or empty), **entry, "command": "python " + " ".join(sys.argv)}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card["sha256"]


def choice_options(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The options of a script that chooses a rule for shipped models (``--data``, resolved; the models,
    ``--output``, ``--apply``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("models", nargs="+", metavar="MODEL", help="shipped model names")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the grids and the choices")
    parser.add_argument("--apply", action="store_true", help="write each choice into the model's weights and card")
    return parse_args_with_data(parser, argv)


def choose_for_models(opts: argparse.Namespace, out: dict, score, choose, apply, key: str, gain: str,
                      gain_label: str, nothing: str) -> None:
    """For each of ``opts.models``: its grid (``score(name)``), the row ``choose`` takes, both printed (the grid
    row's ``key``, the two TPRs and ``gain``) and kept in ``out["models"]``, the choice applied with ``--apply``;
    ``out`` written to ``--output``."""
    for name in opts.models:
        scores = score(name)
        choice = choose(scores)
        for row in scores["grid"]:
            print(f"{name} {key} {row[key]}: injected TPR {row['injected_tpr']:.4f}, SPRAT 1-4 TPR "
                  f"{row['sprat_tpr']:.4f}, {gain_label} {row[gain]:.3f}", flush=True)
        print(f"{name}: " + (nothing if choice is None else f"{key} {choice[key]}"), flush=True)
        out["models"][name] = {**scores, "choice": choice}
        if opts.apply:
            out["models"][name]["sha256"] = apply(name, scores, choice, str(opts.output) if opts.output else None)
    if opts.output:
        opts.output.write_text(json.dumps(out, indent=1) + "\n")


def apply(name: str, scores: dict, choice: dict | None, evidence: str | None) -> str:
    """Record ``choice`` in shipped model ``name``'s weights and card; the new sha256."""
    from crmask.isolated import PEAK_RATIO

    hits = None if choice is None else {"nsigma": choice["hit_sigma"], "ratio": PEAK_RATIO}
    return record_rule(name, "hits", hits, {"nsigma": None, "ratio": None}, {
        "rule": "the lowest hit_sigma of " + str(list(SIGMAS)) + " that costs at most one cosmic-ray pixel of "
        "TPR@1e-4 on this model's injected validation frames and on SPRAT 1-4 (repeat labels) and flags more of the "
        "validation frames' one-pixel hits of >= 10 sigma at the threshold for FPR 1e-4",
        "grid": scores["grid"], "evidence": evidence})


def main(argv: list[str] | None = None) -> int:
    opts = choice_options(__doc__.splitlines()[0], argv)

    import crmask
    from crmask.bench.sources import load_real_frames
    from crmask_unet.weights import read_card, WEIGHTS_DIR

    frames = load_real_frames(opts.data, ["sprat-1", "sprat-2", "sprat-3", "sprat-4", "saao"])

    def model_scores(name: str) -> dict:
        detector = crmask.get_detector(read_card(WEIGHTS_DIR / f"{name}.json")["detector"], weights=name,
                                       hits=False, threads=1)
        return score(detector, frames, opts.data / "cr_footprints_itl.fits.gz")

    out = {"command": "python " + " ".join(sys.argv), "fpr": FPR, "models": {}}
    choose_for_models(opts, out, model_scores, choose, apply, "hit_sigma", "hits_flagged", "hits flagged", "no rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
