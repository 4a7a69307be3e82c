"""The layout of a comparison folder (``crowdsim-compare --out``): what the comparison writes
and the report reads, in one place.

- ``runs/<scenario>/seed_<k>/``: the long runs, one job folder each (:func:`run_dir`);
- ``runs_short/to_<scenario>/seed_<k>/``: the short runs, the status quo until the reform day,
  then the reform file ``to_<scenario>`` (:func:`short_run_dir`);
- ``comparison.parquet`` (one row per scenario x seed x country x metric), its short-run twin
  :data:`SHORT_FILE`, ``scenarios.json``, ``failures.json`` and ``meta.json``: the report's input.
"""

from __future__ import annotations

from pathlib import Path

RUNS_DIR = "runs"
SHORT_RUNS_DIR = "runs_short"
# job folders of a comparison: runs/<scenario>/seed_<k> (hydra.sweep.subdir of the grid), and
# runs_short/<reform>/seed_<k> for the short runs
RUN_SUBDIR = "${hydra:runtime.choices.scenario}/seed_${seed}"
SHORT_RUN_SUBDIR = "${hydra:runtime.choices.reform}/seed_${seed}"
TIDY_FILE = "comparison.parquet"
SHORT_FILE = "comparison_short_run.parquet"


def reform_name(scenario: str) -> str:
    """The reform file that turns the status quo into ``scenario`` (crowdsim/conf/reform/)."""
    return f"to_{scenario}"


def run_dir(out: str | Path, scenario: str, seed: int) -> Path:
    """The job folder of ``scenario``'s long run with ``seed``."""
    return Path(out) / RUNS_DIR / scenario / f"seed_{seed}"


def short_run_dir(out: str | Path, scenario: str, seed: int) -> Path:
    """The job folder of ``scenario``'s short run with ``seed``."""
    return Path(out) / SHORT_RUNS_DIR / reform_name(scenario) / f"seed_{seed}"
