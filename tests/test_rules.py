"""Each rule of the hour, compiled, against its pure-Python self (``.py_func``) on hand-worked
cases; and the whole model in pure Python (``NUMBA_DISABLE_JIT=1``) giving the same summary."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from crowdsim.market import KIND_ABANDON, KIND_APPEAL, KIND_AUTO, KIND_REVIEW
from crowdsim.market.adapt import DayParams, DayWorkers, worker_day
from crowdsim.market.rng import seed_state, uniform_at
from crowdsim.market.search import (
    Beliefs,
    ListingColumns,
    Look,
    RequesterStats,
    SearchParams,
    beaten_below,
    choice_draws,
    choose_task,
    claim_size,
    expected_pay,
    gumbel,
    keeps_looking,
    listing_draw,
    outside_utility,
    requester_belief,
    work_claim,
)
from crowdsim.market.settle import Fate, SettleParams, fate, settle_minutes, update_beliefs
from crowdsim.market.submit import ReviewParams, draw_review_outcome, resolution


def both(rule, *args):
    """The rule's result compiled and in pure Python, each on its own copy of the arguments (a
    random-number state advances); they must agree."""
    import copy

    compiled, python = rule(*copy.deepcopy(args)), rule.py_func(*copy.deepcopy(args))
    assert compiled == pytest.approx(python, rel=1e-12, abs=1e-12), rule.__name__
    return compiled


def search_params(**kw) -> SearchParams:
    base = dict(
        max_rounds=4, candidates_seen=5, search_minutes=0.75, choice_pay_sensitivity=0.1,
        search_learning_rate=0.2, public_stats=False, public_stats_prior_tasks=20.0, impatience_per_day=0.02,
        return_threshold=2.0, return_base_prob=0.0, return_other_time_share=0.5,
        duration_noise_sigma=1e-6, learning_rate=0.25, hourly_pay=False, week_cap=False,
        month_cap=False,
    )  # fmt: skip
    return SearchParams(**(base | kw))


# ---------------------------------------------------------------------------- search
def test_claim_size():
    assert both(claim_size, 10.0, 3.0, 50, 100) == 4  # ceil(10 / 3)
    assert both(claim_size, 0.2, 3.0, 50, 100) == 1  # at least one
    assert both(claim_size, 60.0, 0.5, 50, 10) == 10  # what is left
    assert both(claim_size, 60.0, 0.5, 1, 10) == 1  # one per worker (a survey)


def test_expected_pay():
    num, den = both(expected_pay, 6.0, 0.9, 5.0, 0.02)
    assert num == pytest.approx(5.4) and den == pytest.approx(1.1)


def test_work_claim_finishes_short_tasks_and_returns_long_ones():
    p = search_params()
    st = seed_state(np.random.default_rng(0))
    # true median 1.5 min against 2 expected: all four finished, in 4 x 1.5 minutes
    k_ret, done, ret = both(work_claim, st.copy(), 4, 2.0, 1.5, p)
    assert (k_ret, done, ret) == (0, pytest.approx(6.0), 0.0)
    # true median 5 min against 2 expected, threshold 2x: each returned after 2 x 2 minutes
    k_ret, done, ret = both(work_claim, st.copy(), 4, 2.0, 5.0, p)
    assert (k_ret, done, ret) == (4, 0.0, pytest.approx(16.0))
    # other reasons only (base probability 1): half the median time lost on each
    k_ret, done, ret = both(work_claim, st.copy(), 3, 2.0, 1.0, search_params(return_base_prob=1.0))
    assert (k_ret, done, ret) == (3, 0.0, pytest.approx(1.5))


def _beliefs():
    own_ok, own_delay = np.array([0.9, 0.5]), np.array([3.0, 10.0])
    slot_req = np.array([[7, -1], [-1, -1]], dtype=np.int32)
    slot_ok = np.array([[0.4, 0.0], [0.0, 0.0]], dtype=np.float32)
    slot_delay = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    stats = RequesterStats(
        n_approved=np.array([0] * 7 + [60]), n_rejected=np.array([0] * 7 + [20]),
        n_abandoned=np.zeros(8, dtype=np.int64), delay_hours_sum=np.array([0.0] * 7 + [60 * 48.0]),
    )  # fmt: skip
    return Beliefs(own_ok, own_delay, slot_req, slot_ok, slot_delay), stats


def test_requester_belief_own_memory_then_public_statistics():
    beliefs, stats = _beliefs()
    p = search_params()
    # worker 0 remembers requester 7; worker 1 does not and uses its general belief
    assert both(requester_belief, 0, 7, beliefs, stats, p) == pytest.approx((0.4, 1.0))
    assert both(requester_belief, 1, 7, beliefs, stats, p) == pytest.approx((0.5, 10.0))
    # published statistics: 80 reviewed tasks weigh 80 / (80 + 20); 75% approved, 2 days' delay
    p = search_params(public_stats=True)
    ok, delay = both(requester_belief, 1, 7, beliefs, stats, p)
    assert ok == pytest.approx(0.8 * 0.75 + 0.2 * 0.5) and delay == pytest.approx(
        0.8 * 2 + 0.2 * 10
    )


def _listing(rate, requester, remaining=None, needs=None):
    n = len(rate)
    return ListingColumns(
        prob=np.ones(1), alias=np.zeros(1, dtype=np.int64), inv_prob=np.ones(1),
        inv_rest=np.zeros(1), start=np.zeros(1, dtype=np.int64), count=np.array([n]),
        remaining=np.array(remaining or [5] * n), needs=np.array(needs or [0] * n, dtype=np.int8),
        rate=np.array(rate, dtype=float), est_minutes=np.ones(n), true_minutes=np.ones(n),
        max_per_worker=np.full(n, 10), requester=np.array(requester),
        reward_micro=np.rint(np.array(rate) * 1e6 / 60).astype(np.int64),
    )  # fmt: skip


ALL_ACCESS = np.int8(~np.int8(3))  # lacks nothing


def _choices(listing, reservation, beta, n=4000, worker=1, lacks=ALL_ACCESS):
    beliefs, stats = _beliefs()
    p = search_params(candidates_seen=len(listing.rate), choice_pay_sensitivity=beta)
    s0 = seed_state(np.random.default_rng(3))[0]
    look = Look(
        worker=worker, outside=outside_utility(reservation, beta),
        beta_log_upper=beta * np.log(max(listing.rate.max(), 1e-9)), pay_factor=1.0, lacks=lacks,
    )  # fmt: skip
    picks = [choose_task(s0, j, look, listing, beliefs, stats, p) for j in range(n)]
    some = [0, 1, n - 1]
    for j in some:  # the compiled rule and its pure-Python self agree draw for draw
        assert picks[j] == pytest.approx(
            choose_task.py_func(s0, j, look, listing, beliefs, stats, p)
        )
    # passing over groups whose taste cannot win never changes a choice: the same picks as the
    # plain logit that looks every group up
    for j in range(min(n, 1500)):
        assert picks[j] == _plain_logit(
            s0, j, worker, reservation, lacks, listing, beliefs, stats, p
        )
    return np.array([q for q, _, _ in picks]), np.array([v for _, v, _ in picks])


def _plain_logit(s0, j, i, reservation, lacks, listing, beliefs, stats, params):
    """The logit choice written out without skipping any group (the reference for choose_task)."""
    beta, n_seen = params.choice_pay_sensitivity, params.candidates_seen
    base = j * choice_draws(n_seen)
    best_u = beta * math.log(max(reservation, 1e-9)) + gumbel(uniform_at(s0, base + 2 * n_seen + 1))
    best = (-1, 0.0, best_u)
    for c in range(n_seen):
        q = listing_draw(uniform_at(s0, base + 2 * c + 1), listing)
        taste = gumbel(uniform_at(s0, base + 2 * c + 2))
        if listing.remaining[q] <= 0 or (listing.needs[q] & lacks) != 0:
            continue
        ok, delay = requester_belief(i, listing.requester[q], beliefs, stats, params)
        num, den = expected_pay(listing.rate[q], ok, delay, params.impatience_per_day)
        u = beta * math.log(max(num / den, 1e-9)) + taste
        if u > best_u:
            best_u, best = u, (q, num / den, u)
    return best


def test_inclusive_value_is_the_logit_log_sum():
    """The realised best utility of a look, less the outside option and Euler's constant, has
    the logit's log-sum as its mean: the worker's inclusive value, in USD at the reservation
    wage (beta / reservation utils per dollar an hour)."""
    from crowdsim.market.search import inclusive_value_usd

    listing = _listing([8.0, 4.0], [0, 0])
    beta, res, n = 2.0, 2.0, 20_000
    beliefs, stats = _beliefs()
    p = search_params(candidates_seen=2, choice_pay_sensitivity=beta)
    s0 = seed_state(np.random.default_rng(5))[0]
    outside = outside_utility(res, beta)
    look = Look(
        worker=1, outside=outside, beta_log_upper=beta * np.log(8.0), pay_factor=1.0,
        lacks=ALL_ACCESS,
    )  # fmt: skip
    ivs = [
        inclusive_value_usd(choose_task(s0, j, look, listing, beliefs, stats, p)[2], outside, res, beta)
        for j in range(n)
    ]  # fmt: skip
    w0, w1, w_none = (8.0 / 2.4) ** beta, (4.0 / 2.4) ** beta, res**beta
    log_sum = np.mean(
        [
            np.log((n0 * w0 + n1 * w1 + w_none) / w_none)
            for n0, n1 in ((2, 0), (1, 1), (1, 1), (0, 2))
        ]
    )
    assert np.mean(ivs) == pytest.approx(log_sum * res / beta, abs=4 * np.std(ivs) / np.sqrt(n))
    assert inclusive_value_usd(outside + 0.5772156649015329, outside, res, beta) == pytest.approx(
        0.0, abs=1e-12
    )


def test_choose_task_is_a_logit_over_expected_pay():
    """Shares of the groups and of taking none follow the logit on log expected pay (each of the
    two looks draws either group with probability 1/2; a group seen twice has two tastes)."""
    listing = _listing([8.0, 4.0], [0, 0])  # worker 1: 50% approval, 10 days' delay
    for beta in (0.1, 2.0):
        picks, values = _choices(listing, reservation=2.0, beta=beta, n=20_000)
        taken = picks >= 0
        assert set(np.unique(values[taken]).round(6)) <= {
            round(0.5 * 8.0 / 1.2, 6),
            round(0.5 * 4.0 / 1.2, 6),
        }  # 10 days' delay at 2%
        w0, w1, w_none = (8.0 / 2.4) ** beta, (4.0 / 2.4) ** beta, 2.0**beta
        expected = np.zeros(3)
        for n0, n1 in ((2, 0), (1, 1), (1, 1), (0, 2)):
            total = n0 * w0 + n1 * w1 + w_none
            expected += np.array([n0 * w0, n1 * w1, w_none]) / total / 4
        observed = np.array([(picks == 0).mean(), (picks == 1).mean(), (picks == -1).mean()])
        np.testing.assert_allclose(observed, expected, atol=0.015)
    # a very pay-sensitive worker (b = 20) takes nothing paying below its reservation wage
    picks, _ = _choices(listing, reservation=5.0, beta=20.0, n=500)
    assert (picks == -1).all()


def test_beaten_below_is_a_conservative_threshold_on_the_taste_draw():
    for best_u, upper in ((0.3, 0.1), (2.0, -0.5), (-1.0, 0.2), (5.0, 0.0)):
        thr = both(beaten_below, best_u, upper)
        assert 0.0 <= thr < 1.0
        if thr > 0:  # a draw just below the threshold gives a taste that cannot beat best_u
            assert upper + gumbel(thr * (1 - 1e-9)) < best_u
            assert (
                upper + gumbel(min(thr * 1.01 + 1e-9, 1 - 1e-12)) > best_u - 1e-6
            )  # and it is not loose
    assert both(beaten_below, -10.0, 0.0) == 0.0  # nothing worth skipping


def test_choose_task_respects_access_and_open_assignments():
    # group 0 gated (the worker lacks the qualification), group 1 full: nothing to take
    listing = _listing([6.0, 4.0], [0, 0], remaining=[5, 0], needs=[1, 0])
    picks, _ = _choices(listing, 0.5, 0.1, n=300, lacks=np.int8(~np.int8(2)))
    assert (picks == -1).all()


def test_keeps_looking_only_while_staying_is_worth_the_reservation_wage():
    # finds a $4/h task with probability 0.5: staying is worth $2/h
    assert both(keeps_looking, 0.5, 4.0, 1.9) is True
    assert both(keeps_looking, 0.5, 4.0, 2.1) is False
    assert both(keeps_looking, 0.0, 4.0, 0.01) is False  # an empty market: log off


def test_caps_on_a_claim():
    from crowdsim.market.search import affordable, fit_in_allowance

    # $1.00 left of a monthly cap, $0.30 a task: 3 of a claim of 5 fit; a free task always fits
    assert both(affordable, 5, 1_000_000.0, 300_000) == 3
    assert both(affordable, 5, 200_000.0, 300_000) == 0
    assert both(affordable, 5, 0.0, 0) == 5
    # 30 minutes left of the weekly cap: a claim that fits is kept as it is
    assert both(fit_in_allowance, 4, 1, 20.0, 5.0, 30.0) == (4, 1, 20.0, 5.0, False)
    # 4 tasks of 10 minutes and 10 returned minutes = 50 > 30: 0.6 of it fits, so 2 whole tasks
    # (20 minutes) and 6 returned minutes; the 2 unfinished go back to the listing
    assert both(fit_in_allowance, 4, 1, 40.0, 10.0, 30.0) == (2, 3, 20.0, 6.0, True)
    assert both(fit_in_allowance, 3, 0, 30.0, 0.0, 0.0) == (0, 3, 0.0, 0.0, True)


# ---------------------------------------------------------------------------- submit
def test_hourly_terms_pay_the_minutes_worked():
    from crowdsim.market.submit import hourly_terms

    per_minute = 14.0 * 1e6 / 60  # $14 an hour
    # 3 assignments in 12 minutes: 4 minutes each = $0.9333; the fee keeps the batch's 20% share
    reward, fee = both(hourly_terms, 12.0, 3, 500_000, 100_000, per_minute)
    assert reward == 933_333 and fee == 186_667
    assert both(hourly_terms, 12.0, 3, 0, 0, per_minute) == (933_333, 0)


def review_params(**kw) -> ReviewParams:
    base = dict(
        p_reject_bad=np.array([0.5, 1.0, 1.0]), p_reject_good=np.array([0.0, 0.03, 0.2]),
        delay_prompt=24.0, delay_slow=168.0, sigma_prompt=0.8, sigma_slow=0.5,
        deadline=720.0, abandon_hours=720.0, appeals=False, p_overturn=0.6,
        hourly_micro_per_minute=0.0,
    )  # fmt: skip
    return ReviewParams(**(base | kw))


def test_review_outcome():
    p = review_params()
    st = seed_state(np.random.default_rng(1))
    # a worker whose work always meets the bar, an honest requester: nothing rejected
    assert both(draw_review_outcome, st.copy(), 10, 0.0, 1.0, 0, p) == (10, 0, 0)
    # work that never meets the bar, a strict requester (rejects all bad work)
    assert both(draw_review_outcome, st.copy(), 10, -50.0, 1.0, 1, p) == (0, 10, 0)


def test_resolution_follows_the_payment_guarantee():
    st = seed_state(np.random.default_rng(2))
    # never reviews, no guarantee: abandoned after abandon_hours
    p = review_params(deadline=math.inf, abandon_hours=500.0)
    assert both(resolution, st.copy(), 2, p) == (KIND_ABANDON, 500.0)
    # never reviews, auto-approval after 3 days
    assert both(resolution, st.copy(), 2, review_params(deadline=72.0)) == (KIND_AUTO, 72.0)
    # a prompt reviewer well before the deadline
    kind, when = both(resolution, st.copy(), 0, review_params(deadline=1e9))
    assert kind == KIND_REVIEW and 0 < when < 1e9


# ---------------------------------------------------------------------------- settle
def test_fate_of_each_kind_of_record():
    # reviewed: 10 done, 6 approved, 1 justly and 3 unjustly rejected, 2 of these overturned
    assert both(fate, KIND_REVIEW, 10, 6, 1, 3, 2) == Fate(6, 2, 1, 0, 2)
    assert both(fate, KIND_AUTO, 5, 5, 0, 0, 0) == Fate(5, 0, 0, 0, 0)
    assert both(fate, KIND_ABANDON, 4, 0, 0, 0, 0) == Fate(0, 0, 0, 4, 0)
    assert both(fate, KIND_APPEAL, 2, 2, 0, 0, 0) == Fate(2, 0, 0, 0, 0)


def test_settle_minutes_conserves_time():
    assert both(settle_minutes, 10.0, 10, Fate(6, 2, 1, 0, 2), False) == pytest.approx(
        (6.0, 2.0, 0.0, 2.0)
    )
    assert both(settle_minutes, 7.5, 5, Fate(5, 0, 0, 0, 0), False) == pytest.approx(
        (7.5, 0.0, 0.0, 0.0)
    )
    assert both(settle_minutes, 8.0, 4, Fate(0, 0, 0, 4, 0), True) == pytest.approx(
        (0.0, 0.0, 8.0, 0.0)
    )


def _belief_state():
    return (
        np.array([0.9]), np.array([3.0]), np.full((1, 2), -1, dtype=np.int32),
        np.zeros((1, 2), dtype=np.float32), np.zeros((1, 2), dtype=np.float32),
        np.zeros(1, dtype=np.int16),
    )  # fmt: skip


@pytest.mark.parametrize("compiled", [True, False])
def test_update_beliefs_learns_from_a_rejection(compiled):
    rule = update_beliefs if compiled else update_beliefs.py_func
    ok, delay, slot_req, slot_ok, slot_delay, ptr = _belief_state()
    p = SettleParams(np.empty(0), np.array([0.0]), True, 2.0, 0.5, 0.5)
    # 3 approved, 1 unjustly rejected, paid after 1 day; reasons required
    rule(0, 7, Fate(3, 1, 1, 0, 0), False, 1.0, ok, delay, slot_req, slot_ok, slot_delay, ptr, p)
    assert ok[0] == pytest.approx(0.9 + 0.25 * (0.75 - 0.9))  # general belief, half the rate
    assert delay[0] == pytest.approx(3.0 + 0.25 * (1.0 - 3.0))
    assert slot_req[0, 0] == 7 and ptr[0] == 1  # requester 7 now remembered
    # its slot started from the general belief and moved at the full rate towards 1 - 2 x 1/4
    assert slot_ok[0, 0] == pytest.approx(ok[0] + 0.5 * (0.5 - ok[0]), rel=1e-6)
    assert slot_delay[0, 0] == pytest.approx(delay[0] + 0.5 * (1.0 - delay[0]), rel=1e-6)


# ---------------------------------------------------------------------------- adapt
@pytest.mark.parametrize("compiled", [True, False])
def test_worker_day_counts_strikes_and_leaves(compiled):
    rule = worker_day if compiled else worker_day.py_func
    z = np.zeros(1)
    cols = DayWorkers(
        m_paid=np.array([120.0]), m_pending=z.copy(), m_rejected=z.copy(), m_returned=z.copy(),
        m_search=np.array([60.0]), m_never_paid=z.copy(), earned=np.array([1_500_000]),
        pending_value=np.zeros(1, dtype=np.int64), belief_ok=np.ones(1), last_minutes=z.copy(),
        last_earned=z.copy(), win_minutes=z.copy(), win_earn=z.copy(),
        reservation_wage=np.array([2.0]), strikes=np.array([2], dtype=np.int32),
        engagement=np.ones(1), main_income=np.zeros(1, dtype=bool), belief_find=np.array([0.2]),
        belief_found_wage=np.array([3.0]),
    )  # fmt: skip
    params = DayParams(
        decay=0.9, min_window_minutes=30.0, exit_wage_ratio=1.0, discouragement_threshold=0.5,
        discouragement_per_day=0.1, min_engagement=0.1, exit_prob_main=0.1, exit_prob_side=0.5,
        exit_days=3, baseline_exit_per_day=0.0, initial_belief_find=0.8,
        belief_find_recovery=0.25,
    )  # fmt: skip
    # $1.50 over 3 hours = $0.50/h: below the reservation wage ($2) -> a third strike, and
    # below half of it -> less engaged; with a draw under the side-income exit probability, leaves
    leaves, for_wage = rule(0, 0.2, 0.9, cols, params)
    assert cols.strikes[0] == 3 and (leaves, for_wage) == (True, True)
    assert cols.engagement[0] == pytest.approx(0.9)
    assert cols.win_minutes[0] == pytest.approx(180.0) and cols.win_earn[0] == pytest.approx(1.5)
    assert cols.belief_find[0] == pytest.approx(0.2 + 0.25 * 0.6)  # a quarter of the way back


# ---------------------------------------------------------------------------- the whole model
_SUMMARY = """
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
from crowdsim import run
with np.errstate(over="ignore"):
    s = run(population__n_workers=150, sim__days=2, seed=4).summary
s.pop("phase_seconds")
print(json.dumps(s, sort_keys=True, default=str))
"""


def test_pure_python_model_gives_the_same_summary():
    """With NUMBA_DISABLE_JIT=1 every compiled loop runs as Python (for a debugger): same run."""

    def summary(env):
        out = subprocess.run(
            [sys.executable, "-c", _SUMMARY], env=os.environ | env, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    compiled = summary({})
    python = summary({"NUMBA_DISABLE_JIT": "1"})
    assert compiled["tasks_submitted"] > 0
    assert python == compiled
