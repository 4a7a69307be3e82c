"""The welfare and incidence ledger (crowdsim/metrics/welfare.py)."""

import numpy as np
import pytest

from crowdsim import run

SMALL = dict(population__n_workers=600, sim__days=8, sim__warmup_days=3, seed=5)
PARTS = ("worker_surplus_usd", "requester_surplus_usd", "platform_revenue_usd")


@pytest.fixture(scope="module")
def status_quo():
    return run(**SMALL)


def test_total_is_the_sum_of_the_parts_and_groups_add_up(status_quo):
    w = status_quo.summary["welfare"]
    assert w["total_surplus_usd"] == pytest.approx(sum(w[k] for k in PARTS), rel=1e-12)
    # transfers cancel: total = value of approved work - reservation value of the hours worked
    wf = status_quo.workers
    hours = wf[
        ["hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid"]
    ].sum(axis=1)
    assert w["total_surplus_usd"] == pytest.approx(
        wf["work_value_usd"].sum() - (wf["reservation_wage"] * hours).sum(), rel=1e-9
    )
    for groups in (w["by_country"], w["by_productivity_quintile"]):
        for k in (*PARTS, "total_surplus_usd", "worker_inclusive_value_usd", "workers"):
            assert sum(g[k] for g in groups.values()) == pytest.approx(w[k], rel=1e-9, abs=1e-6)
        for g in groups.values():
            assert g["total_surplus_usd"] == pytest.approx(
                sum(g[k] for k in PARTS), rel=1e-9, abs=1e-9
            )
    # the starting pool's quintiles cut it in fifths; every part is there
    assert all(w["by_productivity_quintile"][f"q{k}"]["workers"] > 0 for k in range(1, 6))
    assert w["requester_surplus_usd"] > 0 and w["platform_revenue_usd"] > 0
    assert w["demand_lost_value_usd"] >= 0 and w["worker_inclusive_value_usd"] > 0


def test_requesters_frame_has_the_window_ledger(status_quo):
    rf, w = status_quo.requesters, status_quo.summary["welfare"]
    assert rf["surplus_window_usd"].sum() == pytest.approx(w["requester_surplus_usd"], rel=1e-9)
    assert (
        rf["value_of_approved_work_window_usd"] <= rf["value_of_approved_work_usd"] + 1e-9
    ).all()
    assert (rf["spent_window_usd"] >= -1e-9).all() or rf["spent_window_usd"].sum() > 0


def test_workers_frame_has_skill_and_speed(status_quo):
    wf = status_quo.workers
    assert {"skill", "speed", "productivity", "productivity_quintile"} <= set(wf.columns)
    # speed is work per hour relative to the median worker: median near 1, higher is faster
    assert 0.8 < wf["speed"].median() < 1.25
    assert wf["skill"].between(0, 1).all()
    # faster workers spend less time per approved task
    done = wf[(wf["tasks_approved"] > 20) & (wf["hours_paid"] > 0)]
    per_task = done["hours_paid"] / done["tasks_approved"]
    assert len(done) > 30
    assert np.corrcoef(np.log(done["speed"]), np.log(per_task))[0, 1] < 0


def test_a_rule_that_changes_nothing_leaves_each_part_unchanged(status_quo):
    # a floor of one cent an hour never binds: same run, same ledger
    same = run(**SMALL, platform__min_pay_mode="estimated", platform__min_pay_usd_per_hour=0.01)
    a, b = status_quo.summary["welfare"], same.summary["welfare"]
    for k in (*PARTS, "total_surplus_usd", "demand_lost_value_usd", "worker_inclusive_value_usd"):
        assert a[k] == b[k]
    for q in a["by_productivity_quintile"]:
        for k in PARTS:
            assert a["by_productivity_quintile"][q][k] == b["by_productivity_quintile"][q][k]
