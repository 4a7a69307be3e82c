"""Threads for the compiled phases (numba) in this process.

Results never depend on the number of threads: parallel loops draw random numbers from counters
fixed by the seed (see :mod:`crowdsim.market.rng`). The default is one thread per CPU this
process may use (its affinity mask, which SLURM and ``taskset`` set), and one thread in a worker
process of a pool (``crowdsim-compare``, the ``cores`` launcher, calibration, validation and
sensitivity runs), where the pool already keeps every core busy. ``NUMBA_NUM_THREADS`` in the
environment overrides both.
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


def configure() -> int:
    """Set and return the number of threads for simulations started from this process."""
    import numba

    if "NUMBA_NUM_THREADS" in os.environ:
        n = numba.config.NUMBA_NUM_THREADS
    elif multiprocessing.parent_process() is not None:
        n = 1
    else:
        n = min(available_cpus(), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(max(1, n))
    return numba.get_num_threads()
