"""Prolific's minimum pay rule: the floor checked against the median completion time, and
top-ups when it falls below (``platform.min_pay_mode: median_top_up``; Prolific help pages).

At posting, a study's reward must meet the floor (``platform.min_pay_usd_per_hour``, Prolific:
£6 / $8 an hour) at the researcher's *estimated* completion time (:mod:`crowdsim.market.post`).
When the batch closes (its lifetime ends), the platform takes the *median* completion time of its
submissions (per assignment, each assignment weighing one); if the reward per median hour is
below the floor, the requester tops up every approved submission of the batch by the difference
(a bonus per assignment, rounded up to the reward increment), and the platform charges its
commission on the top-up as on the reward (Prolific charges its service fee on bonuses).

Money moves from the requester's funds to the workers (net of any worker-side fee) and to the
platform's fees; escrow is not touched (the top-up is paid when it is decided). Submissions are
logged as they are filed (:meth:`TopUps.log`) and taken off the log when their batch closes.
Assignments overturned later on appeal are not topped up (they were rejected when the batch
closed).
"""

from __future__ import annotations

import numpy as np

from crowdsim.ledger import MICRO
from crowdsim.policy.fees import worker_fee_rate


def median_minutes(batch: np.ndarray, minutes_per: np.ndarray, weight: np.ndarray):
    """Weighted median of ``minutes_per`` within each batch (weights ``weight``, assignments):
    the smallest time at which half of the batch's assignments or more are done. Returns the
    batches (sorted) and their medians."""
    order = np.lexsort((minutes_per, batch))
    b, m, w = batch[order], minutes_per[order], weight[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    cum = np.cumsum(w)
    before = np.r_[0.0, cum][starts]  # weight of the earlier batches
    total = np.add.reduceat(w, starts)
    ends = np.r_[starts[1:], b.size]
    # first position of each batch where its cumulative weight reaches half its total
    pos = np.searchsorted(cum, before + total / 2.0, side="left")
    pos = np.clip(pos, starts, ends - 1)
    return b[starts], m[pos]


def top_up_per_assignment(
    reward_micro: np.ndarray, median: np.ndarray, floor_usd_per_hour: float, increment_usd: float
) -> np.ndarray:
    """Top-up per assignment (micro-USD) that brings ``reward_micro`` up to the floor at the
    ``median`` completion time (minutes), in whole reward increments; 0 where the reward meets it."""
    owed = floor_usd_per_hour * median / 60.0  # USD per assignment at the floor
    owed = np.ceil(owed / increment_usd - 1e-9) * increment_usd
    return np.maximum(np.rint(owed * MICRO).astype(np.int64) - reward_micro, 0)


class TopUps:
    """Submissions awaiting their batch's close, for the median check (one chunk per hour)."""

    FIELDS = ("batch", "worker", "k_done", "k_paid", "minutes")

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, ...]] = []

    def log(self, batch, worker, k_done, k_paid, minutes) -> None:
        """Log an hour's submissions: batch rows, workers, assignments done and of those
        approved (to be paid), minutes worked."""
        if batch.size:
            self.chunks.append(tuple(np.array(a) for a in (batch, worker, k_done, k_paid, minutes)))

    def close_batches(self, model, due: np.ndarray) -> None:
        """Check the batches closing now (rows ``due``) and pay the top-ups they owe."""
        if not self.chunks or due.size == 0:
            return
        cols = [np.concatenate(c) for c in zip(*self.chunks, strict=True)]
        closing = np.isin(cols[0], due)
        self.chunks = [tuple(c[~closing] for c in cols)] if (~closing).any() else []
        if not closing.any():
            return
        batch, worker, k_done, k_paid, minutes = (c[closing] for c in cols)
        pc, B, R, W = model.config.platform, model.batches, model.requesters, model.workers
        rows, median = median_minutes(batch, minutes / np.maximum(k_done, 1), k_done)
        owed = top_up_per_assignment(
            B.reward_micro[rows], median, pc.min_pay_usd_per_hour, pc.reward_increment_usd
        )
        per = owed[np.searchsorted(rows, batch)]
        gross = per * k_paid
        paid = gross > 0
        if not paid.any():
            return
        batch, worker, gross = batch[paid], worker[paid], gross[paid]
        reward, fee = B.reward_micro[batch], B.fee_micro[batch]
        fee_share = np.where(reward > 0, fee / np.maximum(reward, 1), 0.0)
        req_fee = np.rint(gross * fee_share).astype(np.int64)
        worker_fee = np.rint(gross * worker_fee_rate(pc, W.gross_billed_micro[worker] / MICRO))
        worker_fee = worker_fee.astype(np.int64)
        pay = gross - worker_fee
        model.ledger.transfer("requester_funds", "worker_paid", int(pay.sum()))
        model.ledger.transfer("requester_funds", "platform_fees", int((req_fee + worker_fee).sum()))
        np.add.at(R.spent_micro, B.requester[batch], gross + req_fee)
        np.add.at(W.earned_micro, worker, pay)
        np.add.at(W.fees_paid_micro, worker, worker_fee)
        np.add.at(W.gross_billed_micro, worker, gross)
        np.add.at(W.work_reward_micro, worker, gross)  # the welfare ledger (metrics/welfare.py)
        np.add.at(W.work_cost_micro, worker, gross + req_fee)
        np.add.at(R.cost_micro, B.requester[batch], gross + req_fee)
        if model.weekly_earnings is not None:
            week = min(model.hour // 168, model.n_weeks - 1)
            np.add.at(model.weekly_earnings[week], worker, (pay / MICRO).astype(np.float32))
        c = model.counters
        c.top_ups_micro += int(gross.sum())
        c.reward_approved_micro += int(gross.sum())
        c.cost_approved_micro += int((gross + req_fee).sum())
        c.batches_topped_up += int(np.unique(batch).size)
