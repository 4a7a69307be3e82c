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

from crowdsim.market import kernels

WINDOW_DECAY = np.exp(-1.0 / 7.0)  # one-week memory (assumption)
MIN_WINDOW_MINUTES = 30.0


def daily(model) -> None:
    cfg, rng, W, R = model.config, model.rng_adapt, model.workers, model.requesters
    wc, rc = cfg.workers, cfg.requesters
    present = model.present_workers
    if present.size:
        u_wage = rng.random(present.size)
        u_base = rng.random(present.size)
        leave = np.empty(present.size, dtype=np.bool_)
        wage_exit = np.empty(present.size, dtype=np.bool_)
        kernels.daily_workers(
            present, u_wage, u_base,
            W.m_paid, W.m_pending, W.m_rejected, W.m_returned, W.m_search, W.m_never_paid,
            W.earned_micro, W.pending_value_micro, W.belief_ok, W.last_minutes, W.last_earned,
            W.win_minutes, W.win_earn, W.reservation_wage, W.strikes, W.engagement,
            W.main_income,
            WINDOW_DECAY, MIN_WINDOW_MINUTES, wc.exit_wage_ratio, wc.discouragement_threshold,
            wc.discouragement_per_day, wc.min_engagement, wc.exit_prob_main, wc.exit_prob_side,
            wc.exit_days, 1.0 - (1.0 - wc.baseline_exit_per_month) ** (1.0 / 30.0),
            leave, wage_exit,
        )  # fmt: skip
        if leave.any():
            leavers = present[leave]
            W.present[leavers] = False
            W.left_hour[leavers] = model.hour + 1
            model.counters["worker_exits"] += leavers.size
            model.counters["worker_exits_wage"] += int(wage_exit.sum())
            if model._create_agents:
                for row in leavers:
                    model.worker_agents[row].remove()
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
