"""Statistics over seeds: means with Student-t 95% confidence intervals, paired differences."""

from __future__ import annotations

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
