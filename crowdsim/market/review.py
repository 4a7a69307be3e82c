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
"""

from __future__ import annotations

import numpy as np

from crowdsim.ledger import MICRO
from crowdsim.market import KIND_ABANDON, KIND_APPEAL, KIND_REVIEW
from crowdsim.policy.fees import worker_fee_rate

REPUTATION_PENALTY = (
    2.0  # assumption: weight of a visible unjustified rejection in the worker's belief
)


def review_and_settle(model) -> None:
    S, W, R = model.records, model.workers, model.requesters
    pc = model.config.platform
    due = model._due_records.pop(model.hour)
    if due.size == 0:
        return
    kind = S.kind[due]
    w = S.worker[due]
    r = S.requester[due]
    n_done = S.n_done[due]
    reward, fee = S.reward_micro[due], S.fee_micro[due]
    minutes = S.minutes[due]
    is_review, is_abandon, is_appeal = (
        kind == KIND_REVIEW,
        kind == KIND_ABANDON,
        kind == KIND_APPEAL,
    )
    held = np.where(is_review, S.n_overturn[due], 0)
    rej_unjust_final = np.where(is_review, S.n_rej_unjust[due] - held, 0)
    rejected = np.where(is_review, S.n_rej_just[due], 0) + rej_unjust_final
    approved = S.n_approve[due]
    abandoned = np.where(is_abandon, n_done, 0)

    # ---- money
    gross = approved * reward
    req_fee = approved * fee
    wrate = worker_fee_rate(pc, W.gross_billed_micro[w] / MICRO)
    wfee = np.rint(gross * wrate).astype(np.int64)
    refund = (rejected + abandoned) * (reward + fee)
    led = model.ledger
    led.transfer("escrow", "worker_paid", int((gross - wfee).sum()))
    led.transfer("escrow", "platform_fees", int((req_fee + wfee).sum()))
    led.transfer("escrow", "refunded", int(refund.sum()))
    pay = gross - wfee
    np.add.at(W.earned_micro, w, pay)
    np.add.at(W.fees_paid_micro, w, wfee)
    np.add.at(W.gross_billed_micro, w, gross)
    np.subtract.at(W.pending_value_micro, w, (approved + rejected + abandoned) * reward)
    np.subtract.at(R.spent_micro, r, refund)
    if hasattr(model, "weekly_earnings"):
        week = min(model.hour // 168, model.n_weeks - 1)
        np.add.at(model.weekly_earnings[week], w, (pay / MICRO).astype(np.float32))

    # ---- time: pending -> paid / rejected / never paid (held part stays pending for the appeal)
    per = minutes / np.maximum(n_done, 1)
    paid_min = per * approved
    never_min = np.where(is_abandon, minutes, 0.0)
    held_min = per * held
    rej_min = minutes - paid_min - never_min - held_min
    rej_min = np.where(rejected > 0, rej_min, 0.0)
    paid_min = np.where(rejected > 0, paid_min, minutes - never_min - held_min)  # absorb rounding
    np.subtract.at(W.m_pending, w, minutes - held_min)
    np.add.at(W.m_paid, w, paid_min)
    np.add.at(W.m_rejected, w, rej_min)
    np.add.at(W.m_never_paid, w, never_min)

    # ---- counts and statistics
    np.add.at(W.n_approved, w, approved)
    np.add.at(W.n_rejected, w, rejected)
    np.add.at(R.n_approved, r, approved)
    np.add.at(R.n_rejected, r, rejected)
    np.add.at(R.n_unjust, r, rej_unjust_final)
    np.add.at(R.n_abandoned, r, abandoned)
    delay_h = (model.hour - S.submit_hour[due]).astype(np.float64)
    np.add.at(R.delay_hours_sum, r, delay_h * approved)
    c = model.counters
    c["assignments_approved"] += int(approved.sum())
    c["assignments_rejected"] += int(rejected.sum())
    c["assignments_rejected_unjustified"] += int(rej_unjust_final.sum())
    c["assignments_abandoned"] += int(abandoned.sum())
    c["assignments_overturned"] += int(approved[is_appeal].sum())
    c["value_good_rejected_micro"] += int((rej_unjust_final * reward).sum())
    c["delay_hours_x_assignments"] += float((delay_h * approved).sum())

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
        won = np.unique(r[is_appeal & (approved > 0)])
        if won.size:
            deter = won[
                (R.rejection_kind[won] == 2)
                & (model.rng_review.random(won.size) < pc.appeal_deterrence)
            ]
            R.rejection_kind[deter] = 0

    # ---- beliefs
    judged = approved + rejected
    if pc.reason_required:
        obs_req = 1.0 - np.minimum(
            1.0, REPUTATION_PENALTY * rej_unjust_final / np.maximum(judged, 1)
        )
    else:
        obs_req = approved / np.maximum(judged, 1)
    obs_req = np.where(is_abandon, 0.0, obs_req)
    informative = (judged > 0) | is_abandon
    obs_general = np.where(is_abandon, 0.0, approved / np.maximum(judged, 1))
    obs_delay = delay_h / 24.0
    _update_beliefs(
        model,
        w[informative],
        r[informative],
        obs_req[informative],
        obs_general[informative],
        obs_delay[informative],
    )
    S.release(due)


def _update_beliefs(model, w, r, obs_req, obs_general, obs_delay) -> None:
    if w.size == 0:
        return
    W = model.workers
    lr = model.config.workers.learning_rate
    W.belief_ok[w] += 0.5 * lr * (obs_general - W.belief_ok[w])
    W.belief_delay_days[w] += 0.5 * lr * (obs_delay - W.belief_delay_days[w])
    slots = W.slot_req[w]
    match = slots == r[:, None]
    known = match.any(axis=1)
    k = slots.shape[1]
    slot = np.where(known, match.argmax(axis=1), W.slot_ptr[w] % k)
    new = ~known
    if new.any():
        wn = w[new]
        W.slot_req[wn, slot[new]] = r[new]
        W.slot_ok[wn, slot[new]] = W.belief_ok[wn]
        W.slot_delay[wn, slot[new]] = W.belief_delay_days[wn]
        W.slot_ptr[wn] = (W.slot_ptr[wn] + 1) % k
    cur_ok = W.slot_ok[w, slot]
    cur_delay = W.slot_delay[w, slot]
    W.slot_ok[w, slot] = cur_ok + lr * (obs_req - cur_ok)
    W.slot_delay[w, slot] = cur_delay + lr * (obs_delay - cur_delay)
