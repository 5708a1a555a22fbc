"""Choose how the U-Net detectors rescale structures brighter than training (``bright_sigma``) on real validation data.

The shipped networks pass over cosmic rays brighter than any of their
training (``docs/learned_detectors.rst``, "Very bright cosmic rays").
`crmask_unet.bright.rescale_bright` shows each structure brighter than
``bright_sigma`` (noise units) to the network again, dimmed so that its
brightest pixel reads ``bright_sigma / 2``, and keeps what the network
then calls a cosmic ray. What it can cost is a star, a spectral trace or
galaxy core that the network calls a cosmic ray once dimmed. So for each
shipped model and each ``bright_sigma`` of the grid, on the model's real
validation frames and with the map as the detector makes it (mirror
images, wing growth, isolated hits):

* cost: TPR at FPR 1e-4 lost on the injected validation frames (SAAO and
  SPRAT 4 with the validation footprints, seed 2, as ``crmask train unet``
  builds them) and on SPRAT exposures 1-4 with their repeat labels (their
  doubtful pixels and defects left out, as in training): every clean pixel
  taken for a cosmic ray is one more false positive there;
* gain: the fraction of the cosmic-ray pixels the detector flags at its
  threshold when the validation footprints, each scaled so that its pixels
  hold 1e4 or 3e4 e- on average (cosmic rays bright all over, as the spots
  and thick tracks the networks pass over), are added to SAAO and SPRAT 4
  (``bright_cosmic_rays.found_fractions``, ``scale="mean"``), the mean of
  the four.

Each measure resolves one cosmic-ray pixel at best, so grid points whose
sum of the three (the bright fraction and the two TPRs) is within one
pixel of each (their sum) of the best one find as many cosmic rays. The
rule takes, of the grid points that cost at most one cosmic-ray pixel on
either TPR (TPR at a fixed FPR is interpolated, so less than a pixel is no
pixel lost) and flag more bright cosmic rays than no rescaling, the highest
``bright_sigma`` (the fewest structures shown again, the least time) among
those within one pixel of the best sum; none where no grid point
qualifies.
With ``--apply`` it goes into the model's weights file and model card,
with the grid behind it.

    python benchmarks/choose_bright_rescaling.py --data ../shared/data \\
        -o benchmarks/results/unet_real_study/bright_rescaling_choice.json \\
        --apply deepcr-general-16 att-deepcr-general cosmic-conn-general att-cosmic-conn-general
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bright_cosmic_rays import found_fractions  # sibling scripts  # noqa: E402
from choose_isolated_hits import (  # noqa: E402
    choice_options, choose_for_models, detector_map, pooled_curve, record_rule)
from choose_wing_growth import one_pixel, validation_maps  # noqa: E402

SIGMAS = (30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0)
PEAKS = (1e4, 3e4)
FPR = 1e-4


def score(name: str, frames, footprints: Path, library) -> dict:
    """The grid for shipped model ``name``: costs and bright cosmic rays flagged at each ``bright_sigma``."""
    import crmask
    from crmask_unet.weights import WEIGHTS_DIR, read_card

    detector_name = read_card(WEIGHTS_DIR / f"{name}.json")["detector"]
    validation = [frames["sprat-4"], frames["saao"]]
    rows = []
    for nsigma in (None, *SIGMAS):
        rule = {"bright": False} if nsigma is None else {"bright_sigma": nsigma, "bright_target": nsigma / 2}
        detector = crmask.get_detector(detector_name, weights=name, threads=1, **rule)
        real, injected = validation_maps(lambda electrons, bad: detector_map(detector, electrons, bad), frames,
                                         footprints)
        bright = found_fractions(detector, validation, library, PEAKS, scale="mean")
        rows.append({"bright_sigma": nsigma, "injected_tpr": pooled_curve(injected).tpr_at_fpr(FPR),
                     "sprat_tpr": pooled_curve(real).tpr_at_fpr(FPR),
                     "bright_flagged": float(np.mean([row[f"{peak:g}"] for row in bright.values() for peak in PEAKS])),
                     "bright_by_frame": bright})
    # one pixel of the bright fraction, a mean over frames and charges: in the frame with the fewest pixels
    bright_pixel = 1.0 / (len(PEAKS) * len(bright) * min(row["pixels"] for row in bright.values()))
    return {"grid": rows, "injected_pixel": one_pixel(injected), "sprat_pixel": one_pixel(real),
            "bright_pixel": bright_pixel}


def choose(scores: dict) -> dict | None:
    """The grid row the rule takes (the highest ``bright_sigma`` within one pixel of each measure of the most
    cosmic-ray pixels found over the three, among those within one pixel of cost), or `None`."""
    base, *grid = scores["grid"]
    allowed = [row for row in grid
               if base["injected_tpr"] - row["injected_tpr"] <= scores["injected_pixel"]
               and base["sprat_tpr"] - row["sprat_tpr"] <= scores["sprat_pixel"]
               and row["bright_flagged"] > base["bright_flagged"]]
    if not allowed:
        return None
    found = [row["bright_flagged"] + row["injected_tpr"] + row["sprat_tpr"] for row in allowed]
    resolution = scores["injected_pixel"] + scores["sprat_pixel"] + scores["bright_pixel"]
    return max((row for row, total in zip(allowed, found) if total >= max(found) - resolution),
               key=lambda row: row["bright_sigma"])


def apply(name: str, scores: dict, choice: dict | None, evidence: str | None) -> str:
    """Record ``choice`` in shipped model ``name``'s weights and card; the new sha256."""
    bright = None if choice is None else {"nsigma": choice["bright_sigma"], "target": choice["bright_sigma"] / 2}
    return record_rule(name, "bright", bright, {"nsigma": None, "target": None}, {
        "rule": "of bright_sigma " + str(list(SIGMAS)) + " (target bright_sigma / 2), the highest whose sum of "
        "TPR@1e-4 on this model's injected validation frames, TPR@1e-4 on SPRAT 1-4 (repeat labels) and the fraction "
        "flagged of the validation footprints scaled to a mean pixel of 1e4 and 3e4 e- in SAAO and SPRAT 4 is within "
        "one pixel of each measure of the best, among those costing at most one cosmic-ray pixel of either TPR and "
        "flagging more of those than no rescaling",
        "grid": scores["grid"], "evidence": evidence})


def main(argv: list[str] | None = None) -> int:
    opts = choice_options(__doc__.splitlines()[0], argv)

    from crmask.bench.sources import load_real_frames
    from crmask_unet.data import split_footprints

    frames = load_real_frames(opts.data, ["sprat-1", "sprat-2", "sprat-3", "sprat-4", "saao"])
    footprints = opts.data / "cr_footprints_itl.fits.gz"
    library = split_footprints(str(footprints), "val")
    out = {"command": "python " + " ".join(sys.argv), "fpr": FPR, "peaks": PEAKS, "models": {}}
    choose_for_models(opts, out, lambda name: score(name, frames, footprints, library), choose, apply,
                      "bright_sigma", "bright_flagged", "bright cosmic rays flagged", "no rescaling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
