"""The welfare and incidence ledger: who gains what from the market, over the measured window.

As economists compute it (see ``docs/welfare.md``), on the summary's accrual basis (work
submitted in the window counts with the fate drawn at submission):

- **worker surplus** = earnings (net of the worker fee) - reservation wage x all working hours,
  unpaid ones included (search, returned, rejected, never paid);
- **requester surplus** = value of the approved work to its requesters - what they pay for it
  (rewards, requester fees, top-ups);
- **platform revenue** = what requesters pay less what workers receive (requester and worker
  fees);
- **total surplus** = the sum of the three (transfers cancel: the value of approved work less
  the reservation value of the hours worked);
- **demand lost** = the value of the assignments requesters chose not to post because of what
  the rules made them cost (counted batch by batch as they are drawn; a requester who leaves
  draws no more batches, so its later work is not counted: a lower bound);
- **worker inclusive value**: the logit's log-sum of each look over the options it met against
  taking none, in USD per hour at the worker's reservation wage (linearised), *summed* over the
  looks of the window (``worker_inclusive_value_usd``) and its mean per look
  (``worker_inclusive_value_per_look_usd``). With a pay sensitivity of about 0.1 the tastes of
  the logit dominate it: compare it between scenarios, not with the surpluses.

Each is also given by the workers' country and productivity quintile (the requester surplus
and platform revenue of a group are those of the work its workers did; demand lost has no
worker and is given in total only). The productivity of a worker is ``speed x skill`` (approved
work per hour relative to the median worker's pace), its quintile cut at the quintiles of the
starting pool, so every scenario on a seed uses the same cuts.
"""

from __future__ import annotations

import numpy as np

from crowdsim.ledger import MICRO
from crowdsim.metrics.wages import resolved_hours

PARTS = ("worker_surplus_usd", "requester_surplus_usd", "platform_revenue_usd", "total_surplus_usd")


def relative_speed(speed_factor: np.ndarray, speed_sigma: float) -> np.ndarray:
    """Work per hour relative to the median worker (higher is faster), from the model's time
    multiplier (a worker's time on a task is the task's median x ``speed_factor``, lognormal
    with median ``exp(-speed_sigma**2 / 2)``)."""
    return np.exp(-(speed_sigma**2) / 2) / np.asarray(speed_factor, dtype=np.float64)


def productivity(speed: np.ndarray, skill: np.ndarray) -> np.ndarray:
    """Approved work per hour relative to the median pace: relative speed x skill."""
    return np.asarray(speed) * np.asarray(skill)


def quintile(prod: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Productivity quintile 1 (least productive) to 5, at the cuts ``cuts`` (4 values)."""
    return np.searchsorted(cuts, prod, side="right") + 1


def group_ledger(cols) -> dict:
    """The ledger's parts summed over the workers of ``cols`` (a window's workers frame or a
    dict of its columns)."""

    earn = np.asarray(cols["earnings_accrued_usd"], dtype=np.float64)
    hours = resolved_hours(cols)
    res = np.asarray(cols["reservation_wage"], dtype=np.float64)
    value = np.asarray(cols["work_value_usd"], dtype=np.float64)
    cost = np.asarray(cols["work_cost_usd"], dtype=np.float64)
    worker = float(np.sum(earn - res * hours))
    requester = float(np.sum(value - cost))
    platform = float(np.sum(cost - earn))
    iv = float(np.sum(np.asarray(cols["inclusive_value_usd"], dtype=np.float64)))
    return {
        "worker_surplus_usd": worker,
        "requester_surplus_usd": requester,
        "platform_revenue_usd": platform,
        "total_surplus_usd": worker + requester + platform,
        "worker_inclusive_value_usd": iv,
        "workers": int(earn.size),
        "hours_worked": float(np.sum(hours)),
        "value_of_approved_work_usd": float(np.sum(value)),
    }


def welfare(model, wf, counters: dict) -> dict:
    """The ``welfare`` object of the summary, from the window's workers frame ``wf`` and the
    window's running counts ``counters``."""
    out = group_ledger(wf)
    minutes = model.config.workers.search_minutes  # per look; 0: looks cost no time
    hours = float(np.sum(np.asarray(wf["hours_search"])))
    looks = hours * 60.0 / minutes if minutes > 0 else 0.0
    out["worker_inclusive_value_per_look_usd"] = (
        out["worker_inclusive_value_usd"] / looks if looks else None
    )
    out["demand_lost_value_usd"] = counters["value_not_posted_micro"] / MICRO
    out["inclusive_value_basis"] = "sum over looks, USD per hour at the reservation wage"
    out["by_country"] = {
        code: group_ledger(wf[wf["country"] == code]) for code in model.countries.codes
    }
    q = np.asarray(wf["productivity_quintile"])
    out["by_productivity_quintile"] = {f"q{k}": group_ledger(wf[q == k]) for k in range(1, 6)}
    return out
