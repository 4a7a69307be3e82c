"""Measuring a run over windows of hours: the window after warm-up, consecutive windows for the
convergence diagnostic, and equal windows either side of a reform.

A window's figures are the differences between two :class:`Snapshot` s of the run's running
totals, taken at the first hour of the window and at the first hour after it. Per-worker totals
are on the accrual basis of :mod:`crowdsim.metrics.summary` (work submitted before a snapshot
counts there with the pay and time its fate will bring), so a window holds the work submitted
in it. Snapshots are taken only at the hours some window starts or ends (:class:`Windows`), and
each is dropped once its windows are measured.

Drift (:func:`drift`): for each headline metric over the consecutive windows, the least-squares
trend across them and its change from the first window to the last relative to the metric's mean.
A metric drifts when that change exceeds ``sim.steady_drift_tolerance`` *and* the trend is
significant at the 5% level by Student's t on n - 2 degrees of freedom (n windows). With the
four weekly windows of a 28-day measured window that is |t| > 4.30: a fixed |t| > 2 is a test at
about 18% on 2 degrees of freedom, which flagged a stationary status quo, whose weekly median wage
swings by 5-10% with its few largest requesters, in about half of its 4-week windows. The 95%
interval of the change is reported too (``relative_change_interval``). The measured window is in
steady state when no headline metric drifts; with fewer than four windows the diagnostic says
nothing (None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from crowdsim.ledger import MICRO
from crowdsim.metrics.wages import accrued, resolved_hours, wage_stats, worker_totals, worker_wages

# per-worker running totals (columns of summary.workers_frame) that a window takes differences of
ADDITIVE = (
    "hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid",
    "hours_idle_online", "hours_logged_off", "hours_online", "earnings_usd",
    "earnings_accrued_usd", "fees_paid_usd", "tasks_submitted", "tasks_approved",
    "tasks_rejected", "tasks_returned", "work_value_usd", "work_reward_usd", "work_cost_usd",
    "inclusive_value_usd",
)  # fmt: skip
RESOLVED = ("hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid")
# the metrics of the convergence diagnostic
DRIFT_METRICS = ("wage_median_all_in", "unpaid_time_share", "active_workers_mean", "tasks_posted")
# the fewest windows it judges: a trend on three has 1 degree of freedom (|t| > 12.7 at 5%), so it
# would call steady a 400-worker market whose tasks fall by 96% after a floor; on four, 4.30
MIN_DRIFT_WINDOWS = 4
# the headline metrics of a window (before_reform, after_reform, the diagnostic's windows)
HEADLINE = (
    "wage_median_all_in", "wage_mean_all_in", "share_above_7_25", "unpaid_time_share",
    "active_workers_mean", "present_workers_mean", "requesters_active_mean",
    "present_requesters_mean", "tasks_posted", "tasks_approved", "batches_posted",
    "batches_split", "hits_posted", "hits_10plus_share", "reward_mean_usd",
    "reward_per_hour_posted_usd", "cost_per_hour_posted_usd",
    "worker_earnings_usd", "platform_revenue_usd", "requester_exits", "requester_entries",
    "worker_exits", "worker_entries",
)  # fmt: skip


@dataclass
class Snapshot:
    """The run's running totals at the start of hour ``hour``."""

    hour: int
    workers: dict[str, np.ndarray]  # ADDITIVE columns, one value per worker row
    requester_spent_micro: np.ndarray
    requester_value_micro: np.ndarray  # the welfare ledger's value of approved work
    requester_cost_micro: np.ndarray  # ... and what was paid for it
    # each requester's rewards chosen (USD, before rounding), rewards and fees (micro-USD) and
    # assignment-hours (its estimate) posted
    requester_posted: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    counters: dict[str, float]
    ledger: dict[str, float]
    pending: dict[str, int]  # approvals, rejections, unjustified ones still to come

    @staticmethod
    def take(model, totals, acc) -> Snapshot:
        """From the workers' running totals (:func:`~crowdsim.metrics.wages.worker_totals` or a
        workers frame) and what pending work will bring (:func:`~crowdsim.metrics.wages.accrued`)."""
        R = model.requesters
        return Snapshot(
            hour=model.hour,
            workers={k: np.array(totals[k], copy=True) for k in ADDITIVE},
            requester_spent_micro=R.spent_micro[: R.n].copy(),
            requester_value_micro=R.value_micro[: R.n].copy(),
            requester_cost_micro=R.cost_micro[: R.n].copy(),
            requester_posted=(
                R.pay_posted_usd[: R.n].copy(),
                R.reward_posted_micro[: R.n].copy(),
                R.fee_posted_micro[: R.n].copy(),
                R.est_hours_posted[: R.n].copy(),
            ),
            counters=asdict(model.counters),
            ledger=model.ledger.totals_usd(),
            pending=dict(acc.pending),
        )

    def counters_since(self, end: dict) -> dict:
        """Counts between this snapshot and the running counts ``end``."""
        return {k: v - self.counters.get(k, 0) for k, v in end.items()}

    def ledger_since(self, end: dict) -> dict:
        """Ledger flows between this snapshot and ``end``; the escrow balance and the imbalance
        stay those at the end."""
        stocks = ("ledger_escrow_usd", "ledger_imbalance_usd")
        return {k: v if k in stocks else v - self.ledger[k] for k, v in end.items()}


def _since(cols, start: Snapshot) -> dict[str, np.ndarray]:
    """The :data:`ADDITIVE` running totals of ``cols`` less those at ``start`` (every row;
    workers who joined after ``start`` had zero there)."""
    n0 = start.workers[ADDITIVE[0]].size
    out = {}
    for k in ADDITIVE:
        v = np.asarray(cols[k])
        before = np.zeros(v.size, dtype=np.float64)
        before[:n0] = start.workers[k]
        out[k] = v - before.astype(v.dtype)
    return out


def _present_since(left_hour, hour: int) -> np.ndarray:
    left = np.asarray(left_hour)
    return (left < 0) | (left >= hour)


def window_frame(wf: pd.DataFrame, start: Snapshot) -> pd.DataFrame:
    """One row per worker present in the window from ``start`` to the hour of ``wf``: the running
    totals of ``wf`` less those at ``start``, with wages and approval rates recomputed."""

    df = wf.copy()
    for k, v in _since(wf, start).items():
        df[k] = v
    df = df[_present_since(df["left_hour"], start.hour)].copy()
    for k, v in worker_wages(df).items():
        df[k] = v
    return df


def window_columns(totals: dict[str, np.ndarray], start: Snapshot) -> dict[str, np.ndarray]:
    """:func:`window_frame` as numpy columns, for the running totals of
    :func:`~crowdsim.metrics.wages.worker_totals` (the columns a window's metrics need)."""

    keep = _present_since(totals["left_hour"], start.hour)
    cols = {k: v[keep] for k, v in _since(totals, start).items()}
    cols["local_min_wage_usd"] = totals["local_min_wage_usd"][keep]
    return cols | worker_wages(cols)


def measured_workers(model, wf):
    """Workers with at least ``sim.min_hours_for_wage`` resolved hours (rows of the workers
    frame ``wf``, or of a dict of its columns)."""

    keep = resolved_hours(wf) >= model.config.sim.min_hours_for_wage
    if isinstance(wf, pd.DataFrame):
        return wf[keep]
    return {k: v[keep] for k, v in wf.items()}


def window_metrics(model, start: Snapshot, end: Snapshot, totals: dict[str, np.ndarray]) -> dict:
    """The :data:`HEADLINE` metrics over the hours from ``start`` to ``end`` (``totals``: the
    workers' running totals at ``end``)."""

    wf = window_columns(totals, start)
    c = start.counters_since(end.counters)
    led = start.ledger_since(end.ledger)
    a, b = start.hour, end.hour
    s = model.series
    out: dict = {"start_hour": a, "end_hour": b, "days": (b - a) / 24}
    stats = wage_stats(measured_workers(model, wf))
    for k in ("wage_median_all_in", "wage_mean_all_in", "share_above_7_25"):
        out[k] = stats[k]
    # laid out as a frame's values (hours by kind in rows), so the sum is a frame's
    resolved = float(np.stack([wf[k] for k in RESOLVED]).T.sum())
    unpaid = resolved - float(wf["hours_paid"].sum())
    out["unpaid_time_share"] = unpaid / resolved if resolved > 0 else None
    for name, col in (
        ("active_workers_mean", "active_workers"),
        ("present_workers_mean", "present_workers"),
        ("requesters_active_mean", "requesters_active"),
        ("present_requesters_mean", "present_requesters"),
    ):
        out[name] = float(s[col][a:b].mean()) if b > a else None
    out["tasks_posted"] = int(c["assignments_posted"])
    out["tasks_approved"] = int(c["assignments_approved"])
    for k in ("batches_posted", "batches_split", "hits_posted", "requester_exits",
              "requester_entries", "worker_exits", "worker_entries"):  # fmt: skip
        out[k] = int(c[k])
    out["hits_10plus_share"] = c["hits_10plus"] / c["hits_posted"] if c["hits_posted"] else None
    out["reward_mean_usd"] = (
        c["reward_posted_micro"] / MICRO / c["assignments_posted"]
        if c["assignments_posted"]
        else None
    )
    out |= posted_pay(c)
    out["worker_earnings_usd"] = led["ledger_worker_paid_usd"]
    out["platform_revenue_usd"] = led["ledger_platform_fees_usd"]
    return out


def posted_pay(c: dict) -> dict:
    """Reward and requester cost (reward + fee) per hour of the work posted, at the requesters'
    own estimates of its time, weighted by assignments (from the running counts ``c``)."""
    hours = c["assignment_est_minutes_posted"] / 60.0
    return {
        "reward_per_hour_posted_usd": c["reward_posted_micro"] / MICRO / hours if hours else None,
        "cost_per_hour_posted_usd": c["cost_posted_micro"] / MICRO / hours if hours else None,
    }


def posted_since(start: Snapshot, end: Snapshot) -> tuple[np.ndarray, ...]:
    """Each requester's rewards chosen (before rounding), rewards and fees posted (USD) and
    assignment-hours (its estimate) from ``start`` to ``end`` (rows of ``end``; requesters who
    arrived after ``start`` had zero)."""
    out = []
    for a, b in zip(start.requester_posted, end.requester_posted, strict=True):
        d = b.astype(np.float64)
        d[: a.size] -= a
        out.append(d)
    pay, reward, fee, hours = out
    return pay, reward / MICRO, fee / MICRO, hours


def fee_pass_through(before, after) -> dict | None:
    """The share of a change of the requester fee passed to workers through rewards, measured on
    the *same requesters* (those who posted both before and after it), so that who posts does
    not enter: for each, the change in the reward per hour it chose (at its own estimate of the
    time, before rounding to the reward increment, whose premium varies with the mix of task
    lengths) over the change that would leave its cost per hour unchanged,
    ``r0 - r0 (1 + f0) / (1 + f1)`` with ``f`` its fees over its rewards in each window; summed
    over requesters weighted by the hours each posted before (0: rewards do not move and the
    requesters bear the fee; 1: rewards fall so far that the requesters' cost per hour is
    unchanged and the workers bear it). ``before``/``after``: :func:`posted_since` of the two
    windows (or :func:`posted_columns`). Returns the share with the requesters and hours it
    rests on, or None when the fee of the requesters measured did not change."""
    (p0, rw0, fe0, h0), (p1, rw1, fe1, h1) = before, after
    n = min(h0.size, h1.size)
    p0, rw0, fe0, h0, p1, rw1, fe1, h1 = (x[:n] for x in (p0, rw0, fe0, h0, p1, rw1, fe1, h1))
    both = (h0 > 0) & (h1 > 0) & (rw0 > 0) & (rw1 > 0)
    if not both.any():
        return None
    r0, r1 = p0[both] / h0[both], p1[both] / h1[both]
    f0, f1 = fe0[both] / rw0[both], fe1[both] / rw1[both]
    w = h0[both]
    full = r0 - r0 * (1.0 + f0) / (1.0 + f1)  # the change that passes it all
    denominator = float(np.sum(w * full))
    if abs(denominator) < 1e-6 * float(np.sum(w * r0)):
        return None
    return {
        "share": float(np.sum(w * (r0 - r1)) / denominator),
        "requesters": int(both.sum()),
        "hours_posted_before": float(w.sum()),
        "fee_rate_before": float(np.sum(w * r0 * f0) / np.sum(w * r0)),
        "fee_rate_after": float(np.sum(w * r0 * f1) / np.sum(w * r0)),
        "reward_per_hour_before_usd": float(np.sum(w * r0) / w.sum()),
        "reward_per_hour_after_usd": float(np.sum(w * r1) / w.sum()),
    }


def posted_columns(requesters: pd.DataFrame, window: bool = True):
    """:func:`fee_pass_through`'s input from a requesters frame (``requesters.parquet``): each
    requester's rewards chosen, rewards, fees and assignment-hours posted over the measured window (the whole
    run with ``window=False``, or when the run had no warm-up)."""
    suffix = "_window" if window and "hours_posted_window" in requesters else ""
    return (
        requesters[f"pay_posted{suffix}_usd"].to_numpy(np.float64),
        requesters[f"reward_posted{suffix}_usd"].to_numpy(np.float64),
        requesters[f"fee_posted{suffix}_usd"].to_numpy(np.float64),
        requesters[f"hours_posted{suffix}"].to_numpy(np.float64),
    )


def fee_pass_through_between(control: pd.DataFrame, treated: pd.DataFrame) -> dict | None:
    """:func:`fee_pass_through` on common seeds: two runs of the same seed under two fee rules
    (their requesters frames; ``control`` the one taken as before), over the measured window,
    on the requesters present in both (the same row with the same value and activity: a
    seed's starting requesters, and arrivals drawn alike)."""
    n = min(len(control), len(treated))
    a, b = control.iloc[:n], treated.iloc[:n]
    same = (a["value_per_hour_usd"].to_numpy() == b["value_per_hour_usd"].to_numpy()) & (
        a["activity"].to_numpy() == b["activity"].to_numpy()
    )
    before = tuple(np.where(same, x, 0.0) for x in posted_columns(a))
    after = tuple(np.where(same, x, 0.0) for x in posted_columns(b))
    return fee_pass_through(before, after)


def drift(windows: list[dict], tolerance: float) -> dict:
    """Trend of each :data:`DRIFT_METRICS` over consecutive windows: ``relative_change`` (the
    trend's change from the first window to the last over the mean), its 95% interval
    ``relative_change_interval`` (Student's t, n - 2 degrees of freedom), ``t`` (slope over its
    standard error) and whether it drifts (a change beyond ``tolerance`` whose interval excludes 0);
    ``steady_state`` is None with fewer than :data:`MIN_DRIFT_WINDOWS` windows."""
    from scipy.stats import t as student_t

    out: dict = {"windows": len(windows), "tolerance": tolerance, "metrics": {}}
    steady: bool | None = None if len(windows) < MIN_DRIFT_WINDOWS else True
    for name in DRIFT_METRICS:
        y = np.array([np.nan if w[name] is None else w[name] for w in windows], dtype=np.float64)
        fig: dict = {"values": [None if not np.isfinite(v) else float(v) for v in y]}
        ok = np.isfinite(y)
        if ok.sum() >= MIN_DRIFT_WINDOWS:
            x = np.flatnonzero(ok).astype(np.float64)
            yy = y[ok]
            xc = x - x.mean()
            slope = float(np.sum(xc * (yy - yy.mean())) / np.sum(xc**2))
            resid = yy - yy.mean() - slope * xc
            se = float(np.sqrt(np.sum(resid**2) / (yy.size - 2) / np.sum(xc**2)))
            mean = float(yy.mean())
            rel = slope * (len(windows) - 1) / mean if mean != 0 else 0.0
            span = (len(windows) - 1) / abs(mean) if mean != 0 else 0.0
            q = float(student_t.ppf(0.975, yy.size - 2))  # 4.30 for four windows
            lo, hi = rel - q * se * span, rel + q * se * span
            t = slope / se if se > 0 else (0.0 if slope == 0 else float(np.sign(slope)) * np.inf)
            drifts = bool(abs(rel) > tolerance and abs(t) > q)
            fig |= {
                "relative_change": rel,
                "relative_change_interval": [lo, hi],
                "t": _finite(t),
                "drifts": drifts,
            }
            if drifts:
                steady = False
        elif steady is not None:
            steady = None  # too few measured windows to tell
        out["metrics"][name] = fig
    out["steady_state"] = steady
    return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


class Windows:
    """The windows of a run (from its config) and their snapshots: ``base`` (the end of warm-up,
    None without warm-up), ``measured`` (metrics of each finished window by name)."""

    def __init__(self, model) -> None:
        sim = model.config.sim
        n = model.n_hours
        self.warmup_hours = sim.warmup_days * 24
        step = sim.steady_window_days * 24
        self.spans: dict[str, tuple[int, int]] = {
            f"window_{k}": (a, a + step)
            for k, a in enumerate(range(self.warmup_hours, n - step + 1, step))
        }
        self.reform_hour = None if sim.reform_day is None else sim.reform_day * 24
        if self.reform_hour is not None:
            r = self.reform_hour
            length = min(r - self.warmup_hours, n - r)
            if length > 0:  # none when the reform applies from the first measured hour
                self.spans["before_reform"] = (r - length, r)
                self.spans["after_reform"] = (r, r + length)
        self.hours = {h for span in self.spans.values() for h in span}
        if self.warmup_hours:
            self.hours.add(self.warmup_hours)
        self.base: Snapshot | None = None
        self.open: dict[str, Snapshot] = {}
        self.measured: dict[str, dict] = {}
        # each requester's posting in the windows either side of a reform (fee pass-through)
        self.posted: dict[str, tuple[np.ndarray, ...]] = {}

    def at_hour(self, model) -> None:
        """At the start of hour ``model.hour``: measure the windows that end and open those
        that start."""
        h = model.hour
        if h not in self.hours:
            return

        acc = accrued(model)
        totals = worker_totals(model, acc)
        snap = Snapshot.take(model, totals, acc)
        for name, (a, b) in self.spans.items():
            if b == h and name in self.open:
                start = self.open.pop(name)
                self.measured[name] = window_metrics(model, start, snap, totals)
                if name in ("before_reform", "after_reform"):
                    self.posted[name] = posted_since(start, snap)
            if a == h:
                self.open[name] = snap
        if h == self.warmup_hours and h > 0:
            self.base = snap

    def steady_state(self, tolerance: float) -> dict:
        """The convergence diagnostic over the consecutive windows measured so far."""
        wins = [
            self.measured[k] for k in self.spans if k.startswith("window_") and k in self.measured
        ]
        return drift(wins, tolerance)
