"""crowdsim's Ray launcher: hydra-ray-launcher with crowdsim's rules (see ``launchers``).

Defined only where the ``cluster`` extra is installed (``pip install -e '.[cluster]'``). Besides
resuming only unfinished jobs and recording jobs lost with a Ray worker or node as FAILED rows,
it works as shipped both ways Ray runs:

- ``hydra.launcher.ray.init.address=auto`` (or ``ray://...``, ``HOST:6379``): connects to a
  running cluster (``ray start --head``) without the ``object_store_memory`` setting that Ray
  refuses when connecting ("When connecting to an existing cluster, object_store_memory must not
  be provided");
- ``address=null``: starts a local Ray instance (with the plugin's small object store).

Workers get the driver's numba cache folder when it is set (``NUMBA_CACHE_DIR``); otherwise
numba's default, ``__pycache__`` beside crowdsim's modules, which workers on the same machine (or
an installation on a shared file system) read as the driver does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, filter_overrides, setup_globals
from omegaconf import OmegaConf, open_dict

from hydra_plugins.crowdsim_launchers.launchers import (
    _returns,
    guarded_run_job,
    prepare_sweep,
    record_scheduler_fault,
    split_finished,
)

log = logging.getLogger(__name__)
LOCAL_OBJECT_STORE_BYTES = 78643200  # hydra-ray-launcher's default for a local instance

try:
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher as _HydraRayLauncher
except ImportError:  # the cluster extra is not installed
    _HydraRayLauncher = None


def ray_init_options(init: dict) -> dict:
    """ray.init() options: no object store size when connecting to a running cluster."""
    init = dict(init)
    if init.get("address") is None:
        init.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)
    elif init.get("object_store_memory") is None:
        init.pop("object_store_memory", None)
    return init


def _ray_job(hydra_context: Any, config: Any, task_function: Any, singleton_state: Any):
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton

    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(config)
    return guarded_run_job(hydra_context, task_function, config)


if _HydraRayLauncher is not None:

    class RayLauncher(_HydraRayLauncher):
        """hydra-ray-launcher's launcher with crowdsim's resume and fault rules."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
            import ray
            from hydra.core.singleton import Singleton

            sweep_dir = prepare_sweep(self)
            todo, _finished = split_finished(
                self.hydra_context, self.config, job_overrides, initial_job_idx
            )
            done: dict[int, JobReturn] = {}
            if not todo:
                return _returns(job_overrides, initial_job_idx, done)
            if not ray.is_initialized():
                init = ray_init_options(OmegaConf.to_container(self.ray_cfg.init, resolve=True))
                if os.environ.get("NUMBA_CACHE_DIR"):  # workers use the driver's numba cache
                    env = init.setdefault("runtime_env", {}).setdefault("env_vars", {})
                    env.setdefault("NUMBA_CACHE_DIR", os.environ["NUMBA_CACHE_DIR"])
                log.info(f"Initializing ray with config: {init}")
                ray.init(**init)
            remote = OmegaConf.to_container(self.ray_cfg.remote, resolve=True) or {}
            run = ray.remote(**remote)(_ray_job) if remote else ray.remote(_ray_job)
            log.info(f"Ray Launcher is launching {len(todo)} jobs, sweep output dir: {sweep_dir}")
            refs = []
            for num, overrides, _folder, _resolved in todo:
                log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
                config = self.hydra_context.config_loader.load_sweep_config(
                    self.config, list(overrides)
                )
                with open_dict(config):
                    config.hydra.job.id = f"job_id_for_{num}"
                    config.hydra.job.num = num
                refs.append(
                    run.remote(
                        self.hydra_context, config, self.task_function, Singleton.get_state()
                    )
                )
            for (num, overrides, folder, resolved), ref in zip(todo, refs, strict=True):
                try:
                    done[num] = ray.get(ref)
                except ray.exceptions.RayError as exc:  # a worker or node lost, a task cancelled
                    error_type = {
                        "NodeDiedError": "NodeFailure",
                        "TaskCancelledError": "JobCancelled",
                        "OutOfMemoryError": "JobOutOfMemory",
                    }.get(type(exc).__name__, "JobLost")
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    message = f"Ray task for job {num} ended: {type(exc).__name__} {first}".strip()
                    record_scheduler_fault(folder, resolved, overrides, num, error_type, message)
            return _returns(job_overrides, initial_job_idx, done)
