"""End to end: ``crowdsim-app`` on a free localhost port, driven by headless Chromium (Debian's
``chromium`` package, through Playwright; Playwright's own browser download is not used).

The test steps the model through the page, changes a lever, resets, and checks that the numbers
and the plots change; it saves a screenshot in its temporary folder (and to the path in
``CROWDSIM_APP_SCREENSHOT`` if set, which is how ``docs/img/app.png`` is made). Every request the
page makes must stay on this machine: the front-end files are served by the app's own server
(``python -m crowdsim.viz.assets`` installs them; ``.ci/run`` does so before the tests).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

N_PLOTS = 7  # wages by country + six time series


def _app_command(port: int, *extra: str) -> list[str]:
    script = Path(sys.executable).with_name("crowdsim-app")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "crowdsim.viz.launch"]
    return [*head, "--port", str(port), "--no-open", *extra]


def _start_app(tmp_path: Path, *extra: str, env: dict | None = None):
    from crowdsim.viz import assets, launch

    missing = assets.missing_packages()
    if missing:
        from conftest import HOW_TO_RUN_ALL, unavailable

        unavailable(
            "the app's front-end files",
            "not installed: " + ", ".join(f"{n}@{v}" for n, v in missing),
            f"`.venv/bin/python -m crowdsim.viz.assets` (needs npm), or {HOW_TO_RUN_ALL}",
        )
    port = launch.free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed by the caller
    proc = subprocess.Popen(
        _app_command(port, *extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )
    url = f"http://localhost:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"crowdsim-app exited with {proc.returncode}:\n{(tmp_path / 'server.log').read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc, url, log
        except OSError:
            time.sleep(0.3)
    _stop(proc, log)
    pytest.fail(f"crowdsim-app did not answer on {url} within 90 s")


def _stop(proc, log) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    log.close()


BROWSER_WORKERS = "1000"  # smaller than the app's default, so each browser test stays quick


@pytest.fixture
def app_url(tmp_path):
    markets = tmp_path / "markets"  # where the page saves markets: never the repository
    proc, url, log = _start_app(tmp_path, "--workers", BROWSER_WORKERS, "--markets", str(markets))
    yield url
    _stop(proc, log)


class Page:
    """The app page in the browser, with waits that follow the server's redraws."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.url = url
        self.requests: list[str] = []
        self.bad: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "response",
            lambda r: self.bad.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        self.page.on("requestfailed", lambda r: self.bad.append(f"failed {r.url}: {r.failure}"))
        self.page.goto(url, wait_until="domcontentloaded")
        self.page.get_by_role("button", name="Step").wait_for(timeout=90_000)
        self.headline = self.page.locator(".crowdsim-headline")
        self.page.wait_for_function(
            f"document.querySelectorAll('.crowdsim-plot img').length == {N_PLOTS}", timeout=60_000
        )
        self.page.wait_for_function(
            "(document.querySelector('.crowdsim-headline') || {innerText: ''}).innerText.includes('(hour ')",
            timeout=60_000,
        )

    def image_sources(self) -> list[str]:
        return self.page.eval_on_selector_all(".crowdsim-plot img", "els => els.map(e => e.src)")

    def click_and_wait(self, button: str, hour: int) -> float:
        """Click a button; wait until the headline shows `hour` and every plot has been redrawn.
        Returns the seconds from the click to the last redraw."""
        before = self.image_sources()
        start = time.perf_counter()
        self.page.get_by_role("button", name=button).click()
        self.page.wait_for_function(
            """([hour, before]) => {
                const head = document.querySelector('.crowdsim-headline');
                const imgs = [...document.querySelectorAll('.crowdsim-plot img')].map(e => e.src);
                return head && head.innerText.includes(`(hour ${hour} of`) && imgs.length == before.length
                    && imgs.every((src, i) => src !== before[i]);
            }""",
            arg=[hour, before],
            timeout=180_000,  # a week of two markets on a busy shared machine
        )
        return time.perf_counter() - start

    def number(self, label: str) -> float:
        text = self.headline.inner_text()
        m = re.search(re.escape(label) + r":?\s*\$?([\d,]+(?:\.\d+)?)", text)
        assert m, f"{label!r} not in the headline: {text}"
        return float(m.group(1).replace(",", ""))

    def plot(self, key: str) -> bytes:
        return self.page.locator(f".crowdsim-plot-{key} img").screenshot()

    def choose(self, select_label: str, option: str) -> None:
        self.page.locator(".v-select").filter(has_text=select_label).click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def assert_stayed_local(self) -> None:
        outside = [u for u in self.requests if not u.startswith((self.url, "blob:", "data:"))]
        assert not outside, f"the page fetched from elsewhere: {outside[:5]}"
        assert not self.bad, f"failed requests: {self.bad[:5]}"


def test_step_change_a_lever_reset_and_the_plots_change(browser, app_url, tmp_path):
    from playwright.sync_api import expect

    app = Page(browser, app_url)
    expect(app.headline).to_contain_text("(hour 0 of 672)")
    expect(app.headline).to_contain_text("scenario Status quo (MTurk-like)")
    expect(app.headline).to_contain_text("What this scenario does:")
    expect(app.headline).to_contain_text("All-in wage: a worker's pay divided by all the time")
    workers_at_start = app.plot("workers")

    # step three hours, then run a day, through the page's buttons
    for hour in (1, 2, 3):
        app.click_and_wait("Step", hour)
    assert app.plot("workers") != workers_at_start
    app.click_and_wait("Run 1 day", 27)
    revenue_status_quo = app.number("platform revenue")
    paid_status_quo = app.number("Paid to workers")
    revenue_plot_status_quo = app.plot("revenue")
    assert paid_status_quo > 0 and revenue_status_quo >= 0.2 * paid_status_quo - 0.01

    # a higher commission, then Reset: a new market with the same seed and size
    app.choose("Commission", "40%")
    app.page.get_by_role("button", name="Reset").click()
    expect(app.headline).to_contain_text("commission 40%", timeout=60_000)
    expect(app.headline).to_contain_text("(hour 0 of 672)")
    for hour in (1, 2, 3):
        app.click_and_wait("Step", hour)
    app.click_and_wait("Run 1 day", 27)
    revenue, paid = app.number("platform revenue"), app.number("Paid to workers")
    assert (revenue, paid) != (revenue_status_quo, paid_status_quo)
    # the platform now keeps at least 40% on top of every dollar paid to workers (20% before)
    assert revenue >= 0.4 * paid - 0.01
    assert app.plot("revenue") != revenue_plot_status_quo
    # save the market at hour 27, run a week, reload it: back at hour 27 with its numbers
    app.page.get_by_role("button", name="Save this market").click()
    saved = "status_quo-seed0-1000w-day1h3.npz"
    expect(app.page.locator(".crowdsim-markets-message")).to_contain_text(f"{saved} (")
    week = app.click_and_wait("Run 1 week", 27 + 168)
    print(f"\nRun 1 week -> headline and plots redrawn: {week:.1f} s")
    assert app.number("Paid to workers") > paid
    app.click_and_wait("Reload", 27)
    expect(app.page.locator(".crowdsim-markets-message")).to_contain_text(
        f"Reloaded {saved}: day 1, hour 3"
    )
    expect(app.headline).to_contain_text("commission 40%")
    assert (app.number("platform revenue"), app.number("Paid to workers")) == (revenue, paid)
    app.click_and_wait("Run 1 week", 27 + 168)

    app.page.screenshot(path=str(tmp_path / "app.png"))
    target = os.environ.get("CROWDSIM_APP_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        app.page.screenshot(path=target)
    assert (tmp_path / "app.png").stat().st_size > 10_000
    app.assert_stayed_local()


def test_end_of_run_says_press_reset_and_disables_every_run_control(browser, tmp_path):
    """A one-day market run to its end by "Run 1 day": ▶, Step, Run 1 day and Run 1 week are
    disabled, the page says the run is finished and to press Reset; Reset starts a new market
    with every control enabled again."""
    from playwright.sync_api import expect

    proc, url, log = _start_app(tmp_path, "--workers", BROWSER_WORKERS, "--days", "1")
    try:
        app = Page(browser, url)
        expect(app.headline).to_contain_text("(hour 0 of 24)")
        controls = ["▶", "Step", "Run 1 day", "Run 1 week"]
        for name in controls:
            expect(app.page.get_by_role("button", name=name)).to_be_enabled()
        finished = app.page.locator(".crowdsim-finished")
        expect(finished).to_have_count(0)
        app.click_and_wait("Run 1 day", 24)
        expect(finished.first).to_contain_text("press Reset", timeout=30_000)
        expect(finished).to_have_count(2)  # in the headline and beside the run buttons
        for name in controls:
            expect(app.page.get_by_role("button", name=name)).to_be_disabled()
        expect(app.page.get_by_role("button", name="Reset")).to_be_enabled()
        app.page.screenshot(path=str(tmp_path / "finished.png"))
        app.page.get_by_role("button", name="Reset").click()
        expect(app.headline).to_contain_text("(hour 0 of 24)", timeout=60_000)
        expect(finished).to_have_count(0)
        for name in controls:
            expect(app.page.get_by_role("button", name=name)).to_be_enabled()
        # ▶ plays the new market to its end: it stops there, with the same message and state
        app.page.get_by_role("button", name="▶").click()
        expect(app.headline).to_contain_text("(hour 24 of 24)", timeout=240_000)
        expect(finished).to_have_count(2, timeout=60_000)
        for name in controls:
            expect(app.page.get_by_role("button", name=name)).to_be_disabled()
        app.assert_stayed_local()
    finally:
        _stop(proc, log)


@pytest.mark.slow
def test_responsive_at_5000_workers_in_the_browser(browser, tmp_path):
    """Time from a click to the last redrawn plot with 5,000 workers (printed; a loose bound)."""
    proc, url, log = _start_app(tmp_path, "--workers", "5000")
    try:
        app = Page(browser, url)
        assert 4500 <= app.number("Workers in the pool / online in the last hour") <= 5500
        steps = [app.click_and_wait("Step", hour) for hour in range(1, 6)]
        day = app.click_and_wait("Run 1 day", 29)
        print(
            f"\n5,000 workers: Step -> all plots redrawn {1000 * sum(steps) / len(steps):.0f} ms on average "
            f"(max {1000 * max(steps):.0f} ms); Run 1 day -> redrawn {1000 * day:.0f} ms"
        )
        assert max(steps) < 10.0
        app.assert_stayed_local()
    finally:
        _stop(proc, log)


def test_compare_two_rule_sets_side_by_side(browser, app_url, tmp_path):
    """Status quo against the minimum-pay scenario, same seed, one day: the table shows both,
    their difference and what chance alone does, with the wage plot of both beneath."""
    from playwright.sync_api import expect

    app = Page(browser, app_url)
    app.choose("Over", "1 day")
    card = app.page.locator(".crowdsim-compare")
    expect(card).to_contain_text("Compare the status quo with")
    start = time.perf_counter()
    app.page.get_by_role("button", name="Run the comparison").click()
    table = card.locator("table.crowdsim-compare-table")
    table.wait_for(timeout=120_000)
    card.locator(".crowdsim-compare-plot img").wait_for(timeout=60_000)
    seconds = time.perf_counter() - start
    head = table.locator("tr").first.inner_text()
    assert "Status quo" in head and "$8/h minimum pay" in head and "chance alone" in head
    row = table.locator('tr[data-key="tasks_submitted"] td').all_inner_texts()
    quo, other, diff = (float(re.sub(r"[^\d.]", "", c) or "nan") for c in row[1:4])
    sign = -1 if row[3].startswith("−") else 1
    assert sign * diff == pytest.approx(other - quo, abs=1.0)
    expect(card).to_contain_text("After 24 hours")
    assert not _message_shown(app.page)  # the files are there: no missing-files message
    app.page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    target = os.environ.get("CROWDSIM_COMPARE_SCREENSHOT")
    if target:
        card.scroll_into_view_if_needed()
        app.page.screenshot(path=target, full_page=True)
    print(f"\ncomparison of two rule sets over 1 day at the page's size: {seconds:.1f} s")
    app.assert_stayed_local()


MISSING_FILES_MESSAGE = "the page's front-end files did not load"


def _message_shown(page) -> bool:
    return page.evaluate(
        """() => { const s = getComputedStyle(document.body, '::after');
                   return s.display !== 'none' && s.content.includes("front-end files") &&
                          s.opacity === '1'; }"""
    )


def test_a_clear_message_in_the_page_when_the_front_end_files_are_missing(browser, tmp_path):
    """With an empty front-end cache (and no CDN to fill it) the page says what is wrong and what
    to run; with the files there it does not."""
    empty = tmp_path / "no-front-end"
    empty.mkdir()
    proc, url, log = _start_app(tmp_path, env={"SOLARA_ASSETS_PROXY_CACHE_DIR": str(empty)})
    try:
        page = browser.new_page()
        page.route(
            "**/*",
            lambda route: (
                route.abort() if "localhost" not in route.request.url else route.continue_()
            ),
        )
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function(
            "() => getComputedStyle(document.body, '::after').opacity === '1'", timeout=30_000
        )
        assert _message_shown(page)
        assert "python -m crowdsim.viz.assets" in page.evaluate(
            "() => getComputedStyle(document.body, '::after').content"
        )
        page.close()
    finally:
        _stop(proc, log)
