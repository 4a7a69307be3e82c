"""The comparison report: tables with 95% confidence intervals over seeds, paired differences from
the baseline scenario, a Fairwork-style scorecard, a by-country table and PNG plots.

Everything is computed from the files of a comparison folder (``comparison.parquet``,
``scenarios.json``, ``failures.json``, ``meta.json`` and the per-run ``workers.parquet``), so
:func:`build_report` can rebuild the report of any finished comparison. Intervals are Student-t
intervals over seeds (:func:`crowdsim.experiments.stats.mean_ci`); a difference from the baseline
is taken seed by seed (the scenarios share seeds), then averaged with its own interval.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from crowdsim.experiments import scorecard
from crowdsim.experiments.stats import mean_ci, summarize_groups
from crowdsim.run import atomic_write_parquet, atomic_write_text

# metric -> (label, format kind)
METRICS: dict[str, tuple[str, str]] = {
    "wage_median_all_in": ("Median all-in wage (USD/h)", "usd_h"),
    "wage_mean_all_in": ("Mean all-in wage (USD/h)", "usd_h"),
    "wage_median_paid_only": ("Median paid-only wage (USD/h)", "usd_h"),
    "share_above_7_25": ("Workers earning above $7.25/h", "pct"),
    "share_above_local_min_wage": ("Workers earning at least their local minimum wage", "pct"),
    "unpaid_time_share": ("Unpaid share of working time", "pct"),
    "rejection_rate": ("Rejection rate", "pct2"),
    "unjustified_rejection_rate": ("Unjustified rejection rate (good work rejected)", "pct2"),
    "payment_delay_days_mean": ("Mean payment delay (days)", "days"),
    "value_never_paid_share": ("Value of submitted work never paid", "pct2"),
    "earnings_cv_weekly_median": ("Weekly earnings volatility (median CV)", "num"),
    "gini_earnings": ("Gini of workers' earnings", "num"),
    "platform_revenue_usd": ("Platform revenue (USD)", "usd"),
    "worker_earnings_accrued_usd": ("Worker pay earned, accrued (USD)", "usd"),
    "worker_earnings_usd": ("Worker pay received in cash by the end (USD)", "usd"),
    "tasks_submitted": ("Tasks submitted", "int"),
    "active_workers_mean": ("Workers online per hour (mean)", "num1"),
    "worker_exit_rate": ("Share of workers who left", "pct"),
    "requester_exits": ("Requesters who left", "num1"),
}
OVERVIEW = (
    "wage_median_all_in",
    "wage_mean_all_in",
    "share_above_7_25",
    "unpaid_time_share",
    "unjustified_rejection_rate",
    "payment_delay_days_mean",
    "platform_revenue_usd",
    "worker_earnings_accrued_usd",
)
# what moved underneath: the volume of work, who left, pay per paid hour
MECHANISMS = (
    "wage_median_paid_only",
    "tasks_submitted",
    "requester_exits",
    "worker_exit_rate",
    "share_above_local_min_wage",
)
COUNTRY_METRIC = "wage_median_relative_to_local_min"
PLOTS = {
    "wage_distribution.png": "Workers' all-in hourly wage by scenario",
    "country_wage_vs_local_min.png": "Median all-in wage by country and scenario, relative to the local minimum wage",
    "unpaid_time.png": "Unpaid working time by kind",
    "rejection_and_delay.png": "Rejections and payment delay",
    "revenue_vs_pay.png": "Platform revenue against worker pay",
}


# ------------------------------------------------------------------------------------ numbers
def fmt(value: float, kind: str, signed: bool = False) -> str:
    """Format a value for the report tables (one place, so tests can reproduce the strings)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    sign = "+" if signed and value > 0 else ("-" if value < 0 else "")
    v = abs(value)
    if signed and kind in ("pct", "pct2"):  # a difference of shares is in percentage points
        return sign + (f"{100 * v:.1f} pp" if kind == "pct" else f"{100 * v:.2f} pp")
    if kind == "usd_h":
        body = f"${v:.2f}"
    elif kind == "usd":
        body = f"${v:,.0f}"
    elif kind == "pct":
        body = f"{100 * v:.1f}%"
    elif kind == "pct2":
        body = f"{100 * v:.2f}%"
    elif kind == "days":
        body = f"{v:.1f}"
    elif kind == "int":
        body = f"{v:,.0f}"
    elif kind == "num1":
        body = f"{v:.1f}"
    else:
        body = f"{v:.3f}"
    return sign + body


def fmt_ci(mean: float, low: float, high: float, kind: str, signed: bool = False) -> str:
    """``mean [low, high]``; the interval is omitted when it is undefined (one seed)."""
    m = fmt(mean, kind, signed)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return m
    return f"{m} [{fmt(low, kind, signed)}, {fmt(high, kind, signed)}]"


def scenario_stats(tidy: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Mean and 95% CI over seeds of each overall metric per scenario, and the paired difference
    from ``baseline`` (per seed, then mean and CI). One row per scenario x metric."""
    overall = tidy[tidy["country"] == "all"]
    stats = summarize_groups(overall, ["scenario", "metric"])
    if stats.empty:
        return pd.DataFrame(
            columns=[
                "scenario",
                "metric",
                "mean",
                "ci_low",
                "ci_high",
                "n",
                "diff_mean",
                "diff_low",
                "diff_high",
                "diff_n",
            ]
        )
    wide = overall.pivot_table(
        index=["metric", "seed"], columns="scenario", values="value", aggfunc="first", dropna=False
    )
    diffs = []
    for _, row in stats.iterrows():
        s, m = row["scenario"], row["metric"]
        if baseline in wide.columns and s in wide.columns and m in wide.index.get_level_values(0):
            d = (wide.loc[m, s] - wide.loc[m, baseline]).to_numpy(float)
            dm, dl, dh, dn = mean_ci(d)
        else:
            dm = dl = dh = float("nan")
            dn = 0
        diffs.append({"diff_mean": dm, "diff_low": dl, "diff_high": dh, "diff_n": dn})
    return pd.concat([stats.reset_index(drop=True), pd.DataFrame(diffs)], axis=1)


def country_table(
    tidy: pd.DataFrame, order: list[str], metric: str = COUNTRY_METRIC
) -> pd.DataFrame:
    """Mean over seeds of a by-country metric: index country, columns scenarios."""
    d = tidy[(tidy["country"] != "all") & (tidy["metric"] == metric)]
    if d.empty:
        return pd.DataFrame()
    t = d.groupby(["country", "scenario"])["value"].mean().unstack("scenario")
    t = t.reindex(columns=[s for s in order if s in t.columns])
    return t.dropna(how="all")


def _outcome_means(stats: pd.DataFrame, tidy: pd.DataFrame, scenario: str) -> dict:
    s = stats[stats["scenario"] == scenario].set_index("metric")["mean"].to_dict()
    never = tidy[
        (tidy["scenario"] == scenario)
        & (tidy["country"] == "all")
        & (tidy["metric"] == "value_never_paid_share")
    ]
    s["value_never_paid_share_max"] = float(never["value"].max()) if len(never) else float("nan")
    return s


def scorecards(
    stats: pd.DataFrame, tidy: pd.DataFrame, info: dict, order: list[str]
) -> pd.DataFrame:
    """One row per scenario: each Fairwork threshold awarded (1), not (0) or not assessed (None)."""
    rows = []
    for s in order:
        platform = info.get(s, {}).get("platform", {})
        pts = scorecard.score(platform, _outcome_means(stats, tidy, s))
        got, of = scorecard.total(pts)
        rows.append({"scenario": s, **pts, "score": got, "assessed": of})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ rendering
def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.to_list()) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.to_list()) + "</tr>"
        for _, row in df.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Doc:
    """A report as a list of blocks, rendered to Markdown and to HTML."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, object]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def ul(self, items: list[str]) -> None:
        self.blocks.append(("ul", items))

    def table(self, df: pd.DataFrame) -> None:
        self.blocks.append(("table", df))

    def img(self, src: str, alt: str) -> None:
        self.blocks.append(("img", (src, alt)))

    def markdown(self) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append("#" * x[0] + " " + x[1])
            elif kind == "p":
                out.append(x)
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in x))
            elif kind == "table":
                out.append(_md_table(x))
            elif kind == "img":
                out.append(f"![{x[1]}]({x[0]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append(f"<h{x[0]}>{html.escape(x[1])}</h{x[0]}>")
            elif kind == "p":
                out.append(f"<p>{html.escape(x)}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in x) + "</ul>")
            elif kind == "table":
                out.append(_html_table(x))
            elif kind == "img":
                out.append(
                    f'<figure><img src="{html.escape(x[0])}" alt="{html.escape(x[1])}"><figcaption>{html.escape(x[1])}</figcaption></figure>'
                )
        style = (
            "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.85em}"
            "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}"
            "td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}"
        )
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
        )


# ------------------------------------------------------------------------------------ report
def _load(out: Path) -> tuple[pd.DataFrame, list[dict], dict, dict]:
    tidy = pd.read_parquet(out / "comparison.parquet")
    failures = (
        json.loads((out / "failures.json").read_text()) if (out / "failures.json").exists() else []
    )
    info = (
        json.loads((out / "scenarios.json").read_text())
        if (out / "scenarios.json").exists()
        else {}
    )
    meta = json.loads((out / "meta.json").read_text()) if (out / "meta.json").exists() else {}
    return tidy, failures, info, meta


def _wages(out: Path, tidy: pd.DataFrame) -> pd.DataFrame:
    """Per-worker all-in wages of every successful run (workers with at least 1 resolved hour)."""
    from crowdsim.experiments.compare import run_dir

    frames = []
    for (s, k), _ in tidy.groupby(["scenario", "seed"]):
        path = run_dir(out, s, int(k)) / "workers.parquet"
        if not path.exists():
            continue
        cols = [
            "wage_all_in",
            "hours_paid",
            "hours_search",
            "hours_returned",
            "hours_rejected",
            "hours_never_paid",
        ]
        w = pd.read_parquet(path, columns=cols)
        resolved = w[cols[1:]].sum(axis=1)
        frames.append(
            pd.DataFrame({"scenario": s, "wage_all_in": w.loc[resolved >= 1.0, "wage_all_in"]})
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["scenario", "wage_all_in"])
    )


def _population_note(info: dict, baseline: str, order: list[str]) -> list[str]:
    base = info.get(baseline, {}).get("population", {})
    differ = [
        s
        for s in order
        if info.get(s, {}).get("population", {}).get("countries") != base.get("countries")
        or info.get(s, {}).get("population", {}).get("country_mix") != base.get("country_mix")
    ]
    return differ


def build_report(out: str | Path, plots: bool = True) -> dict[str, Path]:
    """Compute the statistics and write report.md, report.html, summary_table.csv and the plots
    of the comparison folder ``out``; return the paths written."""
    from crowdsim.viz import plots as P

    out = Path(out)
    tidy, failures, info, meta = _load(out)
    order = [s for s in meta.get("scenarios", []) if s in set(tidy["scenario"])] or list(
        dict.fromkeys(tidy["scenario"])
    )
    baseline = meta.get("baseline", "status_quo")
    if baseline not in order and order:
        baseline = order[0]
    stats = scenario_stats(tidy, baseline)
    paths: dict[str, Path] = {}
    atomic_write_text(out / "summary_table.csv", stats.to_csv(index=False))
    paths["summary_table.csv"] = out / "summary_table.csv"
    seeds = sorted(tidy["seed"].unique().tolist()) if len(tidy) else []
    cards = scorecards(stats, tidy, info, order)
    ctab = country_table(tidy, order)

    if plots and len(tidy):
        P.wage_distribution(_wages(out, tidy), order, out / "wage_distribution.png")
        if not ctab.empty:
            P.country_relative_wage(ctab, out / "country_wage_vs_local_min.png")
        P.unpaid_breakdown(stats, order, out / "unpaid_time.png")
        P.rejection_and_delay(stats, order, out / "rejection_and_delay.png")
        P.revenue_vs_pay(stats, order, out / "revenue_vs_pay.png")
        for name in PLOTS:
            if (out / name).exists():
                paths[name] = out / name

    def cell(s: str, m: str, diff: bool = False) -> str:
        r = stats[(stats["scenario"] == s) & (stats["metric"] == m)]
        if r.empty:
            return "n/a"
        r = r.iloc[0]
        kind = METRICS.get(m, (m, "num"))[1]
        if diff:
            return fmt_ci(r["diff_mean"], r["diff_low"], r["diff_high"], kind, signed=True)
        return fmt_ci(r["mean"], r["ci_low"], r["ci_high"], kind)

    doc = _Doc()
    doc.h(1, "crowdsim scenario comparison")
    n_runs = tidy[["scenario", "seed"]].drop_duplicates().shape[0] if len(tidy) else 0
    setup = (
        f"{len(order)} scenarios x {len(seeds)} seeds ({', '.join(map(str, seeds))}); "
        f"workers: {meta.get('workers') or 'each scenario own'}; days: {meta.get('days') or 'config default'}; "
        f"{n_runs} runs succeeded, {len(failures)} failed. Baseline: {baseline}."
    )
    doc.p(setup)
    if meta.get("command"):
        doc.p(
            f"Command: {meta['command']}"
            + (
                f" (runs took {meta['wall_seconds_runs']} s)"
                if meta.get("wall_seconds_runs")
                else ""
            )
        )
    doc.p(
        "Numbers are means over seeds with 95% Student-t confidence intervals in brackets (none with one seed). "
        f"Every scenario uses the same seeds, so the difference from {baseline} is taken seed by seed (paired) "
        "and has its own interval. Wages follow Hara et al. (2018): all-in = pay / all working time "
        "including unpaid search, returned tasks, rejected and never-paid work; USD per hour."
    )
    differ = _population_note(info, baseline, order)
    if differ:
        doc.p(
            f"Scenarios with a different worker population than {baseline}: {', '.join(differ)}. "
            "Their differences mix rules and population, and their seeds are not common random numbers."
        )

    doc.h(2, "Scenarios")
    items = []
    for s in order:
        i = info.get(s, {})
        pop = i.get("population", {})
        cur = pop.get("currency") or "USD"
        extra = ""
        if cur != "USD":
            rate = float(pop.get("usd_per_currency") or 1.0)
            med = stats[(stats["scenario"] == s) & (stats["metric"] == "wage_median_all_in")][
                "mean"
            ]
            in_cur = (
                f" (median all-in wage {med.iloc[0] / rate:,.2f} {cur} per hour)"
                if len(med)
                else ""
            )
            extra = f" The platform pays in {cur}: 1 {cur} = ${rate:g}{in_cur}."
        items.append(f"{s}: {i.get('description', '')}.{extra}".replace("..", "."))
    doc.ul(items)

    doc.h(2, "Overview")
    ov = pd.DataFrame(
        [{"scenario": s, **{METRICS[m][0]: cell(s, m) for m in OVERVIEW}} for s in order]
    )
    doc.table(ov)
    doc.p("Underneath: pay per paid hour, the volume of work done, and who left the platform.")
    doc.table(
        pd.DataFrame(
            [{"scenario": s, **{METRICS[m][0]: cell(s, m) for m in MECHANISMS}} for s in order]
        )
    )
    days = meta.get("days") or next((i.get("days") for i in info.values() if i.get("days")), None)
    doc.p(
        f"Reading the results: each run covers {days or 'the configured number of'} days. Workers who earn far "
        "below their reservation wage log on less (down to a tenth of their hours, at 15% a day) but leave only "
        "after workers.exit_days (21 by default) consecutive days below it, or at the baseline rate. Over a few "
        "weeks the pool therefore adjusts slowly, and a rule that cuts the volume of work (requesters leave when "
        "the rules make a task cost more than it is worth to them) shows up first as more unpaid search per "
        "working hour, not as fewer workers. Runs with more days show "
        "the adjustment. Money received (worker pay in cash, platform revenue) counts only what was settled by "
        "the end of the run, so slower payment rules show less of it; the accrued pay counts all submitted work "
        "at the pay it will receive."
    )

    doc.h(2, "Headline metrics")
    for m, (label, _kind) in METRICS.items():
        if stats.empty or m not in set(stats["metric"]):
            continue
        doc.h(3, f"{label} [{m}]")
        rows = []
        for s in order:
            r = stats[(stats["scenario"] == s) & (stats["metric"] == m)]
            n = int(r["n"].iloc[0]) if len(r) else 0
            rows.append(
                {
                    "scenario": s,
                    "mean [95% CI]": cell(s, m),
                    f"difference from {baseline} [95% CI]": "-"
                    if s == baseline
                    else cell(s, m, diff=True),
                    "seeds": n,
                }
            )
        doc.table(pd.DataFrame(rows))

    doc.h(2, "Fairwork-style scorecard")
    doc.p(
        "Fairwork rates cloudwork platforms on five principles with two thresholds each (MTurk scored 0/10 and "
        "the best platforms 5/10 in the 2023 ratings). crowdsim checks each scenario's rules and simulated "
        "outcomes against the rule stated for each threshold; thresholds the model cannot speak to are "
        "marked n/a and left out of the score. A second threshold needs the first of its principle."
    )
    if not cards.empty:
        view = cards.copy()
        for pt in scorecard.POINTS:
            view[pt.code] = view[pt.code].map(lambda v: "n/a" if v is None else ("1" if v else "0"))
        view["score"] = [
            f"{a} / {b}" for a, b in zip(cards["score"], cards["assessed"], strict=True)
        ]
        doc.table(view.drop(columns=["assessed"]))
    doc.ul([f"{pt.code} {pt.principle} - {pt.title}: {pt.rule}" for pt in scorecard.POINTS])

    doc.h(2, "Wages by country relative to the local minimum wage")
    doc.p(
        "Median all-in wage of the workers of each country divided by that country's minimum wage per hour "
        "(1 = the local minimum; country table in crowdsim/data/countries.csv), mean over seeds. "
        "n/a: no measured worker from that country in the scenario."
    )
    if not ctab.empty:
        mins = (
            tidy[(tidy["metric"] == "local_min_wage_usd") & (tidy["country"] != "all")]
            .groupby("country")["value"]
            .first()
        )
        ct = ctab.copy()
        shown = pd.DataFrame(
            {
                "country": ct.index,
                "local minimum (USD/h)": [fmt(mins.get(c, np.nan), "usd_h") for c in ct.index],
            }
        )
        for s in ct.columns:
            shown[s] = [
                ("n/a" if not np.isfinite(v) else f"{v:.2f}") for v in ct[s].to_numpy(float)
            ]
        doc.table(shown)

    if plots and len(tidy):
        doc.h(2, "Plots")
        for name, caption in PLOTS.items():
            if (out / name).exists():
                doc.img(name, caption)

    if failures:
        doc.h(2, "Failed runs")
        doc.ul([f"{f['scenario']} seed {f['seed']}: {f['error']}" for f in failures])

    doc.h(2, "Files")
    doc.ul(
        [
            "comparison.parquet / comparison.csv: one row per scenario x seed x metric (country 'all' or an ISO code)",
            "summary_table.csv: the means, intervals and paired differences above",
            "runs/<scenario>/seed_<k>/: each run's summary, frames, resolved config and provenance",
        ]
    )
    atomic_write_text(out / "report.md", doc.markdown())
    atomic_write_text(out / "report.html", doc.html("crowdsim scenario comparison"))
    paths["report.md"] = out / "report.md"
    paths["report.html"] = out / "report.html"
    return paths


def write_outputs(
    out: str | Path,
    tidy: pd.DataFrame,
    failures: list[dict],
    info: dict,
    meta: dict,
    plots: bool = True,
) -> dict[str, Path]:
    """Write the comparison's data files (each atomically), then the report built from them."""
    out = Path(out)
    atomic_write_parquet(out / "comparison.parquet", tidy)
    atomic_write_text(out / "comparison.csv", tidy.to_csv(index=False))
    atomic_write_text(out / "scenarios.json", json.dumps(info, indent=2, default=str))
    atomic_write_text(out / "failures.json", json.dumps(failures, indent=2, default=str))
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2, default=str))
    paths = build_report(out, plots=plots)
    for name in (
        "comparison.parquet",
        "comparison.csv",
        "scenarios.json",
        "failures.json",
        "meta.json",
    ):
        paths[name] = out / name
    return paths
