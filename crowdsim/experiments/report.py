"""The comparison report: an executive summary, tables with intervals that respect their
quantity, paired differences from the baseline, money per worker-month and per 1,000 tasks, a
by-country table, a Fairwork-style scorecard and plots, in one self-contained ``report.html``
(images embedded) and in ``report.md``.

Everything is computed from the files of a comparison folder (``comparison.parquet``,
``scenarios.json``, ``failures.json``, ``meta.json`` and the per-run ``workers.parquet``), so
:func:`build_report` can rebuild the report of any finished comparison.

Statistics (:func:`summary_table`): the mean over seeds with a percentile-bootstrap 95% interval
(:func:`crowdsim.experiments.stats.bootstrap_ci`: it stays inside the values the seeds gave, so
shares stay in [0, 1] and money stays non-negative); the difference from the baseline is taken
seed by seed on the seeds both scenarios share, then bootstrapped as pairs
(:func:`crowdsim.experiments.stats.paired_bootstrap`). A change is *detectable* when the interval
of the difference excludes zero. The executive summary is written from these numbers alone.

Labels, units and definitions come from :mod:`crowdsim.metrics.catalogue`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from crowdsim.experiments import scorecard
from crowdsim.experiments.stats import bootstrap_ci, paired_bootstrap
from crowdsim.metrics import catalogue as C
from crowdsim.run import atomic_write_parquet, atomic_write_text

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
SCENARIO_TITLES = {
    "status_quo": "Status quo (MTurk-like)",
    "mturk_2014": "MTurk before July 2015",
    "prolific_like": "Prolific-like rules",
    "transparency": "Rejection reasons and public requester statistics",
    "appeals": "Rejection reasons and appeals",
    "payment_guarantee": "Escrow and 3-day auto-approval",
    "min_pay": "$8/h minimum pay on measured time",
    "commission_cap": "Requester fee capped at 15%",
    "fairwork": "Fairwork principles together",
    "eu_platform_work_directive": "EU Platform Work Directive (stylised)",
    "foule_factory": "Foule Factory-like French platform",
    "survey_panel": "Survey panel paid in points",
    "ai_rating_programme": "AI-rating programme",
    "click_farm": "Click farm",
}


def country_names() -> dict[str, str]:
    """ISO code -> "India (IN)", from the country table."""
    from crowdsim.data.countries import load_countries

    t = load_countries()
    return {c: f"{n} ({c})" for c, n in zip(t.index, t["name"], strict=True)}


def scenario_title(scenario: str) -> str:
    """A readable name for a scenario (its file name, humanised, if it has no title here)."""
    return SCENARIO_TITLES.get(scenario, scenario.replace("_", " ").capitalize())


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
    for (s, m), g in tidy.groupby(["scenario", "metric"], sort=False):
        mean, lo, hi, n = bootstrap_ci(g["value"].to_numpy(), LEVEL)
        d = dict.fromkeys(SUMMARY_COLUMNS[8:14], float("nan"))
        if s != baseline and baseline in wide.columns:
            per_seed = wide.loc[m]
            p = paired_bootstrap(per_seed[s].to_numpy(), per_seed[baseline].to_numpy(), LEVEL)
            d = {c: p[c] for c in SUMMARY_COLUMNS[8:14]}
        elif s == baseline:
            d["diff"] = 0.0
        meta = C.metric(m)
        detectable = bool(
            math.isfinite(d["diff_ci_low"])
            and math.isfinite(d["diff_ci_high"])
            and (d["diff_ci_low"] > 0 or d["diff_ci_high"] < 0)
        )
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
            | {"detectable": detectable}
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


def _html_table(df: pd.DataFrame, css: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(str(v))}</td>" for v in row.to_list()) + "</tr>"
        for _, row in df.iterrows()
    )
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;color:#1d1d1d;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.15em}
.setup{color:#555;margin-top:0}
.warning{background:#fff8e1;border-left:4px solid #e0a800;padding:.3em .8em}
section.summary h2{margin-top:.5em}section.summary{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.4em 1.2em .8em}
.finding{margin:.7em 0}.finding h3{font-size:1.02em;margin:.2em 0}.finding ul{margin:.2em 0 .2em 1.1em;padding:0}
.finding .rules{color:#555;font-size:.92em}.nochange{color:#666}
table{border-collapse:collapse;margin:.8em 0;font-size:.84em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}th{background:#f1f3f5}
td:first-child,th:first-child{text-align:left}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
footer{margin-top:2em;border-top:1px solid #ddd;padding-top:.5em;color:#555;font-size:.85em}
code{font-size:.95em}
@media print{body{max-width:none;margin:0;font-size:10pt}section.summary{background:none}
h2{break-after:avoid}figure,table,.finding{break-inside:avoid}a{color:inherit;text-decoration:none}}
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

    def img(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

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
                out.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(x[1])}">'
                    f"</figure>"
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


def _summary_blocks(
    items: list[dict], baseline: str, n_seeds: int, horizons: dict | None = None
) -> tuple[str, str]:
    """The executive summary as Markdown and as HTML; ``horizons`` (``warmup_days``, ``days``)
    names the windows when the comparison has a short run."""
    md, htm = [], []
    for it in items:
        rules = "; ".join(it["rules"]) or "same platform rules (population or market differs)"
        lines = list(it["changes"])
        if not it["changes"]:
            lines.append("No detectable change in any headline number.")
        elif it["no_change"]:
            lines.append(
                "No detectable change in: "
                + ", ".join(lower_first(x) for x in it["no_change"])
                + "."
            )
        if it["drivers"]:
            lines.append("Underneath: " + "; ".join(it["drivers"]) + ".")
        if horizons and it.get("short_run") is not None:
            lines.append(
                f"Short run (the first {horizons['days']} days after the rule applies to a market "
                f"that was in the {lower_first(scenario_title(baseline))} for {horizons['warmup_days']} "
                "days): "
                + ("; ".join(it["short_run"]) if it["short_run"] else "no detectable change in any headline number")
                + "."
            )  # fmt: skip
        md.append(
            f"**{it['title']}** (rules changed: {rules})\n\n" + "\n".join(f"- {x}" for x in lines)
        )

        def css(line: str) -> str:
            if line.startswith("No detectable"):
                return "nochange"
            if line.startswith("Short run"):
                return "shortrun"
            return "drivers" if line.startswith("Underneath") else "change"

        htm.append(
            f'<div class="finding" data-scenario="{html.escape(it["scenario"])}">'
            f"<h3>{html.escape(it['title'])}</h3>"
            f'<div class="rules">Rules changed: {html.escape(rules)}.</div><ul>'
            + "".join(f'<li class="{css(x)}">{html.escape(x)}</li>' for x in lines)
            + "</ul></div>"
        )
    note = (
        f"Each change is the difference from {scenario_title(baseline)} taken seed by seed on "
        f"{n_seeds} common seeds, with its 95% interval in brackets; it is reported only where "
        "the interval excludes zero."
    )
    if horizons:
        note += (
            f" Long run (the changes listed first): each set of rules from the start, measured over "
            f"{horizons['days']} days after a {horizons['warmup_days']}-day warm-up, where its market "
            "settles."
        )
    if n_seeds < 5:
        note += (
            f" With {n_seeds} seeds an interval cannot be wider than the range of the seeds' "
            "values: read these findings as indicative and run more seeds (--seeds 5 or more)."
        )
    md_text = "\n\n".join(md) + "\n\n" + note
    htm_text = (
        '<section class="summary" id="summary"><h2>Executive summary</h2>'
        + "".join(htm)
        + f'<p class="note">{html.escape(note)}</p></section>'
    )
    return md_text, htm_text


# ------------------------------------------------------------------------------------ report
SHORT_FILE = "comparison_short_run.parquet"


def _load(out: Path) -> tuple[pd.DataFrame, list[dict], dict, dict]:
    tidy = pd.read_parquet(out / "comparison.parquet")

    def read(name: str, default):
        p = out / name
        return json.loads(p.read_text()) if p.exists() else default

    return tidy, read("failures.json", []), read("scenarios.json", {}), read("meta.json", {})


def _wages(out: Path, tidy: pd.DataFrame) -> pd.DataFrame:
    """Per-worker all-in wages of every successful run (workers with at least 1 resolved hour)."""
    from crowdsim.experiments.compare import run_dir

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
    from crowdsim.experiments.compare import run_dir

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
            row[C.metric(m).heading] = "–" if diff and s == order[0] else cell(stats, s, m)
        rows.append(row)
    return pd.DataFrame(rows)


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
    items = executive_summary(stats, info, baseline, order, short_stats=short_stats)
    md_summary, html_summary = _summary_blocks(items, baseline, len(seeds), horizons)
    doc.raw("## Executive summary\n\n" + md_summary, html_summary)

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
                    row[C.metric(m).heading] = diff_cell(st, s, m)
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
                        **{C.metric(m).heading: value_cell(stats, s, m) for m in SCALED},
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

    incidence = [m for m in C.INCIDENCE if m in set(stats["metric"])]
    if incidence:
        doc.h(2, "Who gains and who loses: the welfare ledger")
        doc.p(
            "Over the measured window, in USD for the simulated market: worker surplus (earnings "
            "less the reservation wage of every working hour, unpaid ones included), requester "
            "surplus (value of approved work less what was paid for it), platform revenue, their "
            "total, the value of work requesters did not post because of the rules, and the "
            "workers' inclusive value (docs/welfare.md). Difference from "
            f"{scenario_title(baseline)}, seed by seed, with its 95% interval: the incidence."
        )
        doc.table(_metric_table(stats, order, incidence, diff=True))

    doc.h(2, "What moved underneath")
    doc.p("Volume of work, pay per paid hour, kinds of unpaid time, who left and payment timing.")
    doc.table(_metric_table(stats, order, C.DRIVERS[:6]))
    doc.table(_metric_table(stats, order, C.DRIVERS[6:]))

    doc.h(2, "Wages by country against the local minimum wage")
    doc.p(
        "Median all-in wage of each country's workers divided by its minimum wage per hour (1 = the "
        "local minimum; crowdsim/data/countries.csv), mean over seeds with its 95% interval. n/a: "
        "no measured worker from that country."
    )
    if not ctry.empty:
        mins = (
            tidy[(tidy["metric"] == "local_min_wage_usd") & (tidy["country"] != "all")]
            .groupby("country")["value"]
            .first()
        )
        rows = []
        names = country_names()
        for c in sorted(set(ctry["country"])):
            row = {
                "country": names.get(c, c),
                "local minimum (USD/h)": C.fmt(mins.get(c, np.nan), "usd_h"),
            }
            for s in order:
                r = ctry[(ctry["country"] == c) & (ctry["scenario"] == s)]
                row[titles[s]] = (
                    "n/a"
                    if r.empty or not math.isfinite(r["mean"].iloc[0])
                    else fmt_ci(
                        r["mean"].iloc[0], r["ci_low"].iloc[0], r["ci_high"].iloc[0], "ratio"
                    )
                )
            rows.append(row)
        doc.table(pd.DataFrame(rows))

    doc.h(2, "Fairwork-style scorecard")
    doc.p(
        "Fairwork rates cloudwork platforms on five principles with two thresholds each (MTurk scored "
        "0/10 and the best platforms 5/10 in the 2023 ratings). crowdsim checks each scenario's rules "
        "and simulated outcomes against the rule stated for each threshold; thresholds the model "
        "cannot speak to are n/a and left out of the score. A second threshold needs the first."
    )
    if not cards.empty:
        view = cards.copy()
        for pt in scorecard.POINTS:
            view[pt.code] = view[pt.code].map(lambda v: "n/a" if v is None else ("1" if v else "0"))
        view["score"] = [
            f"{a} / {b}" for a, b in zip(cards["score"], cards["assessed"], strict=True)
        ]
        view["scenario"] = view["scenario"].map(titles)
        doc.table(view.drop(columns=["assessed"]).rename(columns={"scenario": "Rules"}))
    doc.ul([f"{pt.code} {pt.principle} - {pt.title}: {pt.rule}" for pt in scorecard.POINTS])

    if plots and len(tidy):
        doc.h(2, "Plots")
        for name, question in PLOTS.items():
            if (out / name).exists():
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
        "requesters. An interval is a percentile bootstrap over seeds (4,000 resamples): it stays "
        "inside the values the seeds gave, so shares stay between 0 and 100% and money stays "
        "non-negative. A difference is taken seed by seed on the seeds both scenarios completed and "
        "bootstrapped as pairs; relative changes are the ratio of the means. Each run covers "
        f"{days or 'the configured number of'} days; workers leave only after weeks below their "
        "reservation wage, so over a short run a rule that cuts the volume of work shows up first "
        "as more unpaid search, not as fewer workers."
    )
    used = [m for m in dict.fromkeys([*C.HEADLINE, *money, *C.DRIVERS, *SCALED, COUNTRY_METRIC])]
    doc.table(
        pd.DataFrame(
            [
                {
                    "metric": C.metric(m).label,
                    "unit": C.metric(m).unit,
                    "definition": C.metric(m).definition,
                    "source": C.metric(m).source,
                }
                for m in used
            ]
        )
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
                ["comparison_short_run.parquet, comparison_short_run_summary.parquet / .csv: the "
                 "same for the short run; runs_short/to_<scenario>/seed_<k>/: its runs"]
                if short_stats is not None else []
            ),
            "runs/<scenario>/seed_<k>/: each run's summary, frames, resolved config and provenance",
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
        f"seeds: {', '.join(map(str, seeds))}; baseline: {baseline}; "
        f"{tidy[['scenario', 'seed']].drop_duplicates().shape[0] if len(tidy) else 0} runs"
        + (f" in {meta['wall_seconds_runs']} s" if meta.get("wall_seconds_runs") else ""),
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
    stale = [out / SHORT_FILE, *(out / f"comparison_short_run_summary.{e}" for e in ("parquet", "csv"))]
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
