"""Hydra callback of crowdsim multiruns: job list and progress while a sweep runs, one table at its end.

Configured in ``crowdsim/conf/config.yaml`` under ``hydra.callbacks``. Everything happens in the process
that launched the sweep: under joblib, submitit or Ray, jobs run in other processes (or machines),
so the callback reads what they wrote to the sweep folder instead of collecting return values.

- ``on_multirun_start``: writes ``sweep_jobs.json`` (every job's overrides, by job number) and
  starts a thread that prints ``[crowdsim] k/N jobs finished`` whenever a job folder gains a
  DONE.json or FAILED.json marker.
- ``on_multirun_end``: stops the thread and writes ``sweep.parquet`` and ``sweep_summary.parquet``
  / ``.csv`` (:mod:`crowdsim.sweeps.aggregate`).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write

# Outcome of the last multirun in this process (read by `crowdsim.sweeps.app.main` for the exit status).
LAST_SWEEP: dict | None = None

# Progress threads by sweep folder. Kept out of the callback object, which Hydra pickles and
# ships to joblib/submitit/Ray workers (a thread cannot be pickled).
_PROGRESS: dict[str, tuple[threading.Thread, threading.Event]] = {}


def _say(text: str) -> None:
    print(f"[crowdsim] {text}", file=sys.stderr, flush=True)


class SweepResults(Callback):
    """Write the job list, show progress, aggregate at the end of a multirun.

    Args:
        progress_seconds: how often to count finished jobs (seconds); 0 turns progress off.
        aggregate: write sweep.parquet and the per-configuration table at the end.
        measure: ``{warmup_days, moments}``: every job also writes moments.json (moments over
            the run after the warm-up); part of each job's identity for resume.
    """

    def __init__(
        self, progress_seconds: float = 2.0, aggregate: bool = True, measure: Any = None
    ) -> None:
        self.progress_seconds = float(progress_seconds)
        self.aggregate = bool(aggregate)
        self.measure = measure  # read by each job (crowdsim.sweeps.job.job_measure)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Before Hydra creates a single run's folder, writes ``.hydra/`` or opens the log: the
        folder is claimed (:func:`crowdsim.folders.claim`), or the command ends with one line."""
        run_dir = _claim(config, "run", "hydra.run.dir")
        # the folder claimed is the one Hydra writes into (a ${now:...} is not resolved again)
        with read_write(config.hydra.run):
            config.hydra.run.dir = str(run_dir)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        from crowdsim.folders import release

        release(str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from crowdsim.sweeps.folder import (
            SweepFolderTaken,
            check_sweep_folder,
            count_states,
            expand_sweep,
            write_manifest,
        )

        # the folder is this sweep's alone while it runs (a lock), before anything is written
        sweep_dir = _claim(config, "sweep", "hydra.sweep.dir")
        with read_write(config.hydra.sweep):
            config.hydra.sweep.dir = str(sweep_dir)
        try:
            jobs = expand_sweep(config)
        except Exception as exc:  # the sweeper reports bad sweep syntax itself, with context
            jobs = None
            _say(f"could not list the sweep's jobs in advance ({type(exc).__name__}: {exc})")
        # job folders named by job number belong to one grid; named by content (e.g.
        # crowdsim-compare's <scenario>/seed_<k>) they can be shared by different grids
        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
        if jobs is not None and "hydra.job.num" in str(subdir):
            try:
                check_sweep_folder(sweep_dir, jobs)
            except SweepFolderTaken as exc:
                # before anything is written; SystemExit passes through Hydra's error report
                print(
                    f"crowdsim: error: invalid value for option 'hydra.sweep.dir': "
                    f"{str(sweep_dir)!r} holds a different sweep ({exc}) (allowed: a new folder, "
                    "or the same sweep's command to resume it)",
                    file=sys.stderr,
                )
                raise SystemExit(2) from None
        n_jobs = None
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            if jobs is not None:
                write_manifest(sweep_dir, jobs)
        except OSError as exc:  # a full disk: no job could record its result either
            from crowdsim.cli.arguments import exit_on_io_error

            exit_on_io_error("crowdsim", exc, "finished jobs are kept")
        if jobs is not None:
            n_jobs = len(jobs)
            already = count_states(sweep_dir)["ok"]
            if "hydra.job.num" in str(subdir):
                resumed = f", {already} complete already (they will not run again)"
            else:  # folders named by content: other grids' jobs may be there too
                resumed = f", {already} complete job folders in it (not run again if this grid's)"
            resumed = resumed if already else ""
            _say(f"sweep of {n_jobs} jobs -> {sweep_dir}{resumed}")
        if self.progress_seconds > 0:
            stop = threading.Event()
            thread = threading.Thread(
                target=_watch,
                args=(sweep_dir, n_jobs, self.progress_seconds, stop),
                name="crowdsim-sweep-progress",
                daemon=True,
            )
            _PROGRESS[str(sweep_dir)] = (thread, stop)
            thread.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from crowdsim.folders import release

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            self._end(config, sweep_dir)
        finally:
            release(sweep_dir)

    def _end(self, config: DictConfig, sweep_dir: Path) -> None:
        global LAST_SWEEP
        entry = _PROGRESS.pop(str(sweep_dir), None)
        if entry is not None:
            thread, stop = entry
            stop.set()
            thread.join(timeout=10)
        if not self.aggregate:
            return
        from crowdsim.sweeps.aggregate import aggregate

        try:
            out = aggregate(sweep_dir)
        except Exception as exc:  # a failed aggregation must not hide the jobs' results
            _say(
                f"could not aggregate {sweep_dir}: {type(exc).__name__}: {exc} "
                f"(run `crowdsim-aggregate {sweep_dir}` to retry)"
            )
            from crowdsim.sweeps.folder import count_states

            counts = count_states(sweep_dir)
            LAST_SWEEP = {"sweep_dir": str(sweep_dir), "error": str(exc)} | counts
            LAST_SWEEP["n_jobs"] = sum(counts.values())
            return
        LAST_SWEEP = {"sweep_dir": str(sweep_dir)} | out.counts
        _say(out.describe())


def _claim(config: DictConfig, kind: str, option: str) -> Path:
    """Claim the folder ``option`` names for this run or sweep (:mod:`crowdsim.folders`); a
    folder crowdsim may not write into ends the command with one line and exit status 2, before
    anything is written (SystemExit passes through Hydra's error report)."""
    from crowdsim.folders import FolderRefused, claim

    folder = str(OmegaConf.select(config, option))
    try:
        return claim(folder, kind)
    except FolderRefused as exc:
        print(f"crowdsim: error: invalid value for option '{option}': {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        from crowdsim.cli.arguments import exit_on_io_error

        exit_on_io_error("crowdsim", exc, "nothing was written")
        raise


def _watch(sweep_dir: Path, n_jobs: int | None, every: float, stop: threading.Event) -> None:
    """Print the number of finished jobs each time it changes, until ``stop`` is set."""
    from crowdsim.sweeps.folder import count_states

    last = None
    start = time.monotonic()
    kept: dict = {}  # each job's state while its files are unchanged (count_states)
    while True:
        stopping = stop.wait(every)
        try:
            counts = count_states(sweep_dir, kept)
        except OSError:
            counts = None
        if counts is not None:
            finished = counts["ok"] + counts["failed"]
            if finished != last:
                last = finished
                total = f"/{n_jobs}" if n_jobs is not None else ""
                failed = f", {counts['failed']} failed" if counts["failed"] else ""
                _say(f"{finished}{total} jobs finished{failed} ({time.monotonic() - start:.0f} s)")
        if stopping:
            return
