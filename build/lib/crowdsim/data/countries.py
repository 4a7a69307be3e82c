"""The country table: UTC offset, local minimum wage (with year and source), PPP factor, pool shares.

All monetary columns are converted to USD per hour with the 2024 average exchange rate in the
table (``usd_per_local_2024``). Minimum wages set per day or month are turned into hourly rates
with the ``hours_per_unit`` column (an assumption stated in each row's source).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from crowdsim.config import COUNTRY_CODES, ConfigError


@lru_cache(maxsize=1)
def load_countries() -> pd.DataFrame:
    """Return the country table indexed by ISO 3166 alpha-2 code, with derived USD columns."""
    with resources.files("crowdsim.data").joinpath("countries.csv").open() as fh:
        df = pd.read_csv(fh)
    df = df.set_index("code")
    df["min_wage_usd_per_hour"] = (
        df["min_wage_local"] / df["hours_per_unit"] * df["usd_per_local_2024"]
    )
    # PPP-adjusted minimum wage in international dollars per hour (NaN where no PPP factor exists)
    df["min_wage_ppp_per_hour"] = (
        df["min_wage_local"] / df["hours_per_unit"] / df["ppp_lcu_per_intl_usd"]
    )
    # USD -> international dollars for a worker in this country: 1 USD buys usd->LCU->PPP
    df["intl_usd_per_usd"] = (1.0 / df["usd_per_local_2024"]) / df["ppp_lcu_per_intl_usd"]
    assert list(df.index) == COUNTRY_CODES, "country table and COUNTRY_CODES out of sync"
    return df


@dataclass(frozen=True)
class CountryTable:
    """The countries of one run, in a fixed order; arrays are indexed by country index."""

    codes: list[str]
    utc_offset: np.ndarray
    min_wage_usd: np.ndarray
    shares: np.ndarray
    reservation_scale: np.ndarray

    @classmethod
    def for_population(
        cls, countries: list[str], mix: str, custom: dict[str, float]
    ) -> CountryTable:
        df = load_countries()
        for c in countries:
            if c not in df.index:
                raise ConfigError(
                    "population.countries", c, f"codes in the country table: {', '.join(df.index)}"
                )
        sub = df.loc[countries]
        if mix == "mturk":
            shares = sub["share_mturk"].to_numpy(float)
        elif mix == "global":
            shares = sub["share_global"].to_numpy(float)
        elif mix == "uniform":
            shares = np.ones(len(countries))
        else:
            shares = np.array([float(custom.get(c, 0.0)) for c in countries])
        if shares.sum() <= 0:
            raise ConfigError(
                "population.shares", custom, "positive shares for at least one listed country"
            )
        return cls(
            codes=list(countries),
            utc_offset=sub["utc_offset_hours"].to_numpy(float),
            min_wage_usd=sub["min_wage_usd_per_hour"].to_numpy(float),
            shares=shares / shares.sum(),
            reservation_scale=sub["reservation_wage_scale"].to_numpy(float),
        )
