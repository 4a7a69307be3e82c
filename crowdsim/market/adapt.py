"""Phase 6 (once a simulated day): workers leave or arrive; requesters churn.

A worker's day (:func:`worker_day`): its recent all-in wage is an exponentially weighted window
(memory ``workers.wage_window_days``) of earnings -- pay received plus submitted work at the
worker's belief that it will be paid -- over working time, search included (with too little
recent work, what it expects a session to pay). A worker leaves when that wage stays below
``exit_wage_ratio`` x its reservation wage for ``exit_days`` consecutive days, with a daily probability that is lower for workers who depend on the income; on top, a
baseline hazard matching the pool's half-life (Difallah et al. 2018: 12-18 months). Hours
respond too: a worker whose recent wage is far below its reservation wage logs on less
(``workers.discouragement_*``) and recovers as work pays again; its belief about how often a look
finds work fades back towards a newcomer's; a worker with no recent work occasionally looks at what the market pays and sets
its beliefs from it (:func:`market_look`). New workers arrive by country pool share at a rate
that responds to the platform's recent wage (:func:`arrivals_per_day`); where the platform
gates entry (``platform.waitlist``, Prolific), they join a waitlist and are admitted at the rate
demand supports (:func:`admissions`).

Requesters leave and arrive at ``requesters.monthly_churn`` (arrivals fewer when the platform's
commission is above the reference fee: as many as find their plan worth posting,
:func:`entry_factor`); requesters also leave when posting becomes unprofitable (see
:mod:`crowdsim.market.post`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from crowdsim.ledger import MICRO


class DayWorkers(NamedTuple):
    """Worker columns the daily update reads and writes (by worker row)."""

    m_paid: np.ndarray
    m_pending: np.ndarray
    m_rejected: np.ndarray
    m_returned: np.ndarray
    m_search: np.ndarray
    m_never_paid: np.ndarray
    earned: np.ndarray
    pending_value: np.ndarray
    belief_ok: np.ndarray
    last_minutes: np.ndarray
    last_earned: np.ndarray
    win_minutes: np.ndarray
    win_earn: np.ndarray
    reservation_wage: np.ndarray
    strikes: np.ndarray
    engagement: np.ndarray
    main_income: np.ndarray
    belief_find: np.ndarray
    belief_found_wage: np.ndarray


class DayParams(NamedTuple):
    decay: float  # daily weight of the wage window's past
    min_window_minutes: float  # working time below which the window says nothing
    exit_wage_ratio: float
    discouragement_threshold: float
    discouragement_per_day: float
    min_engagement: float
    exit_prob_main: float
    exit_prob_side: float
    exit_days: int
    baseline_exit_per_day: float
    initial_belief_find: float
    belief_find_recovery: float  # daily share of the way back to the newcomer's belief


@njit(cache=True, inline="always")
def worker_day(w, u_wage, u_base, workers, params):
    """One worker's day: update its wage window, strikes and engagement; returns (leaves,
    leaves because of the wage)."""
    worked = (
        workers.m_paid[w] + workers.m_pending[w] + workers.m_rejected[w] + workers.m_returned[w]
        + workers.m_search[w]
    )  # fmt: skip
    worked += workers.m_never_paid[w]
    # what the worker counts on: pay received plus submitted work valued at its belief
    got = (workers.earned[w] + workers.pending_value[w] * workers.belief_ok[w]) / MICRO
    d_min = worked - workers.last_minutes[w]
    d_earn = got - workers.last_earned[w]
    workers.last_minutes[w] = worked
    workers.last_earned[w] = got
    workers.win_minutes[w] = workers.win_minutes[w] * params.decay + d_min
    workers.win_earn[w] = workers.win_earn[w] * params.decay + d_earn
    has_work = workers.win_minutes[w] > params.min_window_minutes
    wage = workers.win_earn[w] / max(workers.win_minutes[w], 1e-9) * 60.0
    reservation = workers.reservation_wage[w]
    # a worker with too little recent work judges the platform by what it expects a session to
    # pay (it logged off because that was below its reservation wage)
    expected = workers.belief_find[w] * workers.belief_found_wage[w]
    judged = wage if has_work else expected
    if judged < params.exit_wage_ratio * reservation:
        workers.strikes[w] += 1
    else:
        workers.strikes[w] = 0
    # intensive margin: discouraged workers log on less, and come back as work pays again
    step = params.discouragement_per_day
    if has_work and wage < params.discouragement_threshold * reservation:
        workers.engagement[w] = max(workers.engagement[w] * (1.0 - step), params.min_engagement)
    elif has_work:
        workers.engagement[w] = min(workers.engagement[w] * (1.0 + step), 1.0)
    # what a worker believes about finding tasks fades back towards a newcomer's belief, so one
    # who logged off in a thin market tries again some days later
    q = workers.belief_find[w]
    workers.belief_find[w] = q + params.belief_find_recovery * (params.initial_belief_find - q)
    p_exit = params.exit_prob_main if workers.main_income[w] else params.exit_prob_side
    wage_exit = workers.strikes[w] >= params.exit_days and u_wage < p_exit
    return wage_exit or u_base < params.baseline_exit_per_day, wage_exit


@njit(cache=True)
def daily_workers(present, u_wage, u_base, workers, params, leave, wage_exit):
    """:func:`worker_day` for each present worker (rows ``present``); writes whether each
    leaves (and whether for its wage) to ``leave``/``wage_exit``. Once a day, so not in
    parallel (about a millisecond for 100,000 workers)."""
    for j in range(present.size):
        leave[j], wage_exit[j] = worker_day(present[j], u_wage[j], u_base[j], workers, params)


def day_params(cfg) -> DayParams:
    wc = cfg.workers
    return DayParams(
        decay=float(np.exp(-1.0 / wc.wage_window_days)),
        min_window_minutes=float(wc.min_window_minutes),
        exit_wage_ratio=wc.exit_wage_ratio,
        discouragement_threshold=wc.discouragement_threshold,
        discouragement_per_day=wc.discouragement_per_day,
        min_engagement=wc.min_engagement,
        exit_prob_main=wc.exit_prob_main,
        exit_prob_side=wc.exit_prob_side,
        exit_days=int(wc.exit_days),
        baseline_exit_per_day=1.0 - (1.0 - wc.baseline_exit_per_month) ** (1.0 / 30.0),
        initial_belief_find=wc.initial_belief_find,
        belief_find_recovery=wc.belief_find_recovery_per_day,
    )


def arrivals_per_day(model) -> float:
    """Expected new workers a day: the baseline rate (the pool's turnover at its initial size)
    times ``(recent median wage / entry_reference_wage_usd) ** entry_wage_elasticity``, so entry
    responds to what the platform has been paying (word of mouth, forums); at most 3x the
    baseline. The recent wage is the median of the present workers' one-week wage windows."""
    cfg, W = model.config, model.workers
    wc = cfg.workers
    base = cfg.population.n_workers * wc.baseline_exit_per_month / 30.0
    if wc.entry_wage_elasticity == 0:
        return base
    rows = model.pool.workers
    minutes = W.win_minutes[rows]
    has = minutes > wc.min_window_minutes
    if not has.any():
        return base
    wage = float(np.median(W.win_earn[rows][has] / minutes[has] * 60.0))
    ratio = max(wage, 0.0) / wc.entry_reference_wage_usd
    return base * min(ratio**wc.entry_wage_elasticity, 3.0)


def admissions(model) -> int:
    """Workers the platform admits from its waitlist today (``platform.waitlist``): the pool's
    turnover (its initial size x ``workers.baseline_exit_per_month`` / 30, the rate at which it
    keeps its size) x the demand it saw yesterday, assignment-hours posted per online
    worker-hour, over ``platform.waitlist_target_work_per_online_hour`` (at most 3x), with the
    fraction of an admission carried to the next day; at most the number waiting."""
    cfg, W, c = model.config, model.workers, model.counters
    pc = cfg.platform
    online = float(W.online_hours[: W.n].sum())
    posted = c.assignment_minutes_posted / 60.0
    d_online, d_posted = online - model.waitlist_seen[0], posted - model.waitlist_seen[1]
    model.waitlist_seen = (online, posted)
    target = pc.waitlist_target_work_per_online_hour or cfg.market.demand_ratio
    demand = d_posted / d_online if d_online > 0 else (np.inf if d_posted > 0 else 0.0)
    turnover = cfg.population.n_workers * cfg.workers.baseline_exit_per_month / 30.0
    quota = turnover * min(demand / target, 3.0) + model.waitlist_carry
    admitted = min(int(quota), model.waitlist)
    model.waitlist_carry = quota - int(quota) if admitted < model.waitlist else 0.0
    return admitted


def market_look(model) -> None:
    """Workers with no recent work (nothing in their wage window: newcomers who have not yet
    worked, workers who logged off) look, with daily probability
    ``workers.market_look_prob_per_day``, at what the market pays (public statistics, forums,
    an occasional look) and set their beliefs from it: the chance that a look finds a task
    paying at least their reservation wage among ``candidates_seen`` groups of the open
    assignments, and the mean pay per hour (posted, at the estimated time) of those tasks.
    So a worker whose reservation wage is above a newcomer's belief works when some tasks pay
    enough, instead of never looking."""
    cfg, W, B = model.config, model.workers, model.batches
    wc = cfg.workers
    rows = model.pool.workers
    if wc.market_look_prob_per_day <= 0 or rows.size == 0:
        return
    idle = W.win_minutes[rows] <= wc.min_window_minutes
    looks = rows[idle & (model.rng_adapt.random(rows.size) < wc.market_look_prob_per_day)]
    open_ = np.flatnonzero(B.in_use[: B.n] & (B.remaining[: B.n] > 0))
    if looks.size == 0 or open_.size == 0:
        return
    rate = B.reward_micro[open_] / MICRO * 60.0 / np.maximum(B.est_minutes[open_], 1e-3)
    order = np.argsort(rate)
    rate, weight = rate[order], B.remaining[open_][order].astype(np.float64)
    above_w = np.cumsum(weight[::-1])[::-1]  # assignments paying at least rate[k]
    above_rw = np.cumsum((rate * weight)[::-1])[::-1]
    k = np.searchsorted(rate, W.reservation_wage[looks], side="left")
    has = k < rate.size
    kk = np.minimum(k, rate.size - 1)
    share = np.where(has, above_w[kk] / above_w[0], 0.0)
    mean = np.where(has, above_rw[kk] / np.maximum(above_w[kk], 1e-12), 0.0)
    W.belief_find[looks] = 1.0 - (1.0 - share) ** wc.candidates_seen
    W.belief_found_wage[looks] = np.where(has, mean, W.belief_found_wage[looks])


def entry_factor(cfg) -> float:
    """Arriving requesters relative to the churn rate: the share of a would-be requester's plan
    worth posting at the platform's commission over that at the reference fee
    (:func:`~crowdsim.market.post.plan_share`), zero for one who would leave at once (less than
    ``requesters.exit_plan_share``), averaged over the lognormal value markups (Gauss-Hermite
    nodes); 1 at the reference fee."""
    from crowdsim.market.post import plan_share

    rc = cfg.requesters
    z, w = np.polynomial.hermite_e.hermegauss(21)
    w = w / w.sum()
    markup = rc.value_markup_median * np.exp(rc.value_markup_sigma * z)
    ratio = (1.0 + cfg.platform.commission) / (1.0 + rc.reference_fee)
    ref = plan_share(1.0 / markup, rc.task_value_sigma)
    now = plan_share(ratio / markup, rc.task_value_sigma)
    stays = now >= rc.exit_plan_share * ref  # would not leave at its first batch
    return float(np.sum(w * stays * now / ref))


def daily(model) -> None:
    """Phase 6 at the end of each simulated day."""
    cfg, rng, W = model.config, model.rng_adapt, model.workers
    rc = cfg.requesters
    present = model.pool.workers
    if present.size:
        u_wage = rng.random(present.size)
        u_base = rng.random(present.size)
        leave = np.empty(present.size, dtype=np.bool_)
        wage_exit = np.empty(present.size, dtype=np.bool_)
        daily_workers(
            present=present, u_wage=u_wage, u_base=u_base,
            workers=DayWorkers(
                m_paid=W.m_paid, m_pending=W.m_pending, m_rejected=W.m_rejected,
                m_returned=W.m_returned, m_search=W.m_search, m_never_paid=W.m_never_paid,
                earned=W.earned_micro, pending_value=W.pending_value_micro,
                belief_ok=W.belief_ok, last_minutes=W.last_minutes, last_earned=W.last_earned,
                win_minutes=W.win_minutes, win_earn=W.win_earn,
                reservation_wage=W.reservation_wage, strikes=W.strikes,
                engagement=W.engagement, main_income=W.main_income, belief_find=W.belief_find,
                belief_found_wage=W.belief_found_wage,
            ),
            params=model.day_params, leave=leave, wage_exit=wage_exit,
        )  # fmt: skip
        if leave.any():
            model.counters.worker_exits_wage += int(wage_exit.sum())
            model.remove_workers(present[leave], hour=model.hour + 1)
    market_look(model)
    model.pool.refresh_workers()  # availability uses today's engagement
    n_new = int(rng.poisson(arrivals_per_day(model)))
    if cfg.platform.waitlist:  # would-be workers wait; the platform admits as demand supports
        model.waitlist += n_new
        n_new = admissions(model)
        model.waitlist -= n_new
        model.counters.workers_admitted += n_new
    if n_new:
        model.add_workers(n_new, joined_hour=model.hour + 1)  # they join at the next hour
        model.counters.worker_entries += n_new
    # requester churn
    pres_r = model.pool.requesters
    daily_churn = 1.0 - (1.0 - rc.monthly_churn) ** (1.0 / 30.0)
    if pres_r.size:
        out = pres_r[rng.random(pres_r.size) < daily_churn]
        if out.size:
            model.remove_requesters(out, hour=model.hour + 1)
    # arrivals replace leavers at the churn rate, fewer when the platform charges more than the
    # fee at which requesters' pay was measured: as many as would find their plan worth posting
    n_new_r = int(rng.poisson(model.n_requesters_initial * daily_churn * entry_factor(cfg)))
    if n_new_r:
        model.add_requesters(n_new_r)
        model.counters.requester_entries += n_new_r
