"""Score the real-data U-Net study (``benchmarks/unet_real_study.py``) with ``crmask bench`` and tabulate it.

    python benchmarks/score_study.py --sets bench-sets --study out/study -o out/study-bench
    python benchmarks/score_study.py --sets bench-sets --study out/study -o out/study-bench \\
        --results bench-report/peers          # add the peers' rows (e.g. lacosmic) from another bench run
    python benchmarks/score_study.py ... --ship input-deepcr-noise=deepcr-general   # into the package

Every finished run is benchmarked on the real sets (``crmask bench build``:
repeats, injected, m51, uves, saao) with one CPU thread, through the
``crmask bench`` command, into one report directory (resumable). The tables
(Markdown, ``<outdir>/study.md``) give TPR at FPR 1e-4 per real *source*:
the ``injected`` set is split into its SPRAT and GMOS files. Beside them,
the model card's validation numbers (real selection set and synthetic
frames), which chose the epoch and the threshold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from crmask.bench.report import aggregate

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


def tables(study: Path, records: dict[tuple[str, str], dict], peers: list[str]) -> str:
    sources = list(SOURCES)
    cell = lambda label, source: records.get((source, label), {}).get("tpr_1e-4", float("nan"))  # noqa: E731
    out = ["## Input representation (deepCR and Cosmic-CoNN, UNet-3-8, main split, seed 1)", "",
           "TPR at FPR 1e-4. Validation columns: the model card (real: SPRAT 4 + SAAO with validation footprints, "
           "which chose epoch and threshold; synthetic: reported only).", "",
           "| model | real val | synthetic val | " + " | ".join(sources) + " |",
           "|---|---:|---:|" + "---:|" * len(sources)]
    for name in ("input-deepcr-native", "input-deepcr-noise", "input-cosmic-conn-native", "input-cosmic-conn-noise",
                 *peers):
        card = _card(study, name)
        out.append(f"| {name} | {_fmt(_val(card, 'tpr@1e-4'))} | {_fmt(_val(card, 'synthetic/tpr@1e-4'))} | "
                   + " | ".join(_fmt(cell(name, s)) for s in sources) + " |")
    out += ["", "## Leave one source out (deepCR, noise units, UNet-3-8)", "",
            "Each source scored by a model that never saw any frame of it, next to the main-split model "
            "(which trained on SPRAT 1-3, M51, UVES and validated on SPRAT 4, SAAO).", "",
            "| source | left-out model | TPR@1e-4 without it | main model | " + " | ".join(peers) + " |",
            "|---|---|---:|---:|" + "---:|" * len(peers)]
    for source in sources:
        loso = LOSO[source]
        out.append(f"| {source} | {loso} | {_fmt(cell(loso, source))} | {_fmt(cell(MAIN, source))} | "
                   + " | ".join(_fmt(cell(p, source)) for p in peers) + " |")
    out += ["", "## Attention gates (noise units, UNet-3-8, main split, seeds 1-3, equal budget)", "",
            "Mean ± standard deviation over the seeds of TPR at FPR 1e-4.", "",
            "| model | seeds | real val | " + " | ".join(sources) + " |", "|---|---:|---:|" + "---:|" * len(sources)]
    for arch in ("deepcr", "cosmic-conn"):
        for kind in ("plain", "att"):
            names = [f"input-{arch}-noise" if (kind, s) == ("plain", 1) else f"attention-{arch}-{kind}-s{s}"
                     for s in (1, 2, 3)]
            names = [n for n in names if _card(study, n)]
            if not names:
                continue
            row = [np.array([_val(_card(study, n), "tpr@1e-4") for n in names])]
            row += [np.array([cell(n, s) for n in names]) for s in sources]
            text = " | ".join(f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}" if np.isfinite(v).any() else "–"
                              for v in row)
            out.append(f"| {'att-' if kind == 'att' else ''}{arch} | {len(names)} | {text} |")
    out += ["", "## Width (deepCR, noise units, main split, seed 1)", "",
            "| model | real val | " + " | ".join(sources) + " | s/Mpix (bench, repeats) |",
            "|---|---:|" + "---:|" * len(sources) + "---:|"]
    for name in ("input-deepcr-noise", "width16-deepcr-noise"):
        speed = records.get(("sprat repeats", name), {}).get("s_per_mpix", float("nan"))
        out.append(f"| {name} | {_fmt(_val(_card(study, name), 'tpr@1e-4'))} | "
                   + " | ".join(_fmt(cell(name, s)) for s in sources) + f" | {_fmt(speed)} |")
    return "\n".join(out) + "\n"


def ship(study: Path, run: str, name: str, records: dict[tuple[str, str], dict], peers: list[str]) -> Path:
    """Copy a run's weights into the package as model ``name``, its card extended with the bench results.

    The weights file is copied byte for byte (its sha256 stays the card's);
    the card gains ``benchmark``: per real source, the model's and each peer's
    TPR at FPR 1e-4 and 1e-3, event completeness, star false positives and
    s/Mpix, all from the same bench run.
    """
    card = _card(study, run)
    if not card:
        raise SystemExit(f"run {run!r} has no model card in {study}")
    weights = WEIGHTS_DIR / f"{name}.safetensors"
    weights.write_bytes((study / run / card["weights_file"]).read_bytes())

    def scores(label: str, source: str) -> dict | None:
        r = records.get((source, label))
        if r is None:
            return None
        keys = ("tpr_1e-4", "tpr_1e-3", "f1", "event_completeness", "events_total", "star_fp", "s_per_mpix")
        return {k: None if isinstance(r[k], float) and not np.isfinite(r[k]) else r[k] for k in keys}

    card.update(name=name, weights_file=weights.name, study_run=run)
    card["benchmark"] = {
        "command": "python benchmarks/score_study.py --sets bench-sets --study out/study -o out/study-bench "
                   "--results bench-report/peers (sets from crmask bench build --data ../shared/data)",
        "note": "real sets of crmask bench build (test footprints fp_id % 5 == 0); sources in the model's "
                "training split are marked; peers from the same bench run",
        "sources": {source: {"in_training": _in_training(card, source), "model": scores(run, source),
                             **{peer: scores(peer, source) for peer in peers}} for source in SOURCES},
    }
    (WEIGHTS_DIR / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    return weights


def _in_training(card: dict, source: str) -> str:
    split = card.get("training_data", {}).get("real", {})
    key = "sprat-5" if source == "sprat 5 repeat" else source.split()[0]
    used = [n for part in ("train", "validate") for n in split.get(part, {}) if n.startswith(key)]
    return ", ".join(used) if used else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, required=True, help="folder of the sets built by crmask bench build")
    parser.add_argument("--study", type=Path, default=Path("out/study"))
    parser.add_argument("-o", "--outdir", type=Path, default=Path("out/study-bench"))
    parser.add_argument("--results", type=Path, nargs="*", default=[],
                        help="other bench report folders whose detectors are added as peer columns")
    parser.add_argument("--peers", nargs="*", default=["lacosmic"], help="labels of the peer columns")
    parser.add_argument("--no-bench", action="store_true", help="only tabulate stored results")
    parser.add_argument("--ship", nargs="*", default=[], metavar="RUN=NAME",
                        help="copy these runs into the package as shipped models, bench results in their cards")
    opts = parser.parse_args(argv)
    runs = finished_runs(opts.study)
    if not opts.no_bench and runs:
        bench(opts.sets, runs, opts.outdir)
    records = load_results([opts.outdir, *opts.results])
    peers = [p for p in opts.peers if any(label == p for _, label in records)]
    text = tables(opts.study, records, peers)
    (opts.outdir / "study.md").write_text(text)
    print(text)
    for item in opts.ship:
        run, _, name = item.partition("=")
        print(f"shipped {run} as {ship(opts.study, run, name, records, peers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
