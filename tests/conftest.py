import logging
import os

import pytest

logging.getLogger("MESA").setLevel(logging.WARNING)
os.environ.setdefault("MPLBACKEND", "Agg")

# CI (.ci/run sets CROWDSIM_CI=1; CI=true is the usual runner's flag) runs every test: there a
# missing service fails the tests that need it. Elsewhere (a fresh clone's `make test`) they are
# skipped with one line saying what is missing and how to run them.
IN_CI = os.environ.get("CROWDSIM_CI") == "1" or os.environ.get("CI") == "true"
HOW_TO_RUN_ALL = (
    "`sudo bash .ci/run` sets up Chromium, npm's front-end files and Slurm, then runs every test"
)


def unavailable(what: str, problem: str, how: str) -> None:
    """Skip the calling test (fail it in CI) because ``what`` is missing here."""
    message = f"{what} not available here ({problem}); to run these tests: {how}"
    if IN_CI:
        pytest.fail(f"{message} [CROWDSIM_CI=1: CI never skips them]", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def calibration_on_launcher(tmp_path, name: str, options: list[str], timeout: int):
    """A tiny crowdsim-calibrate run on launcher ``name`` (a subprocess, into tmp_path/name) and
    the same calibration in this process (tmp_path/here); returns (its folder, the trials of
    both as read from trials.csv, the in-process result)."""
    import subprocess
    import sys

    import pandas as pd

    from crowdsim.studies import calibrate as cal

    small = dict(trials=2, seeds=2, workers=40, days=3, warmup_days=1.0, recheck_top=0)
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in small.items()]
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "crowdsim.studies.calibrate", *argv, f"--launcher={name}",
         *options, f"--out={out}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    here = cal.calibrate(cal.Settings(jobs=1, out=str(tmp_path / "here"), **small), progress=False)
    trials = (pd.read_csv(out / "trials.csv"), pd.read_csv(tmp_path / "here" / "trials.csv"))
    return out, trials, here


def legend_clear_of_the_plot(fig) -> None:
    """Assert that ``fig``'s one legend lies inside the figure and covers neither an axes nor an
    x label (drawn as it is saved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    page = fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0, "legend cut off"
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), "legend covers the plot"
        label = ax.xaxis.label
        if label.get_text():
            assert not box.overlaps(label.get_window_extent(renderer)), "legend on the x label"


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
        unavailable(
            "headless Chromium",
            f"no {CHROMIUM}",
            f"apt-get install chromium (or CROWDSIM_CHROMIUM=PATH), or {HOW_TO_RUN_ALL}",
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
