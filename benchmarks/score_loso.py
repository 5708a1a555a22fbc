"""Score the study's leave-one-source-out runs with ``crmask bench``: recipes compared on sources they never saw.

Each run of ``benchmarks/unet_real_study.py`` named
``loso-[border-][cosmic-conn-]<source>[-s<seed>]`` was trained without any
frame of ``<source>`` (the deepcr recipe without ``cosmic-conn-``; the
border weight with ``border-``; seed 1 without a suffix). This script runs
``crmask bench`` (one CPU thread, resumable) with each run on the real set of
the source it left out and on the injected set, whose GMOS-S frames no study
run trains or validates on, and tabulates TPR at FPR 1e-4 per recipe: mean
and spread over seeds, and the paired difference of the border weight
(same source, architecture and seed):

    python benchmarks/score_loso.py --sets bench-sets --study out/study -o out/loso-bench \\
        [--results bench-report/final19 --peers lacosmic deepcr-acs-wfc] [--md table.md]

The peers' columns come from another bench report folder on the same sets.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_study import finished_runs, load_results  # a sibling script, not a package

#: A leave-one-source-out run's name.
RUN_NAME = re.compile(r"^loso-(?P<border>border-)?(?P<arch>cosmic-conn-)?(?P<source>sprat|m51|uves|saao)"
                      r"(?:-s(?P<seed>\d+))?$")
#: The bench set of each left-out source, and the sources (`score_study.SOURCES`) scored there.
LEFT_OUT = {"sprat": ("repeats", ("sprat repeats", "sprat injected")), "m51": ("m51", ("m51",)),
            "uves": ("uves", ("uves",)), "saao": ("saao", ("saao",))}
#: Never in any study run's training or validation.
UNSEEN = "gmos injected"
FPR_KEY = "tpr_1e-4"


def parse_run(name: str) -> dict | None:
    """``arch``, ``border``, ``source`` and ``seed`` of a leave-one-source-out run name, else None."""
    match = RUN_NAME.match(name)
    if match is None:
        return None
    return {"arch": "cosmic-conn" if match["arch"] else "deepcr", "border": bool(match["border"]),
            "source": match["source"], "seed": int(match["seed"] or 1)}


def bench(sets: Path, runs: dict[str, Path], outdir: Path) -> None:
    """``crmask bench`` each run on its left-out source's set and the injected set (stored results reused)."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for name in runs:
        by_source[parse_run(name)["source"]].append(name)
    for source, names in by_source.items():
        args = ["crmask", "bench", "--data", str(sets / LEFT_OUT[source][0]), "--data", str(sets / "injected"),
                "--threads", "1", "-q", "-o", str(outdir)]
        for name in names:
            detector = json.loads(runs[name].with_suffix(".json").read_text())["detector"]
            args += ["--detector", f"{name}={detector}", "--param", f"{name}:weights={runs[name]}"]
        subprocess.run(args, check=True)


def scores(runs: list[str], records: dict[tuple[str, str], dict]) -> dict[tuple, float]:
    """(arch, border, scored source, seed, left-out source) -> TPR at FPR 1e-4, for every scored run."""
    out = {}
    for name in runs:
        run = parse_run(name)
        for scored in (*LEFT_OUT[run["source"]][1], UNSEEN):
            value = records.get((scored, name), {}).get(FPR_KEY)
            if value is not None and np.isfinite(value):
                out[(run["arch"], run["border"], scored, run["seed"], run["source"])] = value
    return out


def _spread(values: list[float]) -> str:
    if not values:
        return "–"
    values = np.asarray(values)
    return f"{values.mean():.3f} ± {values.std():.3f} ({values.size})"


def _difference(pairs: list[tuple[float, float]]) -> str:
    if not pairs:
        return "–"
    diff = np.array([b - a for a, b in pairs])
    return f"{diff.mean():+.3f} [{diff.min():+.3f}, {diff.max():+.3f}], {int((diff > 0).sum())}/{diff.size} up"


def table(found: dict[tuple, float], records: dict[tuple[str, str], dict], peers: list[str]) -> list[list[str]]:
    """Rows: architecture, scored source, without and with the border weight, paired difference, peers.

    The GMOS-S row pools the runs of every left-out source (none saw GMOS-S).
    """
    rows = []
    sources = [s for _, scored in LEFT_OUT.values() for s in scored] + [UNSEEN]
    for arch in ("deepcr", "cosmic-conn"):
        for scored in sources:
            keys = {(seed, left) for (a, _, s, seed, left) in found if a == arch and s == scored}
            plain = [found[(arch, False, scored, *k)] for k in sorted(keys) if (arch, False, scored, *k) in found]
            border = [found[(arch, True, scored, *k)] for k in sorted(keys) if (arch, True, scored, *k) in found]
            pairs = [(found[(arch, False, scored, *k)], found[(arch, True, scored, *k)]) for k in sorted(keys)
                     if (arch, False, scored, *k) in found and (arch, True, scored, *k) in found]
            if keys:
                peer_cells = [f"{records[(scored, p)][FPR_KEY]:.3f}" if (scored, p) in records else "–"
                              for p in peers]
                rows.append([arch, scored, _spread(plain), _spread(border), _difference(pairs), *peer_cells])
    return rows


def markdown(rows: list[list[str]], peers: list[str]) -> str:
    header = ["recipe", "scored on (never seen)", "without border weight", "with border weight",
              "difference, paired by seed [min, max]", *peers]
    caption = ("TPR at FPR 1e-4 of each source scored by models trained without it: mean ± standard deviation "
               "(number of models). GMOS-S pools the models of every left-out source.")
    lines = [caption, "",
             "| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, required=True, help="folder of the sets built by crmask bench build")
    parser.add_argument("--study", type=Path, default=Path("out/study"))
    parser.add_argument("-o", "--outdir", type=Path, default=Path("out/loso-bench"))
    parser.add_argument("--results", type=Path, nargs="*", default=[],
                        help="bench report folders of the peers on the same sets")
    parser.add_argument("--peers", nargs="*", default=["lacosmic", "deepcr-acs-wfc"], help="peer labels")
    parser.add_argument("--no-bench", action="store_true", help="only tabulate stored results")
    parser.add_argument("--md", type=Path, default=None, help="also write the table here")
    opts = parser.parse_args(argv)
    missing = [s for s in ("injected", *(v[0] for v in LEFT_OUT.values())) if not (opts.sets / s).is_dir()]
    if missing:
        parser.error(f"{opts.sets} lacks the bench sets {missing} (crmask bench build --set NAME)")
    runs = {n: p for n, p in finished_runs(opts.study).items() if parse_run(n)}
    if not runs:
        parser.error(f"no finished leave-one-source-out run in {opts.study}")
    if not opts.no_bench:
        bench(opts.sets, runs, opts.outdir)
    records = load_results([opts.outdir, *opts.results])
    peers = [p for p in opts.peers if any(label == p for _, label in records)]
    text = markdown(table(scores(list(runs), records), records, peers), peers)
    if opts.md is not None:
        opts.md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
