"""Run summaries. Wage definitions follow Hara et al. (CHI 2018):

- **all-in wage** of a worker = earnings / all resolved working time, paid and unpaid (search,
  returned tasks, rejected work, work never paid);
- **paid-only wage** = earnings / time on work that was paid.

Wages are measured on an accrual basis: work submitted before the end of the run counts with
the pay it will receive and its time is classified by its fate (a submission's review outcome is
drawn when it is submitted), so a short run is not biased by reviews still to come. Cash
actually received by the end is ``earnings_usd``; the accrued figure is ``earnings_accrued_usd``.
The share of working time still awaiting payment at the end is ``pending_time_share``. Statistics over workers are per worker (median of workers' wages), over
workers with at least ``sim.min_hours_for_wage`` resolved hours. Money in USD, time in hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crowdsim.ledger import MICRO
from crowdsim.metrics.wages import (
    Accrued,
    accrued,
    finite_or_none,
    wage_stats,
    worker_totals,
    worker_wages,
)


@dataclass
class Results:
    """What a run returns: the summary (flat dict), hourly time series and one row per worker."""

    summary: dict
    timeseries: pd.DataFrame
    workers: pd.DataFrame
    requesters: pd.DataFrame
    config: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        keys = ("wage_median_all_in", "wage_mean_all_in", "share_above_7_25", "unpaid_time_share")
        from crowdsim.text import fmt

        s = ", ".join(f"{k}={fmt(self.summary.get(k))}" for k in keys)
        return f"Results({self.summary.get('scenario')}, seed={self.summary.get('seed')}: {s})"


def gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=np.float64))
    if x.size == 0 or x.sum() <= 0:
        return float("nan")
    n = x.size
    # np.sum, not .dot: BLAS splits a long dot product across threads, so its last bit would
    # depend on the thread count (1 in joblib/loky workers, all cores in a plain process)
    return float(np.sum((2.0 * np.arange(1, n + 1) - n - 1) * x) / (n * x.sum()))


def workers_frame(model, totals: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per worker who was ever in the pool: who they are, their running totals
    (:func:`worker_totals`) and wages (:func:`worker_wages`)."""
    W = model.workers
    n = W.n
    t = worker_totals(model) if totals is None else totals
    codes = np.array(model.countries.codes)
    from crowdsim.metrics.welfare import productivity, quintile, relative_speed

    speed = relative_speed(W.speed[:n], model.config.workers.speed_sigma)
    prod = productivity(speed, W.skill[:n])
    unpaid = t["hours_search"] + t["hours_returned"] + t["hours_rejected"] + t["hours_never_paid"]
    wages = worker_wages(t, resolved=t["hours_paid"] + unpaid)
    cols = {
        "worker": np.arange(n),
        "country": codes[W.country[:n]],
        "main_income": W.main_income[:n],
        "reservation_wage": W.reservation_wage[:n],
        "weekly_hours_target": W.weekly_hours[:n],
        "skill": W.skill[:n],
        "speed": speed,
        "productivity": prod,
        "productivity_quintile": quintile(prod, model.productivity_cuts),
    }
    for k in (
        "hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid",
        "hours_pending", "hours_idle_online", "hours_logged_off", "hours_online", "earnings_usd",
        "earnings_accrued_usd", "fees_paid_usd", "pending_value_usd", "work_value_usd",
        "work_reward_usd", "work_cost_usd", "inclusive_value_usd",
    ):  # fmt: skip
        cols[k] = t[k]
    cols |= {
        "wage_all_in": wages["wage_all_in"],
        "wage_paid_only": wages["wage_paid_only"],
        "local_min_wage_usd": t["local_min_wage_usd"],
        "wage_relative_to_local_min": wages["wage_relative_to_local_min"],
    }
    for k in ("tasks_submitted", "tasks_approved", "tasks_rejected", "tasks_returned"):
        cols[k] = t[k]
    cols |= {
        "approval_rate": wages["approval_rate"],
        "joined_hour": W.joined_hour[:n],
        "left_hour": t["left_hour"],
        "left": W.left_hour[:n] >= 0,
    }
    return pd.DataFrame(cols)


def requesters_frame(model) -> pd.DataFrame:
    """One row per requester who was ever on the platform: who it is, what it posted and spent
    over the run, the value of its approved work and what it paid for it (the welfare ledger,
    accrued at submission), and the same over the measured window (``*_window_usd``) where the
    run has a warm-up."""
    from crowdsim.agents import REJECTION_KINDS, REVIEW_KINDS
    from crowdsim.config import TASK_TYPES

    R = model.requesters
    n = R.n
    df = pd.DataFrame(
        {
            "requester": np.arange(n),
            "task_type": np.array(TASK_TYPES)[R.task_type[:n]],
            "target_pay_per_hour": R.target_pay[:n],
            "review": np.array(REVIEW_KINDS)[R.review_kind[:n]],
            "rejection": np.array(REJECTION_KINDS)[R.rejection_kind[:n]],
            "activity": R.activity[:n],
            "spent_usd": R.spent_micro[:n] / MICRO,
            "assignments_posted": R.n_posted[:n],
            "assignments_submitted": R.n_submitted[:n],
            "assignments_approved": R.n_approved[:n],
            "assignments_rejected": R.n_rejected[:n],
            "assignments_rejected_unjustified": R.n_unjust[:n],
            "joined_hour": R.joined_hour[:n],
            "left_hour": R.left_hour[:n],
            "value_per_hour_usd": R.value_per_hour[:n],
            "value_of_approved_work_usd": R.value_micro[:n] / MICRO,
            "cost_of_approved_work_usd": R.cost_micro[:n] / MICRO,
            # what it posted (rewards chosen before rounding to cents, rewards, fees,
            # assignment-hours at its own estimate of the time):
            # the same requesters' fee pass-through (metrics.windows.fee_pass_through)
            "pay_posted_usd": R.pay_posted_usd[:n],
            "reward_posted_usd": R.reward_posted_micro[:n] / MICRO,
            "fee_posted_usd": R.fee_posted_micro[:n] / MICRO,
            "hours_posted": R.est_hours_posted[:n],
        }
    )
    base = model.windows.base
    if base is not None:

        def since(col, start):
            before = np.zeros(n, dtype=np.int64)
            before[: start.size] = start
            return (col[:n] - before) / MICRO

        df["spent_window_usd"] = since(R.spent_micro, base.requester_spent_micro)
        df["value_of_approved_work_window_usd"] = since(R.value_micro, base.requester_value_micro)
        df["cost_of_approved_work_window_usd"] = since(R.cost_micro, base.requester_cost_micro)
        df["surplus_window_usd"] = (
            df["value_of_approved_work_window_usd"] - df["cost_of_approved_work_window_usd"]
        )
        pay, reward, fee, hours = (np.pad(a, (0, n - a.size)) for a in base.requester_posted)
        df["pay_posted_window_usd"] = R.pay_posted_usd[:n] - pay
        df["reward_posted_window_usd"] = (R.reward_posted_micro[:n] - reward) / MICRO
        df["fee_posted_window_usd"] = (R.fee_posted_micro[:n] - fee) / MICRO
        df["hours_posted_window"] = R.est_hours_posted[:n] - hours
    return df


def timeseries_frame(model) -> pd.DataFrame:
    n = min(model.hour, model.n_hours)
    df = pd.DataFrame({k: v[:n] for k, v in model.series.items()})
    df.insert(0, "hour", np.arange(n))
    for j, code in enumerate(model.countries.codes):
        df[f"active_{code}"] = model.series_active_by_country[:n, j]
    return df


def summarize(
    model,
    wf: pd.DataFrame | None = None,
    ts: pd.DataFrame | None = None,
    acc: Accrued | None = None,
) -> dict:
    from crowdsim.metrics.windows import Snapshot, measured_workers, window_frame

    cfg, c = model.config, model.counters
    acc = accrued(model) if acc is None else acc  # the same pass as wf's, when given both
    wf = workers_frame(model, worker_totals(model, acc)) if wf is None else wf
    ts = timeseries_frame(model) if ts is None else ts
    led = model.ledger.totals_usd()
    pend = dict(acc.pending)
    spent = model.requesters.spent_micro[: model.requesters.n] / MICRO
    base = model.windows.base  # the end of warm-up (None without one)
    if base is not None:
        # the measured window only: running totals less those at the end of warm-up
        end = Snapshot.take(model, wf, acc)
        wf = window_frame(wf, base)
        ts = ts[ts["hour"] >= base.hour]
        c = base.counters_since(end.counters)
        led = base.ledger_since(led)
        pend = {k: v - base.pending[k] for k, v in pend.items()}
        spent = (
            spent
            - np.pad(base.requester_spent_micro, (0, spent.size - base.requester_spent_micro.size))
            / MICRO
        )
    measured = measured_workers(model, wf)
    s: dict = {
        "scenario": model.scenario_name,
        "seed": cfg.seed,
        "n_workers": cfg.population.n_workers,
        "days": cfg.sim.days,
    }
    s.update(wage_stats(measured))
    paid = wf["hours_paid"].sum()
    unpaid_kinds = {
        k: wf[f"hours_{k}"].sum() for k in ("search", "returned", "rejected", "never_paid")
    }
    unpaid = sum(unpaid_kinds.values())
    total = paid + unpaid
    s["unpaid_time_share"] = finite_or_none(unpaid / total) if total > 0 else None
    for k, v in unpaid_kinds.items():
        s[f"unpaid_share_{k}"] = finite_or_none(v / total) if total > 0 else None
    pending = wf["hours_pending"].sum()
    s["pending_time_share"] = (
        finite_or_none(pending / (total + pending)) if total + pending > 0 else None
    )
    # rejection rates on the accrual basis too: outcomes of submissions still awaiting review count
    pend_unjust, pend_rej = pend["unjust"], pend["rejected"]
    judged = c["assignments_approved"] + c["assignments_rejected"] + pend["approved"] + pend_rej
    s["rejection_rate"] = (c["assignments_rejected"] + pend_rej) / judged if judged else None
    s["unjustified_rejection_rate"] = (
        (c["assignments_rejected_unjustified"] + pend_unjust) / judged if judged else None
    )
    started = wf["tasks_submitted"].sum() + wf["tasks_returned"].sum()
    s["return_rate"] = float(wf["tasks_returned"].sum() / started) if started else None
    s["payment_delay_days_mean"] = (
        c["delay_hours_x_assignments"] / c["assignments_approved"] / 24.0
        if c["assignments_approved"]
        else None
    )
    s["value_never_paid_share"] = (
        c["value_never_paid_micro"] / c["value_submitted_micro"]
        if c["value_submitted_micro"]
        else 0.0
    )
    s["value_good_rejected_usd"] = c["value_good_rejected_micro"] / MICRO
    # weekly earnings volatility among workers present for the whole of >= 2 weeks
    s["earnings_cv_weekly_median"] = _weekly_cv(model, 0 if base is None else base.hour)
    worked = wf[(wf["hours_paid"] + wf["hours_search"] + wf["hours_pending"]) > 0]
    s["gini_earnings"] = (
        finite_or_none(gini(worked["earnings_accrued_usd"].to_numpy())) if len(worked) else None
    )
    s["platform_revenue_usd"] = led["ledger_platform_fees_usd"]
    s["worker_earnings_usd"] = led["ledger_worker_paid_usd"]
    s["active_workers_mean"] = float(ts["active_workers"].mean()) if len(ts) else 0.0
    s["present_workers_mean"] = float(ts["present_workers"].mean()) if len(ts) else 0.0
    s["worker_exit_rate"] = float(wf["left"].mean()) if len(wf) else 0.0
    s["worker_wage_exits"] = int(c["worker_exits_wage"])
    s["worker_entries"] = int(c["worker_entries"])
    s["requester_exits"] = int(c["requester_exits"])
    s["tasks_posted"] = int(c["assignments_posted"])
    s["tasks_submitted"] = int(c["assignments_submitted"])
    s["tasks_approved"] = int(c["assignments_approved"])
    s["batches_posted"] = int(c["batches_posted"])
    from crowdsim.metrics.windows import posted_pay

    s |= posted_pay(c)
    s["batches_split"] = int(c["batches_split"])
    s["requester_cost_per_approved_task_usd"] = (
        (led["ledger_requester_spent_usd"] - led["ledger_escrow_usd"]) / c["assignments_approved"]
        if c["assignments_approved"]
        else None
    )
    vol = np.sort(spent)[::-1]
    if vol.sum() > 0:
        top = max(1, int(round(0.01 * vol.size)))
        s["requester_top1pct_volume_share"] = float(vol[:top].sum() / vol.sum())
    else:
        s["requester_top1pct_volume_share"] = None
    s.update(led)
    # memo: reward value of submitted work awaiting payment (held inside escrow)
    W = model.workers
    s["ledger_worker_pending_usd"] = float(W.pending_value_micro[: W.n].sum() / MICRO)
    s["hits_10plus_share"] = c["hits_10plus"] / c["hits_posted"] if c["hits_posted"] else None
    # figures of the rules that are off by default, where a run has them
    pc = model.config.platform
    if model.top_ups is not None or c["top_ups_micro"]:
        s["top_ups_usd"] = c["top_ups_micro"] / MICRO  # Prolific's median rule, gross
        s["batches_topped_up"] = int(c["batches_topped_up"])
    if pc.waitlist or c["workers_admitted"]:
        s["workers_admitted"] = int(c["workers_admitted"])
        s["workers_waiting_end"] = int(model.waitlist)
    from crowdsim.metrics.welfare import welfare

    s["welfare"] = welfare(model, wf, c)
    s |= _windows_summary(model)
    s["by_country"] = {
        code: wage_stats(measured[measured["country"] == code])
        | {
            "local_min_wage_usd": float(model.countries.min_wage_usd[j]),
            "workers": int((wf["country"] == code).sum()),
        }
        for j, code in enumerate(model.countries.codes)
    }
    return s


def _windows_summary(model) -> dict:
    """Warm-up, the convergence diagnostic over consecutive windows of the measured window, and
    the windows either side of a reform (:mod:`crowdsim.metrics.windows`)."""
    sim, win = model.config.sim, model.windows
    diag = win.steady_state(sim.steady_drift_tolerance)
    out = {
        "warmup_days": sim.warmup_days,
        "measured_days": (min(model.hour, model.n_hours) - win.warmup_hours) / 24,
        "steady_state": diag.pop("steady_state"),
        "steady_state_drift": diag,
    }
    if win.reform_hour is not None:
        out["reform"] = model.config.reform.name
        out["reform_day"] = sim.reform_day
        out["before_reform"] = win.measured.get("before_reform")
        out["after_reform"] = win.measured.get("after_reform")
        from crowdsim.metrics.windows import fee_pass_through

        posted = win.posted
        if (
            "before_reform" in posted
            and "after_reform" in posted
            and model.base_fees != fee_rules(model.config)
        ):
            # an outcome of requesters' choices, not an input (market/post.py), on the same
            # requesters either side of the reform
            ptm = fee_pass_through(posted["before_reform"], posted["after_reform"])
            out["fee_pass_through_measured"] = None if ptm is None else ptm.pop("share")
            out["fee_pass_through_basis"] = ptm
    return out


def fee_rules(cfg) -> tuple:
    """The platform's requester fee rules (a reform that changes them measures the fee's
    pass-through to rewards)."""
    pc = cfg.platform
    return (
        pc.commission,
        pc.commission_min_usd,
        pc.batch_surcharge,
        pc.batch_surcharge_min_assignments,
    )


def _weekly_cv(model, start_hour: int = 0) -> float | None:
    """Median over workers of the coefficient of variation of weekly earnings, over the full
    weeks from ``start_hour`` on, among workers present throughout them."""
    if model.weekly_earnings is None:
        return None
    W = model.workers
    first = -(-start_hour // 168)
    full_weeks = model.hour // 168
    if full_weeks - first < 2:
        return None
    n = W.n
    weeks = model.weekly_earnings[first:full_weeks, :n].astype(np.float64)
    joined, left = W.joined_hour[:n], W.left_hour[:n]
    stayed = (joined <= first * 168) & ((left < 0) | (left >= full_weeks * 168))
    earning = stayed & (weeks.sum(axis=0) > 0)
    if not earning.any():
        return None
    x = weeks[:, earning]
    cv = x.std(axis=0, ddof=1) / x.mean(axis=0)
    return float(np.median(cv))


def build_results(model) -> Results:
    from dataclasses import asdict

    acc = accrued(model)
    wf = workers_frame(model, worker_totals(model, acc))
    ts = timeseries_frame(model)
    summary = summarize(model, wf, ts, acc)
    if model.windows.base is not None:  # workers' figures over the measured window, as summarised
        from crowdsim.metrics.windows import window_frame

        wf = window_frame(wf, model.windows.base)
    return Results(
        summary=summary,
        timeseries=ts,  # every hour, warm-up included (the summary says where warm-up ends)
        workers=wf,
        requesters=requesters_frame(model),
        config=asdict(model.config),
    )
