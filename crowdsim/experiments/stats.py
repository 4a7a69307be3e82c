"""Statistics over seeds: means with Student-t or percentile-bootstrap 95% intervals, and paired
differences over common seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and two-sided ``level`` t-interval of the finite values; (mean, low, high, n).

    With one value the interval is (nan, nan): one seed says nothing about seed-to-seed spread.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if n == 1:
        return m, float("nan"), float("nan"), 1
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def summarize_groups(
    df: pd.DataFrame, by: list[str], value: str = "value", level: float = 0.95
) -> pd.DataFrame:
    """Mean and interval of ``value`` for each group of ``by`` (a tidy frame in, a tidy frame out)."""
    rows = []
    for key, g in df.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        m, lo, hi, n = mean_ci(g[value].to_numpy(), level)
        rows.append(
            dict(zip(by, key, strict=True)) | {"mean": m, "ci_low": lo, "ci_high": hi, "n": n}
        )
    return pd.DataFrame(rows)


BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20180421  # fixed: the same comparison gives the same intervals


def _resample_index(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_ci(
    values, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float, int]:
    """Mean and percentile-bootstrap ``level`` interval over seeds; (mean, low, high, n).

    Seeds are resampled with replacement and the mean recomputed; the interval is the
    central ``level`` of those means. It never leaves the range of the values, so a share stays
    in [0, 1] and money that cannot be negative stays non-negative. With few seeds it is
    narrow: with 3 seeds it is the range of the three values. One value gives (nan, nan).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if n == 1:
        return m, float("nan"), float("nan"), 1
    means = x[_resample_index(n, resamples, seed)].mean(axis=1)
    low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    return m, float(low), float(high), n


def paired_bootstrap(
    values,
    baseline,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, float]:
    """Paired difference from a baseline over common seeds, with percentile-bootstrap intervals.

    ``values[i]`` and ``baseline[i]`` come from the same seed; pairs where either is missing are
    dropped. Seeds are resampled as pairs. Returns ``diff`` (mean of the differences),
    ``diff_ci_low``/``diff_ci_high``, ``rel_diff`` (mean over mean of the baseline, minus 1)
    with ``rel_diff_ci_low``/``rel_diff_ci_high``, and ``n`` (common seeds).
    """
    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = int(a.size)
    nan = float("nan")
    out = dict.fromkeys(
        ("diff", "diff_ci_low", "diff_ci_high", "rel_diff", "rel_diff_ci_low", "rel_diff_ci_high"),
        nan,
    )
    out["n"] = n
    if n == 0:
        return out
    out["diff"] = float((a - b).mean())
    if b.mean() > 0 and (a >= 0).all() and (b >= 0).all():
        out["rel_diff"] = float(a.mean() / b.mean() - 1)
    if n == 1:
        return out
    idx = _resample_index(n, resamples, seed)
    qs = [0.5 - level / 2, 0.5 + level / 2]
    out["diff_ci_low"], out["diff_ci_high"] = map(float, np.quantile((a - b)[idx].mean(axis=1), qs))
    if math.isfinite(out["rel_diff"]):
        bm = b[idx].mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = a[idx].mean(axis=1) / bm - 1
        rel = rel[np.isfinite(rel)]
        if rel.size:
            out["rel_diff_ci_low"], out["rel_diff_ci_high"] = map(float, np.quantile(rel, qs))
    return out
