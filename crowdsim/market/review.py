"""Phases 4-5: review and settlement of submitted work.

A submission record's outcome was drawn when it was submitted (see ``matching._submit``); here,
at its resolution hour, the money moves and the worker learns:

- **review** (by a prompt or slow requester before the auto-approval deadline): approved
  assignments are paid (escrow -> worker pay, escrow -> platform fee); rejected ones are refunded
  to the requester, who keeps the work; with appeals, overturned unjustified rejections stay in
  escrow until the appeal is decided;
- **auto** (the payment guarantee's deadline passed without a review): everything is paid;
- **abandon** (no guarantee and the requester never reviews): nothing is paid; the money goes back
  to the requester and the worker's time is unpaid ("never paid");
- **appeal**: the overturned part of an earlier rejection is paid; the requester may stop
  rejecting opportunistically (``platform.appeal_deterrence``).

Worker time moves from *pending* to *paid*, *rejected* or *never paid* in the same step.
Beliefs: the worker updates its belief about the requester (approval odds, payment delay) and its
general belief. With ``platform.reason_required`` the worker can tell unjustified rejections
(which cost the requester twice the reputation among the workers who got them) from justified
ones (which do not count against the requester).

The records due are taken off the due-date calendar and settled in the compiled kernel
``kernels.settle``; this module books its totals in the ledger and schedules appeals.
"""

from __future__ import annotations

import numba
import numpy as np

from crowdsim.market import KIND_APPEAL, kernels
from crowdsim.policy.fees import worker_fee_table

REPUTATION_PENALTY = (
    2.0  # assumption: weight of a visible unjustified rejection in the worker's belief
)


def review_and_settle(model) -> None:
    S, W, R = model.records, model.workers, model.requesters
    pc = model.config.platform
    cal = model._due_records
    due_max = int(cal.count[model.hour % cal.head.size])
    if due_max == 0:
        return
    if hasattr(model, "weekly_earnings"):
        weekly = model.weekly_earnings[min(model.hour // 168, model.n_weeks - 1)]
    else:
        weekly = np.empty(0, dtype=np.float32)
    tier_usd, tier_rates = worker_fee_table(pc)
    due = np.empty(due_max, dtype=np.int64)
    held = np.empty(due_max, dtype=np.int64)
    held_min = np.empty(due_max, dtype=np.float64)
    t = np.zeros(10, dtype=np.int64)
    n = kernels.settle(
        model.hour, *cal.arrays(), S.resolve_hour,
        S.worker, S.requester, S.kind, S.n_done, S.n_approve, S.n_rej_just, S.n_rej_unjust,
        S.n_overturn, S.reward_micro, S.fee_micro, S.minutes, S.submit_hour,
        W.earned_micro, W.fees_paid_micro, W.gross_billed_micro, W.pending_value_micro,
        W.m_pending, W.m_paid, W.m_rejected, W.m_never_paid, W.n_approved, W.n_rejected,
        W.belief_ok, W.belief_delay_days, W.slot_req, W.slot_ok, W.slot_delay, W.slot_ptr,
        weekly,
        R.spent_micro, R.n_approved, R.n_rejected, R.n_unjust, R.n_abandoned, R.delay_hours_sum,
        tier_usd, tier_rates, pc.reason_required, REPUTATION_PENALTY,
        model.config.workers.learning_rate,
        due, held, held_min, t, numba.get_num_threads(),
    )  # fmt: skip
    if n == 0:
        return
    due, held, held_min = due[:n], held[:n], held_min[:n]
    led = model.ledger
    led.transfer("escrow", "worker_paid", t[0])
    led.transfer("escrow", "platform_fees", t[1])
    led.transfer("escrow", "refunded", t[2])
    c = model.counters
    c["assignments_approved"] += int(t[3])
    c["assignments_rejected"] += int(t[4])
    c["assignments_rejected_unjustified"] += int(t[5])
    c["assignments_abandoned"] += int(t[6])
    c["assignments_overturned"] += int(t[7])
    c["value_good_rejected_micro"] += int(t[8])
    c["delay_hours_x_assignments"] += float(t[9])

    # ---- appeals: schedule the overturned part; deterrence after an overturned appeal
    if pc.appeals:
        app = np.flatnonzero(held > 0)
        if app.size:
            idx = S.allocate(app.size)
            src = due[app]
            S.worker[idx] = S.worker[src]
            S.requester[idx] = S.requester[src]
            S.kind[idx] = KIND_APPEAL
            S.n_done[idx] = held[app]
            S.n_approve[idx] = held[app]
            S.reward_micro[idx] = S.reward_micro[src]
            S.fee_micro[idx] = S.fee_micro[src]
            S.minutes[idx] = held_min[app]
            S.submit_hour[idx] = S.submit_hour[src]
            when = model.hour + max(1, int(round(pc.appeal_delay_days * 24)))
            S.resolve_hour[idx] = when
            model._due_records.add(np.full(app.size, when), idx)
        r = S.requester[due]
        won = np.unique(r[(S.kind[due] == KIND_APPEAL) & (S.n_approve[due] > 0)])
        if won.size:
            deter = won[
                (R.rejection_kind[won] == 2)
                & (model.rng_review.random(won.size) < pc.appeal_deterrence)
            ]
            R.rejection_kind[deter] = 0
    S.release(due)
