"""The report's tables: statistics computed from a comparison's data, and the cells and
phrases the report writes them with.

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

import math

import numpy as np
import pandas as pd

from crowdsim.metrics import catalogue as C
from crowdsim.metrics import stats as S
from crowdsim.report import scorecard

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
def metric_table(
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
