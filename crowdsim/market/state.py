"""What the hour's phases hand each other, and the run's running counts.

Phases do not pass data through attributes of the model: each returns what the next needs
(HARK's ``sow -> cultivate -> reap -> mill -> store`` with declared variables is the model):

- ``search.search_and_work`` -> :class:`HourStats` (who was online, what was done, the finished
  work to file), read by ``submit.file_submissions`` and by ``metrics.record``;
- ``settle.review_and_settle`` -> :class:`SettleTotals` (money moved and counts), booked into the
  ledger and :class:`Counters`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np


class Submissions(NamedTuple):
    """Finished work of one hour, one row per (worker, claim): the worker's row, the batch row,
    assignments submitted and minutes worked on them."""

    worker: np.ndarray
    batch: np.ndarray
    k_done: np.ndarray
    minutes: np.ndarray

    @staticmethod
    def empty() -> Submissions:
        e = np.empty(0, dtype=np.int64)
        return Submissions(e, e, e, np.empty(0, dtype=np.float64))


@dataclass(frozen=True)
class HourStats:
    """The search phase's result: the online workers' rows and the hour's work."""

    online: np.ndarray  # rows of the workers who came online this hour
    active: np.ndarray  # of which those who searched or worked (not logging off at once)
    submitted: int  # assignments submitted
    returned: int  # assignments returned unfinished
    submissions: Submissions


@dataclass
class Counters:
    """Running counts of the run (assignments unless named otherwise; money in micro-USD)."""

    assignments_submitted: int = 0
    assignments_returned: int = 0
    assignments_approved: int = 0
    assignments_rejected: int = 0
    assignments_rejected_unjustified: int = 0
    assignments_abandoned: int = 0
    assignments_overturned: int = 0
    assignments_posted: int = 0
    assignments_expired: int = 0
    value_submitted_micro: int = 0
    value_never_paid_micro: int = 0
    value_good_rejected_micro: int = 0
    delay_hours_x_assignments: float = 0.0
    batches_posted: int = 0
    batches_split: int = 0
    batches_not_posted: int = 0
    requester_exits: int = 0
    requester_entries: int = 0
    worker_exits: int = 0
    worker_entries: int = 0
    hits_posted: int = 0
    hits_10plus: int = 0  # HITs of batch_surcharge_min_assignments or more assignments
    reward_posted_micro: int = 0  # reward of the assignments posted
    worker_exits_wage: int = 0
    top_ups_micro: int = 0  # paid to workers by the median rule (platform.min_pay_mode), gross
    batches_topped_up: int = 0
    workers_admitted: int = 0  # from the waitlist (platform.waitlist)
    assignment_minutes_posted: float = 0.0  # true median minutes x assignments posted
    # the welfare ledger (metrics/welfare.py), accrued at submission for approved work
    value_approved_micro: int = 0  # value of approved work to its requesters
    reward_approved_micro: int = 0  # gross rewards for it (top-ups included)
    cost_approved_micro: int = 0  # rewards + requester fees for it
    value_not_posted_micro: int = 0  # value of assignments requesters chose not to post
    assignment_est_minutes_posted: float = 0.0  # requesters' estimated minutes x assignments
    cost_posted_micro: int = 0  # reward + requester fee of the assignments posted

    def __getitem__(self, name: str):
        """Read a count by name (``model.counters["batches_split"]``), for notebooks."""
        if name not in self.names():
            raise KeyError(name)
        return getattr(self, name)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return _COUNTER_NAMES


_COUNTER_NAMES = tuple(f.name for f in fields(Counters))


class Pool:
    """Who is on the platform: the rows of present workers and requesters, kept in this one
    place (the model's ``add_*``/``remove_*`` methods and the daily update refresh it), with the
    compact copies the hourly availability draw reads."""

    def __init__(self, model) -> None:
        self._model = model
        self.workers = np.empty(0, dtype=np.int64)
        self.worker_base = np.empty(0, dtype=np.float32)  # weekly hours / 168 x engagement
        self.worker_country = np.empty(0, dtype=np.int8)
        # whether each may carry minutes of work over into this hour (it was online last hour,
        # kept by the search phase's go_online): only those have their spill read
        self.worker_carries = np.empty(0, dtype=np.bool_)
        self.requesters = np.empty(0, dtype=np.int64)

    def refresh_workers(self) -> None:
        W = self._model.workers
        self.workers = np.flatnonzero(W.present[: W.n])
        self.worker_base = (W.online_base * W.engagement)[self.workers].astype(np.float32)
        self.worker_country = W.country[self.workers].astype(np.int8)
        self.worker_carries = W.spill[self.workers] > 0

    def refresh_requesters(self) -> None:
        R = self._model.requesters
        self.requesters = np.flatnonzero(R.present[: R.n])
