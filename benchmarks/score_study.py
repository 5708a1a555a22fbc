"""Score the real-data U-Net study (``benchmarks/unet_real_study.py``) with ``crmask bench`` and tabulate it.

    python benchmarks/score_study.py --sets bench-sets --study out/study -o out/study-bench
    python benchmarks/score_study.py --sets bench-sets --study out/study -o out/study-bench \\
        --results bench-report/peers          # add the peers' rows (e.g. lacosmic) from another bench run
    python benchmarks/score_study.py ... --data ../shared/data --ship input-deepcr-noise=deepcr-general
                                          # into the package, where it passes the gate (replaces_shipped)
    python benchmarks/score_study.py --sets bench-sets --no-bench --results bench-report/final22 \\
        --peers lacosmic deepcr-acs-wfc --rebench att-cosmic-conn-general=att-cosmic-conn \\
        --bench-command "crmask bench run ..."  # a shipped model's card from a crmask bench run

Every finished run is benchmarked on the real sets (``crmask bench build``:
repeats, injected, m51, uves, saao) with one CPU thread, through the
``crmask bench`` command, into one report directory (resumable). The tables
(Markdown, ``<outdir>/study.md``) give TPR at FPR 1e-4 per real *source*:
the ``injected`` set is split into its SPRAT and GMOS files. Beside them,
the model card's validation numbers (real selection set and synthetic
frames), which chose the epoch and the threshold. ``--rst`` writes the same
tables for the documentation (``docs/real_study_results.inc``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from crmask.bench.report import aggregate
from crmask.cli_options import parse_args_with_data

sys.path.insert(0, str(Path(__file__).resolve().parent))  # validation_difference, a sibling script

#: Where shipped models live (model card + safetensors).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "plugins" / "crmask_unet" / "weights"

REAL_SETS = ("repeats", "injected", "m51", "uves", "saao")
#: Real sources of the tables: (set, file-name prefix or "" for the whole set).
SOURCES = {
    "sprat repeats": ("repeats", ""),
    "sprat 5 repeat": ("repeats", "v_e_20180810_12_5"),
    "sprat injected": ("injected", "sprat_"),
    "gmos injected": ("injected", "gmos_"),
    "m51": ("m51", ""),
    "uves": ("uves", ""),
    "saao": ("saao", ""),
}
#: Which leave-one-source-out model each source is scored with (GMOS is outside the main split).
LOSO = {"sprat repeats": "loso-sprat", "sprat 5 repeat": "loso-sprat", "sprat injected": "loso-sprat", "gmos injected": "input-deepcr-noise",
        "m51": "loso-m51", "uves": "loso-uves", "saao": "loso-saao"}
MAIN = "input-deepcr-noise"
#: The four detector families: name -> (architecture, attention gates).
FAMILIES = {"deepcr": ("deepcr", False), "att-deepcr": ("deepcr", True), "cosmic-conn": ("cosmic-conn", False),
            "att-cosmic-conn": ("cosmic-conn", True)}


def finished_runs(study: Path) -> dict[str, Path]:
    """Run name -> weights file, for runs whose weights and card exist."""
    return {p.parent.name: p for p in sorted(study.glob("*/*.safetensors")) if p.with_suffix(".json").is_file()}


def bench(sets: Path, runs: dict[str, Path], outdir: Path) -> None:
    """Run ``crmask bench`` on the real sets for every run (results already stored are reused)."""
    args = ["crmask", "bench", *sum((["--data", str(sets / s)] for s in REAL_SETS), []), "--threads", "1",
            "-q", "-o", str(outdir)]
    for name, weights in runs.items():
        detector = json.loads(weights.with_suffix(".json").read_text())["detector"]
        args += ["--detector", f"{name}={detector}", "--param", f"{name}:weights={weights}"]
    subprocess.run(args, check=True)


def load_results(outdirs: list[Path]) -> dict[tuple[str, str], dict]:
    """(source, label) -> aggregated record, from the per-file JSON results of bench report folders."""
    by_group: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for outdir in outdirs:
        for path in sorted((outdir / "results").glob("*/*/*.json")):
            result = json.loads(path.read_text())
            set_name, label = path.parent.parent.name, path.parent.name
            for source, (wanted, prefix) in SOURCES.items():
                if set_name == wanted and result["file"].startswith(prefix):
                    by_group[(source, label)].append({**result, "set": source, "label": label})
    return {key: aggregate(rows)[0] for key, rows in by_group.items()}


def _fmt(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _card(study: Path, name: str) -> dict:
    path = study / name / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _val(card: dict, key: str) -> float:
    return card.get("validation", {}).get("best_epoch", {}).get(key, float("nan"))


def _mean_std(values: np.ndarray) -> str:
    values = values[np.isfinite(values)]
    return f"{values.mean():.3f} ± {values.std():.3f}" if values.size else "–"


def tables(study: Path, records: dict[tuple[str, str], dict], peers: list[str],
           widths: dict[str, int] | None = None) -> list[dict]:
    """The study's tables: each a dict with ``title``, ``caption``, ``header`` and ``rows`` (strings).

    The defaults-against-peers tables show each family's best run of its
    width in ``widths`` (family name -> width, 8 where not given).
    """
    widths = widths or {}
    sources = list(SOURCES)

    def cell(label: str, source: str, key: str = "tpr_1e-4") -> float:
        return records.get((source, label), {}).get(key, float("nan"))

    out = []
    rows = []
    for name in ("input-deepcr-native", "input-deepcr-noise", "input-cosmic-conn-native", "input-cosmic-conn-noise",
                 *peers):
        card = _card(study, name)
        rows.append([name, _fmt(_val(card, "tpr@1e-4")), _fmt(_val(card, "synthetic/tpr@1e-4")),
                     *(_fmt(cell(name, s)) for s in sources)])
    out.append({"title": "Input representation (UNet-3-8, main split, seed 1)",
                "caption": "TPR at FPR 1e-4. Validation columns from the model card: real (SPRAT 4 and SAAO with "
                           "validation footprints; chose epoch and threshold) and synthetic (reported only).",
                "header": ["model", "real val", "synthetic val", *sources], "rows": rows})
    rows = []
    for source in sources:
        loso = LOSO[source]
        rows.append([source, loso, _fmt(cell(loso, source)), _fmt(cell(MAIN, source)),
                     *(_fmt(cell(p, source)) for p in peers)])
    out.append({"title": "Leave one source out (deepCR, noise units, UNet-3-8)",
                "caption": "TPR at FPR 1e-4 of each source scored by a model that never saw any frame of it, next "
                           "to the main-split model (trained on SPRAT 1-3, M51 and UVES, validated on SPRAT 4 and "
                           "SAAO) and the peers in the same bench.",
                "header": ["source", "left-out model", "without it", "main model", *peers], "rows": rows})
    rows = []
    for arch in ("deepcr", "cosmic-conn"):
        for kind in ("plain", "att"):
            names = [f"input-{arch}-noise" if (kind, s) == ("plain", 1) else f"attention-{arch}-{kind}-s{s}"
                     for s in (1, 2, 3)]
            names = [n for n in names if _card(study, n)]
            if names:
                rows.append([f"{'att-' if kind == 'att' else ''}{arch}", str(len(names)),
                             _mean_std(np.array([_val(_card(study, n), "tpr@1e-4") for n in names])),
                             *(_mean_std(np.array([cell(n, s) for n in names])) for s in sources)])
    out.append({"title": "Attention gates (noise units, UNet-3-8, main split, equal budget)",
                "caption": "Mean ± standard deviation over seeds 1-3 of TPR at FPR 1e-4.",
                "header": ["model", "seeds", "real val", *sources], "rows": rows})
    defaults = {name: best_of_family(study, arch, att, widths.get(name, 8)) for name, (arch, att) in FAMILIES.items()
                if any(_card(study, r) for r in family_runs(arch, att, study, widths.get(name, 8)))}
    columns = [*(f"{name} ({run})" for name, run in defaults.items()), *peers]
    labels = [*defaults.values(), *peers]
    for key, what, fmt in (("tpr_1e-4", "TPR at FPR 1e-4", _fmt),
                           ("event_completeness", "fraction of cosmic rays with half their pixels found, at each "
                                                  "detector's operating point (shipped threshold; LACosmic and "
                                                  "the peers at their defaults)", _fmt),
                           ("star_fp", "flagged clean pixels on stars, traces and orders (STARMASK) at the "
                                       "operating point", lambda v: "–" if v is None or v != v else f"{v:d}")):
        rows = [[source, *(fmt(cell(label, source, key)) for label in labels)] for source in sources]
        out.append({"title": f"Default models against the peers: {key}",
                    "caption": f"{what}. Defaults: each family's best run of its width on the real "
                               "validation frames.",
                    "header": ["source", *columns], "rows": rows})
    rows = []
    for name in ("input-deepcr-noise", "width16-deepcr-noise"):
        rows.append([name, _fmt(_val(_card(study, name), "tpr@1e-4")), *(_fmt(cell(name, s)) for s in sources)])
    out.append({"title": "Width (deepCR, noise units, main split, seed 1)",
                "caption": "TPR at FPR 1e-4; speed in benchmarks/bench_unet_speed.py.",
                "header": ["model", "real val", *sources], "rows": rows})
    rows = []
    for width in (12, 16):
        for arch, attention in FAMILIES.values():
            for name in family_runs(arch, attention, study, width):
                card = _card(study, name)
                if card:
                    rows.append([name, _fmt(_val(card, "tpr@1e-4")), _fmt(_val(card, "event_completeness")),
                                 f"{card.get('threshold', float('nan')):.2f}",
                                 *(_fmt(cell(name, s)) for s in sources)])
    out.append({"title": "UNet-3-12 and -16: learning-rate schedule and sparse training (noise units, main split)",
                "caption": "Real validation TPR at FPR 1e-4 and event completeness at the chosen threshold (from "
                           "the model card; they chose the epoch and the threshold), then the bench's TPR at FPR "
                           "1e-4. plateau: the learning rate drops tenfold when the validation loss stalls; "
                           "cosine: it decays over the run; sparse: cosine, and each training frame's cosmic-ray "
                           "density drawn log-uniformly from 30 to 1000 per Mpix instead of 1000; floor: sparse, "
                           "and group normalisation with a variance floor (eps 1).",
                "header": ["run", "real val", "val events", "threshold", *sources], "rows": rows})
    return out


def markdown(tables_: list[dict]) -> str:
    out = []
    for t in tables_:
        out += [f"## {t['title']}", "", t["caption"], "", "| " + " | ".join(t["header"]) + " |",
                "|---|" + "---:|" * (len(t["header"]) - 1)]
        out += ["| " + " | ".join(r) + " |" for r in t["rows"]]
        out.append("")
    return "\n".join(out)


def rst(tables_: list[dict]) -> str:
    """The tables as reStructuredText ``csv-table`` directives (for the docs)."""
    out = []
    for t in tables_:
        out += [t["title"], "=" * len(t["title"]), "", t["caption"], "", ".. csv-table::",
                "   :header: " + ", ".join(f'"{h}"' for h in t["header"]), ""]
        out += ["   " + ", ".join(f'"{c}"' for c in r) for r in t["rows"]]
        out.append("")
    return "\n".join(out)


#: What a card's ``benchmark`` section says about its numbers.
BENCH_NOTE = ("real sets of crmask bench build (test footprints fp_id % 5 == 0); sources in the model's training split "
              "are marked; peers scored on the same sets (the command says in which runs); s_per_mpix is wall time on a shared "
              "machine, not a speed measurement (that is benchmarks/bench_unet_speed.py)")
#: The scores a card's ``benchmark`` section keeps per source and detector.
BENCH_KEYS = ("tpr_1e-4", "tpr_1e-3", "f1", "event_completeness", "events_total", "significant_event_completeness",
              "significant_events_total", "star_fp", "star_fp_all", "s_per_mpix")


def benchmark_section(card: dict, label: str, records: dict[tuple[str, str], dict], peers: list[str],
                      command: str) -> dict:
    """A model card's ``benchmark``: per real source, the model's (bench label ``label``) and each peer's scores."""

    def scores(name: str, source: str) -> dict | None:
        r = records.get((source, name))
        if r is None:
            return None
        return {k: None if isinstance(r.get(k), float) and not np.isfinite(r[k]) else r.get(k) for k in BENCH_KEYS}

    return {
        "command": command,
        "note": BENCH_NOTE,
        "sources": {source: {"in_training": _in_training(card, source), "model": scores(label, source),
                             **{peer: scores(peer, source) for peer in peers}} for source in SOURCES},
    }


def ship(study: Path, run: str, name: str, records: dict[tuple[str, str], dict], peers: list[str],
         candidates: list[str] | None = None, gate: str | None = None) -> Path:
    """Copy a run's weights into the package as ``<name>.*``, its card extended with the bench results.

    The card names the model ``detector.tag`` (`crmask_unet.weights.model_name`); ``name`` is its alias.

    The weights file is copied byte for byte (its sha256 stays the card's);
    the card gains ``benchmark`` (`benchmark_section`) from the study's bench
    run and the peers' results, and ``selection``: the family's candidates
    and, with ``gate``, why `replaces_shipped` let the run replace the shipped model.
    """
    card = _card(study, run)
    if not card:
        raise SystemExit(f"run {run!r} has no model card in {study}")
    weights = WEIGHTS_DIR / f"{name}.safetensors"
    weights.write_bytes((study / run / card["weights_file"]).read_bytes())

    from crmask_unet.weights import model_name

    card.update(name=model_name(card["detector"], name), weights_file=weights.name, study_run=run)
    selection = {}
    if candidates:
        selection = {
            "rule": "highest TPR at FPR 1e-4 on the real validation frames, to 0.001 (then F1), among the runs",
            "candidates": {c: _val(_card(study, c), "tpr@1e-4") for c in candidates if _card(study, c)},
            "left_out": {c: NOT_SHIPPED[c] for c in candidates if c in NOT_SHIPPED},
        }
    if gate is not None:
        from crmask_unet.training import MAX_NATURAL_FPR

        selection["gate"] = {"rule": GATE_RULE.format(bound=MAX_NATURAL_FPR), "outcome": gate}
    if selection:
        card["selection"] = selection
    card["benchmark"] = benchmark_section(
        card, run, records, peers, "python benchmarks/score_study.py --sets bench-sets --study out/study -o "
        "out/study-bench --results bench-report/peers (sets from crmask bench build --data ../shared/data)")
    (WEIGHTS_DIR / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return weights


def rebench(name: str, label: str, records: dict[tuple[str, str], dict], peers: list[str], command: str) -> Path:
    """Replace the ``benchmark`` section of the shipped model ``name`` with the results of bench label ``label``."""
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"no shipped model {name!r} in {WEIGHTS_DIR}")
    if not any(key[1] == label for key in records):
        raise SystemExit(f"no bench results of {label!r} in the --results folders")
    card = json.loads(path.read_text())
    card["benchmark"] = benchmark_section(card, label, records, peers, command)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def _in_training(card: dict, source: str) -> str:
    split = card.get("training_data", {}).get("real", {})
    key = "sprat-5" if source == "sprat 5 repeat" else source.split()[0]
    used = [n for part in ("train", "validate") for n in split.get(part, {}) if n.startswith(key)]
    return ", ".join(used) if used else "no"


def family_runs(arch: str, attention: bool, study: Path | None = None, width: int = 8) -> list[str]:
    """The study runs (main split, noise units) of one detector family and width.

    Width 8: seeds 1-3 of the attention ablation, and the border-weight
    runs (with gates: the seed of the shipped run; without: cosmic-conn,
    seeds 1-3). Widths 12 and 16: the cosine, sparse and
    (group norm) floor runs (seeds 1-3), and at width 16 the plateau run
    (seed 1) and, for deepcr, the border-weight run. With ``study``,
    also their continuations to more epochs found there (``<run>-e<N>``,
    ``benchmarks/unet_real_study.py --extend``).
    """
    family = f"{'att-' if attention else ''}{arch}"
    if width in (12, 16):
        runs = [f"width{width}-{family}-{kind}-s{seed}" for kind in ("cosine", "sparse", "floor") for seed in (1, 2, 3)]
        if width == 16:
            runs.insert(0, f"width16-{family}-noise")
            if family == "deepcr":
                runs.append("border-deepcr-s1")
    elif width != 8:
        raise ValueError(f"the study has widths 8, 12 and 16, not {width}")
    elif attention:
        runs = [f"attention-{arch}-att-s{seed}" for seed in (1, 2, 3)]
        runs.append("border-att-cosmic-conn-s3" if arch == "cosmic-conn" else "border-att-deepcr-s1")
    else:
        runs = [f"input-{arch}-noise", *(f"attention-{arch}-plain-s{seed}" for seed in (2, 3))]
        if arch == "cosmic-conn":
            runs += [f"border-cosmic-conn-s{seed}" for seed in (1, 2, 3)]
    if study is not None:
        runs += [p.name for r in runs for p in sorted(study.glob(f"{r}-e*")) if p.is_dir()]
    return runs


#: Real-validation TPR differences below this are ties (a few of the validation frames' cosmic-ray pixels).
TPR_RESOLUTION = 1e-3

#: Runs the validation rule or the gate picked that were not shipped, and why (``--ship`` and ``--ship-defaults``
#: leave them out). The frames no model trains or validates on
#: (GMOS-S and SPRAT exposure 5, ``tests/unet/test_real_frames.py``) are the gate: a batch-norm default must beat
#: LACosmic there. Leaving out ``border-cosmic-conn-s1-e20``, which passes its gate, was decided on those frames,
#: so for that decision they were no longer unseen; leaving out ``border-cosmic-conn-s2-e20`` and
#: ``cosmic-conn-fixed-ft-s2`` was decided on the whole bench, which for those decisions was no longer a test.
NOT_SHIPPED = {
    "width16-deepcr-cosine-s1-e20": "below LACosmic on the unseen frames (TPR at FPR 1e-4 0.946 against 0.962); "
                                    "the shipped width16-deepcr-cosine-s1 is above it",
    "border-cosmic-conn-s1-e20": "on the unseen frames 0.643 against 0.777 for the shipped "
                                 "input-cosmic-conn-noise-e20 (GMOS-S 0.893 against 0.944)",
    "border-cosmic-conn-s2-e20": "0.0024 above the shipped input-cosmic-conn-noise-e20 on real validation, paired "
                                 "bootstrap 95% interval -0.007 to +0.014 (validation_difference.py); shipped to a "
                                 "working copy "
                                 "(wing growth and fixed statistics chosen as for the defaults) it was below it on "
                                 "the bench's M51 (0.696 against 0.809), SPRAT repeats (0.798 against 0.832) and "
                                 "GMOS-S (0.896 against 0.944), final24_bench.md",
    "cosmic-conn-fixed-ft-s2": "0.0051 above the shipped cosmic-conn-fixed-ft-e20 on real validation (95% interval "
                               "+0.0039 to +0.0064) and within the false-positive bound there (threshold 0.1, wing "
                               "weight 0.3), but shipped to a working copy and benched (final31_bench.md) it flagged "
                               "2,017 pixels of M51's galaxy and stars and 10,269 of the UVES orders (548 and 3,305 "
                               "for the shipped model; LACosmic 196 and 2,638): the validation frames hold no galaxy "
                               "and no echelle order. Decided on the bench, which for that decision was no longer a "
                               "test",
    "deepcr16-ft": "the shipped width16-deepcr-cosine-s1 fine-tuned 10 epochs at a tenth of its learning rate: 0.0012 "
                   "above it on real validation (95% interval +0.0006 to +0.0019), but below LACosmic on the unseen "
                   "frames of tests/unet/test_real_frames.py (TPR at FPR 1e-4 0.957 against 0.962; the shipped model "
                   "is above), as width16-deepcr-cosine-s1-e20 was; benched in a working copy (final33_bench.md): "
                   "GMOS-S 0.936 against 0.944, SPRAT repeats 0.931 against 0.951, M51 0.860 against 0.840",
    "att-cosmic-conn-hot": "the shipped att-cosmic-conn-fixed-ft-e20 fine-tuned 10 epochs with the synthetic hot "
                           "pixels out of the loss: 0.0005 above it on real validation (95% interval +0.0000 to "
                           "+0.0010) and it flags isolated one-pixel hits of 300-1000 sigma (0.77-1.00 against "
                           "0.00-0.12, one_pixel_hits.py), but below LACosmic on the unseen frames of "
                           "tests/unet/test_real_frames.py (TPR at FPR 1e-4 0.954 against 0.962; the shipped model "
                           "0.963), with or without wing growth",
    "cosmic-conn-hot": "the shipped cosmic-conn-fixed-ft-e20 fine-tuned 10 epochs with the synthetic hot pixels out "
                       "of the loss: 0.0009 above it on real validation (95% interval +0.0004 to +0.0014), one-pixel "
                       "hits of 300-1000 sigma flagged (0.81-1.00 against 0.00-0.48), and on the bench "
                       "(final36_bench.md) above it on M51 (0.853 against 0.837, 271 star pixels against 569), "
                       "UVES and SAAO, but below LACosmic on the unseen frames of tests/unet/test_real_frames.py "
                       "(0.953 against 0.962; the shipped model 0.965) and on GMOS-S (0.916 against 0.930)",
    "deepcr16-hot": "the shipped width16-deepcr-cosine-s1 fine-tuned 10 epochs with the synthetic hot pixels out of "
                    "the loss: 0.0009 above it on real validation (95% interval +0.0002 to +0.0017), one-pixel hits "
                    "of 100-1000 sigma all flagged, above LACosmic on the unseen frames (0.962 against 0.9615; the "
                    "shipped model 0.976); shipped and benched (final37_bench.md, wing weight 0.3 and threshold 0.2 "
                    "chosen again) it fell on the SPRAT repeats (0.868 against 0.951 on the bench's thresholds, 0.935 "
                    "against 0.953 at every distinct score) "
                    "and GMOS-S (0.937 against 0.944) and flagged more M51 star pixels (984 against 899): "
                    "withdrawn, decided on the bench",
    "cosmic-conn-hot-lr1e4": "cosmic-conn-hot's recipe at lr 1e-4: within chance of the shipped cosmic-conn-fixed-ft-e20 "
                             "on real validation (+0.0001, 95% interval -0.0004 to +0.0006) and ahead on one-pixel hits "
                             "(0.975 against 0.533 flagged), so the gate passed it; with the half-turn mirror image "
                             "choose_mirrors.py then took (0.9886 against 0.9885 for up-down) it is below LACosmic on the "
                             "unseen frames of tests/unet/test_real_frames.py (0.953 against 0.9615; 0.963 with "
                             "up-down; the shipped model 0.965)",
    "att-cosmic-conn-hot-lr1e4": "att-cosmic-conn-hot's recipe at lr 1e-4: within chance of the shipped "
                                 "att-cosmic-conn-fixed-ft-e20 on real validation (+0.0003, 95% interval -0.0001 to "
                                 "+0.0007) and ahead on one-pixel hits (0.967 against 0.648 flagged), so the gate passed "
                                 "it, and above LACosmic on the unseen frames (0.965); shipped and benched "
                                 "(final38_bench.md; no wing growth qualified, threshold 0.45) it fell on the SPRAT "
                                 "repeats (0.873 against 0.952, under deepCR ACS-WFC's 0.880), SPRAT exposure 5 (0.726 "
                                 "against 0.801) and GMOS-S (0.947 against 0.952): withdrawn, decided on the bench",
    "deepcr16-bright": "deepcr16-hot's recipe at lr 1e-4 with the hot pixels taught as clean and a tenth of the "
                       "cosmic rays injected into the real training frames brightened up to 30x (--bright-fraction "
                       "0.1): within chance of the shipped width16-deepcr-cosine-s1 on real validation (-0.0001, 95% "
                       "interval -0.0007 to +0.0006) and ahead on one-pixel hits (0.620 against 0.594), so the gate "
                       "passed it, and above LACosmic on the unseen frames (0.970); it flags bright tracks and spots "
                       "of 30,000 e- the shipped model passes over, but shipped and benched (final41_bench.md; wing "
                       "weight 0.2, threshold 0.1) it fell on the SPRAT repeats (0.942 against 0.951) and flagged more "
                       "star and trace pixels (M51 1,338 against 899, UVES 5,067 against 3,639, over LACosmic's "
                       "4,423), and did not rise on GMOS-S (0.950 against 0.951): withdrawn, decided on the bench",
    "att-deepcr-hot-s1": "the recipe of the shipped attention-deepcr-att-s1-e20 (20 epochs from scratch, seed 1) with "
                         "the synthetic hot pixels out of the loss: real validation 0.9874 (the shipped model 0.9855), "
                         "one-pixel hits of 30-1000 sigma flagged 0.92-1.00, but below LACosmic on the unseen frames "
                         "of tests/unet/test_real_frames.py (0.960 with the half-turn mirror image, 0.941 without, "
                         "against 0.9615; the shipped model 0.969)",
}


#: What `replaces_shipped` requires, in the words a model card records (``bound``: the false-positive bound).
GATE_RULE = ("a run replaces the shipped model only if it has a threshold that flags at most {bound:g} of the clean pixels "
             "of each real validation frame without injected cosmic rays (crmask_unet.training.MAX_NATURAL_FPR), and "
             "either the shipped model has none or the paired bootstrap 95% interval of their difference in "
             "real-validation TPR at FPR 1e-4 lies above zero, or holds zero and that of their difference in the "
             "fraction of one-pixel hits of 10 sigma or more flagged on the validation frames (one_pixel_hits.py; "
             "by the network or by the shipped model's isolated-hit rule) lies above zero")


def replaces_shipped(study: Path, run: str, name: str, data: Path) -> tuple[bool, str]:
    """Whether ``run`` should replace the shipped model ``name``, judged on the real validation frames only.

    First the operating point (`fix_group_statistics.validation_scores`, each
    model as it runs): a model with no threshold that keeps the
    false-positive rate on every validation frame without injected cosmic
    rays within `crmask_unet.training.MAX_NATURAL_FPR` never replaces
    one, and replaces a shipped model that has none. Between two usable
    models, TPR at FPR 1e-4 without wing growth, as training validates
    (`validation_difference.operating_point`), both averaged over the shipped
    model's mirror images (``mirrors``): ``run`` wins when the paired
    bootstrap's 95% interval of its TPR minus the shipped model's lies above
    zero. Where that interval holds zero, the isolated one-pixel hits of
    `one_pixel_hits.GATE_SIGNIFICANCE` or more added to the validation frames
    decide (`one_pixel_hits.gate_hits`, each network at that threshold, and
    the shipped model's isolated-hit rule beside both, as the detector runs
    them): ``run`` wins when the paired interval of the fraction it flags
    minus the shipped model's lies above zero, so a network gains only by the
    hits the rule leaves. A name with no shipped model is won by a
    usable run; ``run`` does not replace itself (shipping it again would drop
    what was added to its card after shipping: wing growth, fixed statistics).
    """
    from fix_group_statistics import validation_scores
    from one_pixel_hits import GATE_SIGNIFICANCE, flagged_hits, gate_hits
    from validation_difference import VALIDATION_SOURCES, operating_point, paired_difference, validation_samples

    import crmask
    from crmask.bench.sources import load_real_frames

    candidate_card = _card(study, run)
    weights = finished_runs(study)[run]
    card_path = WEIGHTS_DIR / f"{name}.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    if card is not None and card.get("study_run") == run:
        return False, f"{run} is the shipped {name} already"
    cards = [c for c in (card, candidate_card) if c is not None]
    frames = load_real_frames(data, sorted({*VALIDATION_SOURCES,
                                            *(n for c in cards for n in c["training_data"]["real"]["validate"])}))
    footprints = data / "cr_footprints_itl.fits.gz"
    detector = candidate_card["detector"]
    usable = validation_scores(crmask.get_detector(detector, weights=str(weights), threads=1), candidate_card,
                               frames, footprints)["usable"]
    if not usable:
        return False, f"{run}: no threshold keeps the uninjected validation frames' false-positive rate in bound"
    if card is None:
        return True, f"no shipped {name}"
    shipped = card.get("study_run", name)
    if not validation_scores(crmask.get_detector(card["detector"], weights=name, threads=1), card, frames,
                             footprints)["usable"]:
        return True, (f"the shipped {shipped} has no threshold that keeps the uninjected validation frames' "
                      f"false-positive rate in bound; {run} has")
    samples = validation_samples(frames, footprints)
    shipped_detector = crmask.get_detector(card["detector"], weights=name)
    mirrors = shipped_detector.mirrors()  # both networks with the shipped model's mirror images
    networks = [crmask.get_detector(detector, weights=str(path), wings=False, mirrors=mirrors, threads=1)
                for path in (WEIGHTS_DIR / card["weights_file"], weights)]
    points = [operating_point(network, samples) for network in networks]
    mean, low, high = paired_difference(*(counts for counts, _ in points))
    why = (f"{run} minus the shipped {shipped} on real validation: {mean:+.4f}, "
           f"95% interval [{low:+.4f}, {high:+.4f}]")
    if low > 0 or high < 0:
        return low > 0, why
    validation_hits = gate_hits([frames[n] for n in VALIDATION_SOURCES])
    rule = shipped_detector.hit_rule()
    hits = [flagged_hits(network, validation_hits, threshold, rule)
            for network, (_, threshold) in zip(networks, points)]
    mean, low, high = paired_difference(*(np.stack([np.ones(len(h)), h], axis=1) for h in hits))
    return low > 0, (f"{why}; one-pixel hits of {GATE_SIGNIFICANCE:g} sigma or more flagged: {hits[1].mean():.3f} "
                     f"against {hits[0].mean():.3f}, difference 95% interval [{low:+.4f}, {high:+.4f}]")


def best_of_family(study: Path, arch: str, attention: bool, width: int = 8) -> str:
    """The family's run with the highest real-validation TPR at FPR 1e-4, then F1, leaving out `NOT_SHIPPED`.

    TPRs are compared to `TPR_RESOLUTION`, so runs within it are ranked by F1.
    """
    runs = [r for r in family_runs(arch, attention, study, width) if _card(study, r) and r not in NOT_SHIPPED]
    if not runs:
        raise SystemExit(f"no finished run of {'att-' if attention else ''}{arch} in {study}")

    def key(run: str) -> tuple[float, float]:
        card = _card(study, run)
        return round(_val(card, "tpr@1e-4") / TPR_RESOLUTION), _val(card, "f1")

    return max(runs, key=key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, required=True, help="folder of the sets built by crmask bench build")
    parser.add_argument("--study", type=Path, default=Path("out/study"))
    parser.add_argument("-o", "--outdir", type=Path, default=Path("out/study-bench"))
    parser.add_argument("--results", type=Path, nargs="*", default=[],
                        help="other bench report folders whose detectors are added as peer columns")
    parser.add_argument("--peers", nargs="*", default=["lacosmic"], help="labels of the peer columns")
    parser.add_argument("--no-bench", action="store_true", help="only tabulate stored results")
    parser.add_argument("--only", nargs="*", default=["*"], metavar="PATTERN",
                        help="bench only the runs matching these patterns (fnmatch); tables and --ship-defaults "
                             "still read every run's model card")
    parser.add_argument("--rst", type=Path, default=None, help="also write the tables as reStructuredText here")
    parser.add_argument("--ship", nargs="*", default=[], metavar="RUN=NAME",
                        help="copy these runs into the package as shipped models, bench results in their cards, "
                             "each where it passes the --ship-defaults rule against the shipped NAME (needs --data)")
    parser.add_argument("--ship-defaults", nargs="*", default=None, metavar="FAMILY",
                        help="ship each family's (or only these families') best run on real validation as "
                             "<detector>-general (<detector>-general-<W> at --width W)")
    parser.add_argument("--width", nargs="*", default=[], metavar="FAMILY=WIDTH",
                        help="width (8, 12 or 16; default 8) of each family's default model: the runs --ship-defaults "
                             "ships and the defaults tables show; any wider one also leaves out the width-8 tables")
    parser.add_argument("--rebench", nargs="*", default=[], metavar="NAME=LABEL",
                        help="replace the benchmark section of the shipped model NAME (e.g. att-cosmic-conn-general) "
                             "with the results of bench label LABEL in the --results folders (use with --no-bench)")
    parser.add_argument("--bench-command", default=None,
                        help="the crmask bench command that made the --results folders, for --rebench's cards")
    opts = parse_args_with_data(
        parser, argv, required=lambda opts: opts.ship_defaults is not None or bool(opts.ship),
        help="shared real-data folder, for --ship and --ship-defaults: a run replaces a shipped model only if it "
             "has a threshold within the false-positive bound on the uninjected validation frames and either the "
             "shipped model has none or the paired bootstrap interval of their real validation difference lies "
             "above zero (replaces_shipped)")
    if opts.rebench and not opts.bench_command:
        parser.error("--rebench needs --bench-command: the command that made the results it records")
    runs = {name: path for name, path in finished_runs(opts.study).items()
            if any(fnmatch.fnmatch(name, pattern) for pattern in opts.only)}
    if not opts.no_bench and runs:
        bench(opts.sets, runs, opts.outdir)
    records = load_results([opts.outdir, *opts.results])
    peers = [p for p in opts.peers if any(label == p for _, label in records)]
    widths = {}
    for item in opts.width:
        family, _, width = item.partition("=")
        if family not in FAMILIES or width not in ("8", "12", "16"):
            parser.error(f"--width needs FAMILY=WIDTH with a detector family and 8, 12 or 16, got {item!r}")
        widths[family] = int(width)
    found = tables(opts.study, records, peers, widths)
    if any(w != 8 for w in widths.values()):
        found = [t for t in found if t["title"].startswith(("UNet-3-12", "Default models"))]
    text = markdown(found)
    opts.outdir.mkdir(parents=True, exist_ok=True)
    (opts.outdir / "study.md").write_text(text)
    if opts.rst is not None:
        opts.rst.write_text(rst(found))
    print(text)
    ships = []
    for item in opts.ship:
        run, _, name = item.partition("=")
        if run not in finished_runs(opts.study) or not name:
            parser.error(f"--ship needs RUN=NAME with a finished run of {opts.study}, got {item!r}")
        if run in NOT_SHIPPED:
            print(f"{name}: {run} is left out (NOT_SHIPPED): {NOT_SHIPPED[run]}")
            continue
        wins, why = replaces_shipped(opts.study, run, name, opts.data)
        print(f"{name}: {why}")
        if wins:
            ships.append((run, name, None, why))
    if opts.ship_defaults is not None:
        for family, (arch, att) in FAMILIES.items():
            if opts.ship_defaults and family not in opts.ship_defaults:
                continue
            width = widths.get(family, 8)
            run = best_of_family(opts.study, arch, att, width)
            name = f"{family}-general" + ("" if width == 8 else f"-{width}")
            wins, why = replaces_shipped(opts.study, run, name, opts.data)
            print(f"{family}: {why}")
            if wins:
                ships.append((run, name, family_runs(arch, att, opts.study, width), why))
    for run, name, candidates, why in ships:
        print(f"shipped {run} as {ship(opts.study, run, name, records, peers, candidates, why)}")
    for item in opts.rebench:
        name, _, label = item.partition("=")
        print(f"benchmark of {label} written into {rebench(name, label, records, peers, opts.bench_command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
