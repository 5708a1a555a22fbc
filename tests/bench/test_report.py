import numpy as np
import pytest

from crmask.bench.measure import measure
from crmask.bench.report import aggregate, markdown_table, write_report


def result(file, tp, fp, fn, tn, wall, npix, curve=None, found=1, total=2, peak=10.0, significant=None):
    significant_found, significant_total = significant or (None, None)
    return {
        "set": "s", "label": "d", "detector": "d", "params": {"k": 1}, "file": file, "npix": npix,
        "wall_s": wall, "cpu_s": wall, "peak_mb": peak, "threads_available": 2,
        "operating": {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "events_found": found, "events_total": total,
                      "significant_found": significant_found, "significant_total": significant_total,
                      "star_fp": 1, "star_pixels": 10},
        "curve": curve,
    }


def test_counts_are_summed_before_ratios():
    results = [result("a", 9, 1, 1, 89, 1.0, 100, peak=5.0), result("b", 1, 0, 29, 70, 3.0, 100)]
    (r,) = aggregate(results)
    assert r["tpr"] == pytest.approx(10 / 40)  # pooled pixels, not the mean of 0.9 and 1/30
    assert np.isnan(r["precision_95"])  # no curve
    assert r["f1"] == pytest.approx(2 * 10 / (2 * 10 + 1 + 30))
    assert r["event_completeness"] == pytest.approx(0.5) and r["star_fp"] == 2
    assert r["s_per_mpix"] == pytest.approx(4.0 / 200e-6) and r["peak_mb"] == 10.0
    assert "| s | d |" in markdown_table([r]) and "–" in markdown_table([r])


def test_star_pixels_of_all_are_summed_only_where_every_file_has_them():
    first, second = result("a", 9, 1, 1, 89, 1.0, 100), result("b", 9, 1, 1, 89, 1.0, 100)
    first["operating"]["star_fp_all"], second["operating"]["star_fp_all"] = 3, 4
    (r,) = aggregate([first, second])
    assert r["star_fp"] == 2 and r["star_fp_all"] == 7
    del second["operating"]["star_fp_all"]  # a result file written before the column
    (r,) = aggregate([first, second])
    header, _, row = (line.split("|")[1:-1] for line in markdown_table([r]).splitlines())
    assert np.isnan(r["star_fp_all"]) and row[[h.strip() for h in header].index("Star FP px (all)")].strip() == "–"


def test_significant_events_are_summed_only_where_every_file_has_them():
    (r,) = aggregate([result("a", 9, 1, 1, 89, 1.0, 100, found=1, total=4, significant=(1, 1)),
                      result("b", 9, 1, 1, 89, 1.0, 100, found=2, total=4, significant=(2, 3))])
    assert r["event_completeness"] == pytest.approx(3 / 8)
    assert r["significant_event_completeness"] == pytest.approx(3 / 4)
    (r,) = aggregate([result("a", 9, 1, 1, 89, 1.0, 100, significant=(1, 1)), result("b", 9, 1, 1, 89, 1.0, 100)])
    assert np.isnan(r["significant_event_completeness"]) and r["significant_events_total"] is None


def test_threshold_curves_add_up():
    thresholds = [0.0, 0.5]
    a = {"kind": "threshold", "thresholds": thresholds, "positives": [0, 2, 8], "negatives": [90, 0, 0]}
    b = {"kind": "threshold", "thresholds": thresholds, "positives": [0, 0, 10], "negatives": [80, 9, 1]}
    (r,) = aggregate([result("a", 8, 0, 2, 90, 1, 100, a), result("b", 10, 1, 0, 89, 1, 100, b)])
    np.testing.assert_array_equal(r["curve"].tp, [20, 18])
    np.testing.assert_array_equal(r["curve"].fp, [10, 1])
    assert r["curve"].positives == 20 and r["curve"].negatives == 180


def test_measure_sees_a_large_allocation():
    with measure() as m:
        block = np.ones(16 * 2**20 // 8 * 4)  # 64 MiB, touched
        block += 1
    del block
    assert m.peak_mb > 48 and m.wall_s > 0 and m.cores_used >= 0


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_curve_figure_gives_auc_ap_event_counts_and_labels_the_sweep_points():
    from crmask.bench.report import curve_figure

    # 100 positives, 10000 negatives in each of two files; LACosmic-like sweep of sigclip x objlim.
    sweep = [({"sigclip": 4.5, "objlim": 5.0}, 25, 0), ({"sigclip": 3.0, "objlim": 5.0}, 40, 5),
             ({"sigclip": 2.0, "objlim": 5.0}, 48, 50)]
    points = [{"params": params, "tp": tp, "fp": fp, "fn": 50 - tp, "tn": 5000 - fp} for params, tp, fp in sweep]
    swept = [result(f, 25, 0, 25, 5000, 1, 5050, {"kind": "sweep", "points": points}, found=3, total=4)
             for f in "ab"]
    # A probability map scoring every positive and 40 of 10000 negatives above 0.5: ROC (0,0), (.004,1), (1,1).
    thresholds = [0.5]
    prob = {"kind": "threshold", "thresholds": thresholds, "positives": [0, 50], "negatives": [4980, 20]}
    mapped = [dict(result(f, 50, 20, 0, 4980, 1, 5050, prob, found=4, total=4), label="net") for f in "ab"]
    records = aggregate(swept + mapped)
    roc, pr = (curve_figure(records, kind).axes[0] for kind in ("roc", "pr"))
    legend_roc = [t.get_text() for t in roc.get_legend().get_texts()]
    legend_pr = [t.get_text() for t in pr.get_legend().get_texts()]
    # sweep ROC through (0,0), (0,.5), (.001,.8), (.01,.96), (1,1)
    area = 0.001 * (0.5 + 0.8) / 2 + 0.009 * (0.8 + 0.96) / 2 + 0.99 * (0.96 + 1.0) / 2
    assert legend_roc == [f"d (AUC {area:.3f}; points: sigclip)", "net (AUC 0.998)"]
    ap = 0.16 * 96 / 196 + 0.3 * 80 / 90 + 0.5 * 1.0
    assert legend_pr == [f"d (AP {ap:.3f}; points: sigclip)", f"net (AP {100 / 140:.3f})"]
    # Each drawn sweep point is labelled with its sigclip (objlim is the same for all); FPR 0 is off the log axis.
    assert sorted(_texts(roc)) == ["2", "3"] and sorted(_texts(pr)) == ["2", "3", "4.5"]
    for ax in (roc, pr):
        assert ax.get_title().startswith("s: 8 cosmic rays in 2 files")


def test_curve_figure_rejects_an_unknown_kind():
    from crmask.bench.report import curve_figure

    with pytest.raises(ValueError, match="'roc' or 'pr'"):
        curve_figure(aggregate([result("a", 1, 0, 1, 9, 1.0, 11)]), "det")


def test_summary_ecsv_columns_carry_their_units(tmp_path):
    import astropy.units as u
    from astropy.table import Table

    write_report([result("a", 9, 1, 1, 89, 2.0, 4_000_000, peak=5.0)], tmp_path)
    table = Table.read(tmp_path / "summary.ecsv")
    assert table["s_per_mpix"].unit == u.s / (1e6 * u.pix)
    assert (table["s_per_mpix"].quantity[0]).to(u.s / u.pix).value == pytest.approx(2.0 / 4_000_000)
    assert table["peak_mb"].unit == u.MiB and table["star_fp"].unit == u.pix and table["star_pixels"].unit == u.pix
    assert table["tpr_1e-4"].unit is None  # a rate
