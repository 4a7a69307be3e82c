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

from crowdsim.metrics.wages import US_FEDERAL_MIN

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
        *chance_lines(model, n),
    ]


def chance_lines(model, numbers: dict) -> list[str]:
    """How much is chance: the same rules run with the next seed beside the page's market."""
    twin = getattr(model, "twin", None)
    if twin is None:
        return []
    t = headline_numbers(twin)
    if t["wage_median_all_in"] is None or numbers["wage_median_all_in"] is None:
        return [
            f"How much is chance: the same rules with seed {twin.config.seed} run alongside "
            "(dashed lines in the plots); their numbers appear after the first hours of work."
        ]
    return [
        f"How much is chance: the same rules with seed {twin.config.seed} give a median all-in "
        f"wage of **{_fmt(t['wage_median_all_in'], 'usd_h')}** (seed {model.config.seed}: "
        f"{_fmt(numbers['wage_median_all_in'], 'usd_h')}) and "
        f"**{_fmt(t['share_above_7_25'], 'share')}** above $7.25/h (dashed lines in the plots). "
        "A difference smaller than this gap may be chance."
    ]


# What the headline's terms mean, shown under its numbers (a student meets them there first)
GLOSSARY = (
    ("All-in wage", "a worker's pay divided by all the time it worked, paid and unpaid: "
     "searching for tasks, tasks returned unfinished, work rejected or never paid "
     "(Hara et al. 2018). The median is the middle worker's."),
    ("Paid work only", "pay divided by the time spent on tasks that were paid: what the wage "
     "looks like if unpaid time is forgotten."),
    ("Unpaid share", "the share of all working time that earned nothing."),
    ("How much is chance", "the same rules run with another seed (other random draws): a "
     "difference smaller than the gap between the two is not evidence of anything."),
)  # fmt: skip


def glossary_html() -> str:
    items = "".join(f"<li><b>{html.escape(t)}</b>: {html.escape(d)}</li>" for t, d in GLOSSARY)
    return f'<ul class="crowdsim-glossary" style="font-size:0.85em;color:#555">{items}</ul>'


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

    finished = not model.running
    with solara.Card("The market so far", classes=["crowdsim-headline"]) as card:
        if finished:  # also said beside the run buttons in the sidebar
            solara.Warning(
                f"Run finished at day {model.n_hours // 24} — press Reset to start a new market.",
                classes=["crowdsim-finished"],
                dense=True,
            )
        solara.HTML(tag="div", unsafe_innerHTML=headline_html(model))
        description = getattr(model, "description", "")
        if description:
            solara.Text(
                f"What this scenario does: {description}",
                classes=["crowdsim-scenario-description"],
                style={"font-size": "0.9em"},
            )
        with solara.Row():
            solara.Button(
                "Run 1 day",
                on_click=lambda: run_hours(24),
                disabled=busy or finished,
                color="primary",
                outlined=True,
            )
            solara.Button(
                "Run 1 week",
                on_click=lambda: run_hours(168),
                disabled=busy or finished,
                color="primary",
                outlined=True,
            )
        solara.Text(
            "Choose a scenario and levers in the sidebar, then press Reset: a new market starts with them.",
            style={"font-size": "0.85em", "color": "#666"},
        )
        solara.HTML(tag="div", unsafe_innerHTML=glossary_html())
    return card


def wage_by_country_figure(model) -> Figure:
    """Box plots of all-in wages by country (log axis) with local minimum wages in USD."""
    fig = Figure(figsize=(5.6, 3.8))
    fig.subplots_adjust(left=0.24, right=0.97, top=0.92, bottom=0.2)
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
        legend_under(fig)
    ax.set_xlabel("all-in wage, USD per hour (earnings / paid and unpaid time)", fontsize=8)
    ax.set_title("All-in wages by country against local minimum wages", fontsize=10)
    return fig


def legend_under(fig: Figure, ncols: int = 2) -> None:
    """The figure's legend under its x label, where it covers no box or line."""
    fig.legend(loc="lower center", ncols=ncols, fontsize=7, frameon=False)


@solara.component
def WageByCountry(model):
    """The all-in wage distribution by country (box: quartiles, whiskers: 5th-95th percentile)."""
    update_counter.get()
    fig = wage_by_country_figure(model)
    return solara.FigureMatplotlib(
        fig, format="svg", dependencies=[update_counter.value, id(model), model.hour]
    )


# ---------------------------------------------------------------------------------- time series
def _day_axis(ax, hours: int) -> None:
    """x axis in days since the start (hours when less than two days have run)."""
    if hours < 48:
        span = max(hours, 1) if hours else 24  # the axis runs to hour 24 before the first Step
        step = next(s for s in (1, 2, 3, 6, 12) if span / s <= 8)
        ax.set_xlabel("hours since the start (1 Step = 1 hour)", fontsize=8)
        ax.xaxis.set_major_locator(FixedLocator(list(range(0, span + 1, step))))
    else:
        ax.set_xlabel("days since the start", fontsize=8)
        ax.xaxis.set_major_locator(FixedLocator(_day_ticks(hours)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 24:g}"))


def _day_ticks(hours: int) -> list[int]:
    days = hours / 24
    step = next(s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365, 10_000) if days / s <= 8)
    return [24 * step * k for k in range(int(days // step) + 1)]


def time_series_figure(frame, measures: dict, title: str, ylabel: str, twin=None) -> Figure:
    """One of the app's time series: each measure a line against time in days (hours at
    first); ``twin`` (the same rules with another seed) drawn as thin dashed lines, to show how
    much of a curve is chance. Before the first hour the axes say what to do instead of
    showing an empty plot."""
    fig = Figure(figsize=(5.6, 3.4))
    fig.subplots_adjust(left=0.14, right=0.97, top=0.9, bottom=0.17)
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=8)
    hours = len(frame) - 1  # the first row is the start (hour 0)
    if hours < 1:
        ax.text(
            0.5, 0.5, "No hour simulated yet:\npress Step, Run 1 day or ▶",
            ha="center", va="center", transform=ax.transAxes, color="0.4",
        )  # fmt: skip
        ax.set_xlim(0, 24)
        ax.set_yticks([])
        _day_axis(ax, 0)
        return fig
    x = np.arange(len(frame))
    for name, color in measures.items():
        ax.plot(x, frame[name].to_numpy(float), color=color, label=name, lw=1.3)
    if twin is not None and len(twin) > 1:
        tx = np.arange(len(twin))
        for i, (name, color) in enumerate(measures.items()):
            ax.plot(
                tx, twin[name].to_numpy(float), color=color, lw=0.9, ls="--", alpha=0.7,
                label="same rules, another seed" if i == 0 else None,
            )  # fmt: skip
    ax.set_xlim(0, max(hours, 1))
    values = np.concatenate([frame[n].to_numpy(float) for n in measures])
    values = values[np.isfinite(values)]
    ax.set_ylim(bottom=min(float(values.min()), 0.0) if values.size else 0.0)
    if not values.size:  # e.g. a rate drawn only from its 100th review on
        ax.text(
            0.5, 0.5, "Too little data yet:\nkeep the market running",
            ha="center", va="center", transform=ax.transAxes, color="0.4",
        )  # fmt: skip
        ax.set_yticks([])
    _day_axis(ax, hours)
    if len(ax.get_lines()) > 1 and values.size:
        ax.legend(loc="upper left", fontsize=7)
    return fig


# ---------------------------------------------------------------------------------- comparison
COMPARE_METRICS = (
    "wage_median_all_in",
    "wage_median_paid_only",
    "share_above_7_25",
    "share_above_local_min_wage",
    "unpaid_time_share",
    "tasks_submitted",
    "worker_earnings_usd",
    "platform_revenue_usd",
)


def comparison_numbers(model) -> dict[str, float | None]:
    """The numbers the side-by-side comparison shows, by catalogue key."""
    n = headline_numbers(model)
    return {
        "wage_median_all_in": n["wage_median_all_in"],
        "wage_median_paid_only": n["wage_median_paid_only"],
        "share_above_7_25": n["share_above_7_25"],
        "share_above_local_min_wage": n["share_above_local_min_wage"],
        "unpaid_time_share": n["unpaid_time_share"],
        "tasks_submitted": float(model.counters["assignments_submitted"]),
        "worker_earnings_usd": n["worker_paid_usd"],
        "platform_revenue_usd": n["platform_revenue_usd"],
    }


def comparison_rows(base: dict, other: dict, chance: dict) -> list[dict]:
    """Rows of the comparison table: each metric for the status quo, the other rules, their
    difference, and the difference that chance alone makes (status quo, another seed); the
    difference is 'larger than chance' when it exceeds that gap."""
    from crowdsim.metrics.catalogue import fmt, metric

    rows = []
    for key in COMPARE_METRICS:
        a, b, c = base.get(key), other.get(key), chance.get(key)
        kind = metric(key).kind
        diff = b - a if a is not None and b is not None else None
        gap = c - a if a is not None and c is not None else None
        beyond = diff is not None and gap is not None and abs(diff) > abs(gap)
        rows.append(
            {
                "key": key,
                "label": metric(key).heading,
                "status_quo": fmt(a, kind),
                "other": fmt(b, kind),
                "difference": fmt(diff, kind, signed=True),
                "chance": fmt(gap, kind, signed=True),
                "beyond_chance": beyond,
                "diff_value": diff,
            }
        )
    return rows


def comparison_figure(models: dict) -> Figure:
    """All-in wages by country for two rule sets side by side (boxes: quartiles, whiskers:
    5th-95th percentile), with each country's local minimum wage."""
    fig = Figure(figsize=(8.4, 4.4))
    fig.subplots_adjust(left=0.06, right=0.98, top=0.92, bottom=0.22)
    ax = fig.subplots()
    names = list(models)
    first = models[names[0]]
    codes = list(first.countries.codes)
    local_min = dict(zip(codes, first.countries.min_wage_usd, strict=True))
    data = {n: measured_workers(m) for n, m in models.items()}
    shown = [c for c in codes if all((d["country"] == c).sum() >= 3 for d in data.values())]
    lo, hi = WAGE_AXIS_USD
    colors = ("#9ecae1", "#fdae6b")
    for k, name in enumerate(names):
        d = data[name]
        pos = [i + 1 + (0.2 if k == 0 else -0.2) for i in range(len(shown))]
        boxes = [np.clip(d.loc[d["country"] == c, "wage_all_in"].to_numpy(), lo, hi) for c in shown]
        if not boxes:
            continue
        style = dict(
            positions=pos, widths=0.35, showfliers=False, whis=(5, 95), patch_artist=True,
            boxprops={"facecolor": colors[k]}, medianprops={"color": "black"},
        )  # fmt: skip
        try:
            art = ax.boxplot(boxes, orientation="horizontal", **style)
        except TypeError:  # matplotlib < 3.10
            art = ax.boxplot(boxes, vert=False, **style)
        art["boxes"][0].set_label(name)
    for i, c in enumerate(shown, start=1):
        ax.plot([local_min[c]], [i], marker="D", color="#d62728", ms=5, zorder=5,
                label="local minimum wage" if i == 1 else None)  # fmt: skip
    ax.axvline(US_FEDERAL_MIN, color="0.4", ls="--", lw=1, label="US federal minimum ($7.25)")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(range(1, len(shown) + 1), shown, fontsize=8)
    ax.set_xlabel("all-in wage, USD per hour (earnings / paid and unpaid time)", fontsize=8)
    ax.set_title(
        "Who earns what under each set of rules? (same seed, same workers at the start)", fontsize=9
    )
    legend_under(fig)
    if not shown:
        ax.text(0.5, 0.5, "Too few workers with enough working time yet", ha="center",
                va="center", transform=ax.transAxes, color="0.4")  # fmt: skip
    return fig
