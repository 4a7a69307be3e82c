import logging
import os

import pytest

logging.getLogger("MESA").setLevel(logging.WARNING)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def small():
    """Options for a small, fast run."""
    return dict(population__n_workers=300, sim__days=3, seed=1)


# Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright
# (Playwright's own browser download is not used; .ci/run installs the Debian package).
CHROMIUM = os.environ.get("CROWDSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    import shutil

    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
