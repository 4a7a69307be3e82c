"""The sections of the comparison report, in reading order: each writes its heading, prose and
tables into the :class:`~crowdsim.report.document.Document` from a loaded
:class:`~crowdsim.report.data.ReportData`, and :func:`crowdsim.report.build.build_report` calls
them one per line. :func:`draw_plots` draws the figures some sections show.
"""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path

import pandas as pd

from crowdsim.metrics import catalogue as C
from crowdsim.report import scorecard
from crowdsim.report.data import (
    ReportData,
    population_differs,
    run_counts,
    run_revisions,
    run_wages,
    steady_state_note,
)
from crowdsim.report.document import Document, glance_html, inline, md_table
from crowdsim.report.tables import (
    COUNTRY_METRIC,
    MIN_COUNTRY_WORKERS,
    MONEY,
    PLOTS,
    SCALED,
    country_names,
    country_table,
    detection_table,
    diff_cell,
    executive_summary,
    executive_summary_text,
    glance,
    heading,
    incidence_tables,
    metric_table,
    notation,
    scenario_title,
    scorecard_view,
    value_cell,
)


def draw_plots(data: ReportData) -> dict[str, Path]:
    """Draw the report's figures into the comparison folder; return the paths drawn."""
    from crowdsim.viz import plots as P

    out, stats, order, titles = data.out, data.stats, data.order, data.titles
    P.differences(
        stats, order, titles, C.HEADLINE, out / "differences.png", PLOTS["differences.png"]
    )
    P.wage_distribution(
        run_wages(out, data.tidy),
        order,
        titles,
        out / "wage_distribution.png",
        PLOTS["wage_distribution.png"],
    )
    if not data.country_ratio.empty:
        P.country_relative_wage(
            data.country_ratio,
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
    P.revenue_vs_pay(stats, order, titles, out / "revenue_vs_pay.png", PLOTS["revenue_vs_pay.png"])
    return {name: out / name for name in PLOTS if (out / name).exists()}


def setup(doc: Document, data: ReportData) -> None:
    """Title, what was simulated, and a warning when the runs had not settled."""
    meta, workers = data.meta, data.workers
    doc.h(1, "What changes when the platform's rules change")
    doc.p(
        f"crowdsim comparison of {len(data.order)} sets of platform rules against "
        f"{scenario_title(data.baseline)}: simulated markets of "
        f"{f'{workers:,}' if workers else 'each scenario own number of'} "
        f"workers over {data.days or 'the configured'} days"
        + (f" after a {meta['warmup_days']}-day warm-up" if meta.get("warmup_days") else "")
        + f", {len(data.seeds)} seeds each"
        + (f", {len(data.failures)} runs failed (listed at the end)" if data.failures else "")
        + ".",
        css="setup",
    )
    steady = steady_state_note(data.tidy, data.order)
    if steady:
        doc.p(steady, css="warning")


def at_a_glance(doc: Document, data: ReportData) -> None:
    """The grid of headline changes, how to read it, and the forest plot."""
    grid = glance(data.stats, data.order)
    notes = notation(len(data.seeds), data.baseline)
    doc.raw(
        "## At a glance\n\n"
        + md_table(grid.map(lambda v: v[0] if isinstance(v, tuple) else v))
        + "\n\n"
        + "\n".join(f"- {x}" for x in notes),
        '<section id="glance"><h2>At a glance</h2><div class="glance-wrap">'
        + glance_html(grid)
        + '<aside class="notation"><h3>How to read it</h3><ul>'
        + "".join(f"<li>{inline(x)}</li>" for x in notes)
        + "</ul></aside></div></section>",
    )
    if data.drawn and (data.out / "differences.png").exists():
        doc.img(data.out / "differences.png", PLOTS["differences.png"], css="forest")


def summary(doc: Document, data: ReportData) -> None:
    """The executive summary, written from the numbers alone."""
    items = executive_summary(
        data.stats, data.info, data.baseline, data.order, short_stats=data.short_stats
    )
    lead, lines = executive_summary_text(data.stats, items, data.order, data.short_stats)
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


def detection(doc: Document, data: ReportData) -> None:
    """The smallest change the seeds detect, and the seeds a smaller one needs."""
    doc.h(2, "What the seeds can detect")
    doc.p(
        f"A change is detectable when its 95% interval excludes zero. With {len(data.seeds)} seeds, a "
        "rule whose true effect on the median all-in wage is smaller than the smallest detectable "
        "change below is usually reported as no detectable change. Seeds needed: the fewest "
        "seeds that detect a change of that size 80% of the time (two-sided t-test on the "
        "per-seed differences, their spread as measured here; --seeds N)."
    )
    doc.table(detection_table(data.stats, data.order, len(data.seeds)))


def horizons(doc: Document, data: ReportData) -> None:
    """Short run against long run, where the comparison ran both."""
    if data.short_stats is None:
        return
    meta = data.meta
    doc.h(2, "Short run and long run")
    no_short = [scenario_title(s) for s in data.order if s not in data.short_order]
    doc.p(
        f"Short run: the market runs under {scenario_title(data.baseline)} for "
        f"{meta.get('warmup_days')} days, then the rule applies (a reform file of "
        f"crowdsim/conf/reform/); measured over the next {meta.get('days')} days. Long run: "
        f"the rule from the start, measured over {meta.get('days')} days after the same "
        "warm-up. Difference from the status quo over the same days, seed by seed, with its "
        "95% interval; n.d.: no detectable change."
        + (f" No short run (no reform file): {', '.join(no_short)}." if no_short else "")
    )
    rows = []
    for s in data.short_order[1:]:
        for horizon, st in (("short run", data.short_stats), ("long run", data.stats)):
            row = {"Rules": scenario_title(s), "horizon": horizon}
            for m in C.HEADLINE:
                row[heading(m, diff=True)] = diff_cell(st, s, m)
            rows.append(row)
    doc.table(pd.DataFrame(rows))


def headline(doc: Document, data: ReportData) -> None:
    """The headline numbers, and their differences from the baseline."""
    doc.h(2, "Headline numbers")
    doc.p(
        f"Mean over {len(data.seeds)} seeds with its 95% interval in brackets. All-in wages count every "
        "working hour, paid or not (searching, returned tasks, rejected and never-paid work), as "
        "Hara et al. (CHI 2018) measured them on Amazon Mechanical Turk."
    )
    doc.table(metric_table(data.stats, data.order, C.HEADLINE))
    doc.p(
        f"Difference from {scenario_title(data.baseline)}, seed by seed, with its 95% interval; n.d.: no "
        "detectable change (the interval includes zero). Shares differ in percentage points (pp)."
    )
    doc.table(metric_table(data.stats, data.order, C.HEADLINE, diff=True))


def money(doc: Document, data: ReportData) -> None:
    """Money in total, per worker-month and per 1,000 tasks, and scaled to a platform's size."""
    workers, info, stats = data.workers, data.info, data.stats
    doc.h(2, "Money: in total, per worker-month and per 1,000 tasks")
    doc.p(
        f"Totals are for the simulated market ({f'{workers:,}' if workers else 'its'} workers, {data.days} days). "
        f"A worker-month is one worker in the pool for {C.DAYS_PER_MONTH:.2f} days; per worker-month "
        "and per 1,000 tasks the figures do not depend on the size of the simulated market. Worker pay "
        "is pay earned for the work submitted (accrual basis); platform revenue is commission received."
    )
    doc.table(metric_table(stats, data.order, [m for trio in MONEY for m in trio]))
    scaled = [s for s in data.order if info.get(s, {}).get("stated_workers")]
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


def drivers(doc: Document, data: ReportData) -> None:
    """What moved underneath the headline numbers."""
    doc.h(2, "What moved underneath")
    doc.p("Volume of work, pay per paid hour, kinds of unpaid time, who left and payment timing.")
    doc.table(metric_table(data.stats, data.order, C.DRIVERS[:6]))
    doc.table(metric_table(data.stats, data.order, C.DRIVERS[6:]))


def countries(doc: Document, data: ReportData) -> None:
    """Wages by country against the local minimum wage."""
    doc.h(2, "Wages by country against the local minimum wage")
    doc.p(
        "Median all-in wage of each country's workers divided by its minimum wage per hour (1 = the "
        "local minimum; crowdsim/data/countries.csv), mean over seeds with its 95% interval; n: "
        "workers measured in that country (mean per seed). A cell with fewer than "
        f"{MIN_COUNTRY_WORKERS} workers (assumption: too few for a median to mean much) says so "
        "instead of showing a ratio. n/a: no measured worker from that country."
    )
    if not data.country_ratio.empty:
        doc.table(country_table(data.tidy, data.country_ratio, data.order, data.titles))


def scorecards(doc: Document, data: ReportData) -> None:
    """The Fairwork-style scorecard and the rule of each threshold."""
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
    if not data.cards.empty:
        doc.table(scorecard_view(data.cards, data.titles))
    doc.ul(
        [
            f"**{pt.principle}**, threshold {pt.code[-1]} ({pt.title}): {pt.rule}"
            for pt in scorecard.POINTS
        ]
    )


def incidence(doc: Document, data: ReportData) -> None:
    """Who gains and who loses: each side's surplus, where the runs have a welfare ledger."""
    tables = incidence_tables(data.stats, data.countries, data.order)
    if not tables:
        return
    doc.h(2, "Who gains and who loses")
    doc.p(
        f"Change from {scenario_title(data.baseline)} in each side's surplus over the measured "
        f"{data.days or ''} days (the run summaries' welfare ledger), seed by seed, with its 95% "
        "interval; n.d.: no detectable change. Workers' surplus is pay earned minus the value "
        "of their time at their reservation wage; requesters' is the value of the work "
        "approved minus what they paid; the platform's is its revenue; value of demand lost: "
        "tasks requesters did not post at the platform's price."
    )
    for caption, table in tables:
        doc.p(f"**{caption}**")
        doc.table(table)


def plots(doc: Document, data: ReportData) -> None:
    """The figures other than the forest plot (shown at a glance)."""
    if not data.drawn:
        return
    doc.h(2, "Plots")
    for name, question in PLOTS.items():
        if name != "differences.png" and (data.out / name).exists():
            doc.img(data.out / name, question)


def rules(doc: Document, data: ReportData) -> None:
    """The rules compared, each against the baseline's, and populations that differ."""
    info, titles, baseline = data.info, data.titles, data.baseline
    doc.h(2, "The rules compared")
    items = []
    base_rules = info.get(baseline, {}).get("platform", {})
    for s in data.order:
        i = info.get(s, {})
        pop = i.get("population", {})
        extra = ""
        if (pop.get("currency") or "USD") != "USD":
            rate = float(pop.get("usd_per_currency") or 1.0)
            extra = f" The platform pays in {pop['currency']}: 1 {pop['currency']} = ${rate:g}."
        changes = C.rule_changes(i.get("platform", {}), base_rules)
        changed = f" Rules changed: {'; '.join(changes)}." if changes and s != baseline else ""
        items.append(
            f"**{titles[s]}** (scenario file {s}.yaml): {i.get('description', '')}.{changed}{extra}".replace(
                "..", "."
            )
        )
    doc.ul(items)
    differ = population_differs(info, baseline, data.order)
    if differ:
        doc.p(
            f"Different worker population from {titles[baseline]}: {', '.join(titles[s] for s in differ)}. "
            "Their differences mix rules and population, and their seeds are not common random numbers."
        )


def method(doc: Document, data: ReportData) -> None:
    """How the numbers are made, and each metric's definition and source."""
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
        f"{data.days or 'the configured number of'} days; workers leave only after weeks below their "
        "reservation wage, so over a short run a rule that cuts the volume of work shows up first "
        "as more unpaid search, not as fewer workers."
    )
    money_metrics = [m for trio in MONEY for m in trio]
    used = list(dict.fromkeys([*C.HEADLINE, *money_metrics, *C.DRIVERS, *SCALED, COUNTRY_METRIC]))
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


def failures(doc: Document, data: ReportData) -> None:
    """The runs that failed, with their errors."""
    if not data.failures:
        return
    doc.h(2, "Failed runs")
    doc.ul(
        [
            f"{data.titles.get(f['scenario'], f['scenario'])} ({f['scenario']}) seed {f['seed']}: {f['error']}"
            for f in data.failures
        ]
    )


def files(doc: Document, data: ReportData) -> None:
    """The files of the comparison folder."""
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
                if data.short_stats is not None
                else []
            ),
            "runs/<scenario>/seed_<k>/: each run's summary, frames, resolved config and provenance",
            "compare.log: what the runs printed (Hydra's job list, each run's result line, errors)",
        ]
    )


def footer(doc: Document, data: ReportData) -> None:
    """Version, revision, command, seeds and counts of runs, and when the report was written."""
    import crowdsim
    from crowdsim.run import git_revision

    meta = data.meta
    revision = meta.get("git_revision") or git_revision() or "unknown"
    run_revs = run_revisions(data.out, data.tidy)
    foot = [
        f"crowdsim {meta.get('crowdsim_version') or crowdsim.__version__}, git revision {revision}"
        + (
            f" (runs made at {', '.join(r[:12] for r in run_revs)})"
            if run_revs and run_revs != [revision]
            else ""
        ),
        f"command: {meta.get('command', 'crowdsim-compare')}",
        f"seeds: {', '.join(map(str, data.seeds))}; baseline: {data.baseline}; "
        f"{run_counts(data.out, data.failures, data.baseline)}"
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
