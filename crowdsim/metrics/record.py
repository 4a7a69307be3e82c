"""Phase 7: hourly aggregates written into preallocated arrays (no per-agent reporters)."""

from __future__ import annotations

import numpy as np
from numba import njit

from crowdsim.ledger import MICRO
from crowdsim.market.state import HourStats

SERIES = (
    "present_workers",
    "active_workers",
    "tasks_open",
    "batches_open",
    "tasks_posted",
    "tasks_done",
    "tasks_returned",
    "tasks_approved",
    "tasks_rejected",
    "worker_paid_usd",
    "platform_fees_usd",
    "refunded_usd",
    "escrow_usd",
    "present_requesters",
    "requesters_active",  # requesters with open assignments on the listing
    "requester_exits",
    "requester_entries",
    "batches_posted",
    "batches_split",
    "worker_exits",
    "worker_entries",
)
# series that are the hour's change of a running count of model.counters
COUNTED = ("requester_exits", "requester_entries", "batches_posted", "batches_split",
           "worker_exits", "worker_entries")  # fmt: skip


@njit(cache=True)
def listing_counts(in_use, remaining, requester, n, n_requesters):
    """Over batch rows below ``n``: the open assignments of the batches in use, the batches
    listed (in use, with assignments left) and how many requesters have one listed, in one
    pass (no sort of the listing)."""
    tasks = 0
    batches = 0
    active = 0
    seen = np.zeros(n_requesters, np.bool_)
    for b in range(n):
        if in_use[b]:
            tasks += remaining[b]
            if remaining[b] > 0:
                batches += 1
                r = requester[b]
                if not seen[r]:
                    seen[r] = True
                    active += 1
    return tasks, batches, active


class Recorder:
    """The hourly series (``model.series``, ``model.series_active_by_country``) and what it needs
    to turn running totals into hourly flows (the totals at the last hour recorded)."""

    def __init__(self, model) -> None:
        n = model.n_hours
        model.series = {name: np.zeros(n, dtype=np.float64) for name in SERIES}
        model.series_active_by_country = np.zeros((n, len(model.countries.codes)), dtype=np.int32)
        self.last = dict(posted=0.0, approved=0.0, rejected=0.0, paid=0, fees=0, refunded=0)
        self.last |= dict.fromkeys(COUNTED, 0)
        # series of rules that are off by default, where a run has them
        rules = [model.config] + ([model.reform_config] if model.reform_config else [])
        if any(cfg.platform.waitlist for cfg in rules):
            model.series["workers_waiting"] = np.zeros(n, dtype=np.float64)

    def record_hour(self, model, hour: HourStats) -> None:
        t = model.hour
        if t >= model.n_hours:
            return
        s, c, b, last = model.series, model.counters, model.ledger.balance, self.last
        B = model.batches
        s["present_workers"][t] = model.pool.workers.size
        s["present_requesters"][t] = model.pool.requesters.size
        s["active_workers"][t] = hour.active.size
        tasks, batches, requesters = listing_counts(
            in_use=B.in_use, remaining=B.remaining, requester=B.requester, n=B.n,
            n_requesters=model.requesters.n,
        )  # fmt: skip
        s["tasks_open"][t] = tasks
        s["batches_open"][t] = batches
        s["requesters_active"][t] = requesters  # with a listed batch
        for name in COUNTED:
            now = getattr(c, name)
            s[name][t] = now - last[name]
            last[name] = now
        s["tasks_posted"][t] = c.assignments_posted - last["posted"]
        s["tasks_done"][t] = hour.submitted
        s["tasks_returned"][t] = hour.returned
        s["tasks_approved"][t] = c.assignments_approved - last["approved"]
        s["tasks_rejected"][t] = c.assignments_rejected - last["rejected"]
        s["worker_paid_usd"][t] = (b["worker_paid"] - last["paid"]) / MICRO
        s["platform_fees_usd"][t] = (b["platform_fees"] - last["fees"]) / MICRO
        s["refunded_usd"][t] = (b["refunded"] - last["refunded"]) / MICRO
        s["escrow_usd"][t] = b["escrow"] / MICRO
        if "workers_waiting" in s:  # at the end of the hour (admissions happen once a day)
            s["workers_waiting"][t] = model.waitlist
        if hour.active.size:
            model.series_active_by_country[t] = np.bincount(
                model.workers.country[hour.active], minlength=len(model.countries.codes)
            )
        last.update(
            posted=c.assignments_posted,
            approved=c.assignments_approved,
            rejected=c.assignments_rejected,
            paid=b["worker_paid"],
            fees=b["platform_fees"],
            refunded=b["refunded"],
        )
