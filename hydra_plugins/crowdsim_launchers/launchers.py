"""crowdsim's Hydra launchers: the submitit (Slurm, local) and Ray launchers, plus two rules.

``crowdsim/conf/hydra/launcher/{slurm,local_submitit,ray_cluster}.yaml`` point at these classes;
they take every option of the plugin they extend (hydra-submitit-launcher, hydra-ray-launcher)
and add:

- **Only unfinished jobs are submitted.** Before submitting, each job's folder is checked with
  the rule the job itself applies (:func:`crowdsim.sweeps.job.completed_summary`: DONE.json
  for the same config and crowdsim version); a resumed sweep sends the scheduler only the jobs
  that did not finish.
- **Scheduler faults are results.** A job that ends without a result because the scheduler
  stopped it (Slurm: cancelled, time limit, out of memory, node failure; Ray: a lost worker or
  node) is recorded in its folder as FAILED.json with the scheduler's reason (e.g. ``Slurm job
  41_3 ended TIMEOUT``), and the sweep goes on: ``sweep.parquet`` is written with that row marked
  and ``crowdsim`` exits with status 1 and one line.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)

# Slurm states (sacct) -> the error type recorded in FAILED.json
SCHEDULER_ERRORS = {
    "CANCELLED": "JobCancelled",
    "TIMEOUT": "JobTimeout",
    "OUT_OF_MEMORY": "JobOutOfMemory",
    "NODE_FAIL": "NodeFailure",
    "PREEMPTED": "JobPreempted",
    "BOOT_FAIL": "NodeFailure",
    "DEADLINE": "JobTimeout",
    "FAILED": "JobFailed",
}


def job_folder(hydra_context: Any, sweep_config: DictConfig, overrides: list[str], num: int):
    """The folder and identity (resolved config) of job ``num`` of a sweep, as the job will see them."""
    from hydra.core.hydra_config import HydraConfig

    config = hydra_context.config_loader.load_sweep_config(sweep_config, list(overrides))
    with open_dict(config.hydra.job):
        config.hydra.job.num = num
        config.hydra.job.id = f"job_id_for_{num}"
    before = HydraConfig.instance().cfg
    try:
        return folder_and_identity(config)
    finally:
        if before is not None:
            HydraConfig.instance().set_config(before)


def folder_and_identity(config: DictConfig) -> tuple[Path, dict]:
    """A job config's folder and identity: its resolved task config, plus the measurement the
    sweep asks for, if any (sets Hydra's runtime config to it)."""
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(config)
    folder = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
    from crowdsim.sweeps.job import job_identity, job_measure

    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return folder, job_identity(
        OmegaConf.to_container(task, resolve=True), job_measure(config.hydra)
    )


def prepare_sweep(launcher: Any) -> Path:
    """What every launcher does first: Hydra's globals and logging, the sweep folder."""
    from hydra.core.utils import configure_log, setup_globals

    setup_globals()
    assert launcher.config is not None and launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    return sweep_dir


def split_finished(
    hydra_context: Any, sweep_config: DictConfig, job_overrides: Sequence[Sequence[str]], first: int
) -> tuple[list[tuple[int, list[str], Path, dict]], list[tuple[int, list[str]]]]:
    """Jobs still to run (number, overrides, folder, resolved config) and jobs complete already."""
    from crowdsim.sweeps.job import completed_summary

    todo, finished = [], []
    for i, overrides in enumerate(job_overrides):
        num = first + i
        folder, resolved = job_folder(hydra_context, sweep_config, list(overrides), num)
        if completed_summary(folder, resolved) is not None:
            finished.append((num, list(overrides)))
        else:
            todo.append((num, list(overrides), folder, resolved))
    if finished:
        log.info(
            "%d of %d jobs complete already (DONE.json for the same config): not submitted",
            len(finished),
            len(job_overrides),
        )
    return todo, finished


def record_scheduler_fault(
    folder: Path, resolved: dict, overrides: list[str], num: int, error_type: str, message: str
) -> None:
    """FAILED.json for a job the scheduler ended without a result (unless the job completed)."""
    import crowdsim
    from crowdsim.files import atomic_write_text
    from crowdsim.run import config_digest, git_revision
    from crowdsim.sweeps.job import FAILED_FILE, read_done

    if read_done(folder) is not None:
        return
    import json

    record = {
        "status": "failed",
        "error_type": error_type,
        "error": message,
        "traceback": None,
        "seed": resolved.get("seed"),
        "scenario": resolved.get("scenario_name"),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
        "config_sha256": config_digest(resolved),
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "overrides": overrides,
        "job_num": num,
        "scheduler_fault": True,
    }
    _write_overrides(folder, overrides)  # a job the scheduler ended may never have started
    atomic_write_text(folder / FAILED_FILE, json.dumps(record, indent=2, default=str))
    log.error("job %d: FAILED %s: %s -> %s (the sweep goes on)", num, error_type, message, folder)


def _returns(job_overrides, first: int, done: dict[int, JobReturn]) -> list[JobReturn]:
    """One JobReturn per job, in order; jobs not run here (complete already, or ended by the
    scheduler) return None: their results are in their folders."""
    out = []
    for i, overrides in enumerate(job_overrides):
        ret = done.get(first + i)
        if ret is None or ret.status != JobStatus.COMPLETED:
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = None
        out.append(ret)
    return out


def guarded_run_job(hydra_context: Any, task_function: Any, config: DictConfig) -> JobReturn:
    """Hydra's ``run_job`` for one job of a sweep, with any failure of Hydra's own bookkeeping
    (saving the job's config, opening its log: a full disk, a read-only folder) recorded as the
    job's FAILED.json instead of ending the whole sweep. Failures inside the task function are
    recorded by the task (:func:`crowdsim.sweeps.job.run_job`)."""
    from hydra.core.utils import run_job

    from crowdsim.folders import FolderRefused, check_job_folder

    try:
        # no symbolic link on the way to the job's folder nor in it: Hydra's .hydra/ files and
        # log, and the job's results, are written through none (crowdsim.folders)
        check_job_folder(
            Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir),
            str(config.hydra.sweep.dir),
        )
    except FolderRefused as exc:  # nothing is written there, FAILED.json neither
        log.error("job %s: FAILED, not run: %s (the sweep goes on)", config.hydra.job.num, exc)
        ret = JobReturn(overrides=list(config.hydra.overrides.task), status=JobStatus.COMPLETED)
        ret.return_value = None
        return ret
    try:
        return run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except Exception as exc:  # noqa: BLE001 - recorded as the job's result
        from crowdsim.sweeps.job import write_failure

        overrides = list(OmegaConf.to_container(config.hydra.overrides.task))
        num = int(config.hydra.job.num)
        folder, resolved = folder_and_identity(config)
        try:
            _write_overrides(folder, overrides)
            write_failure(folder, exc, resolved, {"overrides": overrides, "job_num": num})
        except OSError as write_exc:
            log.error("job %d: could not record its failure in %s: %s", num, folder, write_exc)
        log.error(
            "job %d: FAILED %s: %s -> %s (the sweep goes on)", num, type(exc).__name__, exc, folder
        )
        ret = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        ret.return_value = None
        return ret


def _write_overrides(folder: Path, overrides: list[str]) -> None:
    """.hydra/overrides.yaml, which Hydra writes when a job starts (aggregation reads it)."""
    from crowdsim.files import atomic_write_text

    path = folder / ".hydra" / "overrides.yaml"
    if not path.is_file():
        atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.create(overrides)))


def _submitit_state(job: Any) -> str:
    try:
        return str(job.state)
    except Exception:  # noqa: BLE001 - the state is only for the message
        return "UNKNOWN"


def _scheduler_error(state: str) -> tuple[str, str]:
    """(error type, state word) for a scheduler state such as ``CANCELLED by 0``."""
    key = state.split()[0].rstrip("+") if state else "UNKNOWN"
    error_type = SCHEDULER_ERRORS.get(key, "JobLost")
    return error_type, key


# --- submitit (Slurm, local processes) -----------------------------------------------------------
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (  # noqa: E402
    BaseSubmititLauncher,
)


def submitit_logs_once() -> None:
    """Each submitit message once in the process that submits the jobs: submitit gives its
    logger a stderr handler and a stdout handler of its own and lets records reach the root
    logger too, so every warning (e.g. "Bypassing sacct error" while polling) printed three
    times. Its stderr handler alone is kept here; the jobs' own processes keep submitit's setup
    (their stderr files carry its messages, which :func:`_timed_out` reads)."""
    from submitit.core import logger as submitit_logger

    own = submitit_logger.get_logger()
    for handler in list(own.handlers):
        if handler.get_name() == "submitit_out":
            own.removeHandler(handler)
    if any(h.get_name() == "submitit_err" for h in own.handlers):
        own.propagate = False


class _SubmititLauncher(BaseSubmititLauncher):
    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict,
    ) -> JobReturn:
        import submitit
        from hydra.core.singleton import Singleton
        from hydra.core.utils import setup_globals

        Singleton.set_state(singleton_state)
        setup_globals()
        config = self.hydra_context.config_loader.load_sweep_config(self.config, sweep_overrides)
        with open_dict(config.hydra.job):
            config.hydra.job.id = submitit.JobEnvironment().job_id
            config.hydra.job.num = job_num
        return guarded_run_job(self.hydra_context, self.task_function, config)

    def _executor(self):
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

        init_keys = {"submitit_folder", "max_num_timeout"}
        init = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items()
                if k not in init_keys
            }
        )
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        from hydra.core.singleton import Singleton
        from submitit.core.utils import UncompletedJobError

        assert self.config is not None and self.hydra_context is not None
        submitit_logs_once()
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        todo, _finished = split_finished(
            self.hydra_context, self.config, job_overrides, initial_job_idx
        )
        done: dict[int, JobReturn] = {}
        if todo:
            log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
            params = []
            for num, overrides, _folder, _resolved in todo:
                log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
                params.append(
                    (overrides, "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state())
                )
            jobs = self._executor().map_array(self, *zip(*params, strict=True))
            waiting = {num: (job, rest) for job, (num, *rest) in zip(jobs, todo, strict=True)}
            lost_since: dict[int, float] = {}
            while waiting:
                gone = _vanished(waiting, lost_since) if self._EXECUTOR == "slurm" else set()
                for num, (job, (overrides, folder, resolved)) in list(waiting.items()):
                    if num not in gone and not job.done():
                        continue
                    del waiting[num]
                    try:
                        if num in gone:
                            raise UncompletedJobError("left the queue without a record")
                        done[num] = job.results()[0]
                    except UncompletedJobError as exc:
                        error_type, message = self._fault(job, exc, num in gone)
                        record_scheduler_fault(
                            folder, resolved, overrides, num, error_type, message
                        )
                if waiting:
                    time.sleep(POLL_SECONDS)
        return _returns(job_overrides, initial_job_idx, done)

    def _fault(self, job: Any, exc: Exception, vanished: bool) -> tuple[str, str]:
        """(error type, message) for a job that ended without a result."""
        scheduler = _scheduler_name(self._EXECUTOR)
        if vanished:
            return "JobCancelled", (
                f"{scheduler} job {job.job_id} left the queue before it started "
                "(cancelled while pending; Slurm keeps no accounting record of it)"
            )
        if "failed during processing" in str(exc):  # the job's Python raised outside run_job
            return "JobFailed", (
                f"{scheduler} job {job.job_id} raised outside the simulation (log: {job.paths.stderr})"
            )
        state = _submitit_state(job)
        error_type, key = _scheduler_error(state)
        if _timed_out(job):  # submitit's warning signal before the time limit ended the job
            return "JobTimeout", (
                f"{scheduler} job {job.job_id} reached its time limit "
                f"(timeout_min={self.params.get('timeout_min')}; Slurm state {state or key})"
            )
        return error_type, f"{scheduler} job {job.job_id} ended {state or key}"


POLL_SECONDS = 2.0
# a Slurm task that neither squeue nor sacct knows for this long was cancelled before it started
# (Slurm keeps no accounting record of array tasks cancelled while pending)
VANISHED_SECONDS = 10.0


def _queued(jobs: list[Any]) -> set[str] | None:
    """Ids of those Slurm ``jobs`` that squeue still lists (None if squeue cannot be asked)."""
    import subprocess

    arrays = sorted({str(j.job_id).split("_")[0] for j in jobs})
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


def _vanished(waiting: dict[int, tuple], since: dict[int, float]) -> set[int]:
    """Jobs unknown to both sacct and squeue for VANISHED_SECONDS (cancelled while pending)."""
    unknown = {n: w[0] for n, w in waiting.items() if _submitit_state(w[0]) in ("UNKNOWN", "")}
    for n in set(since) - set(unknown):
        del since[n]
    if not unknown:
        return set()
    queued = _queued(list(unknown.values()))
    if queued is None:
        return set()
    now = time.monotonic()
    gone = set()
    for n, job in unknown.items():
        if str(job.job_id) in queued:
            since.pop(n, None)
        elif now - since.setdefault(n, now) >= VANISHED_SECONDS:
            gone.add(n)
    return gone


def _timed_out(job: Any) -> bool:
    """Whether submitit logged that the job was signalled for its time limit."""
    try:
        return "this job is timed-out" in Path(job.paths.stderr).read_text(errors="replace")
    except OSError:
        return False


def _scheduler_name(executor: str) -> str:
    return {"slurm": "Slurm", "local": "local submitit"}.get(executor, executor)


class SlurmLauncher(_SubmititLauncher):
    """hydra-submitit-launcher's Slurm launcher with crowdsim's resume and fault rules."""

    _EXECUTOR = "slurm"


class LocalLauncher(_SubmititLauncher):
    """hydra-submitit-launcher's local launcher with crowdsim's resume and fault rules."""

    _EXECUTOR = "local"


# --- one after another in this process; joblib -------------------------------------------------
from hydra._internal.core_plugins.basic_launcher import (  # noqa: E402
    BasicLauncher as _HydraBasicLauncher,
)
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import (  # noqa: E402
    JoblibLauncher as _HydraJoblibLauncher,
)


class BasicLauncher(_HydraBasicLauncher):
    """Hydra's basic launcher (jobs one after another in this process); a job whose bookkeeping
    fails is recorded as failed and the next one runs."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        from hydra.core.utils import configure_log

        prepare_sweep(self)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        runs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides)
            )
            with open_dict(config):
                config.hydra.job.id = idx
                config.hydra.job.num = idx
            runs.append(guarded_run_job(self.hydra_context, self.task_function, config))
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs


def _joblib_job(idx, overrides, hydra_context, config, task_function, singleton_state):
    """One joblib job in a worker process (hydra-joblib-launcher's execute_job, guarded)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals

    setup_globals()
    _set_singleton_state(singleton_state)
    _exit_with_parent()
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return guarded_run_job(hydra_context, task_function, sweep_config)


def _set_singleton_state(state: Any) -> None:
    """Hydra's ``Singleton.set_state`` for one more job in the same worker process: the state
    the launcher sent (config store, resolvers), with this process's plugin registry kept
    (``set_state`` discovers every plugin again, ~80 ms a job; the installed plugins do not
    change during a sweep)."""
    from copy import deepcopy

    from hydra.core.plugins import Plugins
    from hydra.core.singleton import Singleton
    from omegaconf.basecontainer import BaseContainer

    plugins = Singleton._instances.get(Plugins)
    if plugins is None:  # the worker's first job: as Hydra does
        Singleton.set_state(state)
        return
    Singleton._instances = dict(state["instances"]) | {Plugins: plugins}
    BaseContainer._resolvers = deepcopy(state["omegaconf_resolvers"])


_WATCHING_PARENT = False
IDLE_WORKER_SECONDS = 5


def _exit_with_parent(parent: int | None = None, every: float = 1.0) -> None:
    """In a worker process: exit as soon as the process that launched the sweep (``parent``, by
    default this process's parent) is gone — at once if it died while the worker was starting
    (a killed launcher must not leave workers simulating, or waiting, for nobody)."""
    import os
    import threading

    global _WATCHING_PARENT
    if _WATCHING_PARENT:
        return
    _WATCHING_PARENT = True
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="crowdsim-exit-with-parent", daemon=True).start()


class JoblibLauncher(_HydraJoblibLauncher):
    """hydra-joblib-launcher (loky processes on this machine's cores), with failures of a job's
    bookkeeping recorded as failed jobs, and workers that exit when the launcher is killed."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        from hydra.core.singleton import Singleton
        from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
        from joblib import Parallel, delayed

        sweep_dir = prepare_sweep(self)
        from joblib._parallel_backends import LokyBackend

        joblib_cfg = self.joblib
        process_joblib_cfg(joblib_cfg)
        log.info(f"Joblib.Parallel({joblib_cfg}) is launching {len(job_overrides)} jobs")
        # loky processes (threads are incompatible with Hydra); each worker watches this process
        # from its start (not only while it runs a job: an idle worker outlived a launcher killed
        # with SIGKILL by many minutes), and one left idle exits after a few seconds
        joblib_cfg["backend"] = LokyBackend(
            idle_worker_timeout=IDLE_WORKER_SECONDS,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        state = Singleton.get_state()
        return Parallel(**joblib_cfg)(
            delayed(_joblib_job)(
                idx, overrides, self.hydra_context, self.config, self.task_function, state
            )
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx)
        )
