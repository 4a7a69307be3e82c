"""Solara components of the browser app that Mesa's ``make_plot_component`` does not cover.

Each component takes the model (a :class:`crowdsim.viz.app.AppModel`) and reads the numpy
columns directly, so it costs the same whatever the number of Mesa agent views:

- :func:`Headline`: where the run is and its key numbers, plus buttons to run a day or a week;
- :func:`WageByCountry`: the all-in hourly wage of workers by country, against each country's
  local minimum wage (converted to USD) and the US federal minimum.

Wages follow Hara et al. (CHI 2018) as in :mod:`crowdsim.metrics.summary`: earnings divided by
all working time, paid and unpaid, on the accrual basis of the run summaries.
"""

from __future__ import annotations

import html

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from mesa.visualization.utils import force_update, update_counter

from crowdsim.metrics.summary import US_FEDERAL_MIN

WAGE_AXIS_USD = (0.01, 100.0)  # limits of the log wage axis, USD per hour


def measured_workers(model):
    """Workers with at least ``sim.min_hours_for_wage`` hours of resolved work (a DataFrame)."""
    wf = model.worker_table()
    resolved = wf[
        ["hours_paid", "hours_search", "hours_returned", "hours_rejected", "hours_never_paid"]
    ].sum(axis=1)
    return wf[resolved >= model.config.sim.min_hours_for_wage]


def headline_numbers(model) -> dict[str, float | int | None]:
    """The numbers the headline card shows (USD, shares in [0, 1]); None when not measurable yet."""
    m = measured_workers(model)
    w = m["wage_all_in"].to_numpy()
    paid = m["wage_paid_only"].to_numpy()
    totals = model.ledger.totals_usd()
    hour = max(model.hour - 1, 0)
    return {
        "hour": model.hour,
        "present_workers": int(model.present_workers.size),
        "online_workers": int(model.series["active_workers"][hour]) if model.hour else 0,
        "measured_workers": int(w.size),
        "wage_median_all_in": float(np.median(w)) if w.size else None,
        "wage_median_paid_only": float(np.median(paid[np.isfinite(paid)]))
        if np.isfinite(paid).any()
        else None,
        "share_above_7_25": float(np.mean(w > US_FEDERAL_MIN)) if w.size else None,
        "share_above_local_min_wage": float(np.mean(w >= m["local_min_wage_usd"].to_numpy()))
        if w.size
        else None,
        "unpaid_time_share": model.unpaid_shares()["total"],
        "worker_paid_usd": totals["ledger_worker_paid_usd"],
        "platform_revenue_usd": totals["ledger_platform_fees_usd"],
    }


def _fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "usd_h":
        return f"${value:.2f}/h"
    if kind == "usd":
        return f"${value:,.2f}"
    if kind == "share":
        return f"{value:.0%}"
    return f"{value:,}"


def headline_lines(model) -> list[str]:
    """The headline as lines of text (markup: ``**bold**``)."""
    n = headline_numbers(model)
    day, hour = divmod(model.hour, 24)
    return [
        f"**Day {day + 1}, {hour:02d}:00 UTC** (hour {model.hour} of {model.n_hours}) · {model.label}",
        f"Workers in the pool / online in the last hour: **{_fmt(n['present_workers'], 'n')}** / "
        f"**{_fmt(n['online_workers'], 'n')}**",
        f"Median all-in wage: **{_fmt(n['wage_median_all_in'], 'usd_h')}** "
        f"(paid work only: {_fmt(n['wage_median_paid_only'], 'usd_h')}; "
        f"{_fmt(n['measured_workers'], 'n')} workers with at least "
        f"{model.config.sim.min_hours_for_wage:g} h of work)",
        f"Earning above $7.25/h: **{_fmt(n['share_above_7_25'], 'share')}** · above their local "
        f"minimum wage: **{_fmt(n['share_above_local_min_wage'], 'share')}**",
        f"Unpaid share of working time: **{_fmt(n['unpaid_time_share'], 'share')}**",
        f"Paid to workers: **{_fmt(n['worker_paid_usd'], 'usd')}** · platform revenue: "
        f"**{_fmt(n['platform_revenue_usd'], 'usd')}**",
    ]


def _html(line: str) -> str:
    parts = html.escape(line).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def headline_html(model) -> str:
    """The headline as HTML (plain HTML: ``solara.Markdown`` would load scripts from a CDN)."""
    first, *rest = headline_lines(model)
    items = "".join(f"<li>{_html(line)}</li>" for line in rest)
    return (
        f'<p style="margin-bottom:4px">{_html(first)}</p><ul class="crowdsim-numbers">{items}</ul>'
    )


@solara.component
def Headline(model):
    """Key numbers of the run so far, and buttons to run the model a day or a week at a time."""
    update_counter.get()
    busy, set_busy = solara.use_state(False)

    def run_hours(hours: int):
        set_busy(True)
        try:
            model.run(hours)
        finally:
            set_busy(False)
        force_update()

    with solara.Card("The market so far", classes=["crowdsim-headline"]) as card:
        solara.HTML(tag="div", unsafe_innerHTML=headline_html(model))
        with solara.Row():
            solara.Button(
                "Run 1 day",
                on_click=lambda: run_hours(24),
                disabled=busy or not model.running,
                color="primary",
                outlined=True,
            )
            solara.Button(
                "Run 1 week",
                on_click=lambda: run_hours(168),
                disabled=busy or not model.running,
                color="primary",
                outlined=True,
            )
        solara.Text(
            "Choose a scenario and levers in the sidebar, then press Reset: a new market starts with them.",
            style={"font-size": "0.85em", "color": "#666"},
        )
    return card


def wage_by_country_figure(model) -> Figure:
    """Box plots of all-in wages by country (log axis) with local minimum wages in USD."""
    fig = Figure(figsize=(5.6, 3.6))
    fig.subplots_adjust(left=0.24, right=0.97, top=0.92, bottom=0.14)
    ax = fig.subplots()
    m = measured_workers(model)
    codes = list(model.countries.codes)
    local_min = dict(zip(codes, model.countries.min_wage_usd, strict=True))
    groups = [
        (c, m.loc[m["country"] == c, ["wage_all_in", "local_min_wage_usd"]].to_numpy())
        for c in codes
    ]
    groups = [(c, g) for c, g in groups if len(g) >= 3]
    groups.sort(key=lambda cg: len(cg[1]))
    lo, hi = WAGE_AXIS_USD
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.axvline(
        US_FEDERAL_MIN, color="0.4", linestyle="--", linewidth=1, label="US federal minimum ($7.25)"
    )
    if not groups:
        ax.text(
            0.5,
            0.5,
            "No worker has enough working time yet:\nstep or run the model",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
        ax.set_yticks([])
    else:
        data = [np.clip(g[:, 0], lo, hi) for _, g in groups]
        style = dict(
            widths=0.6,
            showfliers=False,
            whis=(5, 95),
            patch_artist=True,
            boxprops={"facecolor": "#9ecae1"},
            medianprops={"color": "black"},
        )
        try:
            ax.boxplot(data, orientation="horizontal", **style)
        except TypeError:  # matplotlib < 3.10
            ax.boxplot(data, vert=False, **style)
        for i, (c, _g) in enumerate(groups, start=1):
            ax.plot(
                [local_min[c]],
                [i],
                marker="D",
                color="#d62728",
                markersize=6,
                zorder=5,
                label="local minimum wage (USD)" if i == 1 else None,
            )
        labels = [
            f"{c} (n={len(g)})\n{np.mean(g[:, 0] >= g[:, 1]):.0%} ≥ local min" for c, g in groups
        ]
        ax.set_yticks(range(1, len(groups) + 1), labels, fontsize=8)
        ax.legend(loc="lower right", fontsize=7)
    ax.set_xlabel("all-in wage, USD per hour (earnings / paid and unpaid time)", fontsize=8)
    ax.set_title("All-in wages by country against local minimum wages", fontsize=10)
    return fig


@solara.component
def WageByCountry(model):
    """The all-in wage distribution by country (box: quartiles, whiskers: 5th-95th percentile)."""
    update_counter.get()
    fig = wage_by_country_figure(model)
    return solara.FigureMatplotlib(
        fig, format="svg", dependencies=[update_counter.value, id(model), model.hour]
    )
