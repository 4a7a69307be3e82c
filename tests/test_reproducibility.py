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
