"""The comparison report: an executive summary, tables with intervals that respect their
quantity, paired differences from the baseline, money per worker-month and per 1,000 tasks, a
by-country table, a Fairwork-style scorecard and plots, in one self-contained ``report.html``
(images embedded) and in ``report.md``.

Everything is computed from the files of a comparison folder (``comparison.parquet``,
``scenarios.json``, ``failures.json``, ``meta.json`` and the per-run ``workers.parquet``), so
:func:`build_report` can rebuild the report of any finished comparison.

Statistics (:func:`summary_table`): the mean over seeds with its 95% interval
(:func:`crowdsim.metrics.stats.interval`, the one method of every crowdsim table: Student's t,
widened on the skewed side for bounded quantities and kept in their range); the difference from
the baseline is taken seed by seed on the seeds both scenarios share, with the t-interval of the
differences (:func:`crowdsim.metrics.stats.paired`). A change is *detectable* when the
interval of the difference excludes zero; ``mdc`` is the smallest change the seeds run detect
with 80% power (:func:`crowdsim.metrics.stats.min_detectable_change`). The executive summary
is written from these numbers alone.

Labels, units and definitions come from :mod:`crowdsim.metrics.catalogue`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from crowdsim.files import atomic_write_parquet, atomic_write_text
from crowdsim.metrics import catalogue as C
from crowdsim.metrics import stats as S
from crowdsim.report import scorecard
from crowdsim.report.layout import SHORT_FILE, run_dir

LEVEL = 0.95
SUMMARY_COLUMNS = [
    "scenario",
    "metric",
    "label",
    "unit",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "rel_diff",
    "rel_diff_ci_low",
    "rel_diff_ci_high",
    "detectable",
    "diff_sd",
    "mdc",
]
COUNTRY_METRIC = "wage_median_relative_to_local_min"
MONEY = (
    (
        "worker_earnings_accrued_usd",
        "worker_pay_per_worker_month_usd",
        "worker_pay_per_1000_tasks_usd",
    ),
    (
        "platform_revenue_usd",
        "platform_revenue_per_worker_month_usd",
        "platform_revenue_per_1000_tasks_usd",
    ),
)
SCALED = ("worker_pay_at_platform_size_usd", "platform_revenue_at_platform_size_usd")
# file -> the question the plot answers (its title)
PLOTS = {
    "differences.png": "Which rules change the headline numbers, and by how much?",
    "wage_distribution.png": "How are workers' all-in hourly wages spread under each set of rules?",
    "country_wage_vs_local_min.png": "In which countries does the all-in wage reach the local minimum wage?",
    "unpaid_time.png": "How much working time goes unpaid, and why?",
    "rejection_and_delay.png": "How often is work rejected, and how long does payment take?",
    "revenue_vs_pay.png": "Who gets the money: workers or the platform?",
}


def country_names() -> dict[str, str]:
    """ISO code -> "India (IN)", from the country table."""
    from crowdsim.data.countries import load_countries

    t = load_countries()
    return {c: f"{n} ({c})" for c, n in zip(t.index, t["name"], strict=True)}


def scenario_title(scenario: str) -> str:
    """A scenario's title (the ``title:`` of its file, :func:`crowdsim.scenarios.title`)."""
    from crowdsim.scenarios import title

    return title(scenario)


# ------------------------------------------------------------------------------------ numbers
def fmt_ci(mean: float, low: float, high: float, kind: str, signed: bool = False) -> str:
    """``mean [low, high]``; the interval is omitted when it is undefined (one seed)."""
    m = C.fmt(mean, kind, signed)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return m
    return f"{m} [{C.fmt(low, kind, signed)}, {C.fmt(high, kind, signed)}]"


def fmt_rel(rel: float, low: float, high: float) -> str:
    """A relative change with its interval: ``−78% [−86%, −70%]`` (one decimal below 10%)."""

    def pct(v: float) -> str:
        if not math.isfinite(v):
            return "n/a"
        sign = "+" if v > 0 else "−" if v < 0 else ""
        return sign + (f"{100 * abs(v):.1f}%" if abs(v) < 0.1 else f"{100 * abs(v):.0f}%")

    if not (math.isfinite(low) and math.isfinite(high)):
        return pct(rel)
    return f"{pct(rel)} [{pct(low)}, {pct(high)}]"


def _relative(r: pd.Series) -> bool:
    """Whether a change reads better relative (%) than absolute: money and large counts."""
    kind = C.metric(r["metric"]).kind
    if kind in ("share", "share_small", "index", "ratio") or not math.isfinite(r["rel_diff"]):
        return False
    return not (kind == "count" and abs(r["mean"] - r["diff"]) < 100)


def add_derived(tidy: pd.DataFrame, info: dict) -> pd.DataFrame:
    """The tidy frame with money per worker-month, per 1,000 tasks and (where the scenario
    states its real size) at that size added, one row per scenario x seed x derived metric."""
    if tidy.empty:
        return tidy
    overall = tidy[tidy["country"] == "all"]
    derived_keys = {
        "worker_pay_per_worker_month_usd",
        "platform_revenue_per_worker_month_usd",
        "worker_pay_per_1000_tasks_usd",
        "platform_revenue_per_1000_tasks_usd",
        *SCALED,
    }
    base = tidy[~((tidy["country"] == "all") & tidy["metric"].isin(derived_keys))]
    rows = []
    for (s, k), g in overall.groupby(["scenario", "seed"], sort=False):
        summary = dict(zip(g["metric"], g["value"], strict=True))
        stated = info.get(s, {}).get("stated_workers")
        for key, value in C.derived_metrics(summary, stated).items():
            rows.append({"scenario": s, "seed": k, "country": "all", "metric": key, "value": value})
    return pd.concat([base, pd.DataFrame(rows, columns=tidy.columns)], ignore_index=True)


def _stats_rows(tidy: pd.DataFrame, baseline: str, keys: list[str]) -> list[dict]:
    """Mean, interval and paired difference for each scenario x metric of ``tidy`` (one country)."""
    wide = tidy.pivot_table(
        index=["metric", "seed"], columns="scenario", values="value", aggfunc="first", dropna=False
    )
    rows = []
    diff_cols = [*SUMMARY_COLUMNS[8:14], "diff_sd"]
    for (s, m), g in tidy.groupby(["scenario", "metric"], sort=False):
        meta = C.metric(m)
        mean, lo, hi, n = S.interval(g["value"].to_numpy(), C.bounds_of(m), LEVEL)
        d = dict.fromkeys(diff_cols, float("nan"))
        if s != baseline and baseline in wide.columns:
            per_seed = wide.loc[m]
            p = S.paired(
                per_seed[s].to_numpy(), per_seed[baseline].to_numpy(), LEVEL, C.bounds_of(m)
            )
            d = {c: p[c] for c in diff_cols}
            n_pairs = p["n"]
        elif s == baseline:
            d["diff"] = 0.0
            n_pairs = 0
        else:
            n_pairs = 0
        rows.append(
            dict(zip(keys, (s, m), strict=True))
            | {
                "label": meta.label,
                "unit": meta.unit,
                "n": n,
                "mean": mean,
                "ci_low": lo,
                "ci_high": hi,
            }
            | d
            | {
                "detectable": S.detectable(d["diff_ci_low"], d["diff_ci_high"]),
                "mdc": S.min_detectable_change(d["diff_sd"], n_pairs, LEVEL),
            }
        )
    return rows


def summary_table(
    tidy: pd.DataFrame, baseline: str, order: list[str] | None = None
) -> pd.DataFrame:
    """One row per scenario x overall metric: ``mean``, ``ci_low``, ``ci_high`` over seeds and the
    paired difference from ``baseline`` (``diff``, ``diff_ci_low``, ``diff_ci_high``, relative
    ``rel_diff`` with its interval, ``detectable``: the interval of ``diff`` excludes zero)."""
    overall = tidy[tidy["country"] == "all"]
    out = pd.DataFrame(
        _stats_rows(overall, baseline, ["scenario", "metric"]), columns=SUMMARY_COLUMNS
    )
    if order:
        out["_o"] = out["scenario"].map({s: i for i, s in enumerate(order)})
        out = out.sort_values(["_o", "metric"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def country_summary(tidy: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """As :func:`summary_table`, by country (one row per scenario x country x metric)."""
    by = tidy[tidy["country"] != "all"]
    rows = []
    for c, g in by.groupby("country", sort=True):
        for r in _stats_rows(g, baseline, ["scenario", "metric"]):
            rows.append({"country": c} | r)
    return pd.DataFrame(rows, columns=["country", *SUMMARY_COLUMNS])


def _row(stats: pd.DataFrame, s: str, m: str) -> pd.Series | None:
    r = stats[(stats["scenario"] == s) & (stats["metric"] == m)]
    return None if r.empty else r.iloc[0]


def value_cell(stats: pd.DataFrame, s: str, m: str) -> str:
    """``mean [ci_low, ci_high]`` of a scenario's metric, as the tables show it."""
    r = _row(stats, s, m)
    return "n/a" if r is None else fmt_ci(r["mean"], r["ci_low"], r["ci_high"], C.metric(m).kind)


def diff_cell(stats: pd.DataFrame, s: str, m: str) -> str:
    """The paired difference from the baseline with its interval; '(no detectable change)' is
    appended when the interval includes zero."""
    r = _row(stats, s, m)
    if r is None or not math.isfinite(r["diff"]):
        return "n/a"
    text = fmt_ci(r["diff"], r["diff_ci_low"], r["diff_ci_high"], C.metric(m).kind, signed=True)
    return text if r["detectable"] else f"{text} (n.d.)"


def change_phrase(r: pd.Series) -> str:
    """One detectable change in words: "Median all-in hourly wage fell by $1.02/h (−36%)
    [−$1.60/h, −$0.50/h] to $1.81/h"."""
    meta = C.metric(r["metric"])
    kind = meta.kind
    verb = "rose" if r["diff"] > 0 else "fell"
    size = C.fmt(abs(r["diff"]), kind, signed=kind in ("share", "share_small"))
    size = size.lstrip("+")
    rel = ""
    if _relative(r):
        rel = f" ({fmt_rel(r['rel_diff'], float('nan'), float('nan'))})"
    ci = f"[{C.fmt(r['diff_ci_low'], kind, True)}, {C.fmt(r['diff_ci_high'], kind, True)}]"
    return f"{meta.label} {verb} by {size}{rel} {ci} to {C.fmt(r['mean'], kind)}"


def driver_phrase(r: pd.Series) -> str:
    """A detectable change underneath, shortly: "tasks submitted −78% [−86%, −70%]"."""
    meta = C.metric(r["metric"])
    if _relative(r):
        return f"{lower_first(meta.label)} {fmt_rel(r['rel_diff'], r['rel_diff_ci_low'], r['rel_diff_ci_high'])}"
    return f"{lower_first(meta.label)} {fmt_ci(r['diff'], r['diff_ci_low'], r['diff_ci_high'], meta.kind, signed=True)}"


def _size_of_change(r: pd.Series) -> float:
    """How large a change is, as the absolute log of new / old: a fall to a third (−67%) ranks
    with a rise to three times (+200%), so a fall is not outranked by smaller rises (a relative
    fall cannot exceed −100%, a rise has no bound)."""
    base = abs(r["mean"] - r["diff"])
    ratio = 1.0 + r["rel_diff"] if _relative(r) else 1.0 + r["diff"] / max(base, 0.01)
    return abs(math.log(max(ratio, 1e-3)))


def lower_first(text: str) -> str:
    """``text`` inside a sentence: its first letter lower-cased unless the first word is an
    acronym or a name ("Status quo (MTurk-like)" -> "status quo (MTurk-like)", "EU ..." kept)."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and any(ch.isupper() for ch in first[1:]):
        return text
    return text[:1].lower() + text[1:]


def headline_changes(stats: pd.DataFrame, scenario: str) -> tuple[list, list]:
    """The rows of ``scenario``'s headline metrics with a detectable change, and those without."""
    mine = stats[stats["scenario"] == scenario].set_index("metric")
    changed, unchanged = [], []
    for m in C.HEADLINE:
        if m not in mine.index or not math.isfinite(mine.loc[m, "diff"]):
            continue
        r = mine.loc[m].copy()
        r["metric"] = m
        (changed if r["detectable"] else unchanged).append(r)
    return changed, unchanged


def executive_summary(
    stats: pd.DataFrame,
    info: dict,
    baseline: str,
    order: list[str],
    max_drivers: int = 3,
    short_stats: pd.DataFrame | None = None,
) -> list[dict]:
    """For each scenario but the baseline: its title, the rules it changes, the detectable
    changes of the headline metrics (:data:`crowdsim.metrics.catalogue.HEADLINE`) in words, the
    headline metrics with no detectable change, and the largest detectable changes underneath
    (:data:`crowdsim.metrics.catalogue.DRIVERS`); with ``short_stats`` (the short run), also
    ``short_run``: the detectable headline changes of the short run in words (None for a
    scenario without one). Only numbers of ``stats`` and ``short_stats`` are used."""
    out = []
    base_rules = info.get(baseline, {}).get("platform", {})
    for s in order:
        if s == baseline:
            continue
        mine = stats[stats["scenario"] == s].set_index("metric")
        changed, unchanged = headline_changes(stats, s)
        short = None
        if short_stats is not None and s in set(short_stats["scenario"]):
            short = [change_phrase(r) for r in headline_changes(short_stats, s)[0]]
        drivers = []
        for m in C.DRIVERS:
            if m in mine.index and mine.loc[m, "detectable"]:
                r = mine.loc[m].copy()
                r["metric"] = m
                drivers.append(r)
        drivers.sort(key=_size_of_change, reverse=True)
        out.append(
            {
                "scenario": s,
                "title": scenario_title(s),
                "description": info.get(s, {}).get("description", ""),
                "rules": C.rule_changes(info.get(s, {}).get("platform", {}), base_rules),
                "changes": [change_phrase(r) for r in changed],
                "changed_metrics": [r["metric"] for r in changed],
                "no_change": [C.metric(r["metric"]).label for r in unchanged],
                "drivers": [driver_phrase(r) for r in drivers[:max_drivers]],
                "short_run": short,
            }
        )
    return out


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


# ------------------------------------------------------------------------------ at a glance
MIN_COUNTRY_WORKERS = 30  # assumption: a country cell needs 30 measured workers (mean over seeds)
SUMMARY_WORDS = 300  # assumption: what a policymaker reads in about a minute, with the grid
SEEDS_SHOWN = 10_000  # display cap: more seeds than this are shown as "> 10,000"
# assumption: changes in the median all-in wage (as a share of the baseline's) a policy is
# worth detecting; the seeds needed are shown for each
DETECT_SIZES = (0.05, 0.10)


def heading(m: str, diff: bool = False) -> str:
    """A table heading with its unit: shares in % (differences in percentage points, pp)."""
    meta = C.metric(m)
    if meta.kind in ("share", "share_small"):
        return f"{meta.label} ({'pp' if diff else '%'})"
    return f"{meta.label} ({meta.unit})" if meta.unit else meta.label


def glance_cell(r: pd.Series | None) -> tuple[str, str]:
    """One cell of the at-a-glance grid and its CSS class: "▲ +$0.42/h" (detectable rise),
    "▼ −3.1 pp" (detectable fall), "○ n.d." (no detectable change); the class says whether the
    change is better or worse for workers (``up``/``down`` when neither)."""
    if r is None or not math.isfinite(r["diff"]):
        return "n/a", "na"
    if not r["detectable"]:
        return "○ n.d.", "nd"
    meta = C.metric(r["metric"])
    size = C.fmt(r["diff"], meta.kind, signed=True)
    if _relative(r):
        size += f" ({fmt_rel(r['rel_diff'], math.nan, math.nan)})"
    rise = r["diff"] > 0
    if meta.better is None:
        css = "up" if rise else "down"
    else:
        css = "good" if rise == (meta.better == "higher") else "bad"
    return f"{'▲' if rise else '▼'} {size}", css


def glance(stats: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """The at-a-glance grid: one row per rule (the baseline excluded) x headline measure, each
    cell from :func:`glance_cell`, and the smallest change in the median all-in wage its seeds
    can detect. Columns ``Rules``, the headline headings (cells as (text, css) pairs) and
    ``detectable wage change``."""
    rows = []
    for s in order[1:]:
        row: dict = {"Rules": scenario_title(s)}
        for m in C.HEADLINE:
            r = _row(stats, s, m)
            if r is not None:
                r = r.copy()
                r["metric"] = m
            row[heading(m, diff=True)] = glance_cell(r)
        w = _row(stats, s, "wage_median_all_in")
        mdc = math.nan if w is None else w["mdc"]
        if not math.isfinite(mdc):
            cell = ("n/a", "na")
        elif mdc < 0.005:  # the seeds gave the same wage with and without the rule
            cell = ("< $0.01/h", "mdc")
        else:
            cell = (f"±{C.fmt(mdc, 'usd_h')}", "mdc")
        row["Smallest detectable wage change (USD/h)"] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def notation(n_seeds: int, baseline: str) -> list[str]:
    """What the grid's and the tables' signs mean (shown beside the grid)."""
    return [
        f"Each cell: change from **{scenario_title(baseline)}**, mean over {n_seeds} common seeds.",
        "**▲ / ▼** rose / fell detectably (its 95% interval excludes zero). Green: better for "
        "workers; red: worse; grey: neither.",
        "**○ n.d.** no detectable change: the interval includes zero.",
        "**pp** percentage points; **(%)** relative change.",
        "**±$x/h** smallest wage change these seeds detect (80% of the time).",
        "**[a, b]** in the tables below: the 95% interval.",
    ]


def detection_table(stats: pd.DataFrame, order: list[str], n_seeds: int) -> pd.DataFrame:
    """What the seeds can detect in the median all-in wage, per rule: the seeds run, the spread
    of the per-seed differences, the smallest detectable change, and the seeds needed to detect
    changes of 5% and 10% of the baseline's wage and of the change observed (80% power, 95%
    level; :func:`crowdsim.metrics.stats.seeds_needed`)."""
    m = "wage_median_all_in"
    base = _row(stats, order[0], m)
    level = base["mean"] if base is not None else math.nan
    rows = []
    for s in order[1:]:
        r = _row(stats, s, m)
        if r is None:
            continue
        sd, mdc = r["diff_sd"], r["mdc"]

        def need(change: float, sd: float = sd) -> str:
            if not (math.isfinite(change) and math.isfinite(sd)) or change == 0:
                return "n/a"
            k = S.seeds_needed(change, sd, most=SEEDS_SHOWN)
            return f"> {SEEDS_SHOWN:,}" if k is None else f"{k:,}"

        row = {
            "Rules": scenario_title(s),
            "seeds run": f"{int(r['n'])}",
            "spread of per-seed changes (SD, USD/h)": C.fmt(sd, "usd_h"),
            "smallest detectable change (USD/h)": C.fmt(mdc, "usd_h"),
        }
        for f in DETECT_SIZES:
            row[f"seeds for a {f:.0%} change ({C.fmt(f * level, 'usd_h')})"] = need(f * level)
        row["seeds for the change seen (USD/h)"] = (
            f"{need(r['diff'])} ({C.fmt(r['diff'], 'usd_h', True)})"
            if math.isfinite(r["diff"])
            else "n/a"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _short_change(r: pd.Series, with_ci: bool) -> str:
    """A detectable change in few words: "median all-in wage +$0.42/h (+20%) [+$0.30/h, +$0.55/h]"."""
    meta = C.metric(r["metric"])
    kind = meta.kind
    text = f"{lower_first(meta.label)} {C.fmt(r['diff'], kind, True)}"
    if _relative(r):
        text += f" ({fmt_rel(r['rel_diff'], math.nan, math.nan)})"
    if with_ci:
        text += f" [{C.fmt(r['diff_ci_low'], kind, True)}, {C.fmt(r['diff_ci_high'], kind, True)}]"
    return text


def summary_lines(
    items: list[dict], stats: pd.DataFrame, short_stats: pd.DataFrame | None, detail: int
) -> list[dict]:
    """The executive summary at a level of ``detail`` (3: every detectable headline change with
    its interval, the largest change underneath and the short run; 2: without the short run;
    1: changes with intervals only; 0: the two largest changes, no intervals; -1: the largest).
    One entry per rule: ``scenario``, ``title`` and ``text``."""
    out = []
    for it in items:
        s = it["scenario"]
        changed, _ = headline_changes(stats, s)
        changed.sort(key=_size_of_change, reverse=True)
        if detail <= 0:
            changed = changed[: 2 + detail]
        parts = [_short_change(r, with_ci=detail >= 1) for r in changed]
        text = "; ".join(parts) if parts else "no detectable change in any headline measure"
        if detail >= 2 and it["drivers"]:
            text += f". Underneath: {it['drivers'][0]}"
        if detail >= 3 and short_stats is not None and it.get("short_run") is not None:
            sc = headline_changes(short_stats, s)[0] if s in set(short_stats["scenario"]) else []
            sc.sort(key=_size_of_change, reverse=True)
            text += ". Short run: " + (
                "; ".join(_short_change(r, with_ci=False) for r in sc[:2]) or "no detectable change"
            )
        out.append({"scenario": s, "title": it["title"], "text": text[:1].upper() + text[1:] + "."})
    return out


def _words(text: str) -> int:
    return len(text.split())


def lead_sentence(stats: pd.DataFrame, order: list[str]) -> str:
    """The summary's first sentence: how many rules raise or lower the headline wage detectably."""
    m = "wage_median_all_in"
    up, down = [], []
    for s in order[1:]:
        r = _row(stats, s, m)
        if r is not None and r["detectable"]:
            (up if r["diff"] > 0 else down).append((r["diff"], s))
    n = len(order) - 1
    text = (
        f"Of {n} {'rule' if n == 1 else 'rules'} compared, {len(up)} raise and {len(down)} lower "
        "the median all-in hourly wage detectably"
    )
    if up:
        d, s = max(up)
        text += f"; the largest rise: {scenario_title(s)} ({C.fmt(d, 'usd_h', True)})"
    return text + "."


def executive_summary_text(
    stats: pd.DataFrame,
    items: list[dict],
    order: list[str],
    short_stats,
    limit: int = SUMMARY_WORDS,
) -> tuple[str, list[dict]]:
    """The lead sentence and the most detailed :func:`summary_lines` whose words, with the
    section's heading ("Executive summary"), fit in ``limit``; if even the shortest does not
    (many rules), the rules that fit and a last line pointing to the grid for the others."""
    lead = lead_sentence(stats, order)

    def count(lines: list[dict]) -> int:
        return 2 + _words(lead) + sum(_words(x["title"]) + _words(x["text"]) for x in lines)

    for detail in (3, 2, 1, 0, -1):
        lines = summary_lines(items, stats, short_stats, detail)
        if count(lines) <= limit:
            return lead, lines
    rest = {"scenario": "", "title": "Other rules", "text": "see the grid above."}
    while lines and count([*lines, rest]) > limit:
        lines = lines[:-1]
    return lead, [*lines, rest]


# ------------------------------------------------------------------------------ incidence
WELFARE = "welfare/"
WELFARE_SIDES = (
    ("worker_surplus_usd", "Workers' surplus"),
    ("requester_surplus_usd", "Requesters' surplus"),
    ("platform_revenue_usd", "Platform revenue"),
    ("total_surplus_usd", "Total surplus"),
    ("demand_lost_value_usd", "Value of demand lost"),
)


def welfare_rows(summary: dict) -> list[tuple[str, str, float]]:
    """(country, metric, value) rows of a summary's ``welfare`` object: its numbers at country
    'all' as ``welfare/<key>``, by country at each country's code, and any other group
    (e.g. productivity quintiles) as ``welfare/<group>/<name>/<key>``."""
    w = summary.get("welfare")
    if not isinstance(w, dict):
        return []
    rows = []

    def num(v) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    for k, v in w.items():
        if num(v):
            rows.append(("all", WELFARE + k, float(v)))
        elif isinstance(v, dict):
            for g, sub in v.items():
                if not isinstance(sub, dict):
                    continue
                for kk, vv in sub.items():
                    if num(vv):
                        if k == "by_country":
                            rows.append((str(g), WELFARE + kk, float(vv)))
                        else:
                            rows.append(("all", f"{WELFARE}{k}/{g}/{kk}", float(vv)))
    return rows


def incidence_tables(
    stats: pd.DataFrame, countries: pd.DataFrame, order: list[str]
) -> list[tuple[str, pd.DataFrame]]:
    """Who gains and who loses, per rule, as (caption, table) pairs: the change in each side's
    surplus (USD over the measured window, with its 95% interval), then workers' surplus by
    group (productivity quintile) and by country. Empty when the runs have no welfare ledger."""
    have = set(stats["metric"])
    sides = [(WELFARE + k, lab) for k, lab in WELFARE_SIDES if WELFARE + k in have]
    if not sides:
        return []

    def cell(st: pd.DataFrame, s: str, m: str) -> str:
        r = _row(st, s, m)
        if r is None or not math.isfinite(r["diff"]):
            return "n/a"
        text = fmt_ci(r["diff"], r["diff_ci_low"], r["diff_ci_high"], "usd", signed=True)
        return text if r["detectable"] else f"{text} (n.d.)"

    out = []
    rows = [
        {"Rules": scenario_title(s)} | {f"{lab} (USD)": cell(stats, s, m) for m, lab in sides}
        for s in order[1:]
    ]
    out.append(("Change from the baseline by side of the market", pd.DataFrame(rows)))
    groups: dict[str, list[str]] = {}
    for m in sorted(have):
        parts = m.split("/")
        if len(parts) == 4 and m.startswith(WELFARE) and parts[3] == "worker_surplus_usd":
            groups.setdefault(parts[1], []).append(parts[2])
    for g, names in groups.items():
        rows = [
            {"Rules": scenario_title(s)}
            | {f"{n} (USD)": cell(stats, s, f"{WELFARE}{g}/{n}/worker_surplus_usd") for n in names}
            for s in order[1:]
        ]
        out.append((f"Change in workers' surplus {g.replace('_', ' ')}", pd.DataFrame(rows)))
    ws = countries[countries["metric"] == WELFARE + "worker_surplus_usd"]
    if not ws.empty:
        names = country_names()
        rows = []
        for c in sorted(set(ws["country"])):
            row = {"country": names.get(c, c)}
            for s in order[1:]:
                row[f"{scenario_title(s)} (USD)"] = cell(
                    ws[ws["country"] == c], s, ws["metric"].iloc[0]
                )
            rows.append(row)
        out.append(("Change in workers' surplus by country", pd.DataFrame(rows)))
    return out


# ------------------------------------------------------------------------------ scorecard
def scorecard_view(cards: pd.DataFrame, titles: dict) -> pd.DataFrame:
    """The scorecard on Fairwork's scale: one column per principle (0-2 points: its two
    thresholds), a threshold crowdsim cannot assess marked † and counted 0 (Fairwork awards no
    point without evidence), and the score out of 10."""
    rows = []
    for _, c in cards.iterrows():
        row = {"Rules": titles.get(c["scenario"], c["scenario"])}
        for principle in scorecard.PRINCIPLES:
            pts = [pt for pt in scorecard.POINTS if pt.principle == principle]
            got = sum(bool(c[pt.code]) for pt in pts if c[pt.code] is not None)
            missing = sum(c[pt.code] is None for pt in pts)
            row[f"{principle} (0-2)"] = f"{got}" + (" " + "†" * missing if missing else "")
        row["Score (out of 10)"] = f"{int(c['score'])} / 10"
        row["thresholds assessed"] = f"{int(c['assessed'])} of 10"
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ rendering
def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.to_list()) + " |")
    return "\n".join(lines)


def _inline(text: str) -> str:
    """HTML of a text with ``**bold**`` spans."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


SHORT_CELL = 32  # characters: a cell this short is kept on one line


def _cell_html(text: str) -> str:
    """A table cell: a value with its interval ``1.23 [1.10, 1.40] (n.d.)`` on two lines (the
    value, then the interval in smaller type), each kept on its line; other text as it is."""
    value, sep, rest = text.partition(" [")
    if not sep or "]" not in rest:  # a short text on one line ("too few workers (n = 9)")
        return (
            f'<span class="v">{_inline(text)}</span>' if len(text) <= SHORT_CELL else _inline(text)
        )
    return f'<span class="v">{_inline(value)}</span><span class="ci">[{html.escape(rest)}</span>'


_NUMBER = re.compile(r"[+−-]?\$?[\d,]*\.?\d+(%|/h| pp| days)?( / 10| of 10)?")
_NOTES = re.compile(r" \(n = [\d,]+\)$| †+$| \(n\.d\.\)$")


def _numeric(text: str) -> bool:
    """Whether a cell is a number (right-aligned): ``$1.23/h``, ``+4.5 pp [..]``, ``0 / 10``."""
    value = _NOTES.sub("", text.split(" [", 1)[0].strip())
    return bool(_NUMBER.fullmatch(value))


def _html_table(df: pd.DataFrame, css: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if _numeric(str(v)) else ''}>{_cell_html(str(v))}</td>"
            for v in row.to_list()
        )
        + "</tr>"
        for _, row in df.iterrows()
    )
    cls = f' class="{css}"' if css else ""
    return (
        f'<div class="tablewrap"><table{cls}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _glance_html(grid: pd.DataFrame) -> str:
    """The at-a-glance grid: (text, css) cells coloured by what the change means for workers."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in grid.columns)
    body = ""
    for _, row in grid.iterrows():
        cells = []
        for v in row.to_list():
            if isinstance(v, tuple):
                cells.append(f'<td class="{v[1]}">{html.escape(v[0])}</td>')
            else:
                cells.append(f'<th scope="row">{html.escape(str(v))}</th>')
        body += "<tr>" + "".join(cells) + "</tr>"
    return (
        f'<div><table class="glance"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1320px;margin:1em auto;padding:0 1em;color:#1d1d1d;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{margin-top:1.4em;border-bottom:1px solid #ddd;padding-bottom:.15em}
#glance h2{margin-top:.4em}
.setup{color:#555;margin-top:0}
.warning{background:#fff8e1;border-left:4px solid #e0a800;padding:.3em .8em}
.glance-wrap{display:grid;grid-template-columns:minmax(0,1fr) 320px;gap:1.2em;align-items:start}.glance-wrap>div{overflow-x:auto}
table.glance{font-size:.95em;margin:.3em 0}
table.glance td{text-align:left;white-space:nowrap;font-weight:600;padding:5px 9px}
table.glance th{text-align:left;vertical-align:bottom;font-size:.9em}
table.glance tbody th{background:none;font-weight:600;min-width:15em;max-width:20em}
td.good{background:#e3f4e1;color:#17612a}td.bad{background:#fbe3e1;color:#9b1c1c}
td.up,td.down{background:#eef1f5;color:#333}td.nd,td.na{color:#777;font-weight:400!important}
td.mdc{font-weight:400!important;color:#333}
aside.notation{font-size:.86em;background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.2em .9em}
aside.notation h3{font-size:1em;margin:.4em 0}aside.notation ul{margin:.2em 0;padding-left:1.1em}
figure.forest{margin:.6em 0}
section.summary{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.2em 1.2em .6em}
section.summary h2{margin-top:.4em}section.summary ul{padding-left:1.1em}section.summary li{margin:.25em 0}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.84em;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.num{text-align:right}
td .v,td .ci{display:block;white-space:nowrap}td .ci{font-size:.86em;color:#555}
td:first-child .v{white-space:normal}td:first-child{min-width:16em}
table.glance tbody th{min-width:17em!important}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
dl.defs dt{font-weight:600;margin-top:.4em}dl.defs dd{margin-left:1.2em;color:#333}
footer{margin-top:2em;border-top:1px solid #ddd;padding-top:.5em;color:#555;font-size:.85em}
code{font-size:.95em}
@media print{body{max-width:none;margin:0;font-size:10pt}section.summary,aside.notation{background:none}
.glance-wrap{display:block}h2{break-after:avoid}figure,table{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


class _Doc:
    """A report as a list of blocks, rendered to Markdown and to one self-contained HTML page."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, object]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str, css: str = "") -> None:
        self.blocks.append(("p", (text, css)))

    def ul(self, items: list[str]) -> None:
        self.blocks.append(("ul", items))

    def table(self, df: pd.DataFrame) -> None:
        self.blocks.append(("table", df))

    def img(self, path: Path, alt: str, css: str = "") -> None:
        self.blocks.append(("img", (path, alt, css)))

    def raw(self, md: str, htm: str) -> None:
        self.blocks.append(("raw", (md, htm)))

    def markdown(self) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append("#" * x[0] + " " + x[1])
            elif kind == "p":
                out.append(x[0])
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in x))
            elif kind == "table":
                out.append(_md_table(x))
            elif kind == "img":
                out.append(f"![{x[1]}]({x[0].name})")
            elif kind == "raw":
                out.append(x[0])
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append(f"<h{x[0]}>{_inline(x[1])}</h{x[0]}>")
            elif kind == "p":
                cls = f' class="{x[1]}"' if x[1] else ""
                out.append(f"<p{cls}>{_inline(x[0])}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in x) + "</ul>")
            elif kind == "table":
                out.append(_html_table(x))
            elif kind == "img":
                data = base64.b64encode(Path(x[0]).read_bytes()).decode("ascii")
                cls = f' class="{x[2]}"' if x[2] else ""
                out.append(
                    f'<figure{cls}><img src="data:image/png;base64,{data}" '
                    f'alt="{html.escape(x[1])}"></figure>'
                )
            elif kind == "raw":
                out.append(x[1])
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(out)
            + "\n</body></html>\n"
        )


# ------------------------------------------------------------------------------------ report


def _load(out: Path) -> tuple[pd.DataFrame, list[dict], dict, dict]:
    tidy = pd.read_parquet(out / "comparison.parquet")

    def read(name: str, default):
        p = out / name
        return json.loads(p.read_text()) if p.exists() else default

    return tidy, read("failures.json", []), read("scenarios.json", {}), read("meta.json", {})


def _wages(out: Path, tidy: pd.DataFrame) -> pd.DataFrame:
    """Per-worker all-in wages of every successful run (workers with at least 1 resolved hour)."""
    frames = []
    cols = [
        "wage_all_in",
        "hours_paid",
        "hours_search",
        "hours_returned",
        "hours_rejected",
        "hours_never_paid",
    ]
    for (s, k), _ in tidy.groupby(["scenario", "seed"]):
        path = run_dir(out, s, int(k)) / "workers.parquet"
        if not path.exists():
            continue
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
    return [
        s
        for s in order
        if info.get(s, {}).get("population", {}).get("countries") != base.get("countries")
        or info.get(s, {}).get("population", {}).get("country_mix") != base.get("country_mix")
    ]


def _revisions(out: Path, tidy: pd.DataFrame) -> list[str]:
    """Git revisions recorded in the runs' provenance files."""
    revs = []
    for (s, k), _ in tidy.groupby(["scenario", "seed"]):
        p = run_dir(out, s, int(k)) / "provenance.json"
        try:
            revs.append(json.loads(p.read_text()).get("git_revision") or "unknown")
        except (OSError, ValueError):
            continue
    return sorted(set(revs))


def _metric_table(
    stats: pd.DataFrame, order: list[str], metrics, diff: bool = False
) -> pd.DataFrame:
    cell = diff_cell if diff else value_cell
    rows = []
    for s in order:
        row = {"Rules": scenario_title(s)}
        for m in metrics:
            row[heading(m, diff)] = "–" if diff and s == order[0] else cell(stats, s, m)
        rows.append(row)
    return pd.DataFrame(rows)


def country_table(
    tidy: pd.DataFrame, ctry: pd.DataFrame, order: list[str], titles: dict
) -> pd.DataFrame:
    """Country x rules: the median all-in wage over the local minimum with its interval and the
    workers behind it (``n``, mean per seed); fewer than :data:`MIN_COUNTRY_WORKERS` workers:
    marked, not shown as a ratio."""
    by = tidy[tidy["country"] != "all"]
    mins = by[by["metric"] == "local_min_wage_usd"].groupby("country")["value"].first()
    counted = by[by["metric"] == "n_workers_measured"].groupby(["country", "scenario"])["value"]
    n_workers = counted.mean()
    names = country_names()
    rows = []
    for c in sorted(set(ctry["country"])):
        row = {
            "Country": names.get(c, c),
            "local minimum (USD/h)": C.fmt(mins.get(c, np.nan), "usd_h"),
        }
        for s in order:
            r = ctry[(ctry["country"] == c) & (ctry["scenario"] == s)]
            n = float(n_workers.get((c, s), np.nan))
            count = f"n = {n:,.0f}" if math.isfinite(n) else "n unknown"
            if r.empty or not math.isfinite(r["mean"].iloc[0]):
                text = "n/a"
            elif math.isfinite(n) and n < MIN_COUNTRY_WORKERS:
                text = f"too few workers ({count})"
            else:
                x = r.iloc[0]
                text = f"{C.fmt(x['mean'], 'ratio')} ({count})"
                if math.isfinite(x["ci_low"]) and math.isfinite(x["ci_high"]):
                    text += f" [{C.fmt(x['ci_low'], 'ratio')}, {C.fmt(x['ci_high'], 'ratio')}]"
            row[f"{titles[s]} (ratio)"] = text
        rows.append(row)
    return pd.DataFrame(rows)


def run_counts(out: Path, failures: list[dict], baseline: str) -> str:
    """The runs of the comparison: long-run runs (runs in comparison.parquet) and short-run runs
    (in the short-run file, the baseline's rows excepted: they are its long runs), and failures;
    "54 runs (30 long-run, 24 short-run)"."""
    tidy = pd.read_parquet(out / "comparison.parquet", columns=["scenario", "seed"])
    n_long = len(tidy.drop_duplicates())
    n_short = 0
    if (out / SHORT_FILE).exists():
        short = pd.read_parquet(out / SHORT_FILE, columns=["scenario", "seed"]).drop_duplicates()
        n_short = int((short["scenario"] != baseline).sum())
    text = f"{n_long + n_short} runs ({n_long} long-run, {n_short} short-run)"
    if failures:
        text += f", {len(failures)} failed"
    return text


def steady_state_note(tidy: pd.DataFrame, order: list[str]) -> str | None:
    """A warning naming the scenarios whose measured window is not in steady state (the
    ``steady_state`` of their run summaries, crowdsim/metrics/windows.py), or None."""
    rows = tidy[(tidy["metric"] == "steady_state") & (tidy["country"] == "all")]
    drifting = []
    for sc in order:
        v = rows.loc[rows["scenario"] == sc, "value"]
        if (v == 0).any():
            drifting.append(f"{scenario_title(sc)} ({int((v == 0).sum())} of {len(v)} seeds)")
    if not drifting:
        return None
    return (
        "Not in steady state: " + ", ".join(drifting) + ". A headline metric (median all-in "
        "wage, unpaid share, active workers or tasks posted) still trends across the measured "
        "window, so these figures describe a market in transition; a longer warm-up "
        "(sim.warmup_days) or run measures where it settles."
    )


def build_report(out: str | Path, plots: bool = True) -> dict[str, Path]:
    """Compute the statistics and write report.md, report.html, comparison_summary.parquet/.csv,
    comparison_by_country.parquet and the plots of the comparison folder ``out``; return the
    paths written."""
    from crowdsim.viz import plots as P

    out = Path(out)
    tidy, failures, info, meta = _load(out)
    order = [s for s in meta.get("scenarios", []) if s in set(tidy["scenario"])] or list(
        dict.fromkeys(tidy["scenario"])
    )
    baseline = meta.get("baseline", "status_quo")
    if baseline not in order and order:
        baseline = order[0]
    order = [baseline, *[s for s in order if s != baseline]]
    stats = summary_table(tidy, baseline, order)
    countries = country_summary(tidy, baseline)
    paths: dict[str, Path] = {}
    for name, df in (("comparison_summary", stats), ("comparison_by_country", countries)):
        atomic_write_parquet(out / f"{name}.parquet", df)
        paths[f"{name}.parquet"] = out / f"{name}.parquet"
    atomic_write_text(out / "comparison_summary.csv", stats.to_csv(index=False))
    paths["comparison_summary.csv"] = out / "comparison_summary.csv"
    short_stats, short_order, horizons = None, [], None
    if (out / SHORT_FILE).exists():
        short_tidy = pd.read_parquet(out / SHORT_FILE)
        short_order = [s for s in order if s in set(short_tidy["scenario"])]
        if baseline in short_order and len(short_order) > 1:
            short_stats = summary_table(short_tidy, baseline, short_order)
            atomic_write_parquet(out / "comparison_short_run_summary.parquet", short_stats)
            atomic_write_text(
                out / "comparison_short_run_summary.csv", short_stats.to_csv(index=False)
            )
            paths["comparison_short_run_summary.csv"] = out / "comparison_short_run_summary.csv"
            horizons = {"warmup_days": meta.get("warmup_days"), "days": meta.get("days")}
    seeds = sorted(int(k) for k in tidy["seed"].unique()) if len(tidy) else []
    cards = scorecards(stats, tidy, info, order)
    titles = {s: scenario_title(s) for s in order}
    ctry = countries[countries["metric"] == COUNTRY_METRIC]

    if plots and len(tidy):
        P.differences(
            stats, order, titles, C.HEADLINE, out / "differences.png", PLOTS["differences.png"]
        )
        P.wage_distribution(
            _wages(out, tidy),
            order,
            titles,
            out / "wage_distribution.png",
            PLOTS["wage_distribution.png"],
        )
        if not ctry.empty:
            P.country_relative_wage(
                ctry,
                order,
                titles,
                out / "country_wage_vs_local_min.png",
                PLOTS["country_wage_vs_local_min.png"],
                country_names(),
            )
        P.unpaid_breakdown(stats, order, titles, out / "unpaid_time.png", PLOTS["unpaid_time.png"])
        P.rejection_and_delay(
            stats, order, titles, out / "rejection_and_delay.png", PLOTS["rejection_and_delay.png"]
        )
        P.revenue_vs_pay(
            stats, order, titles, out / "revenue_vs_pay.png", PLOTS["revenue_vs_pay.png"]
        )
        for name in PLOTS:
            if (out / name).exists():
                paths[name] = out / name

    workers = meta.get("workers") or next(
        (i.get("population", {}).get("n_workers") for i in info.values()), None
    )
    days = meta.get("days") or next((i.get("days") for i in info.values() if i.get("days")), None)
    doc = _Doc()
    doc.h(1, "What changes when the platform's rules change")
    doc.p(
        f"crowdsim comparison of {len(order)} sets of platform rules against "
        f"{scenario_title(baseline)}: simulated markets of {f'{workers:,}' if workers else 'each scenario own number of'} "
        f"workers over {days or 'the configured'} days"
        + (f" after a {meta['warmup_days']}-day warm-up" if meta.get("warmup_days") else "")
        + f", {len(seeds)} seeds each"
        + (f", {len(failures)} runs failed (listed at the end)" if failures else "")
        + ".",
        css="setup",
    )
    steady = steady_state_note(tidy, order)
    if steady:
        doc.p(steady, css="warning")
    grid = glance(stats, order)
    notes = notation(len(seeds), baseline)
    doc.raw(
        "## At a glance\n\n"
        + _md_table(grid.map(lambda v: v[0] if isinstance(v, tuple) else v))
        + "\n\n"
        + "\n".join(f"- {x}" for x in notes),
        '<section id="glance"><h2>At a glance</h2><div class="glance-wrap">'
        + _glance_html(grid)
        + '<aside class="notation"><h3>How to read it</h3><ul>'
        + "".join(f"<li>{_inline(x)}</li>" for x in notes)
        + "</ul></aside></div></section>",
    )
    if plots and len(tidy) and (out / "differences.png").exists():
        doc.img(out / "differences.png", PLOTS["differences.png"], css="forest")
    items = executive_summary(stats, info, baseline, order, short_stats=short_stats)
    lead, lines = executive_summary_text(stats, items, order, short_stats)
    doc.raw(
        "## Executive summary\n\n"
        + lead
        + "\n\n"
        + "\n".join(f"- **{x['title']}**: {x['text']}" for x in lines),
        '<section class="summary" id="summary"><h2>Executive summary</h2>'
        + f'<p class="lead">{html.escape(lead)}</p><ul>'
        + "".join(
            f'<li class="finding" data-scenario="{html.escape(x["scenario"])}">'
            f"<strong>{html.escape(x['title'])}</strong>: {html.escape(x['text'])}</li>"
            for x in lines
        )
        + "</ul></section>",
    )

    doc.h(2, "What the seeds can detect")
    doc.p(
        f"A change is detectable when its 95% interval excludes zero. With {len(seeds)} seeds, a "
        "rule whose true effect on the median all-in wage is smaller than the smallest detectable "
        "change below is usually reported as no detectable change. Seeds needed: the fewest "
        "seeds that detect a change of that size 80% of the time (two-sided t-test on the "
        "per-seed differences, their spread as measured here; --seeds N)."
    )
    doc.table(detection_table(stats, order, len(seeds)))

    if short_stats is not None:
        doc.h(2, "Short run and long run")
        no_short = [scenario_title(s) for s in order if s not in short_order]
        doc.p(
            f"Short run: the market runs under {scenario_title(baseline)} for "
            f"{horizons['warmup_days']} days, then the rule applies (a reform file of "
            f"crowdsim/conf/reform/); measured over the next {horizons['days']} days. Long run: "
            f"the rule from the start, measured over {horizons['days']} days after the same "
            "warm-up. Difference from the status quo over the same days, seed by seed, with its "
            "95% interval; n.d.: no detectable change."
            + (f" No short run (no reform file): {', '.join(no_short)}." if no_short else "")
        )
        rows = []
        for s in short_order[1:]:
            for horizon, st in (("short run", short_stats), ("long run", stats)):
                row = {"Rules": scenario_title(s), "horizon": horizon}
                for m in C.HEADLINE:
                    row[heading(m, diff=True)] = diff_cell(st, s, m)
                rows.append(row)
        doc.table(pd.DataFrame(rows))

    doc.h(2, "Headline numbers")
    doc.p(
        f"Mean over {len(seeds)} seeds with its 95% interval in brackets. All-in wages count every "
        "working hour, paid or not (searching, returned tasks, rejected and never-paid work), as "
        "Hara et al. (CHI 2018) measured them on Amazon Mechanical Turk."
    )
    doc.table(_metric_table(stats, order, C.HEADLINE))
    doc.p(
        f"Difference from {scenario_title(baseline)}, seed by seed, with its 95% interval; n.d.: no "
        "detectable change (the interval includes zero). Shares differ in percentage points (pp)."
    )
    doc.table(_metric_table(stats, order, C.HEADLINE, diff=True))

    doc.h(2, "Money: in total, per worker-month and per 1,000 tasks")
    money = [m for trio in MONEY for m in trio]
    doc.p(
        f"Totals are for the simulated market ({f'{workers:,}' if workers else 'its'} workers, {days} days). "
        f"A worker-month is one worker in the pool for {C.DAYS_PER_MONTH:.2f} days; per worker-month "
        "and per 1,000 tasks the figures do not depend on the size of the simulated market. Worker pay "
        "is pay earned for the work submitted (accrual basis); platform revenue is commission received."
    )
    doc.table(_metric_table(stats, order, money))
    scaled = [s for s in order if info.get(s, {}).get("stated_workers")]
    if scaled:
        doc.p(
            "Scaled to the platform's real size where the scenario file states it (totals x stated "
            "workers / simulated workers):"
        )
        doc.table(
            pd.DataFrame(
                [
                    {
                        "Rules": scenario_title(s),
                        "stated workers": f"{info[s]['stated_workers']:,}",
                        **{heading(m): value_cell(stats, s, m) for m in SCALED},
                    }
                    for s in scaled
                ]
            )
        )
    else:
        doc.p(
            "No scenario compared here states the size of a real platform (a scenario file that sets "
            "population.n_workers does, e.g. foule_factory), so no total is scaled up."
        )

    doc.h(2, "What moved underneath")
    doc.p("Volume of work, pay per paid hour, kinds of unpaid time, who left and payment timing.")
    doc.table(_metric_table(stats, order, C.DRIVERS[:6]))
    doc.table(_metric_table(stats, order, C.DRIVERS[6:]))

    doc.h(2, "Wages by country against the local minimum wage")
    doc.p(
        "Median all-in wage of each country's workers divided by its minimum wage per hour (1 = the "
        "local minimum; crowdsim/data/countries.csv), mean over seeds with its 95% interval; n: "
        "workers measured in that country (mean per seed). A cell with fewer than "
        f"{MIN_COUNTRY_WORKERS} workers (assumption: too few for a median to mean much) says so "
        "instead of showing a ratio. n/a: no measured worker from that country."
    )
    if not ctry.empty:
        doc.table(country_table(tidy, ctry, order, titles))

    doc.h(2, "Fairwork-style scorecard")
    doc.p(
        "Fairwork rates cloudwork platforms on five principles, Fair pay, Fair conditions, Fair "
        "contracts, Fair management and Fair representation, each worth 2 points (a basic and an "
        "advanced threshold; the second needs the first), 10 in all (MTurk scored 0/10 and the "
        "best platforms 5/10 in the 2023 ratings). crowdsim checks each scenario's rules and "
        "simulated outcomes against the rule stated for each threshold below. †: a threshold "
        "crowdsim cannot assess (it does not model it), counted as 0 as Fairwork counts a point "
        "without evidence; 6 of the 10 are assessed."
    )
    if not cards.empty:
        doc.table(scorecard_view(cards, titles))
    doc.ul(
        [
            f"**{pt.principle}**, threshold {pt.code[-1]} ({pt.title}): {pt.rule}"
            for pt in scorecard.POINTS
        ]
    )

    incidence = incidence_tables(stats, countries, order)
    if incidence:
        doc.h(2, "Who gains and who loses")
        doc.p(
            f"Change from {scenario_title(baseline)} in each side's surplus over the measured "
            f"{days or ''} days (the run summaries' welfare ledger), seed by seed, with its 95% "
            "interval; n.d.: no detectable change. Workers' surplus is pay earned minus the value "
            "of their time at their reservation wage; requesters' is the value of the work "
            "approved minus what they paid; the platform's is its revenue; value of demand lost: "
            "tasks requesters did not post at the platform's price."
        )
        for caption, table in incidence:
            doc.p(f"**{caption}**")
            doc.table(table)

    if plots and len(tidy):
        doc.h(2, "Plots")
        for name, question in PLOTS.items():
            if name != "differences.png" and (out / name).exists():
                doc.img(out / name, question)

    doc.h(2, "The rules compared")
    items_rules = []
    base_rules = info.get(baseline, {}).get("platform", {})
    for s in order:
        i = info.get(s, {})
        pop = i.get("population", {})
        extra = ""
        if (pop.get("currency") or "USD") != "USD":
            rate = float(pop.get("usd_per_currency") or 1.0)
            extra = f" The platform pays in {pop['currency']}: 1 {pop['currency']} = ${rate:g}."
        changes = C.rule_changes(i.get("platform", {}), base_rules)
        rules = f" Rules changed: {'; '.join(changes)}." if changes and s != baseline else ""
        items_rules.append(
            f"**{titles[s]}** (scenario file {s}.yaml): {i.get('description', '')}.{rules}{extra}".replace(
                "..", "."
            )
        )
    doc.ul(items_rules)
    differ = _population_note(info, baseline, order)
    if differ:
        doc.p(
            f"Different worker population from {titles[baseline]}: {', '.join(titles[s] for s in differ)}. "
            "Their differences mix rules and population, and their seeds are not common random numbers."
        )

    doc.h(2, "How the numbers are made")
    doc.p(
        "Every scenario runs with the same seeds, so two scenarios start from the same workers and "
        "requesters. An interval is Student's t over seeds; for a share or an amount of money it "
        "is widened on its skewed side (a t-interval on the log scale, the modified Cox method) and "
        "kept in range, so shares stay between 0 and 100% and money stays non-negative; simulated, "
        "it covers the true mean at least 94% of the time at 3, 5 and 10 seeds. A difference is "
        "taken seed by seed on the seeds both scenarios completed, with the t-interval of the "
        "differences; relative changes are the ratio of the means. crowdsim-aggregate gives the "
        "same intervals for the same runs. Each run covers "
        f"{days or 'the configured number of'} days; workers leave only after weeks below their "
        "reservation wage, so over a short run a rule that cuts the volume of work shows up first "
        "as more unpaid search, not as fewer workers."
    )
    used = [m for m in dict.fromkeys([*C.HEADLINE, *money, *C.DRIVERS, *SCALED, COUNTRY_METRIC])]
    defs = [
        (C.metric(m).label, C.metric(m).unit, C.metric(m).definition, C.metric(m).source)
        for m in used
    ]
    doc.raw(
        "\n".join(f"- **{a}** ({b}): {c}. Source: {d}." for a, b, c, d in defs),
        '<dl class="defs">'
        + "".join(
            f"<dt>{html.escape(a)} ({html.escape(b)})</dt>"
            f"<dd>{html.escape(c)}. Source: {html.escape(d)}.</dd>"
            for a, b, c, d in defs
        )
        + "</dl>",
    )

    if failures:
        doc.h(2, "Failed runs")
        doc.ul(
            [
                f"{titles.get(f['scenario'], f['scenario'])} ({f['scenario']}) seed {f['seed']}: {f['error']}"
                for f in failures
            ]
        )

    doc.h(2, "Files")
    doc.ul(
        [
            "comparison.parquet / .csv: one row per scenario x seed x country ('all' or ISO code) x metric",
            "comparison_summary.parquet / .csv: one row per scenario x metric: mean, ci_low, ci_high, "
            "diff, diff_ci_low, diff_ci_high (and the relative change)",
            "comparison_by_country.parquet: the same by country",
            *(
                [
                    "comparison_short_run.parquet, comparison_short_run_summary.parquet / .csv: the "
                    "same for the short run; runs_short/to_<scenario>/seed_<k>/: its runs"
                ]
                if short_stats is not None
                else []
            ),
            "runs/<scenario>/seed_<k>/: each run's summary, frames, resolved config and provenance",
            "compare.log: what the runs printed (Hydra's job list, each run's result line, errors)",
        ]
    )
    import crowdsim
    from crowdsim.run import git_revision

    revision = meta.get("git_revision") or git_revision() or "unknown"
    run_revs = _revisions(out, tidy)
    foot = [
        f"crowdsim {meta.get('crowdsim_version') or crowdsim.__version__}, git revision {revision}"
        + (
            f" (runs made at {', '.join(r[:12] for r in run_revs)})"
            if run_revs and run_revs != [revision]
            else ""
        ),
        f"command: {meta.get('command', 'crowdsim-compare')}",
        f"seeds: {', '.join(map(str, seeds))}; baseline: {baseline}; {run_counts(out, failures, baseline)}"
        + (
            f"; runs done (simulated or reused) in {meta['wall_seconds_runs']} s"
            if meta.get("wall_seconds_runs")
            else ""
        ),
        f"written {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    doc.raw(
        "---\n\n" + "  \n".join(foot),
        "<footer>" + "<br>".join(html.escape(x) for x in foot) + "</footer>",
    )
    atomic_write_text(out / "report.md", doc.markdown())
    atomic_write_text(
        out / "report.html", doc.html("crowdsim: what changes when the platform's rules change")
    )
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
    short_tidy: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the comparison's data files (each atomically), then the report built from them;
    ``short_tidy`` (the short runs, same columns) goes to comparison_short_run.parquet."""
    out = Path(out)
    tidy = add_derived(tidy, info)
    atomic_write_parquet(out / "comparison.parquet", tidy)
    atomic_write_text(out / "comparison.csv", tidy.to_csv(index=False))
    stale = [
        out / SHORT_FILE,
        *(out / f"comparison_short_run_summary.{e}" for e in ("parquet", "csv")),
    ]
    for p in stale:  # a short run of an earlier comparison in this folder is not this one's
        p.unlink(missing_ok=True)
    if short_tidy is not None and len(short_tidy):
        atomic_write_parquet(out / SHORT_FILE, add_derived(short_tidy, info))
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
