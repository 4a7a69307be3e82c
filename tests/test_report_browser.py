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

from crowdsim.experiments import compare, report
from crowdsim.metrics import catalogue

pytestmark = pytest.mark.browser
SCENARIOS = ["status_quo", "mturk_2014", "min_pay"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    argv = ["--scenarios", ",".join(SCENARIOS), "--seeds", "3", "--workers", "200", "--days", "3", "--warmup-days", "2"]
    assert compare.main([*argv, "--jobs", "2", "--out", str(out)]) == 0
    return out


def test_report_renders_alone_and_its_summary_matches_the_summary_table(
    browser, comparison, tmp_path
):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url),
    )
    page.goto((comparison / "report.html").as_uri(), wait_until="load")

    # the first section is the executive summary, with one finding per scenario but the baseline
    first = page.locator("h2").first.inner_text()
    assert first == "Executive summary"
    findings = page.locator("#summary .finding")
    assert findings.count() == len(SCENARIOS) - 1

    table = pd.read_parquet(comparison / "comparison_summary.parquet")
    for scenario in SCENARIOS[1:]:
        block = page.locator(f'#summary .finding[data-scenario="{scenario}"]')
        assert block.locator("h3").inner_text() == report.scenario_title(scenario)
        shown = block.locator("li.change").all_inner_texts()
        rows = table[
            (table["scenario"] == scenario)
            & table["metric"].isin(catalogue.HEADLINE)
            & table["detectable"]
        ]
        expected = [
            report.change_phrase(rows[rows["metric"] == m].iloc[0])
            for m in catalogue.HEADLINE
            if m in set(rows["metric"])
        ]
        if expected:
            assert shown == expected
        else:
            assert shown == ["No detectable change in any headline number."]
        # every number said is the parquet's, and a detectable change excludes zero
        for _, r in rows.iterrows():
            assert r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0
            kind = catalogue.metric(r["metric"]).kind
            assert catalogue.fmt(r["diff_ci_low"], kind, True) in " ".join(shown)

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
