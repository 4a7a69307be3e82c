"""One job of a sweep: what every launcher runs, in whatever process or node it runs it.

:func:`run_job` is the body of the ``crowdsim`` Hydra app and of every simulation that
``crowdsim-compare``, ``-calibrate``, ``-validate`` and ``-sensitivity`` hand to a launcher
(:mod:`crowdsim.sweeps.grid`). For the job's folder (``hydra.runtime.output_dir``) it:

1. returns the stored summary without simulating when DONE.json there was written for the same
   job (:func:`completed_summary`: config SHA-256, crowdsim version);
2. otherwise removes stale markers, simulates and writes the results (DONE.json last);
3. records any failure, in the simulation or in writing its results (a full disk, a read-only
   folder), as FAILED.json. In a multirun the sweep goes on and the failure is a row of
   sweep.parquet; in a single run the error propagates.

A job folder's state is read from its marker files, each written atomically, by one rule that
resume, aggregation and the launchers share (:func:`read_done`, :func:`stale_reason`,
:func:`job_status`):

- ``DONE.json``: the job completed; written last, after every result file. It records the
  SHA-256 of the job's identity (:func:`job_identity`: its resolved config and the measurement
  it was asked for), so a sweep re-run into the same folder skips the job only if its
  configuration (and the crowdsim version) is unchanged.
- ``FAILED.json``: the simulation raised; records the error type, message and traceback.
- neither: the job never started, is running, or was killed.

A job may also *measure* a run (``measure``: moments over a window after a warm-up, for
calibration, validation and sensitivity): it then writes ``moments.json`` beside the results,
and the measurement is part of the job's identity.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from crowdsim.files import atomic_write_text, read_json
from crowdsim.run import DONE_FILE, config_digest, git_revision

log = logging.getLogger(__name__)
MOMENTS_FILE = "moments.json"
FAILED_FILE = "FAILED.json"


# --- a job's markers and the resume rule ---------------------------------------------------------------------------------


def read_done(job_dir: str | Path) -> dict | None:
    """DONE.json of ``job_dir`` if it marks a complete job, else None.

    The one rule that resume and aggregation share: a job is complete when DONE.json parses as a
    JSON object with status ``ok`` and a ``config_sha256``, and summary.json is readable. A
    truncated or corrupt DONE.json (or summary.json) means the job is not complete: aggregation
    counts it ``missing`` and a resumed sweep runs it again.
    """
    job_dir = Path(job_dir)
    done = read_json(job_dir / DONE_FILE)
    if not done or done.get("status") != "ok" or not isinstance(done.get("config_sha256"), str):
        return None
    if read_json(job_dir / "summary.json") is None:
        return None
    return done


def completed_summary(job_dir: str | Path, resolved_config: dict) -> dict | None:
    """The stored summary if ``job_dir`` already completed this exact configuration, else None.

    Complete means :func:`read_done`, and DONE.json was written for the same resolved config
    (SHA-256) by the same crowdsim version (:func:`stale_reason`).
    """
    job_dir = Path(job_dir)
    done = read_done(job_dir)
    if done is None or stale_reason(done, resolved_config) is not None:
        return None
    return read_json(job_dir / "summary.json")


STALE = "stale: DONE.json was written for another {}; the same sweep run again redoes the job"


def stale_reason(done: dict, resolved_config: dict) -> str | None:
    """Why a complete DONE.json does not mark ``resolved_config`` as done (None: it does): the
    rule by which a resumed sweep runs a job again, and aggregation counts it as not done."""
    import crowdsim

    if done.get("config_sha256") != config_digest(resolved_config):
        return STALE.format("configuration")
    if done.get("crowdsim_version") != crowdsim.__version__:
        return STALE.format(f"crowdsim version ({done.get('crowdsim_version')})")
    return None


def job_identity_on_disk(job_dir: str | Path) -> dict | None:
    """The identity a job folder's own Hydra config gives the job (what its DONE.json must have
    been written for: :func:`job_identity`), from ``.hydra/config.yaml``
    and ``.hydra/hydra.yaml``; None when they are missing or cannot be read."""
    from omegaconf import OmegaConf

    hydra_dir = Path(job_dir) / ".hydra"
    files = (hydra_dir / "config.yaml", hydra_dir / "hydra.yaml")
    try:
        key = (str(hydra_dir), *(f.stat().st_mtime_ns for f in files))
    except OSError:
        return None
    if key not in _IDENTITIES:  # read once: a sweep's progress counts its jobs every few seconds
        try:
            container = OmegaConf.to_container(OmegaConf.load(files[0]), resolve=True)
            identity = job_identity(container, job_measure(OmegaConf.load(files[1]).hydra))
        except Exception:  # unreadable, or not resolvable outside the job: not known
            identity = None
        _IDENTITIES[key] = identity
    return _IDENTITIES[key]


_IDENTITIES: dict[tuple, dict | None] = {}


# temporary files of atomic writes (crowdsim.files.atomic_write) older than this were left by a
# killed process: no write takes that long
STALE_TMP_SECONDS = 300.0


def remove_stale_tmp(folder: str | Path, recursive: bool = False) -> int:
    """Delete hidden ``.*.tmp`` files of atomic writes left in ``folder`` by a killed process
    (older than :data:`STALE_TMP_SECONDS`); return how many were removed."""
    folder = Path(folder)
    now = time.time()
    removed = 0
    for path in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        try:
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def clear_markers(job_dir: str | Path) -> None:
    """Remove DONE.json and FAILED.json left by an earlier run of a different configuration, and
    temporary files a killed run left behind. A folder in a marker's place is not crowdsim's
    (it writes files there): it is not deleted, and the job fails when it writes its marker."""
    for name in (DONE_FILE, FAILED_FILE):
        path = Path(job_dir) / name
        try:
            if not os.path.isdir(path) or os.path.islink(path):
                os.unlink(path)
        except FileNotFoundError:
            pass
    if Path(job_dir).is_dir():
        remove_stale_tmp(job_dir)


def job_provenance(hydra_cfg: Any) -> dict:
    """Where and how a Hydra job ran: its overrides, job number and id, launcher, host."""
    from omegaconf import OmegaConf

    job = hydra_cfg.job
    launcher = OmegaConf.select(hydra_cfg, "launcher._target_", default=None)
    return {
        "overrides": list(OmegaConf.to_container(hydra_cfg.overrides.task)),
        "job_num": OmegaConf.select(job, "num", default=None),
        "job_id": OmegaConf.select(job, "id", default=None),
        "launcher": launcher.rsplit(".", 1)[-1] if launcher else None,
        "git_dirty": git_dirty(),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
    }


def git_dirty() -> bool | None:
    """Whether tracked files of crowdsim's git checkout differ from its revision (None: not a checkout)."""
    from crowdsim.run import run_git

    out = run_git("status", "--porcelain", "--untracked-files=no")  # a fixed environment
    if out is None or out.returncode != 0:
        return None
    return bool(out.stdout.strip())


def write_failure(
    job_dir: str | Path, exc: BaseException, resolved_config: dict, provenance: dict
) -> Path:
    """Record a job that raised: FAILED.json with the error, config hash and provenance."""
    import crowdsim

    path = Path(job_dir) / FAILED_FILE
    record = {
        "status": "failed",
        "error_type": type(exc).__name__,
        "error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc)),
        "seed": resolved_config.get("seed"),
        "scenario": resolved_config.get("scenario_name"),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
        "config_sha256": config_digest(resolved_config),
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    } | provenance
    atomic_write_text(path, json.dumps(record, indent=2, default=str))
    return path


def job_state(job_dir: str | Path) -> str:
    """'ok' (a complete job, :func:`read_done`, for the job's own config), 'failed' (FAILED.json)
    or 'missing' (neither); when both markers are there the newer wins."""
    return job_status(job_dir)[0]


def job_status(job_dir: str | Path) -> tuple[str, str | None]:
    """:func:`job_state` and, for a job not counted ok although its DONE.json is complete, why
    (:func:`stale_reason`, against the config in the job's ``.hydra/``): the rule of resume."""
    job_dir = Path(job_dir)
    times = {}
    markers = (("ok", DONE_FILE), ("failed", FAILED_FILE))
    for status, name in markers:
        try:
            times[status] = (job_dir / name).stat().st_mtime_ns
        except FileNotFoundError:
            pass
    note = None
    if "ok" in times:
        done = read_done(job_dir)
        identity = job_identity_on_disk(job_dir) if done is not None else None
        note = stale_reason(done, identity) if identity is not None else None
        if done is None or note is not None:
            del times["ok"]
    if "failed" in times and read_json(job_dir / FAILED_FILE) is None:
        del times["failed"]
    state = max(times, key=times.get) if times else "missing"
    return state, note if state == "missing" else None


# --- running a job -----------------------------------------------------------------------------


def _money(value: Any) -> str:
    return "n/a" if value is None else f"${value:.2f}/h"


def _share(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def describe(summary: dict) -> str:
    """The one-line result of a run printed by the ``crowdsim`` command (n/a where no data)."""
    return (
        f"median all-in wage {_money(summary.get('wage_median_all_in'))}, "
        f"mean {_money(summary.get('wage_mean_all_in'))}, "
        f"above $7.25: {_share(summary.get('share_above_7_25'))}, "
        f"unpaid time {_share(summary.get('unpaid_time_share'))}"
    )


def job_measure(hydra_cfg: Any) -> dict | None:
    """The measurement a sweep asks of each job, from its Hydra config
    (``hydra.callbacks.sweep_results.measure``: ``{warmup_days, moments}``), or None."""
    from omegaconf import OmegaConf

    node = OmegaConf.select(hydra_cfg, "callbacks.sweep_results.measure", default=None)
    if node is None:
        return None
    measure = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return {"warmup_days": float(measure["warmup_days"]), "moments": list(measure["moments"])}


def job_identity(container: dict, measure: dict | None) -> dict:
    """What a job's DONE.json must match for the job to count as done: its resolved config, and
    the measurement it was asked for (if any)."""
    return container if not measure else container | {"_measure": measure}


def run_job(cfg: Any, measure: dict | None = None) -> Any:
    """Run one Hydra job (``cfg`` is the job's config; Hydra's runtime config is set).

    Args:
        cfg: the job's config, as Hydra hands it to the task function.
        measure: ``{"warmup_days": float, "moments": [names]}`` to also write moments.json
            (default: what the sweep asks, :func:`job_measure`).

    Returns:
        The median all-in wage of the run (Hydra's return value; the results are on disk), or
        None when the job failed.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    logging.getLogger("MESA").setLevel(logging.WARNING)
    # a log line that cannot be written (full disk) is dropped, not printed with a traceback
    logging.raiseExceptions = False
    hc = HydraConfig.get()
    out_dir = hc.runtime.output_dir
    multirun = hc.mode == RunMode.MULTIRUN
    container = OmegaConf.to_container(cfg, resolve=True)
    if measure is None:
        measure = job_measure(hc)
    identity = job_identity(container, measure)
    tag = f"job {hc.job.num}: " if multirun else ""
    reform = hc.runtime.choices.get("reform")
    sim = container.get("sim") or {}

    def label(summary: dict) -> str:
        """The run's name in the log: a run with a reform is named by it (a short run of
        crowdsim-compare: ``to_min_pay seed=1 (status_quo until day 42)``)."""
        if reform and reform != "null":
            since = f" until day {sim.get('reform_day'):g}" if sim.get("reform_day") else ""
            return f"{reform} seed={summary.get('seed')} ({summary.get('scenario')}{since})"
        return f"{summary.get('scenario')} seed={summary.get('seed')}"

    stored = completed_summary(out_dir, identity)
    if stored is not None and (not measure or (Path(out_dir) / MOMENTS_FILE).is_file()):
        log.info("complete already (DONE.json for the same config): not simulated again")
        print(f"[{tag}{label(stored)}] complete already, skipped -> {out_dir}")
        return stored.get("wage_median_all_in")
    clear_markers(out_dir)
    provenance = job_provenance(hc)
    log.info(
        "simulating %s",
        label({"scenario": container.get("scenario_name"), "seed": container.get("seed")}),
    )
    try:
        summary = _simulate_and_write(
            cfg, container, identity, out_dir, provenance, measure, progress=not multirun,
            # shared warm-ups (sim.share_warmup) live in the sweep's own folder
            warmup_dir=Path(hc.sweep.dir) / WARMUP_DIR if multirun else None,
        )  # fmt: skip
    except KeyboardInterrupt:
        _remove_partial_results(out_dir)
        raise
    except Exception as exc:
        _remove_partial_results(out_dir)  # no use without DONE.json; frees a full disk
        try:
            write_failure(out_dir, exc, identity, provenance)
        except OSError as write_exc:  # the folder itself cannot be written: say so in the log
            log.error("%scould not write FAILED.json: %s", tag, write_exc)
        if not multirun:
            from crowdsim.checkpoint import CheckpointError

            if isinstance(exc, CheckpointError):  # one line, exit 2: the input is refused
                from crowdsim.cli.overrides import PROG

                print(f"{PROG}: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
            if isinstance(exc, OSError):  # one line, not Hydra's report of a failed job
                from crowdsim.cli.arguments import NOTHING_KEPT, exit_on_io_error
                from crowdsim.cli.overrides import PROG

                exit_on_io_error(PROG, exc, NOTHING_KEPT)
            raise
        # one line here; the traceback is in FAILED.json
        log.error(
            "%sFAILED %s: %s -> %s (the sweep goes on)", tag, type(exc).__name__, exc, out_dir
        )
        return None
    if not multirun:  # a single run's tables also for R and Stata (a sweep's: crowdsim-export)
        _export_for_r_and_stata(out_dir)
    print(f"[{tag}{label(summary)}] {describe(summary)} -> {out_dir}")
    return summary.get("wage_median_all_in")


def _export_for_r_and_stata(out_dir: str | Path) -> None:
    """CSV copies of a single run's tables in ``OUT/r_stata/`` (:mod:`crowdsim.export`). Not for
    a sweep's jobs: at 20,000 workers the copies cost 0.6 s a job, more than a job's overhead;
    ``crowdsim-export DIR`` writes them for a whole sweep. The run is complete without them: a
    failure to write them is logged, not fatal."""
    from crowdsim.export import export_folder

    try:
        export_folder(out_dir, ["csv"])
    except OSError as exc:
        log.warning("the CSV copies for R and Stata were not written: %s", exc)


def _simulate_and_write(
    cfg: Any,
    container: dict,
    identity: dict,
    out_dir: str,
    provenance: dict,
    measure: dict | None,
    progress: bool = False,
    warmup_dir: Path | None = None,
) -> dict:
    from crowdsim.files import atomic_write_text
    from crowdsim.run import config_digest, run, write_results

    if measure:
        from crowdsim.moments import compute_moments, simulate

        measured = simulate(cfg, warmup_days=float(measure["warmup_days"]))
        res = measured.results
        moments = compute_moments(measured, list(measure["moments"]))
        text = json.dumps({k: _finite_or_none(v) for k, v in moments.items()}, indent=1)
        atomic_write_text(Path(out_dir) / MOMENTS_FILE, text)
    else:
        # a bar on the terminal for a single long run; resumes from the job's own checkpoints
        res = run(
            cfg,
            progress=progress,
            checkpoint_dir=Path(out_dir) / CHECKPOINT_DIR,
            warmup_dir=warmup_dir,
        )
    provenance = provenance | {"config_sha256": config_digest(identity)}
    write_results(res, out_dir, resolved_config=container, provenance=provenance)
    _remove_checkpoints(out_dir)  # the job is complete (DONE.json): they are of no more use
    return res.summary


CHECKPOINT_DIR = "checkpoints"  # a job's checkpoints (sim.checkpoint_days), in its folder
WARMUP_DIR = "warmups"  # a sweep's shared warm-ups (sim.share_warmup), in the sweep's folder


def _remove_checkpoints(out_dir: str | Path) -> None:
    """Delete the checkpoints crowdsim wrote in a job's folder (only files named as it names
    them, never through a symlink), then the folder if it is empty."""
    from crowdsim.checkpoint import latest

    folder = Path(out_dir) / CHECKPOINT_DIR
    if folder.is_symlink() or not folder.is_dir():
        return
    for path in latest(folder):
        path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else is in it: left alone


RESULT_FILES = (
    "timeseries.parquet",
    "workers.parquet",
    "requesters.parquet",
    "config.yaml",
    "provenance.json",
    "summary.json",
    MOMENTS_FILE,
)


def _remove_partial_results(out_dir: str | Path) -> None:
    """Delete the result files a failed attempt wrote (the job's DONE.json was never written):
    only those this process wrote (:data:`crowdsim.files.WRITTEN`), never a file of the same name
    it did not."""
    import os

    from crowdsim.files import WRITTEN

    for name in RESULT_FILES:
        path = os.path.abspath(Path(out_dir) / name)
        if path not in WRITTEN:
            continue
        WRITTEN.discard(path)
        try:
            os.unlink(path)
        except OSError:
            pass


def _finite_or_none(value: Any) -> float | None:
    import math

    v = float(value)
    return v if math.isfinite(v) else None


def read_moments(job_dir: str | Path) -> dict[str, float]:
    """A measured job's moments (NaN where the run could not produce one)."""
    data = json.loads((Path(job_dir) / MOMENTS_FILE).read_text())
    return {k: float("nan") if v is None else float(v) for k, v in data.items()}
