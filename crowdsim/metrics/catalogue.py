"""The metrics catalogue: one place that names every metric a reader sees.

Each entry gives the key used in run summaries and ``comparison.parquet``, a readable label, the
unit, a one-line definition, where the number comes from (the summary field or how it is
derived), its *kind* (how it is formatted and which values it can take: a share stays in [0, 1],
money in USD is non-negative) and whether more of it is better for workers.

The comparison report (:mod:`crowdsim.report.tables`), the browser app
(:mod:`crowdsim.viz`) and the notebooks read labels and units from here, so a metric is called
the same everywhere.

Derived metrics (per worker-month, per 1,000 tasks, at the platform's stated size) are computed
from a run's summary by :func:`derived_metrics`, seed by seed, so that they get intervals like
every other metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAYS_PER_MONTH = 365.25 / 12  # 30.44 days: a worker-month is one worker present for this long


@dataclass(frozen=True)
class Metric:
    """One metric: key, label, unit, definition, source and how to show it.

    ``kind`` is one of ``usd_h`` (USD per hour), ``usd`` (USD), ``share`` (a share in [0, 1],
    shown in %), ``share_small`` (a share shown with two decimals), ``days``, ``count`` (a whole
    number), ``number`` (a plain number) or ``index`` (a number in [0, 1] shown with 3 decimals).
    ``better`` is ``"higher"``, ``"lower"`` or ``None`` (neither, from workers' point of view).
    """

    key: str
    label: str
    unit: str
    definition: str
    source: str
    kind: str
    better: str | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take (intervals are kept inside them)."""
        if self.kind in ("share", "share_small", "index"):
            return 0.0, 1.0
        if self.kind in ("usd_h", "usd", "days", "count", "ratio"):
            return 0.0, math.inf
        return -math.inf, math.inf

    @property
    def heading(self) -> str:
        """Label with its unit, for table headings and plot axes."""
        return f"{self.label} ({self.unit})" if self.unit and self.unit != "%" else self.label


_HARA = "Hara et al. (CHI 2018) definitions"
_ENTRIES = [
    Metric(
        "wage_median_all_in",
        "Median all-in hourly wage",
        "USD/h",
        "median over workers of pay earned / all working time, paid and unpaid (search, returned "
        "tasks, rejected and never-paid work)",
        f"run summary; {_HARA}; workers with at least 1 h of resolved work",
        "usd_h",
        "higher",
    ),
    Metric(
        "wage_mean_all_in",
        "Mean all-in hourly wage",
        "USD/h",
        "mean over workers of pay earned / all working time, paid and unpaid",
        f"run summary; {_HARA}",
        "usd_h",
        "higher",
    ),
    Metric(
        "wage_median_paid_only",
        "Median wage for paid work only",
        "USD/h",
        "median over workers of pay earned / time on work that was paid",
        f"run summary; {_HARA}",
        "usd_h",
        "higher",
    ),
    Metric(
        "share_above_7_25",
        "Workers earning above $7.25/h",
        "%",
        "share of workers whose all-in wage exceeds the US federal minimum wage",
        f"run summary; {_HARA}",
        "share",
        "higher",
    ),
    Metric(
        "share_above_local_min_wage",
        "Workers earning their local minimum wage",
        "%",
        "share of workers whose all-in wage is at least their country's minimum wage per hour",
        "run summary; minimum wages from crowdsim/data/countries.csv",
        "share",
        "higher",
    ),
    Metric(
        "unpaid_time_share",
        "Unpaid share of working time",
        "%",
        "hours searching, on returned tasks and on rejected or never-paid work / all working hours",
        "run summary (accrual basis)",
        "share",
        "lower",
    ),
    Metric(
        "unpaid_share_search",
        "Unpaid time: searching",
        "%",
        "hours searching for tasks / all working hours",
        "run summary",
        "share",
        "lower",
    ),
    Metric(
        "unpaid_share_returned",
        "Unpaid time: returned tasks",
        "%",
        "hours on tasks started and returned / all working hours",
        "run summary",
        "share",
        "lower",
    ),
    Metric(
        "unpaid_share_rejected",
        "Unpaid time: rejected work",
        "%",
        "hours on work that was rejected / all working hours",
        "run summary",
        "share",
        "lower",
    ),
    Metric(
        "unpaid_share_never_paid",
        "Unpaid time: work never paid",
        "%",
        "hours on work never reviewed nor paid / all working hours",
        "run summary",
        "share",
        "lower",
    ),
    Metric(
        "rejection_rate",
        "Rejection rate",
        "%",
        "rejected assignments / assignments judged",
        "run summary (accrual basis)",
        "share_small",
        "lower",
    ),
    Metric(
        "unjustified_rejection_rate",
        "Good work rejected",
        "%",
        "assignments that met the quality bar but were rejected / assignments judged",
        "run summary (accrual basis)",
        "share_small",
        "lower",
    ),
    Metric(
        "payment_delay_days_mean",
        "Mean payment delay",
        "days",
        "mean time from submission to payment over approved assignments",
        "run summary",
        "days",
        "lower",
    ),
    Metric(
        "value_never_paid_share",
        "Value of work never paid",
        "%",
        "reward value of submitted work never paid / reward value submitted",
        "run summary",
        "share_small",
        "lower",
    ),
    Metric(
        "earnings_cv_weekly_median",
        "Weekly earnings volatility",
        "median CV",
        "median over workers present two weeks or more of the coefficient of variation of weekly pay",
        "run summary",
        "number",
        "lower",
    ),
    Metric(
        "gini_earnings",
        "Inequality of earnings (Gini)",
        "0-1",
        "Gini coefficient of pay earned over workers who worked",
        "run summary",
        "index",
        "lower",
    ),
    Metric(
        "platform_revenue_usd",
        "Platform revenue",
        "USD",
        "commission received by the platform over the run (cash)",
        "run summary (ledger)",
        "usd",
        None,
    ),
    Metric(
        "worker_earnings_accrued_usd",
        "Worker pay earned",
        "USD",
        "pay for all work submitted in the run, including pay still to come (accrual basis)",
        "sum of earnings_accrued_usd in workers.parquet",
        "usd",
        "higher",
    ),
    Metric(
        "worker_earnings_usd",
        "Worker pay received",
        "USD",
        "pay received in cash by the end of the run",
        "run summary (ledger)",
        "usd",
        "higher",
    ),
    Metric(
        "tasks_submitted",
        "Tasks submitted",
        "tasks",
        "assignments workers submitted over the run",
        "run summary",
        "count",
        None,
    ),
    Metric(
        "tasks_posted",
        "Tasks posted",
        "tasks",
        "assignments requesters posted over the run",
        "run summary",
        "count",
        None,
    ),
    Metric(
        "active_workers_mean",
        "Workers online per hour",
        "workers",
        "mean number of workers online in an hour",
        "run summary",
        "number",
        None,
    ),
    Metric(
        "present_workers_mean",
        "Workers in the pool",
        "workers",
        "mean number of workers registered and not gone, per hour",
        "run summary",
        "number",
        None,
    ),
    Metric(
        "worker_exit_rate",
        "Workers who left",
        "%",
        "share of all workers who ever joined that left the platform",
        "run summary",
        "share",
        "lower",
    ),
    Metric(
        "requester_exits",
        "Requesters who left",
        "requesters",
        "requesters who stopped posting because the rules made their tasks unprofitable",
        "run summary",
        "count",
        None,
    ),
    Metric(
        "requester_cost_per_approved_task_usd",
        "Requester cost per approved task",
        "USD",
        "what requesters spent (rewards and fees, escrow excluded) / approved assignments",
        "run summary (ledger)",
        "usd_cents",
        None,
    ),
    # derived from a run's summary by derived_metrics()
    Metric(
        "worker_pay_per_worker_month_usd",
        "Worker pay per worker-month",
        "USD",
        f"pay earned (accrued) / worker-months in the pool (workers in the pool x days / "
        f"{DAYS_PER_MONTH:.2f})",
        "derived: worker_earnings_accrued_usd, present_workers_mean, days",
        "usd_cents",
        "higher",
    ),
    Metric(
        "platform_revenue_per_worker_month_usd",
        "Platform revenue per worker-month",
        "USD",
        "platform revenue / worker-months in the pool",
        "derived: platform_revenue_usd, present_workers_mean, days",
        "usd_cents",
        None,
    ),
    Metric(
        "worker_pay_per_1000_tasks_usd",
        "Worker pay per 1,000 tasks",
        "USD",
        "pay earned (accrued) x 1,000 / tasks submitted",
        "derived: worker_earnings_accrued_usd, tasks_submitted",
        "usd_cents",
        "higher",
    ),
    Metric(
        "platform_revenue_per_1000_tasks_usd",
        "Platform revenue per 1,000 tasks",
        "USD",
        "platform revenue x 1,000 / tasks submitted",
        "derived: platform_revenue_usd, tasks_submitted",
        "usd_cents",
        None,
    ),
    Metric(
        "worker_pay_at_platform_size_usd",
        "Worker pay at the platform's stated size",
        "USD",
        "pay earned (accrued) x the scenario's stated number of workers / workers simulated",
        "derived: worker_earnings_accrued_usd and the scenario file's population.n_workers",
        "usd",
        "higher",
    ),
    Metric(
        "platform_revenue_at_platform_size_usd",
        "Platform revenue at the platform's stated size",
        "USD",
        "platform revenue x the scenario's stated number of workers / workers simulated",
        "derived: platform_revenue_usd and the scenario file's population.n_workers",
        "usd",
        None,
    ),
    # by country
    Metric(
        "wage_median_relative_to_local_min",
        "Median all-in wage / local minimum wage",
        "ratio",
        "median over a country's workers of all-in wage / that country's minimum wage per hour "
        "(1 = the local minimum)",
        "run summary, by_country; minimum wages from crowdsim/data/countries.csv",
        "ratio",
        "higher",
    ),
]

CATALOGUE: dict[str, Metric] = {m.key: m for m in _ENTRIES}

# What a reader sees first, and what moved underneath (the report's executive summary)
HEADLINE = (
    "wage_median_all_in",
    "share_above_7_25",
    "unpaid_time_share",
    "worker_pay_per_worker_month_usd",
    "platform_revenue_per_worker_month_usd",
)
DRIVERS = (
    "tasks_submitted",
    "wage_median_paid_only",
    "unpaid_share_search",
    "unpaid_share_rejected",
    "unpaid_share_never_paid",
    "requester_exits",
    "worker_exit_rate",
    "payment_delay_days_mean",
    "unjustified_rejection_rate",
    "requester_cost_per_approved_task_usd",
    "worker_pay_per_1000_tasks_usd",
)


def metric(key: str) -> Metric:
    """The catalogue entry of ``key``; a metric not in the catalogue gets its key as label."""
    found = CATALOGUE.get(key)
    if found is not None:
        return found
    return Metric(key, key.replace("_", " "), "", "", "run summary", "number")


def bounds_of(key: str) -> tuple[float, float]:
    """The range of the metric ``key`` (:attr:`Metric.bounds`); a flattened sweep column such as
    ``by_country/IN/wage_median_all_in`` has the range of its last part."""
    return metric(key.rsplit("/", 1)[-1]).bounds


def label(key: str) -> str:
    return metric(key).label


def fmt(value: float | None, kind: str, signed: bool = False) -> str:
    """A value as the report shows it (one place, so tests can rebuild the strings).

    With ``signed``, the value is a difference: shares are then in percentage points."""
    if value is None or not math.isfinite(value):
        return "n/a"
    sign = "+" if signed and value > 0 else ("−" if value < 0 else "")
    v = abs(value)
    if kind in ("share", "share_small"):
        digits = 1 if kind == "share" else 2
        return sign + (f"{100 * v:.{digits}f} pp" if signed else f"{100 * v:.{digits}f}%")
    if kind == "usd_h":
        body = f"${v:.2f}/h"
    elif kind == "usd":
        body = f"${v:,.0f}"
    elif kind == "usd_cents":
        body = f"${v:,.2f}"
    elif kind == "days":
        body = f"{v:.1f} days"
    elif kind == "count":
        body = f"{v:,.0f}"
    elif kind == "index":
        body = f"{v:.3f}"
    elif kind == "ratio":
        body = f"{v:.2f}"
    else:
        body = f"{v:,.1f}" if v >= 10 else f"{v:.2f}"
    return sign + body


def fmt_value(key: str, value: float | None, signed: bool = False) -> str:
    return fmt(value, metric(key).kind, signed)


def derived_metrics(summary: dict, stated_workers: int | None = None) -> dict[str, float]:
    """Money per worker-month, per 1,000 tasks and (when the scenario states its real size)
    scaled to that size, from one run's summary (which needs ``worker_earnings_accrued_usd``).

    Args:
        summary: a run summary (``summary.json``) with ``worker_earnings_accrued_usd`` added.
        stated_workers: the number of workers the scenario file says the real platform has, or
            None when it states none.
    """
    nan = float("nan")

    def get(key: str) -> float:
        v = summary.get(key)
        return float(v) if isinstance(v, int | float) and v is not None else nan

    pay, revenue = get("worker_earnings_accrued_usd"), get("platform_revenue_usd")
    months = get("present_workers_mean") * get("days") / DAYS_PER_MONTH
    tasks = get("tasks_submitted")
    out = {
        "worker_pay_per_worker_month_usd": pay / months if months > 0 else nan,
        "platform_revenue_per_worker_month_usd": revenue / months if months > 0 else nan,
        "worker_pay_per_1000_tasks_usd": 1000 * pay / tasks if tasks > 0 else nan,
        "platform_revenue_per_1000_tasks_usd": 1000 * revenue / tasks if tasks > 0 else nan,
    }
    simulated = get("n_workers")
    if stated_workers and simulated > 0:
        scale = stated_workers / simulated
        out["worker_pay_at_platform_size_usd"] = pay * scale
        out["platform_revenue_at_platform_size_usd"] = revenue * scale
    return out


# The platform's rules in words (the executive summary says which rule a scenario changed)
RULES: dict[str, str] = {
    "commission": "commission on the reward",
    "commission_min_usd": "minimum fee per assignment",
    "batch_surcharge": "surcharge for large batches",
    "batch_surcharge_min_assignments": "batch size that triggers the surcharge",
    "batch_surcharge_counts": "surcharge counts the assignments of",
    "worker_fee_share": "share deducted from worker pay",
    "commission_tiers_usd": "worker billing tiers",
    "commission_tier_rates": "worker-side tier rates",
    "commission_cap": "cap on the requester fee",
    "reason_required": "rejections must state a reason",
    "public_requester_stats": "requesters' approval statistics public",
    "appeals": "workers can appeal rejections",
    "appeal_overturn_prob": "chance an appeal overturns an unjustified rejection",
    "appeal_delay_days": "days to decide an appeal",
    "appeal_deterrence": "chance an overturned requester stops rejecting opportunistically",
    "payment_guarantee": "payment guarantee",
    "auto_approval_days": "auto-approval after (days)",
    "escrow_auto_approval_days": "escrow auto-approval after (days)",
    "abandon_days": "unreviewed work abandoned after (days)",
    "min_pay_mode": "minimum pay basis",
    "min_pay_usd_per_hour": "minimum pay",
    "pay_basis": "workers paid",
    "hourly_rate_usd": "pay per hour worked",
    "weekly_hours_cap": "cap on hours worked a week",
    "monthly_earnings_cap_usd": "cap on a worker's earnings a month",
    "waitlist": "new workers admitted from a waitlist as demand supports",
    "waitlist_initial_share": "would-be workers waiting at the start, per worker",
    "waitlist_target_work_per_online_hour": "demand at which the waitlist admits at the turnover rate",
    "qualification_share": "share of tasks behind the approval-rate gate",
    "qualification_min_approval_rate": "approval rate the gate asks for",
    "qualification_min_approved": "approved tasks the gate asks for",
    "restricted_share": "share of tasks open to some countries only",
    "restricted_countries": "countries restricted tasks are open to",
    "listing": "which tasks workers see first",
}

_WORDS = {
    "none": "none",
    "auto_approval": "auto-approval",
    "escrow": "escrow at posting",
    "estimated": "on the requester's estimated duration",
    "measured": "on the measured median duration",
    "median_top_up": "on the estimate, topped up at the median completion time",
    "task": "by the task",
    "hourly": "by the hour worked",
    "batch": "a batch",
    "hit": "a HIT",
    "newest": "newest first",
    "pay": "best paid first",
}


def _rule_value(key: str, value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str):
        return _WORDS.get(value, value)
    if isinstance(value, float) and key in (
        "commission",
        "batch_surcharge",
        "worker_fee_share",
        "commission_cap",
        "appeal_overturn_prob",
        "appeal_deterrence",
        "qualification_share",
        "qualification_min_approval_rate",
        "restricted_share",
    ):
        return f"{100 * value:.3g}%"
    if key.endswith("_usd") and isinstance(value, int | float):
        return f"${value:g}"
    if key == "weekly_hours_cap" and isinstance(value, int | float):
        return f"{value:g} h"
    if key == "min_pay_usd_per_hour" and isinstance(value, int | float):
        return f"${value:g}/h"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _min_pay(rules: dict) -> str:
    mode = rules.get("min_pay_mode", "none")
    if mode == "none":
        return "none"
    return f"${rules.get('min_pay_usd_per_hour', 0):g}/h {_WORDS.get(mode, mode)}"


def rule_changes(platform: dict, baseline: dict) -> list[str]:
    """The rules in which ``platform`` differs from ``baseline``, in words ("commission on the
    reward 20% → 10%"); options that only matter under a rule left off are skipped."""
    skip: set[str] = set()
    modes = (platform.get("min_pay_mode"), baseline.get("min_pay_mode"))
    if "none" in modes or modes[0] != modes[1]:
        skip.add("min_pay_usd_per_hour")  # said with the basis: "none → $8/h on the measured ..."
    if not platform.get("appeals") and not baseline.get("appeals"):
        skip |= {"appeal_overturn_prob", "appeal_delay_days", "appeal_deterrence"}
    out = []
    for key, words in RULES.items():
        a, b = baseline.get(key), platform.get(key)
        if key in skip or a == b:
            continue
        if key == "min_pay_mode":
            a, b = (_min_pay(rules) for rules in (baseline, platform))
            out.append(f"minimum pay {a} → {b}")
            continue
        out.append(f"{words} {_rule_value(key, a)} → {_rule_value(key, b)}")
    return out
