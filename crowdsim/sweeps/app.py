"""The ``crowdsim`` command: a Hydra app that runs one configuration (or a sweep with ``-m``).

Its job is :func:`crowdsim.sweeps.job.run_job`, in whatever process or node the launcher runs
it. Before Hydra starts (and creates any output folder), the command line is checked
(:mod:`crowdsim.cli.command`): a refused line ends the command with one line naming the option,
the value and what is allowed, and exit status 2; ``--help``, ``--version`` and shell completion
are answered there without importing Hydra or the model. The grid runner
(:mod:`crowdsim.sweeps.grid`) runs every study's simulations through :func:`main`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings

from crowdsim.cli.arguments import NOTHING_KEPT, exit_on_io_error
from crowdsim.cli.command import answered_here, checked
from crowdsim.cli.overrides import CONFIG_DIR, PROG


def _hydra_main():
    """Build the ``@hydra.main`` app (imported only when a run or Hydra's own flags need it)."""
    import hydra
    from omegaconf import DictConfig

    from crowdsim.config import register_configs

    register_configs()

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
    def hydra_main(cfg: DictConfig):
        """Run one configuration into Hydra's output folder: the job is
        :func:`crowdsim.sweeps.job.run_job` (resume from DONE.json for the same config and
        version, FAILED.json for any failure; in a multirun the sweep goes on)."""
        from crowdsim.sweeps.job import run_job

        return run_job(cfg)

    return hydra_main


def _run_app(multirun: bool) -> None:
    """Run the Hydra app. An I/O error (a full disk, a folder gone read-only) met by a single run
    or by Hydra's own bookkeeping (multirun.yaml, a job's .hydra/) ends the command with one line
    naming the file and the OS error, exit status 1, instead of Hydra's traceback; any other
    error is reported by Hydra as before (``HYDRA_FULL_ERROR=1``: every error raised in full)."""
    from hydra._internal.utils import run_and_report

    # on a full disk: a log line that cannot be written is dropped, and so is the error of a log
    # file that cannot be flushed when it is closed, instead of a traceback for each
    logging.raiseExceptions = False
    sys.unraisablehook = _quiet_io_unraisable
    full = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises, so that the error is handled here
    try:
        _hydra_main()()
    except OSError as exc:
        if full == "1":
            raise
        exit_on_io_error(PROG, exc, "finished jobs are kept" if multirun else NOTHING_KEPT)
    except Exception as exc:
        if full == "1":
            raise
        caught = exc

        def again() -> None:
            raise caught

        run_and_report(again)  # Hydra's report (and exit status 1), as without this function
    finally:
        if full is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = full


def _run_interruptible() -> None:
    """A single run whose Ctrl-C ends it cleanly: the run stops between two simulated days (an
    interrupt inside compiled code can crash Python), keeps no partial result, and the command
    ends with one line and exit status 130; a second Ctrl-C ends it at once."""
    import signal

    from crowdsim.run import INTERRUPTED

    line = f"{PROG}: interrupted (Ctrl-C): {NOTHING_KEPT}; run the same command again to redo it"

    def on_sigint(signum, frame) -> None:
        if INTERRUPTED.is_set():
            print(line, file=sys.stderr, flush=True)
            os._exit(130)
        INTERRUPTED.set()

    INTERRUPTED.clear()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        _run_app(False)
    except KeyboardInterrupt:
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_io_unraisable(unraisable) -> None:
    """``sys.unraisablehook``: an OSError met while a file is closed by the garbage collector
    (a log file on a full disk) is dropped; anything else is reported as Python does."""
    if not isinstance(unraisable.exc_value, OSError):
        sys.__unraisablehook__(unraisable)


class _OnceFilter(logging.Filter):
    """Let a logged warning through once: repeats (the same text up to numbers, e.g. submitit's
    "Call #N - Bypassing sacct error" on every poll) are dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, re.sub(r"\d+", "N", record.getMessage()))
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _warn_once() -> None:
    """Each warning once per process, whichever module raises or logs it: a sweep's launcher
    polls its jobs and would repeat the same warning on every poll."""
    warnings.simplefilter("once")
    warnings.simplefilter("ignore", ResourceWarning)  # as by default: files closed by the GC
    os.environ.setdefault("PYTHONWARNINGS", "once")  # launcher processes started from here
    once = _OnceFilter()
    for name in ("submitit", "hydra", "hydra_plugins", "py.warnings"):
        logging.getLogger(name).addFilter(once)


def main(argv: list[str] | None = None, compose_check: bool = True) -> None:
    """The ``crowdsim`` command. ``compose_check=False`` (for grids that crowdsim's own studies
    build from options they validated) checks each override's syntax, key and code but does not
    compose every combination first: a job whose values are refused fails alone
    (:func:`crowdsim.cli.command.checked`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if answered_here(argv):
        return
    from crowdsim.cli import compose
    from crowdsim.sweeps import callback

    compose.install()  # each shape of config composed once in this process (crowdsim/cli/compose.py)
    overrides, multirun = checked(argv, compose_check)
    _warn_once()
    callback.LAST_SWEEP = None
    # Hydra's parser takes its flags before the overrides (`KEY=V --config-dir D KEY=V` fails)
    flags = list(argv)
    for o in overrides:
        flags.remove(o)
    sys.argv = [PROG, *flags, *overrides]  # Hydra names the job (and its log file) after argv[0]
    if multirun or threading.current_thread() is not threading.main_thread():
        _run_app(multirun)
    else:
        _run_interruptible()
    outcome = callback.LAST_SWEEP
    if multirun and outcome and (outcome.get("failed") or outcome.get("missing")):
        parts = [f"{outcome[k]} {k}" for k in ("failed", "missing") if outcome.get(k)]
        print(
            f"{PROG}: {' and '.join(parts)} of {outcome['n_jobs']} jobs; their rows in "
            f"{outcome['sweep_dir']}/sweep.parquet (status, error) and FAILED.json files say why "
            "(run the same command again to retry them)",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
