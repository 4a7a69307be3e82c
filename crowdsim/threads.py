"""Threads for the compiled phases (numba) in this process.

Results never depend on the number of threads: parallel loops draw random numbers from counters
fixed by the seed (see :mod:`crowdsim.market.rng`). The default is one thread per CPU this
process may use (its affinity mask, which SLURM and ``taskset`` set), and one thread in a worker
process of a pool (``crowdsim-compare``, the ``cores`` launcher, calibration, validation and
sensitivity runs), where the pool already keeps every core busy. A model of fewer than
:data:`PARALLEL_MIN_WORKERS` workers runs on one thread: its parallel loops are too short to pay
for waking a second thread, and on a machine whose cores are busy with other work each wait for
a descheduled thread costs more than the hour itself (measured on two shared cores: 10,000
workers 7-8 ms an hour on one thread, 44-233 ms on two; 30,000 workers 16-21 ms on one, 44-112
on two). ``NUMBA_NUM_THREADS`` in the environment overrides all of these.
"""

from __future__ import annotations

import multiprocessing
import os


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


PARALLEL_MIN_WORKERS = 50_000  # smaller pools run on one thread (see above)


def configure(n_workers: int | None = None) -> int:
    """Set and return the number of threads for a simulation of ``n_workers`` started from this
    process (None: any size)."""
    import numba

    if "NUMBA_NUM_THREADS" in os.environ:
        n = numba.config.NUMBA_NUM_THREADS
    elif multiprocessing.parent_process() is not None:
        n = 1
    elif n_workers is not None and n_workers < PARALLEL_MIN_WORKERS:
        n = 1
    else:
        n = min(available_cpus(), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(max(1, n))
    return numba.get_num_threads()
