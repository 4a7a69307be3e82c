"""Weekly time profiles (168 hours, UTC), each with mean 1.

Worker availability follows local time: little at night, a rise through the day and an evening
peak, as in the hourly activity of MTurk workers (Ipeirotis 2015 mturk-tracker; Difallah et al.
2018). Requesters post in US business hours (Eastern time). Shapes are assumptions, fitted
later against the US/India mix by hour.
"""

from __future__ import annotations

import numpy as np

# relative activity by local hour 0..23 (assumption; evening peak, night trough)
LOCAL_HOUR_ACTIVITY = np.array(
    [
        0.45,
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.35,
        0.6,
        0.85,
        1.0,
        1.1,
        1.15,
        1.15,
        1.15,
        1.15,
        1.15,
        1.2,
        1.3,
        1.45,
        1.6,
        1.7,
        1.6,
        1.2,
        0.75,
    ]
)
WEEKEND_FACTOR = 0.9  # assumption


def worker_availability_profile(utc_offset_hours: float) -> np.ndarray:
    """Availability factor for each UTC hour of the week (hour 0 = Monday 00:00 UTC)."""
    h = np.arange(168)
    local = h + utc_offset_hours
    local_hour = np.floor(local).astype(int) % 24
    local_day = (np.floor(local).astype(int) // 24) % 7
    f = LOCAL_HOUR_ACTIVITY[local_hour] * np.where(local_day >= 5, WEEKEND_FACTOR, 1.0)
    return f / f.mean()


def posting_profile(utc_offset_hours: float = -5.0) -> np.ndarray:
    """Requester posting weight by UTC hour of the week: US Eastern business hours (assumption)."""
    h = np.arange(168)
    local = h + utc_offset_hours
    local_hour = np.floor(local).astype(int) % 24
    local_day = (np.floor(local).astype(int) // 24) % 7
    business = (local_hour >= 9) & (local_hour < 18) & (local_day < 5)
    evening = (local_hour >= 7) & (local_hour < 23) & ~business
    f = np.where(business, 1.0, np.where(evening, 0.35, 0.12))
    return f / f.mean()
