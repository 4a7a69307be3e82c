"""Same seed -> identical results; different seeds -> different results."""

import json

import pandas as pd

from crowdsim import run


def _key(summary):
    s = {k: v for k, v in summary.items() if k != "phase_seconds"}
    return json.dumps(s, sort_keys=True, default=str)


def test_same_seed_identical(small):
    a = run(**small)
    b = run(**small)
    assert _key(a.summary) == _key(b.summary)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.workers, b.workers)
    pd.testing.assert_frame_equal(a.requesters, b.requesters)


def test_different_seeds_differ(small):
    a = run(**small)
    b = run(**(small | {"seed": small["seed"] + 1}))
    assert _key(a.summary) != _key(b.summary)
    assert not a.workers["reservation_wage"].equals(b.workers["reservation_wage"])


def test_same_results_whatever_the_number_of_threads():
    """The compiled phases run loops in parallel; their draws are fixed counters of the seed's
    streams, so one thread and all threads give identical runs."""
    import numba
    import pytest

    from crowdsim import CrowdWorkModel, threads

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: nothing to compare")
    results = []
    try:
        for n in (1, numba.config.NUMBA_NUM_THREADS):
            m = CrowdWorkModel(population__n_workers=3000, sim__days=4, seed=11)
            numba.set_num_threads(n)
            m.run()
            assert numba.get_num_threads() == n
            results.append(m.results())
    finally:
        threads.configure()
    a, b = results
    assert a.summary["tasks_submitted"] > 1000  # enough happened for the parallel loops to matter
    assert _key(a.summary) == _key(b.summary)
    pd.testing.assert_frame_equal(a.workers, b.workers)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)


def test_pool_workers_use_one_thread():
    """Simulations in the worker processes of a pool (joblib/loky, as the `cores` launcher,
    calibration and sensitivity use) run their compiled phases on one thread each."""
    from joblib import Parallel, delayed

    from crowdsim import threads

    assert Parallel(n_jobs=2, backend="loky")(delayed(threads.configure)() for _ in range(2)) == [
        1,
        1,
    ]


def test_small_pools_run_on_one_thread(monkeypatch):
    """A model smaller than threads.PARALLEL_MIN_WORKERS runs its compiled phases on one thread
    (results do not depend on it, see above); larger ones on every CPU the process may use,
    unless NUMBA_NUM_THREADS says otherwise."""
    import numba

    from crowdsim import threads

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    try:
        assert threads.configure(threads.PARALLEL_MIN_WORKERS - 1) == 1
        every = min(threads.available_cpus(), numba.config.NUMBA_NUM_THREADS)
        assert threads.configure(threads.PARALLEL_MIN_WORKERS) == every
        monkeypatch.setenv("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS))
        assert threads.configure(1000) == numba.config.NUMBA_NUM_THREADS
    finally:
        threads.configure()
