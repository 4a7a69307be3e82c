"""Static PNG plots of a scenario comparison (used by ``crowdsim-compare``'s report).

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas, so they work without a
display and never change the pyplot backend of a notebook that imports this module. Every file is
written atomically (a temporary file in the same folder, then renamed).

Inputs are the tidy statistics of :mod:`crowdsim.experiments.report`: one row per scenario (x
metric or country) with ``mean``, ``ci_low``, ``ci_high`` over seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from crowdsim.run import atomic_write

US_FEDERAL_MIN = 7.25
UNPAID_KINDS = {
    "unpaid_share_search": "search",
    "unpaid_share_returned": "returned tasks",
    "unpaid_share_rejected": "rejected work",
    "unpaid_share_never_paid": "never paid",
}


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    )


def _errors(df: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars from ci_low / ci_high (zero where the interval is undefined)."""
    lo = (df["mean"] - df["ci_low"]).to_numpy(float)
    hi = (df["ci_high"] - df["mean"]).to_numpy(float)
    return np.nan_to_num(np.vstack([lo, hi]), nan=0.0)


def _metric(stats: pd.DataFrame, metric: str, order: list[str]) -> pd.DataFrame:
    d = stats[stats["metric"] == metric].set_index("scenario")
    return d.reindex([s for s in order if s in d.index]).reset_index()


def wage_distribution(wages: pd.DataFrame, order: list[str], path: str | Path) -> Path:
    """Box plots of workers' all-in hourly wages (USD) by scenario, pooled over seeds.

    Args:
        wages: columns ``scenario`` and ``wage_all_in`` (one row per measured worker per seed).
    """
    order = [s for s in order if s in set(wages["scenario"])]
    fig = Figure(figsize=(max(6.0, 0.75 * len(order) + 2), 4.6))
    ax = fig.add_subplot()
    data = [wages.loc[wages["scenario"] == s, "wage_all_in"].dropna().to_numpy() for s in order]
    if order:
        ax.boxplot(data, showfliers=False, whis=(5, 95), medianprops={"color": "black"})
        means = [d.mean() if d.size else np.nan for d in data]
        ax.scatter(
            np.arange(1, len(order) + 1),
            means,
            marker="D",
            s=18,
            color="tab:red",
            zorder=3,
            label="mean",
        )
        ax.set_xticks(np.arange(1, len(order) + 1), order, rotation=35, ha="right")
    ax.axhline(US_FEDERAL_MIN, color="tab:blue", ls="--", lw=1, label="US federal minimum $7.25/h")
    ax.set_yscale("symlog", linthresh=0.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("all-in wage, USD per hour (linear below $0.50, log above)")
    ax.set_title(
        "Workers' all-in hourly wage by scenario (boxes: quartiles, whiskers: 5th-95th pct.)"
    )
    ax.legend(loc="lower left", fontsize=8)
    return save_figure(fig, path)


def country_relative_wage(table: pd.DataFrame, path: str | Path) -> Path:
    """Heat map of the median all-in wage relative to the local minimum wage (country x scenario).

    Args:
        table: index countries, columns scenarios, values the ratio (1 = the local minimum wage).
    """
    vals = table.to_numpy(float)
    fig = Figure(figsize=(max(6.0, 0.8 * table.shape[1] + 2.5), 0.45 * table.shape[0] + 2.2))
    ax = fig.add_subplot()
    finite = vals[np.isfinite(vals) & (vals > 0)]
    logv = np.log10(np.where(np.isfinite(vals) & (vals > 0), vals, np.nan))
    span = max(1.0, float(np.nanmax(np.abs(logv)))) if finite.size else 1.0
    im = ax.imshow(
        np.ma.masked_invalid(logv), cmap="RdBu", norm=TwoSlopeNorm(0.0, -span, span), aspect="auto"
    )
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=35, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = vals[i, j]
            ax.text(
                j,
                i,
                "n/a" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
            )
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log10(median all-in wage / local minimum wage)")
    ax.set_title(
        "Median all-in wage relative to the local minimum wage (1 = minimum; mean over seeds)"
    )
    return save_figure(fig, path)


def unpaid_breakdown(stats: pd.DataFrame, order: list[str], path: str | Path) -> Path:
    """Stacked bars: share of working time unpaid, by kind, per scenario (mean over seeds)."""
    fig = Figure(figsize=(max(6.0, 0.75 * len(order) + 2), 4.4))
    ax = fig.add_subplot()
    bottom = np.zeros(len(order))
    for metric, label in UNPAID_KINDS.items():
        d = _metric(stats, metric, order).set_index("scenario").reindex(order)
        v = np.nan_to_num(d["mean"].to_numpy(float)) * 100
        ax.bar(order, v, bottom=bottom, label=label)
        bottom += v
    ax.set_ylabel("% of working time (paid + unpaid)")
    ax.set_title("Unpaid working time by kind")
    ax.tick_params(axis="x", rotation=35)
    for lab in ax.get_xticklabels():
        lab.set_ha("right")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def rejection_and_delay(stats: pd.DataFrame, order: list[str], path: str | Path) -> Path:
    """Two panels: rejection rates (all and unjustified) and mean payment delay, with 95% CIs."""
    fig = Figure(figsize=(max(8.0, 1.1 * len(order) + 3), 4.4))
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(order))
    for k, (metric, label) in enumerate(
        [
            ("rejection_rate", "all rejections"),
            ("unjustified_rejection_rate", "unjustified rejections"),
        ]
    ):
        d = _metric(stats, metric, order).set_index("scenario").reindex(order).reset_index()
        ax1.bar(
            x + (k - 0.5) * 0.4,
            d["mean"] * 100,
            width=0.4,
            yerr=_errors(d) * 100,
            capsize=2,
            label=label,
        )
    ax1.set_xticks(x, order, rotation=35, ha="right")
    ax1.set_ylabel("% of judged assignments")
    ax1.set_title("Rejections")
    ax1.set_ylim(bottom=0)
    ax1.legend(fontsize=8)
    d = (
        _metric(stats, "payment_delay_days_mean", order)
        .set_index("scenario")
        .reindex(order)
        .reset_index()
    )
    ax2.bar(x, d["mean"], yerr=_errors(d), capsize=2, color="tab:purple")
    ax2.set_xticks(x, order, rotation=35, ha="right")
    ax2.set_ylabel("days from submission to payment (mean)")
    ax2.set_title("Payment delay")
    ax2.set_ylim(bottom=0)
    fig.suptitle("Rejection and payment delay (bars: mean over seeds, lines: 95% CI)")
    return save_figure(fig, path)


def revenue_vs_pay(stats: pd.DataFrame, order: list[str], path: str | Path) -> Path:
    """Platform revenue against worker pay received (USD over the run), with 95% CIs."""
    pay = _metric(stats, "worker_earnings_usd", order).set_index("scenario")
    rev = _metric(stats, "platform_revenue_usd", order).set_index("scenario")
    names = [s for s in order if s in pay.index and s in rev.index]
    fig = Figure(figsize=(6.8, 5.2))
    ax = fig.add_subplot()
    for s in names:
        p, r = pay.loc[[s]].reset_index(), rev.loc[[s]].reset_index()
        ax.errorbar(p["mean"], r["mean"], xerr=_errors(p), yerr=_errors(r), fmt="o", capsize=2)
        ax.annotate(
            s,
            (p["mean"].iloc[0], r["mean"].iloc[0]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    if names:
        top = float(np.nanmax(pay.loc[names, "mean"])) * 1.1
        for share in (0.1, 0.2, 0.333):
            ax.plot([0, top], [0, top * share / (1 - share)], ls=":", lw=0.8, color="grey")
            ax.annotate(
                f"{share:.0%} of total", (top, top * share / (1 - share)), fontsize=7, color="grey"
            )
    ax.set_xlabel("worker pay received in cash, USD over the run")
    ax.set_ylabel("platform revenue received, USD over the run")
    ax.set_title("Platform revenue vs worker pay (mean over seeds, 95% CI)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    return save_figure(fig, path)
