"""Warm-up and the convergence diagnostic (crowdsim/metrics/windows.py): warm-up hours are
simulated but not counted, the summary covers the measured window only, and the drift test flags
a run that is still trending."""

from __future__ import annotations

import numpy as np
import pytest

from crowdsim import ConfigError, run
from crowdsim.config import to_config
from crowdsim.metrics.windows import DRIFT_METRICS, drift

SMALL = dict(population__n_workers=300, seed=3)


@pytest.fixture(scope="module")
def warm():
    return run(sim__days=6, sim__warmup_days=2, **SMALL)


def test_summary_after_warmup_is_the_timeseries_window(warm):
    s, ts = warm.summary, warm.timeseries
    window = ts[ts["hour"] >= 2 * 24]
    assert s["measured_days"] == 4 and s["warmup_days"] == 2
    assert s["tasks_posted"] == window["tasks_posted"].sum() < ts["tasks_posted"].sum()
    assert s["tasks_approved"] == window["tasks_approved"].sum()
    assert s["batches_posted"] == window["batches_posted"].sum()
    assert s["batches_split"] == window["batches_split"].sum()
    assert s["requester_exits"] == window["requester_exits"].sum()
    assert s["worker_entries"] == window["worker_entries"].sum()
    assert s["platform_revenue_usd"] == pytest.approx(window["platform_fees_usd"].sum(), abs=1e-6)
    assert s["worker_earnings_usd"] == pytest.approx(window["worker_paid_usd"].sum(), abs=1e-6)
    assert s["active_workers_mean"] == pytest.approx(window["active_workers"].mean())
    assert s["present_workers_mean"] == pytest.approx(window["present_workers"].mean())
    # the workers' frame is the measured window's too: its wages give the summary's
    wf = warm.workers
    resolved = wf[["hours_paid", "hours_search", "hours_returned", "hours_rejected",
                   "hours_never_paid"]].sum(axis=1)  # fmt: skip
    assert s["wage_median_all_in"] == pytest.approx(wf["wage_all_in"][resolved >= 1.0].median())


def test_warmup_changes_what_is_counted_not_what_is_simulated(warm):
    cold = run(sim__days=6, **SMALL)
    assert cold.timeseries.equals(warm.timeseries)  # the same hours, simulated the same way
    assert cold.summary["tasks_posted"] > warm.summary["tasks_posted"]
    # workers.parquet holds the measured window: the whole run less the warm-up
    for col in ("hours_paid", "hours_search", "earnings_accrued_usd"):
        assert warm.workers[col].sum() < cold.workers[col].sum()
    assert warm.summary["wage_median_all_in"] != cold.summary["wage_median_all_in"]


def test_warmup_must_leave_a_measured_window():
    with pytest.raises(ConfigError, match="sim.warmup_days"):
        to_config(sim__days=5, sim__warmup_days=5)


def _windows(values):
    return [dict(zip(DRIFT_METRICS, v, strict=True)) for v in values]


def test_drift_flags_a_trend_and_passes_noise():
    rng = np.random.default_rng(0)
    n = 8
    flat = _windows(
        [
            (3 + 0.05 * rng.standard_normal(), 0.4, 100 + rng.standard_normal(), 5000)
            for _ in range(n)
        ]
    )
    out = drift(flat, tolerance=0.05)
    assert out["steady_state"] is True and out["windows"] == n
    assert not any(m["drifts"] for m in out["metrics"].values())
    # active workers falling by 30% across the window: drifting
    trend = _windows([(3.0, 0.4, 100 - 4.0 * k + rng.standard_normal(), 5000) for k in range(n)])
    out = drift(trend, tolerance=0.05)
    assert out["steady_state"] is False
    assert out["metrics"]["active_workers_mean"]["drifts"]
    assert out["metrics"]["active_workers_mean"]["relative_change"] < -0.2
    assert not out["metrics"]["wage_median_all_in"]["drifts"]
    # a small trend, significant or not, is within the tolerance
    small = _windows([(3.0 * (1 + 0.001 * k), 0.4, 100, 5000) for k in range(n)])
    assert drift(small, tolerance=0.05)["steady_state"] is True
    assert drift(flat[:3], tolerance=0.05)["steady_state"] is None  # too few windows to tell


def test_drift_on_four_noisy_weeks_alarms_at_the_tests_nominal_rate():
    """Four weekly windows of a stationary market whose median wage swings by 10% a week: the
    trend's point estimate is often beyond 5%, and |t| > 2 on 2 degrees of freedom would flag
    it about a fifth of the time; Student's t quantile (4.30) keeps the alarms near 5%. A steady
    rise of 10% a week is flagged, with its 95% interval above zero."""
    rng = np.random.default_rng(1)
    noisy = [
        _windows([(2.0 * (1 + 0.1 * rng.standard_normal()), 0.27, 500, 2e6) for _ in range(4)])
        for _ in range(1000)
    ]
    outs = [drift(w, tolerance=0.05)["metrics"]["wage_median_all_in"] for w in noisy]
    assert np.mean([abs(o["relative_change"]) > 0.05 for o in outs]) > 0.5
    assert np.mean([abs(o["t"]) > 2 for o in outs]) > 0.12  # the old critical value
    assert np.mean([o["drifts"] for o in outs]) < 0.07
    for o in outs[:50]:
        lo, hi = o["relative_change_interval"]
        assert lo <= o["relative_change"] <= hi and o["drifts"] == (
            abs(o["relative_change"]) > 0.05 and (lo > 0 or hi < 0)
        )
    rising = _windows([(2.0 * (1 + 0.1 * k) + 0.01 * rng.standard_normal(), 0.27, 500, 2e6)
                       for k in range(4)])  # fmt: skip
    out = drift(rising, tolerance=0.05)
    assert out["steady_state"] is False and out["metrics"]["wage_median_all_in"]["drifts"]
    assert out["metrics"]["wage_median_all_in"]["relative_change_interval"][0] > 0


def test_summary_reports_the_diagnostic_over_its_windows():
    s = run(sim__days=11, sim__warmup_days=2, sim__steady_window_days=2, **SMALL).summary
    diag = s["steady_state_drift"]
    assert diag["windows"] == 4  # days 2-4, 4-6, 6-8, 8-10 (day 10-11 is not a whole window)
    assert s["steady_state"] in (True, False)
    flagged = any(m["drifts"] for m in diag["metrics"].values())
    assert s["steady_state"] is (not flagged)
    assert all(len(m["values"]) == 4 for m in diag["metrics"].values())


def test_report_flags_scenarios_not_in_steady_state():
    import pandas as pd

    from crowdsim.report.data import steady_state_note

    def rows(scenario, values):
        return [
            dict(scenario=scenario, seed=k, country="all", metric="steady_state", value=v)
            for k, v in enumerate(values)
        ]

    tidy = pd.DataFrame(rows("status_quo", [1.0, 1.0]) + rows("min_pay", [0.0, 1.0]))
    note = steady_state_note(tidy, ["status_quo", "min_pay"])
    assert "1 of 2 seeds" in note and "status quo" not in note.split(".")[0].lower()
    assert steady_state_note(tidy[tidy["scenario"] == "status_quo"], ["status_quo"]) is None
    # too few windows to tell (NaN) is not flagged
    unknown = pd.DataFrame(rows("min_pay", [float("nan")]))
    assert steady_state_note(unknown, ["min_pay"]) is None


def test_a_market_filling_from_its_start_drifts_and_a_warmed_one_does_not():
    """1,000 workers, seed 2: measured from day 0 the unpaid share falls by about a quarter in
    four weeks (the initial market settling) and the diagnostic flags it; after the 42-day
    warm-up the same market's four weeks pass."""
    small = dict(population__n_workers=1000, seed=2)
    cold = run(sim__days=28, sim__warmup_days=0, **small).summary
    unpaid = cold["steady_state_drift"]["metrics"]["unpaid_time_share"]
    assert cold["steady_state"] is False and unpaid["drifts"] and unpaid["relative_change"] < -0.15
    warm = run(sim__days=70, sim__warmup_days=42, **small).summary
    assert warm["steady_state"] is True
    assert not any(m["drifts"] for m in warm["steady_state_drift"]["metrics"].values())
