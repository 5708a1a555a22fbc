"""Aggregate per-file results into tables and curves.

Counts are summed over the files of a set before any ratio is taken
(micro-averaging), so a set's TPR, FPR, F1 and curves are those of all its
pixels together. Speed is total detection wall time over total pixels;
memory is the largest peak of any file.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import astropy.units as u
import numpy as np
from astropy.table import Table

from .metrics import Confusion, Curve

__all__ = ["aggregate", "summary_table", "markdown_table", "curve_figure", "plot_curves", "write_report", "COLUMNS"]

#: Columns of the summary table, with their Markdown headers and formats.
COLUMNS = (
    ("set", "Set", "{}"),
    ("label", "Detector", "{}"),
    ("tpr_1e-4", "TPR@FPR=1e-4", "{:.3f}"),
    ("tpr_1e-3", "TPR@FPR=1e-3", "{:.3f}"),
    ("precision_95", "Prec@95% TPR", "{:.3f}"),
    ("tpr", "TPR", "{:.3f}"),
    ("fpr", "FPR", "{:.1e}"),
    ("f1", "F1", "{:.3f}"),
    ("iou", "IoU", "{:.3f}"),
    ("fdr", "FDR", "{:.3f}"),
    ("event_completeness", "Events ≥50%", "{:.3f}"),
    ("significant_event_completeness", "Events ≥5σ", "{:.3f}"),
    ("star_fp", "Star FP px", "{:d}"),
    ("star_fp_all", "Star FP px (all)", "{:d}"),
    ("s_per_mpix", "s/Mpix", "{:.3f}"),
    ("peak_mb", "Peak MiB", "{:.0f}"),
    ("cores_used", "CPU cores", "{:.2f}"),
)


def _curve(results: list[dict[str, Any]]) -> Curve | None:
    curves = [r["curve"] for r in results]
    if any(c is None for c in curves):
        return None
    kinds = {c["kind"] for c in curves}
    if len(kinds) != 1:
        return None
    if kinds == {"threshold"}:
        thresholds = np.asarray(curves[0]["thresholds"])
        positives = np.sum([c["positives"] for c in curves], axis=0)
        negatives = np.sum([c["negatives"] for c in curves], axis=0)
        return Curve.from_histogram(positives, negatives, thresholds)
    n_points = {len(c["points"]) for c in curves}
    if len(n_points) != 1:
        return None
    points = []
    for k in range(n_points.pop()):
        total = Confusion(0, 0, 0, 0)
        for c in curves:
            p = c["points"][k]
            total = total + Confusion(p["tp"], p["fp"], p["fn"], p["tn"])
        points.append(total)
    return Curve.from_points(points)


def _sweep_params(results: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The parameters of each sweep point (the same for every file of a set), or `None`."""
    curve = results[0]["curve"]
    if curve is None or curve["kind"] != "sweep":
        return None
    return [point["params"] for point in curve["points"]]


def aggregate(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum per-file results into one record per (set, detector label), in first-seen order.

    Each record has the `COLUMNS` values plus ``curve`` (a `Curve` or
    `None`), ``auc`` and ``ap`` (`Curve.auc`, `Curve.average_precision`;
    NaN without a curve), ``sweep_params`` (the parameters of each sweep
    point, or `None`), ``operating`` (`Confusion`), ``params`` and ``n_files``.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["set"], r["label"])].append(r)
    records = []
    for (set_name, label), rs in groups.items():
        op = Confusion(0, 0, 0, 0)
        found = events = star_fp = star_pixels = 0
        significant = [(r["operating"].get("significant_found"), r["operating"].get("significant_total")) for r in rs]
        if any(total is None for _, total in significant):
            significant_found = significant_events = None
        else:
            significant_found, significant_events = (sum(column) for column in zip(*significant))
        star_fp_all = [r["operating"].get("star_fp_all") for r in rs]  # absent from results before it
        for r in rs:
            o = r["operating"]
            op = op + Confusion(o["tp"], o["fp"], o["fn"], o["tn"])
            found += o["events_found"]
            events += o["events_total"]
            star_fp += o["star_fp"]
            star_pixels += o["star_pixels"]
        curve = _curve(rs)
        wall = sum(r["wall_s"] for r in rs)
        cpu = sum(r["cpu_s"] for r in rs)
        npix = sum(r["npix"] for r in rs)
        records.append({
            "set": set_name,
            "label": label,
            "detector": rs[0]["detector"],
            "params": rs[0]["params"],
            "n_files": len(rs),
            "curve": curve,
            "auc": curve.auc() if curve is not None else float("nan"),
            "ap": curve.average_precision() if curve is not None else float("nan"),
            "sweep_params": _sweep_params(rs) if curve is not None else None,
            "operating": op,
            "tpr_1e-4": curve.tpr_at_fpr(1e-4) if curve is not None else float("nan"),
            "tpr_1e-3": curve.tpr_at_fpr(1e-3) if curve is not None else float("nan"),
            "precision_95": curve.precision_at_tpr(0.95) if curve is not None else float("nan"),
            "tpr": op.tpr,
            "fpr": op.fpr,
            "f1": op.f1,
            "iou": op.iou,
            "fdr": op.fdr,
            "events_found": found,
            "events_total": events,
            "event_completeness": found / events if events else float("nan"),
            "significant_events_found": significant_found,
            "significant_events_total": significant_events,
            "significant_event_completeness": (significant_found / significant_events if significant_events
                                               else float("nan")),
            "star_fp": star_fp,
            "star_fp_all": float("nan") if None in star_fp_all else sum(star_fp_all),
            "star_pixels": star_pixels,
            "s_per_mpix": wall / (npix / 1e6) if npix else float("nan"),
            "peak_mb": max(r["peak_mb"] for r in rs),
            "cores_used": cpu / wall if wall > 0 else 0.0,
            "threads_available": rs[0]["threads_available"],
        })
    return records


#: Units of the summary columns that have one (the rates and counts of events are plain numbers).
SUMMARY_UNITS = {
    "star_fp": u.pix,
    "star_fp_all": u.pix,
    "star_pixels": u.pix,
    "s_per_mpix": u.s / (1e6 * u.pix),
    "peak_mb": u.MiB,
}


def summary_table(records: list[dict[str, Any]]) -> Table:
    """The records as an `~astropy.table.Table` (one row per set and detector), with `SUMMARY_UNITS`."""
    names = [c[0] for c in COLUMNS] + ["events_found", "events_total", "star_pixels", "n_files", "params"]
    rows = [[_plain(r[n]) if n != "params" else _params_text(r["params"]) for n in names] for r in records]
    table = Table(rows=rows, names=names)
    for name, unit in SUMMARY_UNITS.items():
        table[name].unit = unit
    table.meta["description"] = "crmask bench summary: counts summed over each set's files"
    return table


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)


def _format(fmt: str, value: Any) -> str:
    if isinstance(value, float) and not np.isfinite(value):
        return "–"
    return fmt.format(value)


def markdown_table(records: list[dict[str, Any]]) -> str:
    """A Markdown table of the records (columns as in `COLUMNS`)."""
    header = "| " + " | ".join(c[1] for c in COLUMNS) + " |"
    rule = "|" + "|".join("---" if c[0] in ("set", "label") else "---:" for c in COLUMNS) + "|"
    lines = [header, rule]
    for r in records:
        lines.append("| " + " | ".join(_format(fmt, r[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def _point_text(params: dict[str, Any], varied: list[str]) -> str:
    return "/".join(f"{params[name]:g}" if isinstance(params[name], float) else str(params[name])
                    for name in varied)


def _varied(sweep_params: list[dict[str, Any]]) -> list[str]:
    """Names of the parameters that change between sweep points (all of them if none does)."""
    names = list(dict.fromkeys(name for params in sweep_params for name in params))
    return [name for name in names if len({repr(params.get(name)) for params in sweep_params}) > 1] or names


def _legend_label(record: dict[str, Any], kind: str) -> str:
    """``label (AUC 0.987)`` or ``label (AP 0.512)``, naming the swept parameters of a sweep."""
    if record["curve"] is None:
        return record["label"]
    score = f"AUC {record['auc']:.3f}" if kind == "roc" else f"AP {record['ap']:.3f}"
    if record["sweep_params"]:
        score += "; points: " + "/".join(_varied(record["sweep_params"]))
    return f"{record['label']} ({score})"


def _label_points(ax, record: dict[str, Any], indices: Iterable[int], x: np.ndarray, y: np.ndarray,
                  color: str) -> None:
    """Write the parameter values (``sigclip/objlim``) of the sweep points ``indices`` beside them."""
    varied = _varied(record["sweep_params"])
    for k in indices:
        ax.annotate(_point_text(record["sweep_params"][k], varied), (x[k], y[k]), xytext=(3, -8),
                    textcoords="offset points", fontsize=6, color=color)


def _roc_points(curve: Curve, fpr: np.ndarray, tpr: np.ndarray) -> list[int]:
    """Indices of the sweep points drawn on the ROC envelope ``(fpr, tpr)`` (the first of equal ones)."""
    drawn = set(zip(fpr.tolist(), tpr.tolist()))
    first = {}
    for k, point in enumerate(zip(curve.fpr.tolist(), curve.tpr.tolist())):
        if point in drawn:
            first.setdefault(point, k)
    return list(first.values())


def _pr_front(curve: Curve) -> list[int]:
    """Indices of the sweep points that no other point beats in both recall and precision (first of equal ones)."""
    recall, precision = curve.tpr, curve.precision
    front: dict[tuple[float, float], int] = {}
    for k in np.flatnonzero(np.isfinite(precision)):
        beaten = (recall >= recall[k]) & (precision >= precision[k]) & (
            (recall > recall[k]) | (precision > precision[k]))
        if not beaten.any():
            front.setdefault((recall[k], precision[k]), int(k))
    return list(front.values())


def curve_figure(records: list[dict[str, Any]], kind: str = "roc"):
    """Draw ROC (``kind="roc"``) or precision-recall curves, one panel per set, all detectors together.

    Each legend entry gives the detector's area under the ROC curve
    (`~crmask.bench.metrics.Curve.auc`) or average precision
    (`~crmask.bench.metrics.Curve.average_precision`); the points of a parameter
    sweep are labelled with their parameter values (on the ROC envelope, and
    on the precision-recall front: the points no other setting beats in
    both recall and precision), and each panel's title
    gives the number of cosmic rays (truth events) of its set.

    Returns
    -------
    `matplotlib.figure.Figure`
        A figure without pyplot (no window, no backend change).
    """
    from matplotlib.figure import Figure

    if kind not in ("roc", "pr"):
        raise ValueError(f"kind must be 'roc' or 'pr', got {kind!r}")
    sets = list(dict.fromkeys(r["set"] for r in records))
    colors = {label: f"C{k % 10}" for k, label in enumerate(dict.fromkeys(r["label"] for r in records))}
    fig = Figure(figsize=(6 * len(sets), 4.8), layout="tight")
    axes = fig.subplots(1, len(sets), squeeze=False)
    for ax, set_name in zip(axes[0], sets):
        in_set = [r for r in records if r["set"] == set_name]
        for r in in_set:
            curve, op, color = r["curve"], r["operating"], colors[r["label"]]
            sweep = curve is not None and curve.thresholds is None
            label = _legend_label(r, kind)
            if kind == "roc":
                x_op, y_op = max(op.fpr, 1e-6), op.tpr
                if curve is not None:
                    fpr, tpr = curve.roc()
                    shown = fpr > 0  # (0, 0) has no place on a log axis
                    ax.plot(fpr[shown], tpr[shown], color=color, marker="." if sweep else None, label=label)
                    if sweep:
                        _label_points(ax, r, _roc_points(curve, fpr[shown], tpr[shown]), curve.fpr, curve.tpr,
                                      color)
            else:
                x_op, y_op = op.tpr, op.precision
                if curve is not None:
                    ok = np.isfinite(curve.precision)
                    order = np.argsort(curve.tpr[ok])
                    # sweep points are separate settings: markers only, no line between them
                    ax.plot(curve.tpr[ok][order], curve.precision[ok][order], color=color,
                            marker="." if sweep else None, ls="none" if sweep else "-", label=label)
                    if sweep:
                        _label_points(ax, r, _pr_front(curve), curve.tpr, curve.precision, color)
            ax.plot(x_op, y_op, marker="*", ms=11, color=color, ls="none",
                    label=None if curve is not None else label)
        if kind == "roc":
            ax.set_xscale("log")
            ax.set_xlim(1e-6, 1)
            ax.set_xlabel("false-positive rate (pixels)")
            ax.set_ylabel("true-positive rate")
            for target in (1e-4, 1e-3):
                ax.axvline(target, color="0.8", lw=0.8, zorder=0)
        else:
            ax.set_xlabel("recall (TPR)")
            ax.set_ylabel("precision")
            ax.set_xlim(0, 1.01)
        ax.set_ylim(0, 1.01)
        events, n_files = in_set[0]["events_total"], in_set[0]["n_files"]
        ax.set_title(f"{set_name}: {events} cosmic rays in {n_files} file{'s' if n_files != 1 else ''}\n"
                     f"{'ROC' if kind == 'roc' else 'precision-recall'} (★ = operating point)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "lower left")
    return fig


def plot_curves(records: list[dict[str, Any]], path: str | os.PathLike, kind: str = "roc") -> Path:
    """Write `curve_figure` as a PNG to ``path``."""
    path = Path(path)
    curve_figure(records, kind).savefig(path, dpi=110)
    return path


def write_report(results: Iterable[dict[str, Any]], outdir: str | os.PathLike) -> dict[str, Path]:
    """Write ``summary.ecsv``, ``summary.md``, ``roc.png`` and ``pr.png`` into ``outdir``.

    Returns
    -------
    dict
        Output name to path.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    records = aggregate(results)
    if not records:
        raise ValueError("no results to report")
    table = summary_table(records)
    paths = {"ecsv": outdir / "summary.ecsv", "markdown": outdir / "summary.md"}
    table.write(paths["ecsv"], format="ascii.ecsv", overwrite=True)
    lines = ["# crmask bench report", "", markdown_table(records), "", "Detector parameters:", ""]
    seen = set()
    for r in records:
        if r["label"] not in seen:
            seen.add(r["label"])
            lines.append(f"- **{r['label']}** ({r['detector']}): {_params_text(r['params'])}")
    lines += ["", "TPR@FPR and Prec@95% TPR come from the ROC/PR curves (probability thresholds, or a "
              "parameter sweep for detectors without a probability map); the other columns are at the "
              "detector's operating point. Counts are summed over each set's files; IGNORE pixels are "
              f"excluded. CPU cores available: {records[0]['threads_available']}.", ""]
    paths["markdown"].write_text("\n".join(lines))
    paths["roc"] = plot_curves(records, outdir / "roc.png", "roc")
    paths["pr"] = plot_curves(records, outdir / "pr.png", "pr")
    return paths
