"""The job runner every experiment shares: a grid of configurations through ``crowdsim -m``.

:func:`run_grid` runs a Cartesian grid of overrides as a ``crowdsim`` multirun in this process,
on whichever Hydra launcher the caller names (``sequential``, ``cores``, ``local_submitit``,
``slurm``, ``ray_cluster`` with their ``hydra.launcher.*`` options), so an experiment's
simulations take the path of any sweep: the same job body
(:func:`crowdsim.sweeps.job.run_job`), job-folder contents, resume rule (DONE.json for the
same config and crowdsim version), failure records (FAILED.json, scheduler faults included) and
``sweep.parquet``. ``crowdsim-compare`` uses it with job folders named
``<scenario>/seed_<k>`` (``hydra.sweep.subdir``).

:func:`measure_grid` is the same for experiments that need a run's *moments*
(``crowdsim-calibrate``, ``-validate``, ``-sensitivity``): each parameter set is written as a
config file of the grid (``+parameters=NAME``), so a grid of sets x seeds is a plain Cartesian
sweep, and each job also writes ``moments.json``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    overrides: list[str],
    sweep_dir: str | Path,
    launcher: list[str],
    subdir: str | None = None,
    config_dirs: list[str | Path] | None = None,
    compose_check: bool = True,
) -> GridOutcome:
    """Run ``crowdsim -m OVERRIDES`` into ``sweep_dir`` in this process; never raises SystemExit.

    Args:
        overrides: the grid (``scenario=a,b``, ``seed=0,1``) and fixed options.
        sweep_dir: ``hydra.sweep.dir``.
        launcher: from :func:`launcher_overrides`.
        subdir: ``hydra.sweep.subdir`` (default: the job number).
        config_dirs: extra config dirs (``--config-dir``), e.g. a grid's parameter sets.
        compose_check: compose every combination before the sweep starts (see
            :func:`crowdsim.sweeps.app.main`); off for grids built from validated options.
    """
    from crowdsim.sweeps import app, callback

    argv = ["-m", *overrides, f"hydra.sweep.dir={sweep_dir}", *launcher]
    if subdir is not None:
        argv.append(f"hydra.sweep.subdir={subdir}")
    for d in config_dirs or []:
        argv.append(f"--config-dir={d}")
    saved = list(sys.argv)
    status = 0
    try:
        app.main(argv, compose_check=compose_check)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    counts = dict(callback.LAST_SWEEP or {})
    return GridOutcome(status=status, sweep_dir=Path(sweep_dir), counts=counts)


# ------------------------------------------------------------------ measured runs (calibration...)
PARAMETER_GROUP = "parameters"  # +parameters=NAME: one parameter set of a measured grid
CONF_DIR = ".conf"  # the grid's own config dir inside its sweep folder (parameters/NAME.yaml)
# job folders of a measured grid: <parameter set>/seed_<k> (with scenarios: <scenario>/<set>/...)
MEASURED_SUBDIR = "${hydra:runtime.choices." + PARAMETER_GROUP + "}/seed_${seed}"


class RunsFailed(Exception):
    """Some simulations of a grid produced no moments; the message names them (one line)."""


def write_parameter_sets(sweep_dir: str | Path, sets: dict[str, dict[str, Any]]) -> Path:
    """Write each parameter set as a Hydra ``_global_`` config ``parameters/NAME.yaml`` in the
    grid's config dir (``SWEEP_DIR/.conf``) and return that dir (for ``--config-dir``).

    Args:
        sweep_dir: the grid's ``hydra.sweep.dir``.
        sets: name -> dotted options and values (``{"workers.search_minutes": 1.5}``).
    """
    import yaml

    from crowdsim.config import nested
    from crowdsim.files import atomic_write_text
    from crowdsim.folders import claim

    # the grid's folder is claimed as its sweep's before the config dir is written into it (the
    # sweep's own claim, in this process, then finds it held: crowdsim.folders)
    conf = claim(Path(sweep_dir).resolve(), "sweep") / CONF_DIR
    group = conf / PARAMETER_GROUP
    group.mkdir(parents=True, exist_ok=True)
    for name, params in sets.items():
        body = yaml.safe_dump(nested(params), sort_keys=True) if params else "{}\n"
        text = "# @package _global_\n" + body
        path = group / f"{name}.yaml"
        try:
            if path.read_text() == text:
                continue  # unchanged: a concurrent grid may be reading it
        except OSError:
            pass
        atomic_write_text(path, text)
    return conf


def measure_override(warmup_days: float, moments: list[str]) -> str:
    """The override that makes every job of a grid also write moments.json (see
    :func:`crowdsim.sweeps.job.job_measure`)."""
    return (
        f"hydra.callbacks.sweep_results.measure={{warmup_days:{float(warmup_days)!r},"
        f"moments:[{','.join(moments)}]}}"
    )


def measure_grid(
    sets: dict[str, dict[str, Any]],
    seeds: list[int],
    fixed: list[str],
    warmup_days: float,
    moments: list[str],
    sweep_dir: str | Path,
    launcher: list[str],
    scenarios: list[str] | None = None,
) -> dict[tuple, dict[str, float]]:
    """Simulate every parameter set x seed (x scenario) through the job runner and return the
    moments of each run, keyed ``(set, seed)`` (``(scenario, set, seed)`` with ``scenarios``).

    The grid is one ``crowdsim -m`` sweep into ``sweep_dir``, its jobs in folders
    ``[<scenario>/]<set>/seed_<k>``: a job complete already for the same config, measurement and
    crowdsim version is not simulated again (the resume rule of every sweep).

    Args:
        sets: parameter set name (a file name: letters, digits, ``_``) -> dotted options.
        seeds: simulation seeds (common to every set).
        fixed: overrides of every job (``scenario=...`` unless ``scenarios``, population size,
            days, the user's ``--set`` options).
        warmup_days: days left out of the moments; moments: their names
            (:data:`crowdsim.moments.MOMENTS`).
        sweep_dir: the grid's ``hydra.sweep.dir``.
        launcher: from :func:`launcher_overrides`.
        scenarios: to also sweep over these scenarios.

    Raises:
        RunsFailed: when a run produced no moments (its FAILED.json says why).
    """
    from crowdsim.files import read_json
    from crowdsim.sweeps.job import FAILED_FILE, MOMENTS_FILE, job_state, read_moments

    sweep_dir = Path(sweep_dir).resolve()
    from crowdsim.folders import FolderRefused

    try:
        conf = write_parameter_sets(sweep_dir, sets)
    except FolderRefused as exc:  # not a folder crowdsim may write into: one line, no runs
        raise RunsFailed(f"no runs: {exc}") from None
    grid = [f"+{PARAMETER_GROUP}={','.join(sets)}", f"seed={','.join(map(str, seeds))}"]
    subdir = MEASURED_SUBDIR
    if scenarios:
        grid.insert(0, f"scenario={','.join(scenarios)}")
        subdir = "${hydra:runtime.choices.scenario}/" + subdir
    quiet = [
        "hydra.callbacks.sweep_results.progress_seconds=0",
        "hydra.callbacks.sweep_results.aggregate=false",
        measure_override(warmup_days, moments),
    ]
    # the fixed options are the experiment's validated ones; a set whose values are refused
    # fails its own jobs (FAILED.json, RunsFailed) instead of composing every set up front
    run_grid(
        grid + list(fixed),
        sweep_dir,
        launcher + quiet,
        subdir=subdir,
        config_dirs=[conf],
        compose_check=False,
    )
    out: dict[tuple, dict[str, float]] = {}
    failed = []
    for sc in scenarios or [None]:
        for name in sets:
            for seed in seeds:
                folder = sweep_dir / (f"{sc}/" if sc else "") / name / f"seed_{seed}"
                key = (name, seed) if sc is None else (sc, name, seed)
                if job_state(folder) == "ok" and (folder / MOMENTS_FILE).is_file():
                    out[key] = read_moments(folder)
                    continue
                record = read_json(folder / FAILED_FILE) or {}
                error = record.get("error") or "did not finish"
                failed.append(f"{folder} ({record.get('error_type', 'no result')}: {error})")
    if failed:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        raise RunsFailed(
            f"{len(failed)} of {len(sets) * len(seeds) * len(scenarios or [None])} runs have no "
            f"moments: {failed[0].splitlines()[0]}{more} (run the same command again to retry them)"
        )
    return out
