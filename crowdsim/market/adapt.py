"""Phase 6 (once a simulated day): workers leave or arrive; requesters churn.

A worker leaves when its recent all-in wage (a one-week exponentially weighted window of
earnings -- pay received plus submitted work at the worker's belief that it will be paid -- over
working time, search included) stays below ``exit_wage_ratio`` x its reservation
wage for ``exit_days`` consecutive days, with a daily probability that is lower for workers who
depend on the income; on top, a baseline hazard matching the pool's half-life (Difallah et al.
2018: 12-18 months). New workers arrive at the baseline rate, by country pool share.
Hours respond too: a worker whose recent wage is far below its reservation wage logs on less
(``workers.discouragement_*``) and recovers as work pays again.
Requesters leave and arrive at ``requesters.monthly_churn``; requesters also leave when posting
becomes unprofitable (see ``posting``).
"""

from __future__ import annotations

import numpy as np

from crowdsim.ledger import MICRO

WINDOW_DECAY = np.exp(-1.0 / 7.0)  # one-week memory (assumption)
MIN_WINDOW_MINUTES = 30.0


def _worked_minutes(W, idx):
    return (
        W.m_paid[idx]
        + W.m_pending[idx]
        + W.m_rejected[idx]
        + W.m_returned[idx]
        + W.m_search[idx]
        + W.m_never_paid[idx]
    )


def daily(model) -> None:
    cfg, rng, W, R = model.config, model.rng_adapt, model.workers, model.requesters
    wc, rc = cfg.workers, cfg.requesters
    present = model.present_workers
    if present.size:
        worked = _worked_minutes(W, present)
        # what the worker counts on: pay received plus submitted work valued at its belief of approval
        earned = (
            W.earned_micro[present] + W.pending_value_micro[present] * W.belief_ok[present]
        ) / MICRO
        d_min = worked - W.last_minutes[present]
        d_earn = earned - W.last_earned[present]
        W.last_minutes[present] = worked
        W.last_earned[present] = earned
        W.win_minutes[present] = W.win_minutes[present] * WINDOW_DECAY + d_min
        W.win_earn[present] = W.win_earn[present] * WINDOW_DECAY + d_earn
        has_work = W.win_minutes[present] > MIN_WINDOW_MINUTES
        wage = W.win_earn[present] / np.maximum(W.win_minutes[present], 1e-9) * 60.0
        below = has_work & (wage < wc.exit_wage_ratio * W.reservation_wage[present])
        W.strikes[present] = np.where(
            below, W.strikes[present] + 1, np.where(has_work, 0, W.strikes[present])
        )
        # intensive margin: discouraged workers log on less, and come back as work pays again
        discouraged = has_work & (wage < wc.discouragement_threshold * W.reservation_wage[present])
        step = wc.discouragement_per_day
        W.engagement[present] = np.where(
            discouraged,
            np.maximum(W.engagement[present] * (1.0 - step), wc.min_engagement),
            np.where(
                has_work,
                np.minimum(W.engagement[present] * (1.0 + step), 1.0),
                W.engagement[present],
            ),
        )
        p_exit = np.where(W.main_income[present], wc.exit_prob_main, wc.exit_prob_side)
        wage_exit = (W.strikes[present] >= wc.exit_days) & (rng.random(present.size) < p_exit)
        base_daily = 1.0 - (1.0 - wc.baseline_exit_per_month) ** (1.0 / 30.0)
        base_exit = rng.random(present.size) < base_daily
        leave = wage_exit | base_exit
        if leave.any():
            leavers = present[leave]
            W.present[leavers] = False
            W.left_hour[leavers] = model.hour + 1
            model.counters["worker_exits"] += leavers.size
            model.counters["worker_exits_wage"] += int(wage_exit.sum())
            if model._create_agents:
                for row in leavers:
                    model.worker_agents[row].remove()
            model._refresh_present()
    model._refresh_present()  # availability uses today's engagement
    n_new = int(rng.poisson(cfg.population.n_workers * wc.baseline_exit_per_month / 30.0))
    if n_new:
        model.add_workers(
            n_new, joined_hour=model.hour + 1
        )  # they join at the start of the next hour
        model.counters["worker_entries"] += n_new
    # requester churn
    pres_r = model.present_requesters
    daily_churn = 1.0 - (1.0 - rc.monthly_churn) ** (1.0 / 30.0)
    if pres_r.size:
        out = pres_r[rng.random(pres_r.size) < daily_churn]
        if out.size:
            R.present[out] = False
            R.left_hour[out] = model.hour + 1
            model.counters["requester_exits"] += out.size
            if model._create_agents:
                for row in out:
                    model.requester_agents[row].remove()
    n_new_r = int(rng.poisson(model.n_requesters_initial * daily_churn))
    if n_new_r:
        model.add_requesters(n_new_r)
        model.counters["requester_entries"] += n_new_r
    model.present_requesters = np.flatnonzero(R.present[: R.n])
