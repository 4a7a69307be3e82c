"""Wage building blocks, below both the run summary and the measurement windows.

A worker's running totals on the accrual basis (:func:`worker_totals`, with what pending
submissions will bring, :func:`accrued`), their resolved working time (:func:`resolved_hours`),
the wages they imply (:func:`worker_wages`) and wage statistics over workers
(:func:`wage_stats`). Wage definitions follow Hara et al. (CHI 2018): see
:mod:`crowdsim.metrics.summary`. Money in USD, time in hours.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from crowdsim.ledger import MICRO

US_FEDERAL_MIN = 7.25


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite (a summary's missing value)."""
    return float(x) if np.isfinite(x) else None


class Accrued(NamedTuple):
    """What the submissions awaiting settlement will bring (:func:`accrued`)."""

    pay_micro: np.ndarray  # per worker, net of the worker fee
    paid_minutes: np.ndarray  # per worker
    rejected_minutes: np.ndarray  # per worker
    never_paid_minutes: np.ndarray  # per worker
    pending: dict[str, int]  # assignments to be approved, rejected, rejected although good


def accrued(model) -> Accrued:
    """Pay and minutes (paid, rejected, never paid) that pending submissions will bring each
    worker, by the fate rule of settlement (:func:`crowdsim.market.settle.pending_by_worker`)."""
    from crowdsim.market.settle import pending_by_worker
    from crowdsim.policy.fees import worker_fee_rate

    W, S = model.workers, model.records
    n = W.n
    rate = worker_fee_rate(model.config.platform, W.gross_billed_micro[:n] / MICRO)
    pay, paid, rej, never, counts = pending_by_worker(S.table, S.in_use, S.n, rate, n)
    pending = dict(zip(("approved", "rejected", "unjust"), map(int, counts), strict=True))
    return Accrued(pay, paid, rej, never, pending)


def worker_totals(model, acc: Accrued | None = None) -> dict[str, np.ndarray]:
    """Each worker's running totals on the accrual basis (hours by kind, earnings, fees, task
    counts: the columns a window takes differences of), with ``left_hour`` and the local
    minimum wage; numpy columns, one value per worker row."""
    W = model.workers
    n = W.n
    acc = accrued(model) if acc is None else acc
    paid_h = (W.m_paid[:n] + acc.paid_minutes) / 60
    cash = W.earned_micro[:n] / MICRO
    return {
        "hours_paid": paid_h,
        "hours_search": W.m_search[:n] / 60,
        "hours_returned": W.m_returned[:n] / 60,
        "hours_rejected": (W.m_rejected[:n] + acc.rejected_minutes) / 60,
        "hours_never_paid": (W.m_never_paid[:n] + acc.never_paid_minutes) / 60,
        "hours_pending": W.m_pending[:n] / 60,
        "hours_idle_online": W.m_idle_online[:n] / 60,
        "hours_logged_off": W.m_logged_off[:n] / 60,
        "hours_online": W.online_hours[:n] - W.m_logged_off[:n] / 60,
        "earnings_usd": cash,
        "earnings_accrued_usd": cash + acc.pay_micro / MICRO,
        "fees_paid_usd": W.fees_paid_micro[:n] / MICRO,
        "pending_value_usd": W.pending_value_micro[:n] / MICRO,
        "tasks_submitted": W.n_submitted[:n],
        "tasks_approved": W.n_approved[:n],
        "tasks_rejected": W.n_rejected[:n],
        "tasks_returned": W.n_returned[:n],
        "work_value_usd": W.work_value_micro[:n] / MICRO,
        "work_reward_usd": W.work_reward_micro[:n] / MICRO,
        "work_cost_usd": W.work_cost_micro[:n] / MICRO,
        "inclusive_value_usd": W.inclusive_value_usd[:n].copy(),
        "local_min_wage_usd": model.countries.min_wage_usd[W.country[:n]],
        "left_hour": np.where(W.left_hour[:n] >= 0, W.left_hour[:n], -1),
    }


def resolved_hours(cols) -> np.ndarray:
    """Per worker, resolved working time: paid plus unpaid (search, returned, rejected, never
    paid), in hours, from the columns of :func:`worker_totals` or a workers frame."""
    return (
        np.asarray(cols["hours_paid"]) + np.asarray(cols["hours_search"])
        + np.asarray(cols["hours_returned"]) + np.asarray(cols["hours_rejected"])
        + np.asarray(cols["hours_never_paid"])
    )  # fmt: skip


def worker_wages(cols, resolved: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All-in and paid-only wages, approval rate and the all-in wage over the local minimum, from
    the running totals ``cols`` (:func:`worker_totals`, a workers frame, or their differences
    over a window) and their resolved hours (by default :func:`resolved_hours`)."""
    paid = np.asarray(cols["hours_paid"])
    resolved = resolved_hours(cols) if resolved is None else resolved
    earn = np.asarray(cols["earnings_accrued_usd"])
    a, r = np.asarray(cols["tasks_approved"]), np.asarray(cols["tasks_rejected"])
    with np.errstate(divide="ignore", invalid="ignore"):
        wage_all = np.where(resolved > 0, earn / resolved, np.nan)
        return {
            "wage_all_in": wage_all,
            "wage_paid_only": np.where(paid > 0, earn / paid, np.nan),
            "approval_rate": np.where(a + r > 0, a / np.maximum(a + r, 1), np.nan),
            "wage_relative_to_local_min": wage_all / np.asarray(cols["local_min_wage_usd"]),
        }


def wage_stats(df, prefix: str = "") -> dict:
    """Wage statistics over the rows of ``df`` (a workers frame or a dict of its columns)."""
    w = np.asarray(df["wage_all_in"])
    p = np.asarray(df["wage_paid_only"])
    lm = np.asarray(df["local_min_wage_usd"])
    out = {
        f"{prefix}n_workers_measured": int(w.size),
        f"{prefix}wage_median_all_in": finite_or_none(np.median(w)) if w.size else None,
        f"{prefix}wage_mean_all_in": finite_or_none(np.mean(w)) if w.size else None,
        f"{prefix}wage_p25_all_in": finite_or_none(np.quantile(w, 0.25)) if w.size else None,
        f"{prefix}wage_p75_all_in": finite_or_none(np.quantile(w, 0.75)) if w.size else None,
        f"{prefix}wage_median_paid_only": finite_or_none(np.nanmedian(p))
        if np.isfinite(p).any()
        else None,
        f"{prefix}share_above_7_25": finite_or_none(np.mean(w > US_FEDERAL_MIN))
        if w.size
        else None,
        f"{prefix}share_above_local_min_wage": finite_or_none(np.mean(w >= lm)) if w.size else None,
        f"{prefix}wage_median_relative_to_local_min": finite_or_none(np.median(w / lm))
        if w.size
        else None,
    }
    return out
