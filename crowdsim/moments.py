"""Simulated moments: the statistics of a run that are compared with published figures.

A run starts from an empty history: workers have no approval record and naive beliefs, no work
is pending. The first week is a transient (beliefs settle, qualifications are earned), so
moments are measured over a **window** that starts after ``warmup_days``: :func:`simulate` runs
the model, takes a snapshot of every worker's cumulative (accrual-basis) earnings and hours when
the warm-up ends and builds the usual :class:`~crowdsim.metrics.summary.Results` at the end; a
worker's wage in the window is the difference of the two. The model and its results are the same
as ``crowdsim.run`` for the same configuration and seed: nothing in the model changes.

Each moment is a function ``f(run: MeasuredRun) -> float`` registered in :data:`MOMENTS` under
the name used in ``crowdsim/calibration/targets.yaml``. Definitions follow the sources:

- wages (Hara et al. 2018): a worker's all-in wage = earnings / all working time (paid, search,
  returned, rejected, never paid); paid-only wage = earnings / paid working time; statistics are
  over workers with at least ``sim.min_hours_for_wage`` resolved hours in the window;
- rejection rate (Hara et al. 2018): rejected / judged tasks, on the accrual basis (a submission's
  fate is drawn when it is submitted, so work awaiting review counts with its outcome);
- return rate (Hara et al. 2018, tasks started but not submitted): returned / (returned + submitted);
- US / India share of active workers at 08-10 and 20-22 UTC (Ipeirotis 2015, mturk-tracker);
- active share: workers online in an hour / workers in the pool (Difallah et al. 2018;
  Ipeirotis 2018: 2-5k active of 100-200k);
- pool half-life in months = ln 2 / monthly exit hazard in the window (Difallah et al. 2018);
- requester top-1% share of dollar volume over the whole run (Ipeirotis 2010);
- requester-level pay per hour of work (Hara et al. 2018): for each requester that posted in the
  window, reward / true median minutes of its tasks, weighted by assignments; median and mean
  over requesters. The reward is what the requester intended for its *estimated* duration, so
  this differs from the requester's target pay by its duration bias and the fee pass-through.

Money in USD, time in hours unless stated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crowdsim.config import CrowdSimConfig, to_config
from crowdsim.ledger import MICRO
from crowdsim.metrics.summary import Results, workers_frame
from crowdsim.metrics.wages import US_FEDERAL_MIN, accrued

HOURS_PER_MONTH = 24.0 * 30.4375
WAGE_COLUMNS = (
    "earnings_accrued_usd",
    "hours_paid",
    "hours_search",
    "hours_returned",
    "hours_rejected",
    "hours_never_paid",
)
RESOLVED_HOURS = WAGE_COLUMNS[1:]


@dataclass
class MeasuredRun:
    """A run's results plus what moments need beyond them.

    Attributes:
        results: the run's :class:`~crowdsim.metrics.summary.Results` (whole run).
        warmup_hours: length of the warm-up; moments use hours ``[warmup_hours, end)``.
        warmup_workers: the workers frame at the end of the warm-up (None when there is none).
        accrued_judged: (approved, rejected) task counts on the accrual basis at the end of the
            warm-up and at the end: shape (2, 2).
        requester_posted: per requester, assignments posted in the window and their reward x
            assignments (USD) and true minutes x assignments (columns ``assignments``,
            ``reward_usd``, ``true_minutes``).
    """

    results: Results
    warmup_hours: int
    warmup_workers: pd.DataFrame | None
    accrued_judged: np.ndarray
    requester_posted: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> dict:
        return self.results.config


def _accrued_judged(model) -> tuple[float, float]:
    """Approved and rejected task counts, settled plus those awaiting settlement (accrual basis)."""
    c = model.counters
    pending = accrued(model).pending
    return (
        float(c["assignments_approved"] + pending["approved"]),
        float(c["assignments_rejected"] + pending["rejected"]),
    )


def simulate(cfg: Any = None, warmup_days: float = 7.0, **overrides: Any) -> MeasuredRun:
    """Run one configuration and keep what the moments need.

    Args:
        cfg: anything :func:`crowdsim.config.to_config` accepts.
        warmup_days: days left out of windowed moments (0 = measure the whole run).
        **overrides: dotted options with ``__`` for dots, as in :func:`crowdsim.run`.

    Returns:
        A :class:`MeasuredRun`; its ``results`` equal ``crowdsim.run(cfg, **overrides)``.
    """
    from crowdsim.model import CrowdWorkModel

    config = (
        cfg if isinstance(cfg, CrowdSimConfig) and not overrides else to_config(cfg, **overrides)
    )
    model = CrowdWorkModel(config, create_agents=False)
    warm = int(round(warmup_days * 24))
    if not 0 <= warm < model.n_hours:
        from crowdsim.config import ConfigError

        raise ConfigError(
            "warmup_days", warmup_days, f"a number >= 0 and below sim.days ({config.sim.days})"
        )
    warm_frame = None
    judged = np.zeros((2, 2))
    n_req_cap = 0
    posted = {"assignments": [], "reward_usd": [], "true_minutes": [], "requester": []}
    B = model.batches
    while model.hour < model.n_hours:
        if model.hour == warm and warm > 0:
            warm_frame = workers_frame(model)
            judged[0] = _accrued_judged(model)
        h = model.hour
        model.step()
        if h >= warm:
            rows = np.flatnonzero(B.in_use[: B.n] & (B.posted_hour[: B.n] == h))
            if rows.size:
                size = B.size[rows].astype(np.float64)
                posted["requester"].append(B.requester[rows].astype(np.int64))
                posted["assignments"].append(size)
                posted["reward_usd"].append(size * B.reward_micro[rows] / MICRO)
                posted["true_minutes"].append(size * B.true_minutes[rows])
    judged[1] = _accrued_judged(model)
    n_req_cap = model.requesters.n
    res = model.results()
    res.summary["phase_seconds"] = {k: round(v, 4) for k, v in model.phase_seconds.items()}
    if posted["requester"]:
        req = np.concatenate(posted["requester"])
        by = {
            k: np.bincount(req, weights=np.concatenate(v), minlength=n_req_cap)
            for k, v in posted.items()
            if k != "requester"
        }
    else:
        by = {k: np.zeros(n_req_cap) for k in ("assignments", "reward_usd", "true_minutes")}
    frame = pd.DataFrame(by)
    frame.insert(0, "requester", np.arange(n_req_cap))
    return MeasuredRun(
        results=res,
        warmup_hours=warm,
        warmup_workers=warm_frame,
        accrued_judged=judged,
        requester_posted=frame,
    )


# ----------------------------------------------------------------------------- window helpers
def window_workers(run: MeasuredRun) -> pd.DataFrame:
    """Per worker, earnings and hours accrued in the window (end minus warm-up snapshot)."""
    end = run.results.workers.set_index("worker")
    cols = list(WAGE_COLUMNS)
    delta = end[cols].copy()
    if run.warmup_workers is not None:
        start = run.warmup_workers.set_index("worker")[cols].reindex(delta.index).fillna(0.0)
        delta = delta - start
    delta["resolved_hours"] = delta[list(RESOLVED_HOURS)].sum(axis=1)
    delta["country"] = end["country"]
    delta["local_min_wage_usd"] = end["local_min_wage_usd"]
    delta["reservation_wage"] = end["reservation_wage"]
    return delta.reset_index()


def window_wages(run: MeasuredRun) -> pd.DataFrame:
    """All-in and paid-only wages (USD/h) of the workers measured in the window."""
    d = window_workers(run)
    min_hours = float(run.config.get("sim", {}).get("min_hours_for_wage", 1.0))
    d = d[d["resolved_hours"] >= max(min_hours, 1e-9)].copy()
    d["wage_all_in"] = d["earnings_accrued_usd"] / d["resolved_hours"]
    with np.errstate(divide="ignore", invalid="ignore"):
        d["wage_paid_only"] = np.where(
            d["hours_paid"] > 0, d["earnings_accrued_usd"] / d["hours_paid"], np.nan
        )
    return d


def window_timeseries(run: MeasuredRun) -> pd.DataFrame:
    ts = run.results.timeseries
    return ts[ts["hour"] >= run.warmup_hours]


def _nan_if_empty(x: np.ndarray, f: Callable[[np.ndarray], float]) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(f(x)) if x.size else float("nan")


# ----------------------------------------------------------------------------- the moments
def wage_median_all_in(run: MeasuredRun) -> float:
    return _nan_if_empty(window_wages(run)["wage_all_in"].to_numpy(), np.median)


def wage_mean_all_in(run: MeasuredRun) -> float:
    return _nan_if_empty(window_wages(run)["wage_all_in"].to_numpy(), np.mean)


def wage_median_paid_only(run: MeasuredRun) -> float:
    return _nan_if_empty(window_wages(run)["wage_paid_only"].to_numpy(), np.median)


def share_above_7_25(run: MeasuredRun) -> float:
    return _nan_if_empty(
        window_wages(run)["wage_all_in"].to_numpy(), lambda w: np.mean(w > US_FEDERAL_MIN)
    )


def share_above_local_min_wage(run: MeasuredRun) -> float:
    d = window_wages(run)
    if d.empty:
        return float("nan")
    return float(np.mean(d["wage_all_in"].to_numpy() >= d["local_min_wage_usd"].to_numpy()))


def unpaid_time_share(run: MeasuredRun) -> float:
    d = window_workers(run)
    total = d["resolved_hours"].sum()
    return float(1.0 - d["hours_paid"].sum() / total) if total > 0 else float("nan")


def rejection_rate(run: MeasuredRun) -> float:
    (a0, r0), (a1, r1) = run.accrued_judged
    judged = (a1 - a0) + (r1 - r0)
    return float((r1 - r0) / judged) if judged > 0 else float("nan")


def return_rate(run: MeasuredRun) -> float:
    ts = window_timeseries(run)
    started = ts["tasks_done"].sum() + ts["tasks_returned"].sum()
    return float(ts["tasks_returned"].sum() / started) if started > 0 else float("nan")


def _country_share(run: MeasuredRun, code: str, utc_hours: tuple[int, ...]) -> float:
    ts = window_timeseries(run)
    cols = [c for c in ts.columns if c.startswith("active_") and c != "active_workers"]
    col = f"active_{code}"
    if col not in cols:
        return float("nan")
    sel = ts[(ts["hour"] % 24).isin(utc_hours)]
    total = sel[cols].to_numpy().sum()
    return float(sel[col].sum() / total) if total > 0 else float("nan")


def india_share_08_10_utc(run: MeasuredRun) -> float:
    return _country_share(run, "IN", (8, 9))


def india_share_20_22_utc(run: MeasuredRun) -> float:
    return _country_share(run, "IN", (20, 21))


def us_share_08_10_utc(run: MeasuredRun) -> float:
    return _country_share(run, "US", (8, 9))


def us_share_20_22_utc(run: MeasuredRun) -> float:
    return _country_share(run, "US", (20, 21))


def active_share(run: MeasuredRun) -> float:
    ts = window_timeseries(run)
    present = ts["present_workers"].to_numpy()
    ok = present > 0
    return (
        float(np.mean(ts["active_workers"].to_numpy()[ok] / present[ok]))
        if ok.any()
        else float("nan")
    )


def monthly_exit_hazard(run: MeasuredRun) -> float:
    """Exits per worker-month of presence in the window."""
    ts = window_timeseries(run)
    exposure = ts["present_workers"].sum() / HOURS_PER_MONTH
    wf = run.results.workers
    exits = int(((wf["left_hour"] >= run.warmup_hours) & wf["left"]).sum())
    return float(exits / exposure) if exposure > 0 else float("nan")


def pool_half_life_months(run: MeasuredRun) -> float:
    """Months until half of a cohort has left at the window's exit hazard: ln 2 / hazard."""
    lam = monthly_exit_hazard(run)
    if not np.isfinite(lam):
        return float("nan")
    return float(math.log(2.0) / lam) if lam > 0 else float("inf")


def requester_top1pct_volume_share(run: MeasuredRun) -> float:
    vol = np.sort(run.results.requesters["spent_usd"].to_numpy())[::-1]
    if vol.size == 0 or vol.sum() <= 0:
        return float("nan")
    top = max(1, int(round(0.01 * vol.size)))
    return float(vol[:top].sum() / vol.sum())


def requester_pay_per_hour(run: MeasuredRun) -> np.ndarray:
    """Per requester that posted in the window: USD per true hour of work (median-speed worker)."""
    p = run.requester_posted
    p = p[(p["assignments"] > 0) & (p["true_minutes"] > 0)]
    return (p["reward_usd"] / p["true_minutes"] * 60.0).to_numpy()


def requester_pay_median(run: MeasuredRun) -> float:
    return _nan_if_empty(requester_pay_per_hour(run), np.median)


def requester_pay_mean(run: MeasuredRun) -> float:
    return _nan_if_empty(requester_pay_per_hour(run), np.mean)


def requester_share_rejecting_below_1pct(run: MeasuredRun, min_judged: int = 20) -> float:
    """Among requesters with at least ``min_judged`` judged tasks, the share rejecting < 1%."""
    rf = run.results.requesters
    judged = rf["assignments_approved"] + rf["assignments_rejected"]
    sel = judged >= min_judged
    if not sel.any():
        return float("nan")
    rate = rf.loc[sel, "assignments_rejected"] / judged[sel]
    return float((rate < 0.01).mean())


def requester_share_rejecting_above_5pct(run: MeasuredRun, min_judged: int = 20) -> float:
    rf = run.results.requesters
    judged = rf["assignments_approved"] + rf["assignments_rejected"]
    sel = judged >= min_judged
    if not sel.any():
        return float("nan")
    rate = rf.loc[sel, "assignments_rejected"] / judged[sel]
    return float((rate > 0.05).mean())


def platform_revenue_usd(run: MeasuredRun) -> float:
    return float(run.results.summary.get("platform_revenue_usd", float("nan")))


def worker_surplus_usd(run: MeasuredRun) -> float:
    """The welfare ledger's worker surplus over the window: accrued earnings - reservation wage
    x all working hours, unpaid included (crowdsim.metrics.welfare)."""
    d = window_workers(run)
    return float((d["earnings_accrued_usd"] - d["reservation_wage"] * d["resolved_hours"]).sum())


MOMENTS: dict[str, Callable[[MeasuredRun], float]] = {
    "wage_median_all_in": wage_median_all_in,
    "wage_mean_all_in": wage_mean_all_in,
    "wage_median_paid_only": wage_median_paid_only,
    "share_above_7_25": share_above_7_25,
    "share_above_local_min_wage": share_above_local_min_wage,
    "unpaid_time_share": unpaid_time_share,
    "rejection_rate": rejection_rate,
    "return_rate": return_rate,
    "india_share_08_10_utc": india_share_08_10_utc,
    "india_share_20_22_utc": india_share_20_22_utc,
    "us_share_08_10_utc": us_share_08_10_utc,
    "us_share_20_22_utc": us_share_20_22_utc,
    "active_share": active_share,
    "monthly_exit_hazard": monthly_exit_hazard,
    "pool_half_life_months": pool_half_life_months,
    "requester_top1pct_volume_share": requester_top1pct_volume_share,
    "requester_pay_median": requester_pay_median,
    "requester_pay_mean": requester_pay_mean,
    "requester_share_rejecting_below_1pct": requester_share_rejecting_below_1pct,
    "requester_share_rejecting_above_5pct": requester_share_rejecting_above_5pct,
    "platform_revenue_usd": platform_revenue_usd,
    "worker_surplus_usd": worker_surplus_usd,
}


def compute_moments(run: MeasuredRun, names: list[str] | None = None) -> dict[str, float]:
    """The named moments of one run (all of :data:`MOMENTS` by default)."""
    names = list(MOMENTS) if names is None else names
    unknown = [n for n in names if n not in MOMENTS]
    if unknown:
        from crowdsim.config import ConfigError

        raise ConfigError("moment", unknown[0], ", ".join(MOMENTS))
    return {n: MOMENTS[n](run) for n in names}
