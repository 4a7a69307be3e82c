"""`crowdsim-compare`: tidy output, a report that holds the numbers of comparison.parquet, common
seeds, failures that lose nothing, and one-line errors for bad input."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from crowdsim.experiments import compare, report, scorecard
from crowdsim.experiments.stats import mean_ci

TINY = ["--workers", "150", "--days", "2"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """One small comparison (2 scenarios x 3 seeds, 2 processes), shared by the tests below."""
    out = tmp_path_factory.mktemp("cmp")
    code = compare.main(
        [
            "--scenarios",
            "status_quo,payment_guarantee",
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
        "summary_table.csv",
        "report.md",
        "report.html",
        "scenarios.json",
        "failures.json",
        "meta.json",
        *report.PLOTS,
    ):
        assert (comparison / name).stat().st_size > 0, name
    assert json.loads((comparison / "failures.json").read_text()) == []
    for s in ("status_quo", "payment_guarantee"):
        for k in range(3):
            assert (compare.run_dir(comparison, s, k) / "DONE.json").exists()
    assert not list(comparison.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_comparison_is_tidy(comparison):
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    assert list(tidy.columns) == compare.TIDY_COLUMNS
    assert not tidy.duplicated(["scenario", "seed", "country", "metric"]).any()
    assert set(tidy["seed"]) == {0, 1, 2} and set(tidy["scenario"]) == {
        "status_quo",
        "payment_guarantee",
    }
    overall = tidy[tidy["country"] == "all"]
    assert {"wage_median_all_in", "unpaid_time_share", "value_never_paid_share"} <= set(
        overall["metric"]
    )
    assert "wage_median_relative_to_local_min" in set(tidy.loc[tidy["country"] == "IN", "metric"])
    csv = pd.read_csv(comparison / "comparison.csv")
    assert len(csv) == len(tidy)
    # values are those of each run's own summary
    s = json.loads((compare.run_dir(comparison, "status_quo", 1) / "summary.json").read_text())
    v = overall[
        (overall["scenario"] == "status_quo")
        & (overall["seed"] == 1)
        & (overall["metric"] == "wage_mean_all_in")
    ]
    assert v["value"].iloc[0] == pytest.approx(s["wage_mean_all_in"])


def test_report_holds_the_numbers_of_comparison_parquet(comparison):
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    md = (comparison / "report.md").read_text()
    html = (comparison / "report.html").read_text()
    table = pd.read_csv(comparison / "summary_table.csv")
    overall = tidy[tidy["country"] == "all"]
    checked = 0
    for metric, (_label, kind) in report.METRICS.items():
        for scenario in ("status_quo", "payment_guarantee"):
            x = overall[
                (overall["scenario"] == scenario) & (overall["metric"] == metric)
            ].sort_values("seed")
            m, lo, hi, n = mean_ci(x["value"])
            row = table[(table["scenario"] == scenario) & (table["metric"] == metric)].iloc[0]
            assert row["n"] == n
            if math.isfinite(m):
                assert row["mean"] == pytest.approx(m) and row["ci_low"] == pytest.approx(
                    lo, nan_ok=True
                )
            cell = report.fmt_ci(m, lo, hi, kind)
            assert cell in md and cell in html, (metric, scenario, cell)
            # the paired difference from status_quo, seed by seed
            base = overall[
                (overall["scenario"] == "status_quo") & (overall["metric"] == metric)
            ].sort_values("seed")
            dm, dlo, dhi, _ = mean_ci(x["value"].to_numpy() - base["value"].to_numpy())
            if scenario != "status_quo" and math.isfinite(dm):
                assert report.fmt_ci(dm, dlo, dhi, kind, signed=True) in md
            checked += 1
    assert checked >= 30
    # the by-country table and the scorecard are there too
    assert "relative to the local minimum wage" in md and "Fairwork-style scorecard" in md
    for pt in scorecard.POINTS:
        assert pt.rule in md


def test_common_seeds_give_scenarios_the_same_initial_workers(comparison):
    a = pd.read_parquet(compare.run_dir(comparison, "status_quo", 2) / "workers.parquet")
    b = pd.read_parquet(compare.run_dir(comparison, "payment_guarantee", 2) / "workers.parquet")
    c = pd.read_parquet(compare.run_dir(comparison, "status_quo", 1) / "workers.parquet")
    first = a["joined_hour"] == 0
    cols = ["country", "reservation_wage", "skill", "weekly_hours_target"]
    pd.testing.assert_frame_equal(a.loc[first, cols], b.loc[b["joined_hour"] == 0, cols])
    assert not np.allclose(
        a.loc[first, "reservation_wage"], c.loc[c["joined_hour"] == 0, "reservation_wage"]
    )


def test_finished_runs_are_reused(comparison, capsys):
    done = compare.run_dir(comparison, "status_quo", 0) / "DONE.json"
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
    assert "min_pay seed 1: RuntimeError: simulated crash" in (tmp_path / "report.md").read_text()


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
