"""The comparison report: an executive summary, tables with intervals that respect their
quantity, paired differences from the baseline, money per worker-month and per 1,000 tasks, a
by-country table, a Fairwork-style scorecard and plots, in one self-contained ``report.html``
(images embedded) and in ``report.md``.

Everything is computed from the files of a comparison folder (:mod:`crowdsim.report.layout`),
so :func:`build_report` can rebuild the report of any finished comparison: the folder is loaded
with its statistics (:mod:`crowdsim.report.data`, computed by :mod:`crowdsim.report.tables`),
the plots are drawn, and the sections (:mod:`crowdsim.report.sections`) write the document
(:mod:`crowdsim.report.document`) one after another.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from crowdsim.files import atomic_write_parquet, atomic_write_text
from crowdsim.report import sections
from crowdsim.report.data import load_report_data, write_tables
from crowdsim.report.document import Document
from crowdsim.report.layout import SHORT_FILE, TIDY_FILE
from crowdsim.report.tables import add_derived

TITLE = "crowdsim: what changes when the platform's rules change"


def build_report(out: str | Path, plots: bool = True) -> dict[str, Path]:
    """Compute the statistics and write report.md, report.html, comparison_summary.parquet/.csv,
    comparison_by_country.parquet and the plots of the comparison folder ``out``; return the
    paths written."""
    data = load_report_data(out, plots)
    paths = write_tables(data)
    if data.drawn:
        paths |= sections.draw_plots(data)
    doc = Document()
    sections.setup(doc, data)
    sections.at_a_glance(doc, data)
    sections.summary(doc, data)
    sections.detection(doc, data)
    sections.horizons(doc, data)
    sections.headline(doc, data)
    sections.money(doc, data)
    sections.drivers(doc, data)
    sections.countries(doc, data)
    sections.scorecards(doc, data)
    sections.incidence(doc, data)
    sections.plots(doc, data)
    sections.rules(doc, data)
    sections.method(doc, data)
    sections.failures(doc, data)
    sections.files(doc, data)
    sections.footer(doc, data)
    paths["report.md"] = atomic_write_text(data.out / "report.md", doc.markdown())
    paths["report.html"] = atomic_write_text(data.out / "report.html", doc.html(TITLE))
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
    atomic_write_parquet(out / TIDY_FILE, tidy)
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
