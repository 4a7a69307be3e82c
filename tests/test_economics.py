"""Economics that must hold: limiting cases and monotone responses."""

import numpy as np

from crowdsim import CrowdWorkModel, run

NO_FRICTION = dict(
    workers__search_minutes=0.0,
    workers__return_base_prob=0.0,
    workers__return_threshold=1e9,
    requesters__rejection_shares={"honest": 1.0, "strict": 0.0, "opportunistic": 0.0},
    requesters__honest_reject_bad_prob=0.0,
    platform__payment_guarantee="auto_approval",
)


def test_without_search_returns_or_rejections_all_in_equals_paid_only():
    res = run(population__n_workers=300, sim__days=4, seed=2, **NO_FRICTION)
    wf = res.workers
    worked = wf[wf["hours_paid"] > 0]
    assert len(worked) > 30
    assert np.allclose(worked["wage_all_in"], worked["wage_paid_only"], rtol=1e-9)
    assert res.summary["unpaid_time_share"] < 1e-12
    # with friction back on, unpaid time appears and all-in falls below paid-only
    base = run(population__n_workers=300, sim__days=4, seed=2)
    assert base.summary["unpaid_time_share"] > 0.05
    assert base.summary["wage_median_all_in"] < base.summary["wage_median_paid_only"]


def _worker_earnings(commission, seed):
    res = run(
        population__n_workers=1500,
        sim__days=7,
        seed=seed,
        platform__commission=commission,
        platform__batch_surcharge=0.0,
    )
    return res.workers["earnings_accrued_usd"].sum(), res.summary


def test_higher_commission_lowers_total_worker_earnings():
    # common random numbers: the same seeds under both commissions; totals over three seeds
    low = [_worker_earnings(0.0, seed) for seed in (1, 2, 3)]
    high = [_worker_earnings(0.4, seed) for seed in (1, 2, 3)]
    assert sum(e for e, _ in high) < 0.95 * sum(e for e, _ in low)
    assert all(s["platform_revenue_usd"] == 0.0 for _, s in low)
    assert all(s["platform_revenue_usd"] > 0.0 for _, s in high)


def test_opportunistic_requesters_raise_unjustified_rejections():
    common = dict(
        population__n_workers=600,
        sim__days=6,
        seed=4,
        requesters__review_shares={"prompt": 1.0, "slow": 0.0, "never": 0.0},
    )
    honest = run(
        **common, requesters__rejection_shares={"honest": 1.0, "strict": 0.0, "opportunistic": 0.0}
    )
    opportunistic = run(
        **common, requesters__rejection_shares={"honest": 0.5, "strict": 0.0, "opportunistic": 0.5}
    )
    assert honest.summary["unjustified_rejection_rate"] == 0.0
    assert opportunistic.summary["unjustified_rejection_rate"] > 0.01
    assert opportunistic.summary["value_good_rejected_usd"] > 0.0


def test_never_reviewing_requesters_pay_exactly_at_auto_approval_deadline():
    days = 2
    model = CrowdWorkModel(
        population__n_workers=300,
        sim__days=5,
        seed=6,
        create_agents=False,
        requesters__review_shares={"prompt": 0.0, "slow": 0.0, "never": 1.0},
        platform__payment_guarantee="auto_approval",
        platform__auto_approval_days=float(days),
    )
    model.run()
    res = model.results()
    ts, s = res.timeseries, res.summary
    assert ts["worker_paid_usd"][: days * 24].sum() == 0.0  # nothing paid before the deadline
    assert ts["worker_paid_usd"][days * 24 :].sum() > 0.0
    assert s["payment_delay_days_mean"] == days  # every payment came exactly at the deadline
    assert s["rejection_rate"] == 0.0  # nobody reviewed, so nothing was rejected
    assert s["value_never_paid_share"] == 0.0


def test_without_a_guarantee_never_reviewing_requesters_never_pay():
    res = run(
        population__n_workers=300,
        sim__days=5,
        seed=6,
        requesters__review_shares={"prompt": 0.0, "slow": 0.0, "never": 1.0},
        platform__payment_guarantee="none",
        platform__abandon_days=1.0,
    )
    s = res.summary
    assert s["ledger_worker_paid_usd"] == 0.0
    assert s["value_never_paid_share"] == 1.0
    assert s["unpaid_share_never_paid"] > 0.3
    assert s["ledger_refunded_usd"] > 0.0  # requesters got their money back and kept the work


def test_workers_leave_when_pay_stays_below_reservation_wage():
    common = dict(
        population__n_workers=300,
        sim__days=10,
        seed=8,
        workers__baseline_exit_per_month=0.0,
        market__demand_ratio=1.5,
        workers__exit_days=2,
        workers__exit_prob_side=0.5,
        workers__exit_prob_main=0.5,
    )
    rich = run(**common, workers__reservation_wage_median_usd=0.01)
    poor = run(**common, workers__reservation_wage_median_usd=50.0)
    # only workers who earned nothing at all leave the low-reservation pool
    assert rich.summary["worker_wage_exits"] < poor.summary["worker_wage_exits"] / 3
    assert poor.summary["worker_wage_exits"] > 0.15 * 300
