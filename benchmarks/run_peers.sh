#!/usr/bin/env bash
# Score crmask's detectors and the published ones (deepCR, Cosmic-CoNN and dfcosmic through the
# crmask_published plugin, and ccdproc) on every real benchmark set (injected, repeats, m51, uves, saao)
# in ONE run and print one table (also written to $OUT/summary.md, .ecsv, roc.png, pr.png). Detectors
# without a probability map (lacosmic, lacosmic-tuned, peer-ccdproc, dfcosmic) get the runner's default
# sweep, sigclip 2-20 x objlim 1,2,5 (crmask.bench.runner.DEFAULT_SWEEP), for their ROC/PR curves.
#
#   bash benchmarks/run_peers.sh                 # from the repository root, crmask installed (pip install -e .)
#
# Environment (all optional):
#   MAIN_PYTHON  python with crmask installed                 (default: python)
#   PEERS_VENV   separate venv for the packages of the published extra, created if absent (default:
#                ../peers-venv); it sees crmask's environment through a .pth, which is not changed
#   DATA         shared real data                  (default: $CRMASK_DATA, else ../shared/data beside the checkout)
#   SETS         where the benchmark sets are built            (default: bench-sets)
#   OUT          report directory; re-running resumes there     (default: bench-report/peers)
#   THREADS      threads per detector                          (default: 1)
#   DETECTORS    space-separated [LABEL=]NAME list; default: every registered mask detector that is
#                available (crmask's own and the published ones: deepcr-acs-wfc, deepcr-wfc3-uvis,
#                deepcr-decam, cosmic-conn-ground, cosmic-conn-nres, cosmic-conn-hst, dfcosmic), a tuned
#                lacosmic and peer-ccdproc (benchmarks/peers/peers.py). dfcosmic is swept like lacosmic and
#                takes several times astroscrappy's time per point on a CPU: name the detectors to leave it out
set -euo pipefail
cd "$(dirname "$0")/.."

MAIN_PYTHON=${MAIN_PYTHON:-python}
PEERS_VENV=${PEERS_VENV:-../peers-venv}
DATA=${DATA:-${CRMASK_DATA:-../shared/data}}
SETS=${SETS:-bench-sets}
OUT=${OUT:-bench-report/peers}
THREADS=${THREADS:-1}

if [ ! -x "$PEERS_VENV/bin/python" ]; then
    echo "creating $PEERS_VENV (sees crmask's environment through a .pth; that environment is not changed)"
    base=$("$MAIN_PYTHON" -c 'import sys; print(sys._base_executable)')
    main_site=$("$MAIN_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    "$base" -m venv "$PEERS_VENV"
    peer_site=$("$PEERS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "import site; site.addsitedir('$main_site')" > "$peer_site/crmask-main-env.pth"
    # the packages of the published extra, as pyproject.toml pins them (crmask itself is the main one)
    mapfile -t published < <("$MAIN_PYTHON" -c 'import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["published"]))')
    "$PEERS_VENV/bin/python" -m pip install "${published[@]}"
fi
PY="$PEERS_VENV/bin/python"
crmask() { "$PY" -c 'import sys; from crmask.cli import main; sys.argv[0] = "crmask"; main()' "$@"; }
if ! crmask list --kind mask | grep '^deepcr-acs-wfc ' >/dev/null; then
    echo "run_peers.sh: crmask has no published detectors; reinstall it (pip install -e .) so that its" \
         "'published' entry point is registered" >&2
    exit 1
fi

BENCH_SETS="injected repeats m51 uves saao"
data_args=()
for set in $BENCH_SETS; do
    [ -f "$SETS/$set/manifest.ecsv" ] || crmask bench build --data "$DATA" --set "$set" -o "$SETS"
    data_args+=(--data "$SETS/$set")
done

if [ -z "${DETECTORS:-}" ]; then
    # every registered mask detector that runs here with its defaults (e.g. has its weights)
    DETECTORS=$("$PY" - <<'PYEOF'
import sys
import numpy as np
import crmask
from crmask.data.synthetic import make_frame
probe = make_frame((64, 64), rng=np.random.default_rng(0)).ccd
names = []
for info in crmask.list_detectors("mask"):
    try:
        crmask.get_detector(info.name).detect(probe)
    except Exception as exc:  # not usable here: say why and leave it out
        print(f"run_peers.sh: skipping {info.name}: {exc}", file=sys.stderr)
        continue
    names.append(info.name)
print(" ".join(names))
PYEOF
)
    DETECTORS="$DETECTORS lacosmic-tuned=lacosmic peer-ccdproc"
fi
args=()
for det in $DETECTORS; do
    args+=(--detector "$det")
    case "$det" in
        # "tuned" LACosmic: the setting Bhavanam et al. (2022) reports F1/IoU/FDR with (sigclip 3, objlim 1,
        # sigfrac 0.1), chosen in advance, not on these sets.
        lacosmic-tuned=*)
            args+=(--param lacosmic-tuned:sigclip=3 --param lacosmic-tuned:objlim=1
                   --param lacosmic-tuned:sigfrac=0.1) ;;
    esac
done

crmask bench "${data_args[@]}" "${args[@]}" --plugin benchmarks/peers/peers.py \
    --threads "$THREADS" -o "$OUT"
