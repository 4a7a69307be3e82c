"""A sweep folder: its job folders, its manifest and its identity.

A sweep folder (``hydra.sweep.dir``) holds one folder per job plus ``sweep_jobs.json``, the list
of every job the sweep asked for (written when the multirun starts), and the tables the
aggregation writes at its end (``sweep.parquet``, ``sweep_summary.parquet`` / ``.csv``). A job
folder's state is read from its markers (:mod:`crowdsim.sweeps.job`); the manifest names the
sweep, so that a folder is resumed only by the same sweep.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from crowdsim.files import atomic_write_text, read_json
from crowdsim.run import DONE_FILE
from crowdsim.sweeps.job import FAILED_FILE, job_state

MANIFEST_FILE = "sweep_jobs.json"
# written by the aggregation into the sweep folder; never job folders
SWEEP_TABLE = "sweep.parquet"
SUMMARY_TABLE = "sweep_summary.parquet"
SUMMARY_CSV = "sweep_summary.csv"


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
