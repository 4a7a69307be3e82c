"""The comparison report as a reader sees it: ``report.html`` opened from disk in headless Chromium
(Debian's ``chromium`` driven by Playwright, as in ``test_app_browser.py``).

The page must render on its own (every plot embedded, nothing fetched), open with the executive
summary, and say in that summary exactly the changes ``comparison_summary.parquet`` finds
detectable. A screenshot of the top of the page is saved in the test's folder (and to the path in
``CROWDSIM_REPORT_SCREENSHOT`` if set); a printed PDF is made to check the page prints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from crowdsim.metrics import catalogue
from crowdsim.report import tables as report
from crowdsim.studies import compare

pytestmark = pytest.mark.browser
SCENARIOS = ["status_quo", "mturk_2014", "min_pay"]
FIRST_SCREEN = 1400  # px: what a reader sees first on a large screen
WIDTH = 1400
# each cell's text and its number of lines (distinct line boxes of its text)
LINES_JS = """cells => cells.map(c => {
    const r = document.createRange(); r.selectNodeContents(c);
    const ends = [...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.bottom));
    const rows = []; for (const t of ends.sort((a, b) => a - b)) {
        if (!rows.length || t - rows[rows.length - 1] > 4) rows.push(t); }
    return [c.innerText.slice(0, 60), rows.length]; })"""


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    argv = [
        "--scenarios",
        ",".join(SCENARIOS),
        "--seeds",
        "3",
        "--workers",
        "200",
        "--days",
        "3",
        "--warmup-days",
        "2",
    ]
    assert compare.main([*argv, "--jobs", "2", "--out", str(out)]) == 0
    return out


def test_report_renders_alone_and_its_summary_matches_the_summary_table(
    browser, comparison, tmp_path
):
    page = browser.new_page(viewport={"width": WIDTH, "height": FIRST_SCREEN})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url),
    )
    page.goto((comparison / "report.html").as_uri(), wait_until="load")

    # the page opens with the at-a-glance grid (one row per rule), its notation beside it and the
    # forest chart, all within the first 1,400 px; then the executive summary
    assert page.locator("h2").first.inner_text() == "At a glance"
    grid = page.locator("table.glance")
    assert grid.locator("tbody tr").count() == len(SCENARIOS) - 1
    assert grid.bounding_box()["y"] + grid.bounding_box()["height"] <= FIRST_SCREEN
    assert page.locator("aside.notation").bounding_box()["y"] < FIRST_SCREEN
    forest = page.locator("figure.forest img")
    box = forest.bounding_box()
    assert forest.count() == 1 and box["y"] + box["height"] <= FIRST_SCREEN  # all of it
    assert page.locator("h2").nth(1).inner_text() == "Executive summary"

    # each grid cell says what comparison_summary.parquet says: ▲/▼ exactly for detectable
    # changes, in the direction of the difference
    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    cells = grid.locator("tbody tr")
    for i, scenario in enumerate(SCENARIOS[1:]):
        row = cells.nth(i).locator("td").all_inner_texts()
        assert cells.nth(i).locator("th").inner_text() == report.scenario_title(scenario)
        for text, m in zip(row, catalogue.HEADLINE, strict=False):
            r = table[(table["scenario"] == scenario) & (table["metric"] == m)].iloc[0]
            if r["detectable"]:
                assert text.startswith("▲" if r["diff"] > 0 else "▼"), (scenario, m, text)
                assert catalogue.fmt(r["diff"], catalogue.metric(m).kind, True) in text
            else:
                assert text == "○ n.d.", (scenario, m, text)
        wage = table[(table["scenario"] == scenario) & (table["metric"] == "wage_median_all_in")]
        mdc = wage.iloc[0]["mdc"]  # what the seeds can detect
        assert row[-1] == (f"±{catalogue.fmt(mdc, 'usd_h')}" if mdc >= 0.005 else "< $0.01/h")

    # the executive summary: at most 300 words, one finding per rule, each detectable headline
    # change it names with the parquet's numbers
    summary = page.locator("#summary").inner_text()
    assert len(summary.split()) <= report.SUMMARY_WORDS
    findings = page.locator("#summary li.finding")
    assert findings.count() == len(SCENARIOS) - 1
    for scenario in SCENARIOS[1:]:
        text = page.locator(f'#summary li[data-scenario="{scenario}"]').inner_text()
        assert text.startswith(report.scenario_title(scenario))
        rows = table[
            (table["scenario"] == scenario)
            & table["metric"].isin(catalogue.HEADLINE)
            & table["detectable"]
        ]
        if rows.empty:
            assert "No detectable change in any headline measure" in text
        for _, r in rows.iterrows():  # a change said is the parquet's, and excludes zero
            assert r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0
        said = [m for m in rows["metric"] if catalogue.metric(m).label.lower() in text.lower()]
        assert said or rows.empty
        for m in said:
            r = rows[rows["metric"] == m].iloc[0]
            assert catalogue.fmt(r["diff"], catalogue.metric(m).kind, True) in text

    # every plot is embedded and drawn; headings carry no metric keys or scenario IDs
    sizes = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.naturalWidth, e.src.slice(0, 22)])"
    )
    assert len(sizes) == len([p for p in report.PLOTS if (comparison / p).exists()]) >= 5
    assert all(w > 300 and src == "data:image/png;base64," for w, src in sizes)
    headings = " ".join(page.locator("h1, h2, h3").all_inner_texts())
    for key in (*catalogue.CATALOGUE, *SCENARIOS):
        assert key not in headings, key
    footer = page.locator("footer").inner_text()
    meta = json.loads((comparison / "meta.json").read_text())
    assert meta["crowdsim_version"] in footer and "seeds: 0, 1, 2" in footer
    # the footer counts the runs in the folder: long-run and short-run ones
    long = len(list((comparison / "runs").glob("*/seed_*/DONE.json")))
    short = len(list((comparison / "runs_short").glob("*/seed_*/DONE.json")))
    assert long == 3 * len(SCENARIOS) and short == 3  # min_pay has a reform file, mturk_2014 not
    assert f"{long + short} runs ({long} long-run, {short} short-run)" in footer
    assert not outside, outside

    shot = tmp_path / "report_top.png"
    page.screenshot(path=str(shot))
    target = os.environ.get("CROWDSIM_REPORT_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=target)
    assert shot.stat().st_size > 20_000
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
    page.close()


def test_short_run_table_names_the_rules_without_a_reform_file(comparison):
    """mturk_2014 has no reform file (the 2015 reform goes the other way): it has a long run only,
    and the short-run section says so."""
    md = (comparison / "report.md").read_text()
    section = md.split("## Short run and long run", 1)[1].split("\n## ", 1)[0]
    assert "No short run (no reform file): MTurk before July 2015." in section
    short = pd.read_csv(comparison / "comparison_short_run_summary.csv")
    assert set(short["scenario"]) == {"status_quo", "min_pay"}


def test_no_table_cell_wraps_past_two_lines(browser, comparison):
    """At 1,400 px wide every cell of every table holds at most two lines of text (a value and
    its interval), and text is left-aligned."""
    page = browser.new_page(viewport={"width": WIDTH, "height": FIRST_SCREEN})
    page.goto((comparison / "report.html").as_uri(), wait_until="load")
    lines = page.eval_on_selector_all("td, tbody th", LINES_JS)
    assert len(lines) > 50
    over = [(text, n) for text, n in lines if n > 2]
    assert not over, over[:5]
    align = page.eval_on_selector_all(
        "td:not(.num)", "cells => cells.map(c => getComputedStyle(c).textAlign)"
    )
    assert set(align) <= {"left", "start"}
    page.close()


def test_country_cells_show_their_workers_and_hide_small_ones(comparison):
    """Each by-country cell names the workers behind it; a country with fewer than the threshold
    shows no ratio."""
    md = (comparison / "report.md").read_text()
    section = md.split("## Wages by country against the local minimum wage", 1)[1].split(
        "\n## ", 1
    )[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and "Country" not in line
    ]
    assert rows
    tidy = pd.read_parquet(comparison / "comparison.parquet")
    counts = (
        tidy[(tidy["metric"] == "n_workers_measured") & (tidy["country"] != "all")]
        .groupby(["country", "scenario"])["value"]
        .mean()
    )
    small = counts[counts < report.MIN_COUNTRY_WORKERS]
    big = counts[counts >= report.MIN_COUNTRY_WORKERS]
    assert len(small) and "too few workers (n = " in section
    names = report.country_names()
    for (c, _), n in small.items():  # no ratio: too few, or none measured (n/a)
        line = next(r for r in rows if r.startswith(f"| {names.get(c, c)} |"))
        assert f"too few workers (n = {n:,.0f})" in line or "n/a" in line
    for (c, _), n in big.items():
        line = next(r for r in rows if r.startswith(f"| {names.get(c, c)} |"))
        assert f"(n = {n:,.0f}) [" in line


@pytest.fixture(scope="module")
def ten_rules(tmp_path_factory):
    """The main set (10 sets of rules), small and long run only: the layout with many rules."""
    out = tmp_path_factory.mktemp("report10")
    argv = ["--scenarios", "main", "--seeds", "2", "--workers", "100", "--days", "2",
            "--warmup-days", "1", "--horizon", "long"]  # fmt: skip
    assert compare.main([*argv, "--jobs", "2", "--out", str(out)]) == 0
    return out


def test_first_screen_and_cells_hold_with_ten_rules(browser, ten_rules):
    """With the main set's 9 rules against the status quo the grid and the whole forest chart
    still fit in the first 1,400 px, the summary stays within 300 words and no cell wraps past
    two lines."""
    page = browser.new_page(viewport={"width": WIDTH, "height": FIRST_SCREEN})
    page.goto((ten_rules / "report.html").as_uri(), wait_until="load")
    grid = page.locator("table.glance")
    assert grid.locator("tbody tr").count() == len(compare.MAIN_SCENARIOS) - 1
    box = grid.bounding_box()
    assert box["y"] + box["height"] <= FIRST_SCREEN
    box = page.locator("figure.forest img").bounding_box()  # the whole chart, under the grid
    assert box["y"] + box["height"] <= FIRST_SCREEN
    assert len(page.locator("#summary").inner_text().split()) <= report.SUMMARY_WORDS
    lines = page.eval_on_selector_all("td, tbody th", LINES_JS)
    assert not [(t, n) for t, n in lines if n > 2]
    footer = page.locator("footer").inner_text()
    assert (
        f"{2 * len(compare.MAIN_SCENARIOS)} runs ({2 * len(compare.MAIN_SCENARIOS)} long-run, 0 short-run)"
        in footer
    )
    page.close()
