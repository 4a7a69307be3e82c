"""Static PNG plots of a scenario comparison (used by ``crowdsim-compare``'s report).

Each plot answers one question, stated in its title. Figures are drawn on matplotlib ``Figure``
objects with the Agg canvas and a constrained layout (labels never run into the title or off the
image), so they work without a display and never change the pyplot backend of a notebook that
imports this module. Every file is written atomically.

Inputs are the tables of :mod:`crowdsim.report.tables`: one row per scenario x metric (or
country x scenario x metric) with ``mean``, ``ci_low``, ``ci_high`` and the paired difference
``diff``, ``diff_ci_low``, ``diff_ci_high``, ``detectable``. Scenarios are shown by their titles.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from crowdsim.files import atomic_write
from crowdsim.metrics import catalogue as C

US_FEDERAL_MIN = 7.25
UNPAID_KINDS = (
    "unpaid_share_search",
    "unpaid_share_returned",
    "unpaid_share_rejected",
    "unpaid_share_never_paid",
)
RATIO_SPAN = 10.0  # the heat map's colours run from 1/10 to 10 times the local minimum wage


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    )


def _figure(width: float, height: float, title: str) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def _legend_below(ax, ncols: int = 4) -> None:
    """The legend of ``ax`` under the figure's x labels, where it covers no bar (the layout
    makes room for it: placed under the axes by a fraction of their height, it ran into the
    x label of a short plot)."""
    ax.figure.legend(
        *ax.get_legend_handles_labels(), loc="outside lower center", ncols=ncols, fontsize=8,
        frameon=False,
    )  # fmt: skip


def _errors(mean, low, high) -> np.ndarray:
    """Asymmetric error bars (zero where the interval is undefined)."""
    m, lo, hi = (np.asarray(x, dtype=float) for x in (mean, low, high))
    return np.clip(np.nan_to_num(np.vstack([m - lo, hi - m]), nan=0.0), 0, None)


def _metric(stats: pd.DataFrame, metric: str, order: list[str]) -> pd.DataFrame:
    d = stats[stats["metric"] == metric].set_index("scenario")
    return d.reindex(order)


def _scale(kind: str) -> float:
    return 100.0 if kind in ("share", "share_small") else 1.0


def _axis_unit(key: str, diff: bool = False) -> str:
    m = C.metric(key)
    if m.kind in ("share", "share_small"):
        return "percentage points" if diff else "%"
    return m.unit


def differences(
    stats: pd.DataFrame, order: list[str], titles: dict, metrics, path: str | Path, title: str
) -> Path:
    """Paired differences from the baseline (the first of ``order``) with 95% intervals, one
    panel per metric; filled: the interval excludes zero, hollow: no detectable change.

    Drawn at the width the report shows it (about 1,100 px at 110 dpi, so not scaled down) with
    labels of 10-11 pt: the report's first screen holds it."""
    others = order[1:]
    metrics = [m for m in metrics if m in set(stats["metric"])]
    cols = min(5, max(1, len(metrics)))  # the five headline measures side by side: one row
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    fig = _figure(12.0, 0.36 * max(len(others), 2) * rows + 1.3 * rows + 0.5, title)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    y = np.arange(len(others))[::-1]
    for ax, m in zip(axes, metrics, strict=False):
        d = _metric(stats, m, others)
        k = _scale(C.metric(m).kind)
        det = d["detectable"].eq(True).to_numpy()  # missing (no interval): not detectable
        err = _errors(d["diff"] * k, d["diff_ci_low"] * k, d["diff_ci_high"] * k)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.errorbar(d["diff"] * k, y, xerr=err, fmt="none", ecolor="0.35", capsize=3, lw=1.2)
        ax.scatter(
            (d["diff"] * k)[det],
            y[det],
            color="tab:blue",
            zorder=3,
            s=34,
            label="interval excludes 0",
        )
        ax.scatter(
            (d["diff"] * k)[~det],
            y[~det],
            facecolor="white",
            edgecolor="tab:blue",
            zorder=3,
            s=34,
            label="no detectable change",
        )
        ax.set_title(textwrap.fill(C.metric(m).label, 20), fontsize=10.5)
        ax.set_xlabel(textwrap.fill(f"difference, {_axis_unit(m, diff=True)}", 20), fontsize=10)
        ax.tick_params(labelsize=10)
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.grid(axis="x", color="0.92")
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    axes[0].set_yticks(y, [textwrap.fill(titles.get(s, s), 28) for s in others])
    if metrics:
        _legend_below(axes[0], ncols=2)
    return save_figure(fig, path)


def wage_distribution(
    wages: pd.DataFrame, order: list[str], titles: dict, path: str | Path, title: str
) -> Path:
    """Box plots of workers' all-in hourly wages (USD, log axis) by scenario, pooled over seeds.

    Args:
        wages: columns ``scenario`` and ``wage_all_in`` (one row per measured worker per seed).
    """
    order = [s for s in order if s in set(wages["scenario"])]
    fig = _figure(9.0, 0.42 * max(len(order), 3) + 1.8, title)
    ax = fig.add_subplot()
    lo, hi = 0.01, 100.0
    data = [
        np.clip(wages.loc[wages["scenario"] == s, "wage_all_in"].dropna().to_numpy(), lo, hi)
        for s in order
    ]
    y = np.arange(1, len(order) + 1)[::-1]
    if order:
        style = dict(
            showfliers=False,
            whis=(5, 95),
            widths=0.6,
            patch_artist=True,
            boxprops={"facecolor": "#c6dbef"},
            medianprops={"color": "black"},
        )
        try:
            ax.boxplot(data, positions=y, orientation="horizontal", **style)
        except TypeError:  # matplotlib < 3.10
            ax.boxplot(data, positions=y, vert=False, **style)
        ax.set_yticks(y, [titles.get(s, s) for s in order])
    ax.axvline(US_FEDERAL_MIN, color="tab:red", ls="--", lw=1, label="US federal minimum, $7.25/h")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]
    ax.set_xticks(ticks, [f"${t:g}" for t in ticks])
    ax.set_xlabel(
        "all-in wage, USD per hour (log scale); box: middle half of workers, whiskers: 5th-95th percentile"
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", color="0.92")
    return save_figure(fig, path)


def _ratio(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:,.0f}"


def country_relative_wage(
    table: pd.DataFrame,
    order: list[str],
    titles: dict,
    path: str | Path,
    title: str,
    names: dict | None = None,
) -> Path:
    """Heat map of the median all-in wage relative to the local minimum wage (country x
    scenario), coloured on a log scale from 1/10 to 10 (beyond that the colour saturates and the
    cell says so); each cell prints the ratio and its 95% interval.

    Args:
        table: rows of :func:`crowdsim.report.tables.country_summary` for one metric
            (``country``, ``scenario``, ``mean``, ``ci_low``, ``ci_high``).
    """
    countries = sorted(set(table["country"]))
    names = names or {}
    order = [s for s in order if s in set(table["scenario"])]
    mean = table.pivot_table(
        index="country", columns="scenario", values="mean", aggfunc="first"
    ).reindex(index=countries, columns=order)
    low = table.pivot_table(
        index="country", columns="scenario", values="ci_low", aggfunc="first"
    ).reindex(index=countries, columns=order)
    high = table.pivot_table(
        index="country", columns="scenario", values="ci_high", aggfunc="first"
    ).reindex(index=countries, columns=order)
    vals = mean.to_numpy(float)
    fig = _figure(max(7.0, 1.05 * len(order) + 3), 0.55 * len(countries) + 2.6, title)
    ax = fig.add_subplot()
    span = math.log10(RATIO_SPAN)
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.log10(np.where(np.isfinite(vals) & (vals > 0), vals, np.nan))
    im = ax.imshow(
        np.ma.masked_invalid(np.clip(logv, -span, span)),
        cmap="RdBu",
        norm=TwoSlopeNorm(0.0, -span, span),
        aspect="auto",
    )
    ax.set_xticks(
        range(len(order)), [titles.get(s, s) for s in order], rotation=30, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(countries)), [names.get(c, c) for c in countries])
    for i in range(len(countries)):
        for j in range(len(order)):
            v, a, b = vals[i, j], low.iat[i, j], high.iat[i, j]
            if not np.isfinite(v):
                text = "n/a"
            else:
                text = _ratio(v)
                if np.isfinite(a) and np.isfinite(b):
                    text += f"\n[{_ratio(a)}–{_ratio(b)}]"
            strong = np.isfinite(logv[i, j]) and abs(logv[i, j]) > 0.6 * span
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if strong else "black",
            )
    ticks = [-1, -0.5, 0, 0.5, 1]
    cb = fig.colorbar(im, ax=ax, ticks=[t * span for t in ticks], shrink=0.9)
    cb.ax.set_yticklabels(["≤ 0.1", "0.3", "1", "3", "≥ 10"])
    cb.set_label("median all-in wage / local minimum wage")
    ax.set_xlabel("1 = the local minimum wage; cells: mean over seeds [95% interval]", fontsize=8)
    return save_figure(fig, path)


def unpaid_breakdown(
    stats: pd.DataFrame, order: list[str], titles: dict, path: str | Path, title: str
) -> Path:
    """Stacked bars: share of working time unpaid, by kind, per scenario (mean over seeds), with
    the 95% interval of the total."""
    fig = _figure(9.0, 0.42 * max(len(order), 3) + 1.8, title)
    ax = fig.add_subplot()
    y = np.arange(len(order))[::-1]
    left = np.zeros(len(order))
    for key in UNPAID_KINDS:
        v = np.nan_to_num(_metric(stats, key, order)["mean"].to_numpy(float)) * 100
        ax.barh(y, v, left=left, label=C.metric(key).label.split(": ")[-1], height=0.65)
        left += v
    tot = _metric(stats, "unpaid_time_share", order)
    ax.errorbar(
        tot["mean"] * 100,
        y,
        xerr=_errors(tot["mean"] * 100, tot["ci_low"] * 100, tot["ci_high"] * 100),
        fmt="none",
        ecolor="black",
        capsize=2,
        lw=1,
        label="total: 95% interval",
    )
    ax.set_yticks(y, [titles.get(s, s) for s in order])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of all working time (paid and unpaid), mean over seeds")
    _legend_below(ax, 5)
    return save_figure(fig, path)


def rejection_and_delay(
    stats: pd.DataFrame, order: list[str], titles: dict, path: str | Path, title: str
) -> Path:
    """Two panels: rejection rates (all and of good work) and the mean payment delay, with 95% intervals."""
    fig = _figure(10.0, 0.42 * max(len(order), 3) + 1.9, title)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(order))[::-1]
    for k, key in enumerate(("rejection_rate", "unjustified_rejection_rate")):
        d = _metric(stats, key, order)
        ax1.barh(
            y + (0.5 - k) * 0.38,
            d["mean"] * 100,
            height=0.38,
            xerr=_errors(d["mean"] * 100, d["ci_low"] * 100, d["ci_high"] * 100),
            capsize=2,
            label=C.metric(key).label.lower(),
        )
    ax1.set_yticks(y, [titles.get(s, s) for s in order])
    ax1.set_xlabel("% of assignments judged")
    ax1.set_title("Rejections", fontsize=10)
    ax1.set_xlim(left=0)
    _legend_below(ax1, 2)
    d = _metric(stats, "payment_delay_days_mean", order)
    ax2.barh(
        y,
        d["mean"],
        xerr=_errors(d["mean"], d["ci_low"], d["ci_high"]),
        capsize=2,
        color="tab:purple",
        height=0.6,
    )
    ax2.set_xlabel("days from submission to payment (mean)")
    ax2.set_title("Payment delay", fontsize=10)
    ax2.set_xlim(left=0)
    return save_figure(fig, path)


def revenue_vs_pay(
    stats: pd.DataFrame, order: list[str], titles: dict, path: str | Path, title: str
) -> Path:
    """Per worker-month: worker pay earned and platform revenue side by side (stacked bars, each
    with its 95% interval, drawn in its own style at the end of its own bar), and the platform's share of the two written at the end of each bar."""
    pay = _metric(stats, "worker_pay_per_worker_month_usd", order)
    rev = _metric(stats, "platform_revenue_per_worker_month_usd", order)
    fig = _figure(9.5, 0.42 * max(len(order), 3) + 1.8, title)
    ax = fig.add_subplot()
    y = np.arange(len(order))[::-1]
    p, r = pay["mean"].to_numpy(float), rev["mean"].to_numpy(float)
    ax.barh(y, p, height=0.62, color="tab:green", label="worker pay earned")
    ax.barh(y, r, left=np.nan_to_num(p), height=0.62, color="tab:brown", label="platform revenue")
    ax.errorbar(
        p,
        y + 0.12,
        xerr=_errors(p, pay["ci_low"], pay["ci_high"]),
        fmt="none",
        ecolor="darkgreen",
        capsize=3,
        lw=1.4,
        label="95% interval of worker pay (at the end of the green bar)",
    )
    ax.errorbar(
        p + r,
        y - 0.12,
        xerr=_errors(r, rev["ci_low"], rev["ci_high"]),
        fmt="none",
        ecolor="black",
        capsize=3,
        lw=1.4,
        label="95% interval of platform revenue (at the end of the brown bar)",
    )
    top = np.nanmax(
        np.concatenate(
            [pay["ci_high"].to_numpy(float) + r, p + rev["ci_high"].to_numpy(float), p + r]
        )
    )
    for yi, pi, ri in zip(y, p, r, strict=True):
        if np.isfinite(pi) and np.isfinite(ri) and pi + ri > 0:
            ax.text(top * 1.02, yi, f"platform keeps {ri / (pi + ri):.0%}", va="center", fontsize=8)
    ax.set_yticks(y, [titles.get(s, s) for s in order])
    ax.set_xlim(0, top * 1.25 if np.isfinite(top) and top > 0 else 1)
    ax.set_xlabel("USD per worker-month (one worker in the pool for a month), mean over seeds")
    _legend_below(ax, 2)
    return save_figure(fig, path)
