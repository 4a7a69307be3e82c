"""Sweep bookkeeping shared by the Hydra app, the multirun callback and ``crowdsim-aggregate``.

A sweep folder (``hydra.sweep.dir``) holds one folder per job plus ``sweep_jobs.json``, the list
of every job the sweep asked for (written when the multirun starts). A job folder's state is read
from marker files, each written atomically:

- ``DONE.json``: the job completed; written last, after every result file. It records the
  SHA-256 of the resolved config, so a sweep re-run into the same folder skips the job only if
  its configuration (and the crowdsim version) is unchanged.
- ``FAILED.json``: the simulation raised; records the error type, message and traceback.
- neither: the job never started, is running, or was killed.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from crowdsim.run import DONE_FILE, atomic_write_text, config_digest, git_revision

FAILED_FILE = "FAILED.json"
MANIFEST_FILE = "sweep_jobs.json"
# written by the aggregation into the sweep folder; never job folders
SWEEP_TABLE = "sweep.parquet"
SUMMARY_TABLE = "sweep_summary.parquet"
SUMMARY_CSV = "sweep_summary.csv"


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None if it is missing or unreadable."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- one job ---------------------------------------------------------------------------------


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
    been written for: :func:`crowdsim.experiments.jobs.job_identity`), from ``.hydra/config.yaml``
    and ``.hydra/hydra.yaml``; None when they are missing or cannot be read."""
    from omegaconf import OmegaConf

    from crowdsim.experiments.jobs import job_identity, job_measure

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


# temporary files of atomic writes (crowdsim.run.atomic_write) older than this were left by a
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


# --- a whole sweep ---------------------------------------------------------------------------


def find_job_dirs(sweep_dir: str | Path) -> list[Path]:
    """Job folders under ``sweep_dir``: folders holding ``.hydra/``, whatever ``hydra.sweep.subdir`` is."""
    found = []
    for root, dirs, _files in os.walk(sweep_dir):
        if ".hydra" in dirs and Path(root) != Path(sweep_dir):
            found.append(Path(root))
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> tuple:
    parts = path.parts
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def expand_sweep(config: Any) -> list[list[str]] | None:
    """Every job's overrides, in job-number order, as Hydra's basic sweeper will launch them.

    Uses the sweeper's own expansion (``hydra.sweeper.params`` then the command line, the latter
    winning on a shared key). Returns None for sweepers other than the basic one (e.g. Optuna),
    whose jobs are not known in advance.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if not target.endswith(".BasicSweeper"):
        return None
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))
    gh = GlobalHydra.instance()
    loader = gh.config_loader() if gh.is_initialized() else None
    parser = OverridesParser.create(config_loader=loader)
    batches = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)
    return [list(job) for job in batches[0]]


def sweep_identity(jobs: list[list[str]]) -> str:
    """SHA-256 naming a sweep: its set of jobs (each a set of overrides) and the crowdsim version.

    Job order and the launcher are not part of it: the same grid resumed on another launcher is
    the same sweep."""
    import hashlib

    import crowdsim

    record = {
        "jobs": sorted(sorted(job) for job in jobs),
        "crowdsim_version": crowdsim.__version__,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


class SweepFolderTaken(Exception):
    """The sweep folder already belongs to a different sweep."""


def check_sweep_folder(sweep_dir: str | Path, jobs: list[list[str]]) -> None:
    """Raise :class:`SweepFolderTaken` if ``sweep_dir`` holds the manifest of a different sweep
    (other jobs, or another crowdsim version); a folder without a manifest is free."""
    data = read_json(Path(sweep_dir) / MANIFEST_FILE)
    if not data:
        return
    theirs = data.get("identity")
    if theirs is None:  # written before identities were recorded: compare the job lists
        old = read_manifest(sweep_dir) or []
        theirs = sweep_identity(old) if data.get("crowdsim_version") else None
        if theirs is None or sorted(map(sorted, old)) == sorted(map(sorted, jobs)):
            return
    if theirs != sweep_identity(jobs):
        first = " ".join(data["jobs"][0]["overrides"]) if data.get("jobs") else ""
        raise SweepFolderTaken(
            f"{data.get('n_jobs', '?')} jobs of crowdsim {data.get('crowdsim_version', '?')}, "
            f"started {data.get('started_at') or data.get('written_at', '?')}"
            + (f", job 0: {first}" if first else "")
        )


def write_manifest(
    sweep_dir: str | Path, jobs: list[list[str]], command: list[str] | None = None
) -> Path:
    """Write ``sweep_jobs.json``: the sweep's identity, the number of jobs and each job's
    overrides, by job number. A resumed sweep keeps the time it was first started."""
    import crowdsim

    path = Path(sweep_dir) / MANIFEST_FILE
    before = read_json(path) or {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record = {
        "identity": sweep_identity(jobs),
        "n_jobs": len(jobs),
        "jobs": [{"num": i, "overrides": list(o)} for i, o in enumerate(jobs)],
        "command": command if command is not None else sys.argv[1:],
        "crowdsim_version": crowdsim.__version__,
        "started_at": before.get("started_at") or before.get("written_at") or now,
        "written_at": now,
    }
    atomic_write_text(path, json.dumps(record, indent=1))
    return path


def read_manifest(sweep_dir: str | Path) -> list[list[str]] | None:
    """Each job's overrides from ``sweep_jobs.json``, or None if the sweep has no manifest."""
    data = read_json(Path(sweep_dir) / MANIFEST_FILE)
    if not data or not isinstance(data.get("jobs"), list):
        return None
    return [
        list(j.get("overrides", [])) for j in sorted(data["jobs"], key=lambda j: j.get("num", 0))
    ]


def count_states(sweep_dir: str | Path, kept: dict | None = None) -> dict[str, int]:
    """How many job folders are ok, failed or missing (not finished) right now.

    ``kept`` (a dict the caller keeps between counts, as a sweep's progress does every few
    seconds) holds each job's state with the :func:`_signature` of the files it was read from,
    and a job is read again only when one of them changed: reading every finished job's
    DONE.json and summary.json at each count made a count cost ~0.3 ms a finished job, so the
    progress of a 1,000-job sweep cost more the further it went. A display only: resuming and
    aggregating read each job's files (:func:`job_status`)."""
    counts = {"ok": 0, "failed": 0, "missing": 0}
    for d in find_job_dirs(sweep_dir):
        if kept is None:
            counts[job_state(d)] += 1
            continue
        sig = _signature(d)
        entry = kept.get(d)
        if entry is None or entry[0] != sig:
            entry = kept[d] = (sig, job_state(d))
        counts[entry[1]] += 1
    return counts


def _signature(job_dir: Path) -> tuple:
    """Inode, modification time and size of each file :func:`job_status` reads (None where a
    file is missing)."""
    sig = []
    for name in (DONE_FILE, FAILED_FILE, "summary.json", ".hydra/config.yaml", ".hydra/hydra.yaml"):
        try:
            st = os.stat(job_dir / name)
            sig.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            sig.append(None)
    return tuple(sig)
