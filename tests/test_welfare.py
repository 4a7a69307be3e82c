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
    # speed is the inverse of the time a worker takes on a task relative to the median
    # worker's (the model's time multiplier has median exp(-sigma^2 / 2))
    from crowdsim import CrowdWorkModel

    m = CrowdWorkModel(population__n_workers=200, sim__days=1, seed=3, create_agents=False)
    m.run()
    f = m.results().workers
    sigma = m.config.workers.speed_sigma
    assert np.allclose(f["speed"] * m.workers.speed[: m.workers.n], np.exp(-(sigma**2) / 2))
    assert f["productivity_quintile"].between(1, 5).all()


def test_a_rule_that_changes_nothing_leaves_each_part_unchanged(status_quo):
    # a floor of one cent an hour never binds: same run, same ledger
    same = run(**SMALL, platform__min_pay_mode="estimated", platform__min_pay_usd_per_hour=0.01)
    a, b = status_quo.summary["welfare"], same.summary["welfare"]
    for k in (*PARTS, "total_surplus_usd", "demand_lost_value_usd", "worker_inclusive_value_usd"):
        assert a[k] == b[k]
    for q in a["by_productivity_quintile"]:
        for k in PARTS:
            assert a["by_productivity_quintile"][q][k] == b["by_productivity_quintile"][q][k]


def _floor_pair(seed):
    base = dict(population__n_workers=800, sim__days=12, sim__warmup_days=5, seed=seed)
    sq = run(**base)
    floor = run(**base, platform__min_pay_mode="measured", platform__min_pay_usd_per_hour=8.0)
    return sq.workers, floor.workers


def test_a_binding_floor_pays_hired_workers_more_cuts_hours_and_shifts_work_up():
    """Horton (AER 2025): with a binding floor those hired are paid more, hours fall more than
    the number of workers with work, and work shifts to more productive workers (requesters
    screen harder when work costs them more: market/post.py)."""
    hours = ["hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid"]
    for seed in (1, 2):
        a, b = _floor_pair(seed)
        wa, wb = a[a["hours_paid"] > 0], b[b["hours_paid"] > 0]
        pay = [w["earnings_accrued_usd"].sum() / w["hours_paid"].sum() for w in (wa, wb)]
        assert pay[1] > pay[0]
        fall_hours = b[hours].to_numpy().sum() / a[hours].to_numpy().sum()
        fall_workers = len(wb) / len(wa)
        assert fall_hours < fall_workers
        # work done (submitted in the window) by productivity quintile: the top two gain share,
        # the bottom one loses it, and the mean productivity of the work rises
        share = [
            w.groupby("productivity_quintile")["tasks_submitted"].sum() / w["tasks_submitted"].sum()
            for w in (a, b)
        ]
        assert share[1][4] + share[1][5] > share[0][4] + share[0][5]
        assert share[1][1] < share[0][1]
        mean = [
            (w["productivity"] * w["tasks_submitted"]).sum() / w["tasks_submitted"].sum()
            for w in (a, b)
        ]
        assert mean[1] > mean[0]


def test_screening_admits_fewer_tiers_the_more_the_rules_raise_pay():
    from crowdsim.market.search import access_flags, needs_flags

    tiers = np.arange(5)
    need = needs_flags(np.zeros(5, bool), np.zeros(5, bool), np.array([0, 1, 2, 3, 4], np.int8))
    acc = access_flags(np.ones(5, np.int64), np.ones(5, bool), tiers)
    lacks = ~acc
    # a worker of tier k may take a group that needs tier t exactly when k >= t
    ok = (need[None, :] & lacks[:, None]) == 0
    assert (ok == (tiers[:, None] >= tiers[None, :])).all()


def test_no_one_is_locked_out_by_a_newcomers_belief():
    """Workers whose reservation wage is above a newcomer's belief about what a look finds
    (0.648 x $3.18) work when the market pays enough, once they look at what it pays
    (workers.market_look_prob_per_day); without looking, most never do."""
    high = dict(
        population__n_workers=400, sim__days=8, seed=4,
        workers__reservation_wage_median_usd=6.0,
        requesters__pay_median_usd_per_hour=20.0, requesters__pay_mean_usd_per_hour=24.0,
    )  # fmt: skip
    worked = []
    for p in (0.0, 0.5):
        wf = run(**high, workers__market_look_prob_per_day=p).workers
        locked = wf["reservation_wage"] > 0.648 * 3.18
        worked.append(float((wf.loc[locked, "hours_paid"] > 0).mean()))
    assert worked[1] > worked[0] + 0.2
