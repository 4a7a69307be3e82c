"""`crowdsim-compare`: tidy output, a report that holds the numbers of comparison.parquet, common
seeds, failures that lose nothing, and one-line errors for bad input."""

import json
import math
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from crowdsim.metrics import catalogue, stats
from crowdsim.report import build, layout, scorecard
from crowdsim.report import tables as report
from crowdsim.studies import compare

TINY = ["--workers", "150", "--days", "2", "--warmup-days", "1"]
SCENARIOS = ["status_quo", "payment_guarantee", "min_pay"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """One small comparison (3 scenarios x 3 seeds, 2 processes), shared by the tests below."""
    out = tmp_path_factory.mktemp("cmp")
    code = compare.main(
        [
            "--scenarios",
            ",".join(SCENARIOS),
            "--seeds",
            "3",
            "--jobs",
            "2",
            *TINY,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_outputs_are_written(comparison):
    for name in (
        "comparison.parquet",
        "comparison.csv",
        "comparison_summary.parquet",
        "comparison_summary.csv",
        "comparison_by_country.parquet",
        "report.md",
        "report.html",
        "scenarios.json",
        "failures.json",
        "meta.json",
        *report.PLOTS,
    ):
        assert (comparison / name).stat().st_size > 0, name
    assert json.loads((comparison / "failures.json").read_text()) == []
    for s in SCENARIOS:
        for k in range(3):
            assert (layout.run_dir(comparison, s, k) / "DONE.json").exists()
    assert not list(comparison.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_comparison_is_tidy(comparison):
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    assert list(tidy.columns) == compare.TIDY_COLUMNS
    assert not tidy.duplicated(["scenario", "seed", "country", "metric"]).any()
    assert set(tidy["seed"]) == {0, 1, 2} and set(tidy["scenario"]) == set(SCENARIOS)
    overall = tidy[tidy["country"] == "all"]
    assert {"wage_median_all_in", "unpaid_time_share", "value_never_paid_share"} <= set(
        overall["metric"]
    )
    assert "wage_median_relative_to_local_min" in set(tidy.loc[tidy["country"] == "IN", "metric"])
    csv = pd.read_csv(comparison / "comparison.csv")
    assert len(csv) == len(tidy)
    # values are those of each run's own summary, and money per worker-month is derived from them
    s = json.loads((layout.run_dir(comparison, "status_quo", 1) / "summary.json").read_text())
    one = overall[(overall["scenario"] == "status_quo") & (overall["seed"] == 1)].set_index(
        "metric"
    )["value"]
    assert one["wage_mean_all_in"] == pytest.approx(s["wage_mean_all_in"])
    months = s["present_workers_mean"] * s["days"] / catalogue.DAYS_PER_MONTH
    assert one["platform_revenue_per_worker_month_usd"] == pytest.approx(
        s["platform_revenue_usd"] / months
    )
    assert one["worker_pay_per_1000_tasks_usd"] == pytest.approx(
        1000 * one["worker_earnings_accrued_usd"] / s["tasks_submitted"]
    )


def test_summary_table_holds_the_intervals_and_paired_differences_of_stats(comparison):
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    for col in ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high"):
        assert col in table.columns
    assert not table.duplicated(["scenario", "metric"]).any()
    overall = tidy[tidy["country"] == "all"]
    wide = overall.pivot_table(
        index=["metric", "seed"], columns="scenario", values="value", dropna=False
    )
    checked = 0
    for _, row in table.iterrows():
        x = wide.loc[row["metric"]]
        meta = catalogue.metric(row["metric"])
        m, lo, hi, n = stats.interval(x[row["scenario"]], catalogue.bounds_of(row["metric"]))
        assert row["n"] == n
        assert row["mean"] == pytest.approx(m, nan_ok=True)
        assert row["ci_low"] == pytest.approx(lo, nan_ok=True)
        low, high = meta.bounds
        if math.isfinite(row["ci_low"]):  # intervals respect what the quantity can be
            assert low <= row["ci_low"] <= row["mean"] <= row["ci_high"] <= high, row.to_dict()
        if row["scenario"] != "status_quo":
            d = stats.paired(x[row["scenario"]], x["status_quo"], bounds=meta.bounds)
            assert row["diff"] == pytest.approx(d["diff"], nan_ok=True)
            assert row["diff_ci_high"] == pytest.approx(d["diff_ci_high"], nan_ok=True)
            assert row["detectable"] == (d["diff_ci_low"] > 0 or d["diff_ci_high"] < 0)
            checked += 1
    assert checked >= 60


def test_compare_and_aggregate_give_the_same_interval_for_the_same_runs(comparison):
    """The comparison's runs are a sweep folder (runs/): crowdsim-aggregate over it gives, for every
    scenario and metric both tables hold, the comparison's mean and interval."""
    from crowdsim.sweeps import aggregate

    assert aggregate.main([str(comparison / "runs")]) == 0
    swept = pd.read_parquet(comparison / "runs" / "sweep_summary.parquet")
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    both = table.merge(swept, on=["scenario", "metric"], suffixes=("", "_sweep"))
    both = both[both["n"] >= 2]
    assert set(catalogue.HEADLINE[:3]) <= set(both["metric"]) and len(both) >= 60
    assert (both["n"] == both["n_sweep"]).all()
    for col in ("mean", "ci_low", "ci_high"):
        assert np.allclose(
            both[col], both[f"{col}_sweep"], rtol=1e-9, atol=1e-12, equal_nan=True
        ), col
    # and the same by country (sweep columns by_country/<code>/<metric>)
    ctry = pd.read_parquet(comparison / "comparison_by_country.parquet")
    ctry["metric"] = "by_country/" + ctry["country"] + "/" + ctry["metric"]
    both = ctry.merge(swept, on=["scenario", "metric"], suffixes=("", "_sweep"))
    assert len(both) >= 20
    for col in ("mean", "ci_low", "ci_high"):
        assert np.allclose(both[col], both[f"{col}_sweep"], rtol=1e-9, equal_nan=True), col


def test_report_says_what_the_seeds_can_detect(comparison):
    """Per rule: the smallest detectable change in the median all-in wage at the seeds run (t
    quantiles, 80% power, from the spread of the per-seed differences) and the seeds needed for
    a change of 10% of the baseline's wage."""
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    wage = table[table["metric"] == "wage_median_all_in"].set_index("scenario")
    md = (comparison / "report.md").read_text()
    section = md.split("## What the seeds can detect", 1)[1].split("\n## ", 1)[0]
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    per_seed = tidy[(tidy["metric"] == "wage_median_all_in") & (tidy["country"] == "all")]
    per_seed = per_seed.pivot(index="seed", columns="scenario", values="value")
    checked = 0
    for s in SCENARIOS[1:]:
        d = (per_seed[s] - per_seed["status_quo"]).dropna()
        if len(d) < 2:  # a tiny market under a floor can have no measured worker on a seed
            continue
        checked += 1
        r = wage.loc[s]
        assert r["diff_sd"] == pytest.approx(d.std(ddof=1))
        mdc = stats.min_detectable_change(d.std(ddof=1), len(d))
        assert r["mdc"] == pytest.approx(mdc)
        # (t(0.975, n-1) + t(0.8, n-1)) sd / sqrt(n): 3 seeds detect only changes > 3 sd
        assert mdc == pytest.approx(
            (sps.t.ppf(0.975, len(d) - 1) + sps.t.ppf(0.8, len(d) - 1))
            * d.std(ddof=1)
            / len(d) ** 0.5
        )
        line = next(
            x for x in section.splitlines() if x.startswith(f"| {report.scenario_title(s)} |")
        )
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == str(len(d)) and cells[3] == catalogue.fmt(mdc, "usd_h")
        need = stats.seeds_needed(0.1 * wage.loc["status_quo", "mean"], d.std(ddof=1))
        assert cells[5] in (f"{need:,}" if need else "> 10,000", "n/a")
    assert checked >= 1


def test_report_shows_the_numbers_of_the_summary_table(comparison):
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    md = (comparison / "report.md").read_text()
    html = (comparison / "report.html").read_text()
    # the page's text: a cell shows its value and interval on two lines (two elements)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
    for scenario in SCENARIOS:
        for metric in (*catalogue.HEADLINE, *catalogue.DRIVERS):
            cell = report.value_cell(table, scenario, metric)
            assert cell in md and cell in text, (scenario, metric, cell)
            if scenario != "status_quo" and metric in catalogue.HEADLINE:
                assert report.diff_cell(table, scenario, metric) in md
    # readable names, not keys, in every heading
    headings = [line for line in md.splitlines() if line.startswith("#")]
    for key in (*catalogue.CATALOGUE, *SCENARIOS):
        assert not any(key in h for h in headings), key
    assert "Fairwork-style scorecard" in md
    for pt in scorecard.POINTS:
        assert pt.rule in md
    # Fairwork's scale: its five principles by name, 2 points each, a score out of 10
    card = md.split("## Fairwork-style scorecard", 1)[1].split("\n## ", 1)[0]
    assert all(f"| {p} (0-2) |" in card or f"| {p} (0-2)" in card for p in scorecard.PRINCIPLES)
    assert scorecard.MAX_SCORE == 10 and card.count(" / 10 |") == len(SCENARIOS)


def test_executive_summary_says_only_what_the_intervals_support(comparison):
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    info = json.loads((comparison / "scenarios.json").read_text())
    md = (comparison / "report.md").read_text()
    summary = md[md.index("## Executive summary") : md.index("## Headline numbers")]
    items = report.executive_summary(table, info, "status_quo", SCENARIOS)
    assert [i["scenario"] for i in items] == SCENARIOS[1:]
    for item in items:
        rows = table[
            (table["scenario"] == item["scenario"]) & table["metric"].isin(catalogue.HEADLINE)
        ]
        detectable = set(rows.loc[rows["detectable"], "metric"])
        assert set(item["changed_metrics"]) == detectable
        assert len(item["changes"]) + len(item["no_change"]) == len(rows)
        assert item["title"] in summary
    # what the summary says of each rule, at the detail that fits its 300 words
    short_file = comparison / "comparison_short_run_summary.parquet"
    short = pd.read_parquet(short_file) if short_file.exists() else None
    lead, lines = report.executive_summary_text(table, items, SCENARIOS, short)
    assert lead in summary
    for line in lines:
        assert line["text"] in summary
    # a rule that is changed is said in words
    pg = next(i for i in items if i["scenario"] == "payment_guarantee")
    assert any("escrow" in r for r in pg["rules"])


def test_report_html_is_one_self_contained_page_with_provenance(comparison):
    import re

    import crowdsim

    html = (comparison / "report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == len([p for p in report.PLOTS if (comparison / p).exists()])
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(href|src)="(https?:|//)', html)
    assert "@media print" in html
    foot = html[html.index("<footer>") :]
    meta = json.loads((comparison / "meta.json").read_text())
    assert f"crowdsim {crowdsim.__version__}" in foot
    assert (meta["git_revision"] or "unknown") in foot
    assert "crowdsim-compare --scenarios" in foot and "seeds: 0, 1, 2" in foot


def test_short_run_applies_the_rule_to_the_status_quo_market_after_its_warm_up(comparison):
    """The short run of a scenario is the status quo's run until the warm-up ends (same seed, same
    hours), then its rules; its summary covers the measured days after the reform only."""
    short = pd.read_parquet(comparison / "comparison_short_run.parquet")
    assert set(short["scenario"]) == set(SCENARIOS)
    long = pd.read_parquet(comparison / "comparison.parquet")
    key = ["seed", "country", "metric"]
    pick = lambda df: df[df["scenario"] == "status_quo"].sort_values(key)[[*key, "value"]]  # noqa: E731
    pd.testing.assert_frame_equal(  # the baseline's short run is its long run (same config)
        pick(short).reset_index(drop=True), pick(long).reset_index(drop=True)
    )
    for s in SCENARIOS[1:]:
        for k in range(3):
            d = layout.short_run_dir(comparison, s, k)
            summary = json.loads((d / "summary.json").read_text())
            assert summary["reform"] == f"to_{s}"
            assert summary["reform_day"] == summary["warmup_days"] == 1
            assert summary["measured_days"] == 2
            assert summary["before_reform"] is None  # the reform opens the measured window
            base = pd.read_parquet(
                layout.run_dir(comparison, "status_quo", k) / "timeseries.parquet"
            )
            mine = pd.read_parquet(d / "timeseries.parquet")
            pd.testing.assert_frame_equal(
                mine.iloc[:24], base.iloc[:24]
            )  # same market until the reform
    stats = pd.read_csv(comparison / "comparison_short_run_summary.csv")
    assert set(stats["scenario"]) == set(SCENARIOS)
    html = (comparison / "report.html").read_text()
    assert "Short run and long run" in html
    md = (comparison / "report.md").read_text()
    section = md.split("## Short run and long run", 1)[1].split("\n## ", 1)[0]
    assert section.count("| short run |") == len(SCENARIOS) - 1


def test_common_seeds_give_scenarios_the_same_initial_workers(comparison):
    a = pd.read_parquet(layout.run_dir(comparison, "status_quo", 2) / "workers.parquet")
    b = pd.read_parquet(layout.run_dir(comparison, "payment_guarantee", 2) / "workers.parquet")
    c = pd.read_parquet(layout.run_dir(comparison, "status_quo", 1) / "workers.parquet")
    first = a["joined_hour"] == 0
    cols = ["country", "reservation_wage", "skill", "weekly_hours_target"]
    pd.testing.assert_frame_equal(a.loc[first, cols], b.loc[b["joined_hour"] == 0, cols])
    assert not np.allclose(
        a.loc[first, "reservation_wage"], c.loc[c["joined_hour"] == 0, "reservation_wage"]
    )


def test_finished_runs_are_reused(comparison, capsys):
    done = layout.run_dir(comparison, "status_quo", 0) / "DONE.json"
    before = done.stat().st_mtime_ns
    code = compare.main(
        ["--scenarios", "status_quo", "--seeds", "1", *TINY, "--out", str(comparison), "--no-plots"]
    )
    assert code == 0 and done.stat().st_mtime_ns == before
    assert "report:" in capsys.readouterr().out


def test_a_failed_run_loses_nothing(tmp_path, monkeypatch):
    import importlib

    run_module = importlib.import_module(
        "crowdsim.run"
    )  # the module (the package attribute is the function)
    real_run = run_module.run

    def flaky(cfg=None, **kw):
        if cfg.scenario_name == "min_pay" and cfg.seed == 1:
            raise RuntimeError("simulated crash")
        return real_run(cfg, **kw)

    monkeypatch.setattr(run_module, "run", flaky)
    code = compare.main(
        [
            "--scenarios",
            "status_quo,min_pay",
            "--seeds",
            "2",
            "--jobs",
            "1",
            *TINY,
            "--out",
            str(tmp_path),
            "--no-plots",
        ]
    )
    assert code == 1
    failures = json.loads((tmp_path / "failures.json").read_text())
    assert [(f["scenario"], f["seed"]) for f in failures] == [("min_pay", 1)]
    assert "simulated crash" in failures[0]["error"]
    tidy = pd.read_parquet(tmp_path / "comparison.parquet")
    assert set(map(tuple, tidy[["scenario", "seed"]].drop_duplicates().to_numpy())) == {
        ("status_quo", 0),
        ("status_quo", 1),
        ("min_pay", 0),
    }
    assert "(min_pay) seed 1: RuntimeError: simulated crash" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--seeds", "0"], ["--seeds", "'0'", "an integer >= 1"]),
        (["--workers", "many"], ["--workers", "'many'"]),
        (["--scenarios", "status_quo,utopia"], ["--scenarios", "'utopia'", "min_pay", "fairwork"]),
        (["--baseline", "fairwork", "--scenarios", "status_quo"], ["--baseline", "'fairwork'"]),
        (["--set", "platform.commission=2"], ["platform.commission", "2"]),
        (["--set", "platform.comission=0.1"], ["platform.commission"]),
        (["--bogus"], ["--bogus"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, fragments):
    with pytest.raises(SystemExit) as exc:
        compare.main([*argv, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("crowdsim-compare: error:"), err
    for f in fragments:
        assert f in err[0], (f, err[0])
    assert not (tmp_path / "x").exists()


def test_scenario_sets_resolve():
    assert compare.resolve_scenarios("main") == list(compare.MAIN_SCENARIOS)
    assert compare.resolve_scenarios("status_quo,main")[0] == "status_quo"
    assert set(compare.SEED_PLATFORMS) <= set(compare.resolve_scenarios("all"))


def test_scorecard_rules():
    sq = {
        "payment_guarantee": "auto_approval",
        "auto_approval_days": 30,
        "reason_required": False,
        "appeals": False,
        "restricted_share": 0.0,
    }
    good = {
        "value_never_paid_share_max": 0.0,
        "share_above_local_min_wage": 0.9,
        "unpaid_time_share": 0.2,
        "unjustified_rejection_rate": 0.001,
    }
    pts = scorecard.score(sq, good)
    assert (
        pts["1.1"] is False and pts["1.2"] is False
    )  # no guarantee-with-process, and 1.2 needs 1.1
    assert pts["4.1"] is False and pts["4.2"] is False and pts["2.1"] is None
    fair = sq | {
        "payment_guarantee": "escrow",
        "escrow_auto_approval_days": 3,
        "reason_required": True,
        "appeals": True,
    }
    pts = scorecard.score(fair, good)
    assert pts["1.1"] and pts["1.2"] and pts["2.2"] and pts["4.1"] and pts["4.2"]
    assert scorecard.total(pts) == (5, 5)
    assert scorecard.score(fair, good | {"value_never_paid_share_max": 0.01})["1.1"] is False
    assert scorecard.score(fair | {"restricted_share": 0.5}, good)["4.2"] is False
    assert scorecard.score(fair, good | {"share_above_local_min_wage": 0.5})["1.2"] is False


def test_intervals_of_bounded_quantities_stay_in_range():
    rng = np.random.default_rng(3)
    for n in (2, 3, 5, 10):
        x = rng.uniform(0, 1, n) ** 4  # skewed shares near zero: a t-interval would go negative
        m, lo, hi, k = stats.interval(x, (0.0, 1.0))
        assert k == n and 0.0 <= lo <= m <= hi <= 1.0
        assert lo <= stats.mean_ci(x)[1] or lo == 0.0  # never narrower than Student's t
    assert math.isnan(stats.interval([0.3], (0.0, 1.0))[1])


def test_paired_differences_keep_common_seeds_only():
    a = [1.0, 2.0, float("nan"), 4.0]
    b = [0.5, 1.0, 3.0, float("nan")]
    d = stats.paired(a, b)
    assert d["n"] == 2 and d["diff"] == pytest.approx(0.75)
    assert d["rel_diff"] == pytest.approx(3.0 / 1.5 - 1)
    # two pairs, differences 0.5 and 1.0: the t-interval with 1 degree of freedom
    assert d["diff_ci_low"] == pytest.approx(0.75 - 12.7062 * 0.25, rel=1e-4)
    assert d["diff_ci_low"] < 0 < 0.75 < d["diff_ci_high"]


def test_rule_changes_in_words_and_stated_platform_size():
    base = {"commission": 0.2, "min_pay_mode": "none", "min_pay_usd_per_hour": 8.0}
    words = catalogue.rule_changes(base | {"commission": 0.1}, base)
    assert words == ["commission on the reward 20% → 10%"]
    assert catalogue.rule_changes(base, base) == []
    assert compare.stated_workers("foule_factory") == 50000
    assert compare.stated_workers("status_quo") is None
    d = catalogue.derived_metrics(
        {
            "worker_earnings_accrued_usd": 1000.0,
            "platform_revenue_usd": 200.0,
            "present_workers_mean": 100.0,
            "days": catalogue.DAYS_PER_MONTH,
            "tasks_submitted": 4000,
            "n_workers": 100,
        },
        stated_workers=50000,
    )
    assert d["worker_pay_per_worker_month_usd"] == pytest.approx(10.0)
    assert d["platform_revenue_per_1000_tasks_usd"] == pytest.approx(50.0)
    assert d["platform_revenue_at_platform_size_usd"] == pytest.approx(200.0 * 500)


def test_every_reported_metric_is_in_the_catalogue():
    for key in (*catalogue.HEADLINE, *catalogue.DRIVERS, *report.SCALED, report.COUNTRY_METRIC):
        m = catalogue.CATALOGUE[key]
        assert m.label and m.definition and m.source and m.key == key


def _stats_row(scenario, metric, mean, diff, low, high):
    base = mean - diff
    return {
        "scenario": scenario, "metric": metric, "mean": mean, "diff": diff,
        "diff_ci_low": low, "diff_ci_high": high, "rel_diff": diff / base,
        "rel_diff_ci_low": low / base, "rel_diff_ci_high": high / base,
        "detectable": low > 0 or high < 0,
    }  # fmt: skip


def test_a_fall_in_volume_is_ranked_with_rises_of_the_same_factor():
    """Underneath a floor: tasks submitted fell to under a third (−71%) while pay per task and
    per paid hour rose less than threefold; the fall is the largest change and is named first."""
    rows = [
        _stats_row("min_pay", "tasks_submitted", 55_000, -132_000, -180_000, -90_000),
        _stats_row("min_pay", "worker_pay_per_1000_tasks_usd", 466.0, 304.0, 100.0, 1500.0),
        _stats_row("min_pay", "wage_median_paid_only", 13.3, 8.36, 4.6, 13.0),
        _stats_row("min_pay", "requester_cost_per_approved_task_usd", 0.26, 0.16, 0.05, 1.8),
        _stats_row("min_pay", "wage_median_all_in", 7.3, 3.77, 2.26, 5.06),
    ]
    (item,) = report.executive_summary(
        pd.DataFrame(rows), {}, "status_quo", ["status_quo", "min_pay"]
    )
    assert item["drivers"][0].startswith("tasks submitted −71%")
    assert len(item["drivers"]) == 3


def test_names_keep_their_capitals_inside_a_sentence():
    assert report.lower_first("Status quo (MTurk-like)") == "status quo (MTurk-like)"
    assert report.lower_first("EU Platform Work Directive (stylised)").startswith("EU ")
    assert report.lower_first("Inequality of earnings (Gini)") == "inequality of earnings (Gini)"


@pytest.mark.parametrize(
    "plot", ["unpaid_breakdown", "rejection_and_delay", "revenue_vs_pay", "differences"]
)
def test_report_plot_legends_sit_under_the_x_labels(comparison, monkeypatch, tmp_path, plot):
    """The rejection plot's legend, placed a fraction of the axes' height under them, ran into
    its x label."""
    from conftest import legend_clear_of_the_plot

    from crowdsim.viz import plots

    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig) or path)
    stats = pd.read_parquet(comparison / "comparison_summary.parquet")
    titles = {s: report.scenario_title(s) for s in SCENARIOS}
    if plot == "differences":  # the forest chart: its legend under the panels
        plots.differences(stats, SCENARIOS, titles, catalogue.HEADLINE, tmp_path / "p.png", "t")
    else:
        getattr(plots, plot)(stats, SCENARIOS, titles, tmp_path / "p.png", "title")
    legend_clear_of_the_plot(drawn[0])


def test_incidence_section_appears_with_a_welfare_ledger_and_not_without(comparison, tmp_path):
    """Summaries with a ``welfare`` object (sides of the market, by country, by productivity
    quintile) give the report a "Who gains and who loses" section whose cells are the paired
    differences of the summary table; without one the section is absent."""
    import shutil

    # the runs' own summaries carry the ledger: the section is there
    assert "## Who gains and who loses" in (comparison / "report.md").read_text()
    out = tmp_path / "cmp"
    shutil.copytree(comparison, out, ignore=shutil.ignore_patterns("runs*", "*.png"))
    # the module's runs as they are on disk (other tests rewrite the folder's tables), without
    # their ledger: no section
    tidy = compare.read_runs(comparison, layout.run_dir, SCENARIOS, [0, 1, 2], [])
    tidy = tidy[~tidy["metric"].str.startswith(report.WELFARE)]
    tidy.to_parquet(out / "comparison.parquet")
    (out / layout.SHORT_FILE).unlink(missing_ok=True)
    build.build_report(out, plots=False)
    assert "Who gains and who loses" not in (out / "report.md").read_text()
    meta = json.loads((out / "meta.json").read_text()) | {"scenarios": SCENARIOS}
    (out / "meta.json").write_text(json.dumps(meta))
    (out / layout.SHORT_FILE).unlink(missing_ok=True)
    rows = []
    for (s, k), g in tidy[tidy["country"] == "all"].groupby(["scenario", "seed"]):
        v = g.set_index("metric")["value"]
        pay, rev = v["worker_earnings_usd"], v["platform_revenue_usd"]
        side = {
            "worker_surplus_usd": pay - 100.0,
            "requester_surplus_usd": 3.0 * rev,
            "platform_revenue_usd": rev,
            "total_surplus_usd": pay - 100.0 + 4.0 * rev,
            "workers": 150,
        }
        welfare = side | {
            "demand_lost_value_usd": 10.0 + k,
            "by_country": {"IN": side, "US": side},
            "by_productivity_quintile": {f"q{q}": side for q in range(1, 6)},
        }
        rows += compare.tidy_summary(s, int(k), {"welfare": welfare})
    assert {
        "welfare/worker_surplus_usd",
        "welfare/by_productivity_quintile/q3/worker_surplus_usd",
    } <= {r["metric"] for r in rows}
    assert {r["country"] for r in rows} == {"all", "IN", "US"}
    pd.concat([tidy, pd.DataFrame(rows)], ignore_index=True).to_parquet(out / "comparison.parquet")
    build.build_report(out, plots=False)
    md = (out / "report.md").read_text()
    section = md.split("## Who gains and who loses", 1)[1].split("\n## ", 1)[0]
    table = pd.read_parquet(out / "comparison_summary.parquet")
    for s in SCENARIOS[1:]:
        for key in ("worker_surplus_usd", "requester_surplus_usd", "demand_lost_value_usd"):
            r = table[(table["scenario"] == s) & (table["metric"] == f"welfare/{key}")].iloc[0]
            cell = report.fmt_ci(r["diff"], r["diff_ci_low"], r["diff_ci_high"], "usd", True)
            assert cell in section, (s, key, cell)
    assert "Change in workers' surplus by productivity quintile" in section
    assert "| q1 (USD) | q2 (USD)" in section
    assert "Change in workers' surplus by country" in section and "India (IN)" in section


def test_terminal_gets_progress_and_the_log_gets_each_run(comparison, capfd):
    """A comparison prints its own lines and a progress count, not a line per job or Hydra's job
    list; those go to compare.log in the output folder, short runs named by their reform."""
    argv = ["--scenarios", ",".join(SCENARIOS), "--seeds", "3", "--jobs", "2", *TINY]
    assert compare.main([*argv, "--out", str(comparison), "--no-plots"]) == 0
    out, err = capfd.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert all(
        line.startswith(("crowdsim-compare", "[crowdsim-compare]", "report:", "        "))
        for line in lines
    ), lines
    assert len(lines) <= 12 and "[crowdsim-compare] 15/15 runs done" in err
    log = (comparison / "compare.log").read_text()
    assert "Launching jobs" in log and "complete already" in log
    for s in SCENARIOS[1:]:
        for k in range(3):
            assert f"to_{s} seed={k} (status_quo until day 1)" in log
