"""A comparison folder loaded, with the tables computed from it: what every section of the
report reads.

:func:`load_report_data` reads ``comparison.parquet`` (and the short run's), ``scenarios.json``,
``failures.json`` and ``meta.json`` (:mod:`crowdsim.report.layout`), puts the baseline first,
and computes the statistics (:mod:`crowdsim.report.tables`); :func:`write_tables` writes them
(``comparison_summary.*``, ``comparison_by_country.parquet``,
``comparison_short_run_summary.*``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crowdsim.files import atomic_write_parquet, atomic_write_text
from crowdsim.report.layout import SHORT_FILE, TIDY_FILE, run_dir
from crowdsim.report.tables import (
    COUNTRY_METRIC,
    country_summary,
    scenario_title,
    scorecards,
    summary_table,
)


@dataclass
class ReportData:
    """A comparison folder and its statistics.

    Attributes:
        out: the comparison folder.
        tidy: one row per scenario x seed x country x metric (``comparison.parquet``).
        failures: the runs that failed (``failures.json``).
        info: each scenario's description, rules and population (``scenarios.json``).
        meta: the comparison's settings and provenance (``meta.json``).
        order: the scenarios, the baseline first.
        baseline: the scenario the others are compared with.
        seeds: the seeds run.
        titles: each scenario's title.
        workers: workers simulated (None: each scenario's own).
        days: days measured.
        stats: one row per scenario x metric (:func:`crowdsim.report.tables.summary_table`).
        countries: the same by country.
        country_ratio: the rows of ``countries`` for the all-in wage over the local minimum.
        cards: the Fairwork-style scorecards.
        short_stats: the short run's ``stats`` (None: no short run).
        short_order: the scenarios with a short run, the baseline first.
        plots: whether the report draws its plots.
    """

    out: Path
    tidy: pd.DataFrame
    failures: list[dict]
    info: dict
    meta: dict
    order: list[str]
    baseline: str
    seeds: list[int]
    titles: dict[str, str]
    workers: int | None
    days: int | None
    stats: pd.DataFrame
    countries: pd.DataFrame
    country_ratio: pd.DataFrame
    cards: pd.DataFrame
    short_stats: pd.DataFrame | None
    short_order: list[str]
    plots: bool

    @property
    def drawn(self) -> bool:
        """Whether the report has plots: asked for, and some run succeeded."""
        return self.plots and len(self.tidy) > 0


def load_report_data(out: str | Path, plots: bool = True) -> ReportData:
    """Read the comparison folder ``out`` and compute its statistics."""
    out = Path(out)
    tidy = pd.read_parquet(out / TIDY_FILE)

    def read(name: str, default):
        p = out / name
        return json.loads(p.read_text()) if p.exists() else default

    failures, info, meta = (
        read("failures.json", []),
        read("scenarios.json", {}),
        read("meta.json", {}),
    )
    order = [s for s in meta.get("scenarios", []) if s in set(tidy["scenario"])] or list(
        dict.fromkeys(tidy["scenario"])
    )
    baseline = meta.get("baseline", "status_quo")
    if baseline not in order and order:
        baseline = order[0]
    order = [baseline, *[s for s in order if s != baseline]]
    stats = summary_table(tidy, baseline, order)
    countries = country_summary(tidy, baseline)
    short_stats, short_order = None, []
    if (out / SHORT_FILE).exists():
        short_tidy = pd.read_parquet(out / SHORT_FILE)
        short_order = [s for s in order if s in set(short_tidy["scenario"])]
        if baseline in short_order and len(short_order) > 1:
            short_stats = summary_table(short_tidy, baseline, short_order)
    workers = meta.get("workers") or next(
        (i.get("population", {}).get("n_workers") for i in info.values()), None
    )
    days = meta.get("days") or next((i.get("days") for i in info.values() if i.get("days")), None)
    return ReportData(
        out=out,
        tidy=tidy,
        failures=failures,
        info=info,
        meta=meta,
        order=order,
        baseline=baseline,
        seeds=sorted(int(k) for k in tidy["seed"].unique()) if len(tidy) else [],
        titles={s: scenario_title(s) for s in order},
        workers=workers,
        days=days,
        stats=stats,
        countries=countries,
        country_ratio=countries[countries["metric"] == COUNTRY_METRIC],
        cards=scorecards(stats, tidy, info, order),
        short_stats=short_stats,
        short_order=short_order,
        plots=plots,
    )


def write_tables(data: ReportData) -> dict[str, Path]:
    """Write the statistics tables into the comparison folder; return the paths written."""
    out, paths = data.out, {}
    for name, df in (("comparison_summary", data.stats), ("comparison_by_country", data.countries)):
        atomic_write_parquet(out / f"{name}.parquet", df)
        paths[f"{name}.parquet"] = out / f"{name}.parquet"
    atomic_write_text(out / "comparison_summary.csv", data.stats.to_csv(index=False))
    paths["comparison_summary.csv"] = out / "comparison_summary.csv"
    if data.short_stats is not None:
        atomic_write_parquet(out / "comparison_short_run_summary.parquet", data.short_stats)
        atomic_write_text(
            out / "comparison_short_run_summary.csv", data.short_stats.to_csv(index=False)
        )
        paths["comparison_short_run_summary.csv"] = out / "comparison_short_run_summary.csv"
    return paths


def run_wages(out: Path, tidy: pd.DataFrame) -> pd.DataFrame:
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


def population_differs(info: dict, baseline: str, order: list[str]) -> list[str]:
    """The scenarios whose worker population (countries, their mix) differs from the baseline's."""
    base = info.get(baseline, {}).get("population", {})
    return [
        s
        for s in order
        if info.get(s, {}).get("population", {}).get("countries") != base.get("countries")
        or info.get(s, {}).get("population", {}).get("country_mix") != base.get("country_mix")
    ]


def run_revisions(out: Path, tidy: pd.DataFrame) -> list[str]:
    """Git revisions recorded in the runs' provenance files."""
    revs = []
    for (s, k), _ in tidy.groupby(["scenario", "seed"]):
        p = run_dir(out, s, int(k)) / "provenance.json"
        try:
            revs.append(json.loads(p.read_text()).get("git_revision") or "unknown")
        except (OSError, ValueError):
            continue
    return sorted(set(revs))


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
