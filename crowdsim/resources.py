"""How much memory a configuration needs, estimated before anything is allocated.

The estimate is linear in the sizes that drive the model's arrays; its coefficients come from the
peak resident memory of runs on 0.2.0 (``/usr/bin/time -f %M`` around ``crowdsim.run.run``, with
2,000 to 80,000 workers, 7 and 28 days, demand ratio 0.333 to 33: 270 MB at 2,000 workers, 304 MB
at 20,000, 417 MB at 80,000, 376 MB at 20,000 with demand ratio 33), rounded up so that it is an
upper bound (``tests/test_misuse.py`` checks it against a measured run).

The base term covers a process that compiles the kernels first (an empty numba cache, as on a
fresh machine): compiling raised the peak of a 20,000-worker, 2-day run from 311 MB (cache
filled) to 449 MB on one 2-core machine and to 761 MB on another.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import NamedTuple

BASE_BYTES = 900e6  # interpreter, numpy, pandas, numba, mesa, and compiling the kernels
PER_WORKER = 2_500.0  # worker columns, their submissions awaiting review, Mesa-free views
PER_BELIEF_SLOT = 24.0  # per worker and remembered requester
PER_WORKER_WEEK = 4.0  # weekly earnings (float32) per worker and week
PER_WORKER_DEMAND = 300.0  # records and batches in flight, per worker and unit of demand ratio
PER_REQUESTER = 1_000.0  # requester columns and their open batches


# Task durations of the default market (crowdsim.config.MarketConfig): the demand term above was
# measured with them. Posted assignments per hour scale as 1 / mean task minutes, so a market of
# shorter tasks (``market.max_task_minutes`` caps every duration) holds proportionally more
# records; the estimate scales the demand term by that ratio (never below 1).
def _mean_task_minutes(market, cap: float | None = None) -> float:
    import math

    shares = {t: s for t, s in market.type_shares.items() if s > 0}
    total = sum(shares.values()) or 1.0
    cap = market.max_task_minutes if cap is None else cap
    spread = math.exp(market.duration_sigma**2 / 2)
    return sum(
        s / total * min(market.type_duration_minutes.get(t, 1.0) * spread, cap)
        for t, s in shares.items()
    )


def _task_minutes_factor(market) -> float:
    """How many times more assignments a market of this config's task durations posts than
    one whose durations are not capped below their medians (>= 1)."""
    uncapped = _mean_task_minutes(market, cap=float("inf"))
    mean = _mean_task_minutes(market)
    return max(1.0, uncapped / mean) if mean > 0 else float("inf")


class MemoryEstimate(NamedTuple):
    total_bytes: float
    driver: str  # the option whose term is largest: the one to lower


def estimate_memory(cfg) -> MemoryEstimate:
    """Peak memory (bytes, an upper bound) of one run of a validated CrowdSimConfig."""
    workers = float(cfg.population.n_workers)
    weeks = -(-cfg.sim.days // 7)
    terms = {
        "population.n_workers": workers * PER_WORKER
        + workers / cfg.population.workers_per_requester * PER_REQUESTER
        + (workers * weeks * PER_WORKER_WEEK if cfg.sim.record_weekly_earnings else 0.0),
        "workers.belief_slots": workers * cfg.workers.belief_slots * PER_BELIEF_SLOT,
        "market.demand_ratio": workers * cfg.market.demand_ratio * PER_WORKER_DEMAND,
        # the same records, multiplied when a cap makes tasks shorter (_task_minutes_factor)
        "market.max_task_minutes": workers
        * cfg.market.demand_ratio
        * PER_WORKER_DEMAND
        * (_task_minutes_factor(cfg.market) - 1.0),
    }
    return MemoryEstimate(BASE_BYTES + sum(terms.values()), max(terms, key=terms.get))


def available_memory() -> float | None:
    """Bytes this process may still use: the least of free memory (MemAvailable), the cgroup's
    limit and the address-space limit; None where none of these can be read."""
    limits: list[float] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(float(line.split()[1]) * 1024)
    except OSError:
        try:
            limits.append(float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text != "max":
            used = float(Path("/sys/fs/cgroup/memory.current").read_text())
            limits.append(float(text) - used)
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(float(soft))
    return min(limits) if limits else None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} PiB"


def check_memory(cfg) -> None:
    """Raise ConfigError when a run of ``cfg`` would need more memory than is available."""
    from crowdsim.config import ConfigError

    need = estimate_memory(cfg)
    have = available_memory()
    if have is None or need.total_bytes <= have:
        return
    value = cfg
    for part in need.driver.split("."):
        value = getattr(value, part)
    raise ConfigError(
        need.driver,
        value,
        f"a size that fits in memory: this run needs about {_size(need.total_bytes)}, "
        f"{_size(have)} is available",
    )


# Memory the launching process holds for each job of a sweep: Hydra's basic sweeper lists every
# job's overrides before the first starts, and the launcher keeps each job's result, a JobReturn
# holding the job's config and Hydra's, until the sweep ends. One JobReturn of a crowdsim job
# measured 169 KB in memory (Hydra 1.3.8, tracemalloc over 50 copies; 30 KB pickled), rounded up.
PER_SWEEP_JOB_BYTES = 200e3


def check_sweep_size(option: str, n_values: int, n_jobs: int) -> None:
    """Raise ConfigError (naming ``option``, the sweep with the most values) when a sweep of
    ``n_jobs`` jobs would need more memory in the launching process than is available, before
    any job is listed (``seed=range(0,1000000000)``, ``--seeds 1000000000``)."""
    from crowdsim.config import ConfigError

    need = BASE_BYTES + n_jobs * PER_SWEEP_JOB_BYTES
    have = available_memory()
    if have is None or need <= have:
        return
    raise ConfigError(
        option,
        f"{n_values:,} values",
        f"a sweep that fits in memory: its {n_jobs:,} jobs need about {_size(need)} in the "
        f"process that launches them, {_size(have)} is available",
    )


def check_writable(option: str, path: str | Path) -> None:
    """Raise ConfigError unless ``path`` is a folder this process can write, or could create:
    its nearest existing ancestor is a writable folder (tried with an empty folder made and
    removed at once: permissions alone do not tell for root, /proc or a read-only mount)."""
    import tempfile

    from crowdsim.config import ConfigError

    here = Path(path).expanduser().absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        reason = f"{here} is not a folder"
    else:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".crowdsim-check-", dir=here))
            return
        except OSError as exc:
            reason = f"{here} cannot be written ({exc.strerror or type(exc).__name__})"
    raise ConfigError(option, str(path), f"a folder this user can write; {reason}")
