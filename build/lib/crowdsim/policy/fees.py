"""Commission schemes: who pays the platform, how much.

Requester side: a flat share of the reward (MTurk 20% since July 2015, 10% before), a surcharge
for batches of ``batch_surcharge_min_assignments`` or more (MTurk +20% for 10+ assignments),
a minimum fee per assignment (MTurk $0.01) and an optional cap on the total requester fee share.

Worker side: a flat share deducted from pay, or rates tiered by the worker's lifetime billings
(Upwork 20% / 10% / 5% at $500 and $10,000, 2016-2023).
"""

from __future__ import annotations

import numpy as np

from crowdsim.config import PlatformConfig


def requester_fee_rate(platform: PlatformConfig, batch_size: np.ndarray) -> np.ndarray:
    """Requester-side fee as a share of the reward, for batches of the given sizes."""
    batch_size = np.asarray(batch_size)
    rate = np.full(batch_size.shape, platform.commission, dtype=np.float64)
    if platform.batch_surcharge > 0:
        rate = rate + np.where(
            batch_size >= platform.batch_surcharge_min_assignments, platform.batch_surcharge, 0.0
        )
    if platform.commission_cap is not None:
        rate = np.minimum(rate, platform.commission_cap)
    return rate


def requester_fee_per_assignment(
    platform: PlatformConfig, reward_usd: np.ndarray, batch_size: np.ndarray
) -> np.ndarray:
    """Fee in USD per assignment: rate x reward, at least the minimum fee when any fee is charged."""
    rate = requester_fee_rate(platform, batch_size)
    fee = rate * reward_usd
    if platform.commission_min_usd > 0:
        fee = np.where(rate > 0, np.maximum(fee, platform.commission_min_usd), 0.0)
        if platform.commission_cap is not None:
            fee = np.minimum(fee, platform.commission_cap * reward_usd)
    return fee


def worker_fee_table(platform: PlatformConfig) -> tuple[np.ndarray, np.ndarray]:
    """Worker-side fee as (tiers, rates): lifetime billings in USD at which each next rate
    starts, and the rates (one more than the tiers; a flat fee is one rate and no tiers)."""
    if platform.commission_tier_rates:
        return (
            np.asarray(platform.commission_tiers_usd, dtype=np.float64),
            np.asarray(platform.commission_tier_rates, dtype=np.float64),
        )
    return np.empty(0, dtype=np.float64), np.array([platform.worker_fee_share], dtype=np.float64)


def worker_fee_rate(platform: PlatformConfig, lifetime_billings_usd: np.ndarray) -> np.ndarray:
    """Share of gross pay deducted from workers, given their lifetime billings (USD)."""
    tiers, rates = worker_fee_table(platform)
    return rates[np.searchsorted(tiers, np.asarray(lifetime_billings_usd), side="right")]
