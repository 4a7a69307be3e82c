"""Frozen regression test: exact results for four small configurations.

This is the one snapshot test in the suite. It guards refactors: a change of layout must leave
every figure of these runs identical for the same seed. A change that is meant to change results
updates the frozen values in ``tests/regression_baseline.json`` in a commit that says why:

    .venv/bin/python tests/test_regression.py --freeze

The summaries are compared in full (wall-clock timings left out) and the frames by a digest of
their columns' bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BASELINE = Path(__file__).with_name("regression_baseline.json")

# small, fast, and each exercising a different part of the hour
CASES = {
    "status_quo": dict(population__n_workers=400, sim__days=5, seed=11),
    "pay_floor": dict(
        population__n_workers=400,
        sim__days=5,
        seed=11,
        platform__min_pay_mode="estimated",
        platform__min_pay_usd_per_hour=8.0,
    ),
    "payment_guarantee": dict(
        population__n_workers=400,
        sim__days=5,
        seed=11,
        platform__payment_guarantee="escrow",
        platform__reason_required=True,
        platform__appeals=True,
    ),
    # a warm-up, three weekly windows of the convergence diagnostic (too few for a verdict) and a
    # reform part-way:
    # the figures measured as differences of running totals (crowdsim/metrics/windows.py)
    "windows_reform": [
        "population.n_workers=400",
        "sim.days=24",
        "seed=11",
        "sim.warmup_days=3",
        "reform=to_min_pay",
        "sim.reform_day=13",
    ],
}

TIMING_KEYS = {"phase_seconds", "wall_seconds", "crowdsim_version"}


def _canonical(x):
    """JSON-ready copy with floats as exact repr strings (NaN and infinities included)."""
    if isinstance(x, dict):
        return {str(k): _canonical(v) for k, v in sorted(x.items()) if k not in TIMING_KEYS}
    if isinstance(x, list | tuple):
        return [_canonical(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return "nan" if math.isnan(x) else repr(x)
    return x


def frame_digest(df) -> str:
    """SHA-256 over a frame's column names, dtypes and values (stable across pandas versions)."""
    h = hashlib.sha256()
    for name in df.columns:
        col = df[name]
        h.update(str(name).encode())
        h.update(str(col.dtype).encode())
        values = col.to_numpy()
        if values.dtype == object:
            h.update("\x1f".join(map(str, values)).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def observe(case: str) -> dict:
    from crowdsim import run

    spec = CASES[case]
    if isinstance(spec, dict):
        res = run(**spec)
    else:  # Hydra overrides, for options that are config groups (a reform)
        from hydra import compose, initialize_config_dir

        from crowdsim.cli import CONFIG_DIR

        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            res = run(compose(config_name="config", overrides=spec))
    return describe(res)


def describe(res) -> dict:
    """What is frozen of a run's results: the summary and a digest of each frame."""
    return {
        "summary": _canonical(res.summary),
        "frames": {
            "timeseries": frame_digest(res.timeseries),
            "workers": frame_digest(res.workers),
            "requesters": frame_digest(res.requesters),
        },
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_results_unchanged(case):
    frozen = json.loads(BASELINE.read_text())[case]
    got = observe(case)
    changed = {
        k: (frozen["summary"].get(k), got["summary"].get(k))
        for k in set(frozen["summary"]) | set(got["summary"])
        if frozen["summary"].get(k) != got["summary"].get(k)
    }
    assert not changed, f"summary of {case} changed (frozen, now): {changed}"
    assert got["frames"] == frozen["frames"], f"frames of {case} changed"


if __name__ == "__main__":
    if "--freeze" not in sys.argv:
        sys.exit("usage: python tests/test_regression.py --freeze  (rewrites the frozen values)")
    BASELINE.write_text(json.dumps({c: observe(c) for c in sorted(CASES)}, indent=1) + "\n")
    print(f"wrote {BASELINE}")
