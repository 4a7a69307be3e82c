"""The job runner every experiment shares: a grid of configurations through ``crowdsim -m``.

:func:`run_grid` runs a Cartesian grid of overrides as a ``crowdsim`` multirun in this process,
on whichever Hydra launcher the caller names (``sequential``, ``cores``, ``local_submitit``,
``slurm``, ``ray_cluster`` with their ``hydra.launcher.*`` options), so an experiment's
simulations take the path of any sweep: the same job body
(:func:`crowdsim.experiments.jobs.run_job`), job-folder contents, resume rule (DONE.json for the
same config and crowdsim version), failure records (FAILED.json, scheduler faults included) and
``sweep.parquet``. ``crowdsim-compare`` uses it with job folders named
``<scenario>/seed_<k>`` (``hydra.sweep.subdir``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GridOutcome:
    """What a grid left on disk: exit status of the multirun and its counts of jobs."""

    status: int
    sweep_dir: Path
    counts: dict = field(default_factory=dict)


def launcher_overrides(launcher: str | None, jobs: int | None, options: list[str]) -> list[str]:
    """Hydra overrides choosing a launcher: ``--launcher NAME`` (default: ``cores`` with ``jobs``
    processes, or ``sequential`` for one) plus ``hydra.launcher.*`` options."""
    if launcher is None:
        launcher = "sequential" if (jobs or 1) <= 1 else "cores"
    out = [f"hydra/launcher={launcher}"]
    if launcher == "cores" and jobs:
        out.append(f"hydra.launcher.n_jobs={jobs}")
    return out + list(options)


def run_grid(
    overrides: list[str], sweep_dir: str | Path, launcher: list[str], subdir: str | None = None
) -> GridOutcome:
    """Run ``crowdsim -m OVERRIDES`` into ``sweep_dir`` in this process; never raises SystemExit.

    Args:
        overrides: the grid (``scenario=a,b``, ``seed=0,1``) and fixed options.
        sweep_dir: ``hydra.sweep.dir``.
        launcher: from :func:`launcher_overrides`.
        subdir: ``hydra.sweep.subdir`` (default: the job number).
    """
    from crowdsim import cli
    from crowdsim.experiments import callbacks

    argv = ["-m", *overrides, f"hydra.sweep.dir={sweep_dir}", *launcher]
    if subdir is not None:
        argv.append(f"hydra.sweep.subdir={subdir}")
    saved = list(sys.argv)
    status = 0
    try:
        cli.main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    counts = dict(callbacks.LAST_SWEEP or {})
    return GridOutcome(status=status, sweep_dir=Path(sweep_dir), counts=counts)
