"""Phase 5: review and settlement of submitted work, at each record's resolution hour.

A submission record's outcome was drawn when it was submitted (:mod:`crowdsim.market.submit`);
here the money moves and the worker learns. :func:`fate` says what a record comes to — the one
rule used both here and by the summary for work still awaiting settlement:

- **review** (by a prompt or slow requester before the auto-approval deadline): approved
  assignments are paid (escrow -> worker pay, escrow -> platform fee); rejected ones are refunded
  to the requester, who keeps the work; with appeals, overturned unjustified rejections stay in
  escrow until the appeal is decided;
- **auto** (the payment guarantee's deadline passed without a review): everything is paid;
- **abandon** (no guarantee and the requester never reviews): nothing is paid; the money goes back
  to the requester and the worker's time is unpaid ("never paid");
- **appeal**: the overturned part of an earlier rejection is paid; the requester may stop
  rejecting opportunistically (``platform.appeal_deterrence``).

Worker time moves from *pending* to *paid*, *rejected* or *never paid* (:func:`settle_minutes`).
Beliefs (:func:`update_beliefs`): the worker updates its general belief (approval odds, payment
delay) at ``workers.general_belief_learning_share`` x the learning rate, and its belief about
the requester at the full rate. With ``platform.reason_required`` the worker can tell unjustified
rejections (which weigh ``workers.reputation_penalty`` times in its belief about the requester)
from justified ones (which do not count against the requester).

:func:`settle_records` takes the records due off the calendar and settles them (compiled;
workers split among threads so each worker's records apply in filing order whatever the number
of threads); :func:`review_and_settle` books its totals in the ledger and schedules appeals.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from crowdsim.ledger import MICRO
from crowdsim.market import KIND_ABANDON, KIND_APPEAL, KIND_REVIEW
from crowdsim.market.rng import prefetch
from crowdsim.policy.fees import worker_fee_table
from crowdsim.stores import calendar_take

PREFETCH_AHEAD = 8  # records ahead whose worker's state is requested from memory early
RECORD_AHEAD = 16  # records ahead requested from memory early (the worker's is read from it)


class Fate(NamedTuple):
    approved: int  # assignments paid at this settlement
    rejected: int  # rejections that stand (just and unjust)
    unjust: int  # of which unjustified
    abandoned: int  # never paid
    held: int  # overturned on appeal: stay in escrow until the appeal is decided


@njit(cache=True, inline="always")
def fate(kind, n_done, n_approve, n_rej_just, n_rej_unjust, n_overturn):
    """What a submission record comes to when it is settled (see the module docstring)."""
    is_review = kind == KIND_REVIEW
    held = n_overturn if is_review else 0
    unjust = n_rej_unjust - held if is_review else 0
    rejected = (n_rej_just if is_review else 0) + unjust
    abandoned = n_done if kind == KIND_ABANDON else 0
    return Fate(n_approve, rejected, unjust, abandoned, held)


@njit(cache=True)
def pending_by_worker(table, in_use, n_rows, fee_rate, n_workers):
    """What the records still awaiting settlement will bring, by :func:`fate`: per worker, pay
    net of the worker fee (micro-USD, at ``fee_rate[worker]``) and minutes paid, rejected and
    never paid; in total, the assignments to be approved (appeals' held ones included), rejected
    and rejected although good. Records are taken in row order, each added to its worker's sums
    (as ``numpy.bincount`` adds weights)."""
    pay = np.zeros(n_workers)
    paid = np.zeros(n_workers)
    rejected = np.zeros(n_workers)
    never = np.zeros(n_workers)
    counts = np.zeros(3, np.int64)
    for i in range(n_rows):
        if not in_use[i]:
            continue
        r = table[i]
        f = fate(
            r["kind"],
            r["n_done"],
            r["n_approve"],
            r["n_rej_just"],
            r["n_rej_unjust"],
            r["n_overturn"],
        )
        approved = f.approved + f.held
        w = r["worker"]
        minutes = r["minutes"]
        pay[w] += (approved * r["reward_micro"]) * (1.0 - fee_rate[w])
        paid_min = minutes / max(r["n_done"], 1) * approved
        never_min = minutes if f.abandoned > 0 else 0.0
        paid[w] += paid_min
        rejected[w] += max(minutes - paid_min - never_min, 0.0)
        never[w] += never_min
        counts[0] += approved
        counts[1] += f.rejected
        counts[2] += f.unjust
    return pay, paid, rejected, never, counts


@njit(cache=True, inline="always")
def settle_minutes(minutes, n_done, f, is_abandon):
    """Split a record's minutes into (paid, rejected, never paid, held for an appeal)."""
    per = minutes / max(n_done, 1)
    never_min = minutes if is_abandon else 0.0
    held_min = per * f.held
    if f.rejected > 0:
        paid_min = per * f.approved
        rej_min = minutes - paid_min - never_min - held_min
    else:
        paid_min = minutes - never_min - held_min  # absorbs rounding
        rej_min = 0.0
    return paid_min, rej_min, never_min, held_min


@njit(cache=True, inline="always")
def update_beliefs(
    w, r, f, is_abandon, delay_days, belief_ok, belief_delay, slot_req, slot_ok, slot_delay,
    slot_ptr, params,
):  # fmt: skip
    """Worker ``w``'s beliefs after a settlement with requester ``r``: its general approval odds
    and payment delay (at ``general_share`` x the learning rate), and its memory of ``r`` (a
    slot, taken over from the oldest if ``r`` is not remembered)."""
    judged = f.approved + f.rejected
    if not (judged > 0 or is_abandon):
        return
    if is_abandon:
        obs_req = 0.0
        obs_general = 0.0
    else:
        obs_general = f.approved / judged
        if params.reason_required:
            obs_req = 1.0 - min(1.0, params.reputation_penalty * f.unjust / judged)
        else:
            obs_req = obs_general
    rate = params.learning_rate
    general = params.general_share * rate
    belief_ok[w] += general * (obs_general - belief_ok[w])
    belief_delay[w] += general * (delay_days - belief_delay[w])
    k_slots = slot_req.shape[1]
    s_k = -1
    for k in range(k_slots):
        if slot_req[w, k] == r:
            s_k = k
            break
    if s_k < 0:
        s_k = slot_ptr[w] % k_slots
        slot_req[w, s_k] = r
        slot_ok[w, s_k] = belief_ok[w]
        slot_delay[w, s_k] = belief_delay[w]
        slot_ptr[w] = (slot_ptr[w] + 1) % k_slots
    slot_ok[w, s_k] += rate * (obs_req - slot_ok[w, s_k])
    slot_delay[w, s_k] += rate * (delay_days - slot_delay[w, s_k])


class SettleWorkers(NamedTuple):
    earned: np.ndarray
    fees_paid: np.ndarray
    gross_billed: np.ndarray
    pending_value: np.ndarray
    m_pending: np.ndarray
    m_paid: np.ndarray
    m_rejected: np.ndarray
    m_never_paid: np.ndarray
    n_approved: np.ndarray
    n_rejected: np.ndarray
    belief_ok: np.ndarray
    belief_delay: np.ndarray
    slot_req: np.ndarray
    slot_ok: np.ndarray
    slot_delay: np.ndarray
    slot_ptr: np.ndarray
    weekly: np.ndarray  # this week's earnings per worker (float32), or an empty array


class SettleRequesters(NamedTuple):
    spent: np.ndarray
    n_approved: np.ndarray
    n_rejected: np.ndarray
    n_unjust: np.ndarray
    n_abandoned: np.ndarray
    delay_hours_sum: np.ndarray


class SettleParams(NamedTuple):
    tier_usd: (
        np.ndarray
    )  # worker-side fee tiers: lifetime billings (USD) where each next rate starts
    tier_rates: np.ndarray  # worker-side fee rates, one more than tiers
    reason_required: bool
    reputation_penalty: float
    learning_rate: float
    general_share: float


class SettleOutput(NamedTuple):
    """Per settled record (preallocated for the records due): its row, the assignments held for
    an appeal and their minutes."""

    rows: np.ndarray
    held: np.ndarray
    held_minutes: np.ndarray


class SettleTotals(NamedTuple):
    """Sums over the records settled (money in micro-USD)."""

    records: int
    worker_paid: int
    platform_fees: int
    refunded: int
    approved: int
    rejected: int
    rejected_unjustified: int
    abandoned: int
    overturned: int
    good_rejected_value: int
    delay_hours_x_approved: int


N_SUMS = 10  # the money and count sums of SettleTotals after ``records``


@njit(cache=True, parallel=True)
def settle_records(n, hour, table, workers, requesters, params, out, n_threads):
    """Settle the ``n`` records at ``out.rows[:n]`` (taken off the calendar, in filing order):
    money, time, counts and beliefs. Workers are split among the threads (blocks of 64 rows,
    modulo threads), each thread settles its workers' records in list order, and requester sums
    are added up after; so a worker's records are applied in the same order whatever the number
    of threads, and the sums are of integers (exact in any order). Returns :class:`SettleTotals`."""
    # (numba 0.68 loses writes made through a NamedTuple's arrays inside a parallel loop: every
    # array written below is bound to a local name first)
    due, held_out, held_min_out = out.rows, out.held, out.held_minutes
    earned, fees_paid, gross_billed = workers.earned, workers.fees_paid, workers.gross_billed
    pending_value, m_pending, m_paid = workers.pending_value, workers.m_pending, workers.m_paid
    m_rejected, m_never_paid = workers.m_rejected, workers.m_never_paid
    w_approved, w_rejected = workers.n_approved, workers.n_rejected
    belief_ok, belief_delay, slot_ptr = workers.belief_ok, workers.belief_delay, workers.slot_ptr
    slot_req, slot_ok, slot_delay = workers.slot_req, workers.slot_ok, workers.slot_delay
    weekly = workers.weekly
    r_spent, r_approved, r_rejected = requesters.spent, requesters.n_approved, requesters.n_rejected
    r_unjust, r_abandoned, r_delay = (
        requesters.n_unjust,
        requesters.n_abandoned,
        requesters.delay_hours_sum,
    )
    # 1. the records arranged by thread, in list order within each
    owner = np.empty(n, np.int64)
    first = np.zeros(n_threads + 1, np.int64)
    for d in range(n):
        owner[d] = (table[due[d]]["worker"] >> 6) % n_threads
        first[owner[d] + 1] += 1
    for t in range(n_threads):
        first[t + 1] += first[t]
    order = np.empty(n, np.int64)
    fill = first[:-1].copy()
    for d in range(n):
        order[fill[owner[d]]] = d
        fill[owner[d]] += 1
    # per record (arranged by thread), for the requesters' sums and the appeals: refund,
    # approved, rejected, unjust, abandoned, delay hours x approved, held, requester
    by_record = np.empty((n, 8), np.int64)
    held_minutes = np.empty(n, np.float64)
    t_sums = np.zeros((n_threads, N_SUMS), np.int64)
    record_weekly = weekly.size > 0
    for t in prange(n_threads):
        ts = t_sums[t]
        for q in range(first[t], first[t + 1]):
            # latency hiding (no change to what is computed): the record RECORD_AHEAD ahead,
            # then the worker of the one PREFETCH_AHEAD ahead, whose record is in cache by now
            if q + RECORD_AHEAD < first[t + 1]:
                prefetch(table, due[order[q + RECORD_AHEAD]])
            if q + PREFETCH_AHEAD < first[t + 1]:
                w_next = table[due[order[q + PREFETCH_AHEAD]]]["worker"]
                prefetch(earned, w_next)  # the worker's three lines of settled state
                prefetch(belief_ok, w_next)
                prefetch(slot_ok, w_next)
                if record_weekly:
                    prefetch(weekly, w_next)
            d = order[q]
            rec = table[due[d]]
            kind = rec["kind"]
            w = rec["worker"]
            r = rec["requester"]
            n_done = rec["n_done"]
            reward = rec["reward_micro"]
            fee = rec["fee_micro"]
            minutes = rec["minutes"]
            is_abandon = kind == KIND_ABANDON
            f = fate(
                kind,
                n_done,
                rec["n_approve"],
                rec["n_rej_just"],
                rec["n_rej_unjust"],
                rec["n_overturn"],
            )

            # money
            gross = f.approved * reward
            req_fee = f.approved * fee
            tier = 0
            while tier < params.tier_usd.size and params.tier_usd[tier] <= gross_billed[w] / MICRO:
                tier += 1
            wfee = np.int64(np.rint(gross * params.tier_rates[tier]))
            refund = (f.rejected + f.abandoned) * (reward + fee)
            pay = gross - wfee
            ts[0] += pay
            ts[1] += req_fee + wfee
            ts[2] += refund
            earned[w] += pay
            fees_paid[w] += wfee
            gross_billed[w] += gross
            pending_value[w] -= (f.approved + f.rejected + f.abandoned) * reward
            if record_weekly:
                weekly[w] += np.float32(pay / MICRO)

            # time: pending -> paid / rejected / never paid (the held part stays pending)
            paid_min, rej_min, never_min, held_min = settle_minutes(minutes, n_done, f, is_abandon)
            m_pending[w] -= minutes - held_min
            m_paid[w] += paid_min
            m_rejected[w] += rej_min
            m_never_paid[w] += never_min
            held_minutes[q] = held_min

            # counts and statistics
            w_approved[w] += f.approved
            w_rejected[w] += f.rejected
            delay_h = hour - rec["submit_hour"]
            row = by_record[q]
            row[7] = r
            row[6] = f.held
            row[0] = refund
            row[1] = f.approved
            row[2] = f.rejected
            row[3] = f.unjust
            row[4] = f.abandoned
            row[5] = delay_h * f.approved
            ts[3] += f.approved
            ts[4] += f.rejected
            ts[5] += f.unjust
            ts[6] += f.abandoned
            if kind == KIND_APPEAL:
                ts[7] += f.approved
            ts[8] += f.unjust * reward
            ts[9] += delay_h * f.approved

            update_beliefs(
                w, r, f, is_abandon, delay_h / 24.0, belief_ok, belief_delay, slot_req, slot_ok,
                slot_delay, slot_ptr, params,
            )  # fmt: skip
    # 2. the requesters' sums, the appeals' parts and the totals
    for q in range(n):
        d = order[q]
        row = by_record[q]
        r = row[7]
        held_out[d] = row[6]
        held_min_out[d] = held_minutes[q]
        r_spent[r] -= row[0]
        r_approved[r] += row[1]
        r_rejected[r] += row[2]
        r_unjust[r] += row[3]
        r_abandoned[r] += row[4]
        r_delay[r] += row[5]
    s = np.zeros(N_SUMS, np.int64)
    for t in range(n_threads):
        for i in range(N_SUMS):
            s[i] += t_sums[t, i]
    return SettleTotals(n, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9])


def settle_params(cfg) -> SettleParams:
    pc, wc = cfg.platform, cfg.workers
    tier_usd, tier_rates = worker_fee_table(pc)
    return SettleParams(
        tier_usd=tier_usd,
        tier_rates=tier_rates,
        reason_required=bool(pc.reason_required),
        reputation_penalty=float(wc.reputation_penalty),
        learning_rate=float(wc.learning_rate),
        general_share=float(wc.general_belief_learning_share),
    )


def review_and_settle(model) -> SettleTotals | None:
    """Phase 5 for this hour: settle the records due, book the money, schedule appeals."""
    S, W, R = model.records, model.workers, model.requesters
    pc = model.config.platform
    cal = model.due_records
    due_max = int(cal.count[model.hour % cal.head.size])
    if due_max == 0:
        return None
    if model.weekly_earnings is not None:
        weekly = model.weekly_earnings[min(model.hour // 168, model.n_weeks - 1)]
    else:
        weekly = np.empty(0, dtype=np.float32)
    out = SettleOutput(
        rows=np.empty(due_max, dtype=np.int64),
        held=np.empty(due_max, dtype=np.int64),
        held_minutes=np.empty(due_max, dtype=np.float64),
    )
    n = calendar_take(cal.arrays(), S.resolve_hour, model.hour, out.rows)  # in filing order
    t = settle_records(
        n=n, hour=model.hour, table=S.table,
        workers=SettleWorkers(
            earned=W.earned_micro, fees_paid=W.fees_paid_micro, gross_billed=W.gross_billed_micro,
            pending_value=W.pending_value_micro, m_pending=W.m_pending, m_paid=W.m_paid,
            m_rejected=W.m_rejected, m_never_paid=W.m_never_paid, n_approved=W.n_approved,
            n_rejected=W.n_rejected, belief_ok=W.belief_ok, belief_delay=W.belief_delay_days,
            slot_req=W.slot_req, slot_ok=W.slot_ok, slot_delay=W.slot_delay,
            slot_ptr=W.slot_ptr, weekly=weekly,
        ),
        requesters=SettleRequesters(
            spent=R.spent_micro, n_approved=R.n_approved, n_rejected=R.n_rejected,
            n_unjust=R.n_unjust, n_abandoned=R.n_abandoned, delay_hours_sum=R.delay_hours_sum,
        ),
        params=model.settle_params, out=out, n_threads=numba.get_num_threads(),
    )  # fmt: skip
    n = int(t.records)
    if n == 0:
        return t
    due, held, held_min = out.rows[:n], out.held[:n], out.held_minutes[:n]
    led = model.ledger
    led.transfer("escrow", "worker_paid", int(t.worker_paid))
    led.transfer("escrow", "platform_fees", int(t.platform_fees))
    led.transfer("escrow", "refunded", int(t.refunded))
    c = model.counters
    c.assignments_approved += int(t.approved)
    c.assignments_rejected += int(t.rejected)
    c.assignments_rejected_unjustified += int(t.rejected_unjustified)
    c.assignments_abandoned += int(t.abandoned)
    c.assignments_overturned += int(t.overturned)
    c.value_good_rejected_micro += int(t.good_rejected_value)
    c.delay_hours_x_assignments += float(t.delay_hours_x_approved)
    if pc.appeals:
        _appeals(model, due, held, held_min)
    S.release(due)
    return t


def _appeals(model, due: np.ndarray, held: np.ndarray, held_min: np.ndarray) -> None:
    """Schedule the overturned part of rejections as appeal records; an opportunistic requester
    who lost an appeal stops rejecting good work with ``platform.appeal_deterrence``."""
    S, R, pc = model.records, model.requesters, model.config.platform
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
        model.due_records.add(np.full(app.size, when), idx)
    r = S.requester[due]
    won = np.unique(r[(S.kind[due] == KIND_APPEAL) & (S.n_approve[due] > 0)])
    if won.size:
        deter = won[
            (R.rejection_kind[won] == 2)
            & (model.rng_review.random(won.size) < pc.appeal_deterrence)
        ]
        R.rejection_kind[deter] = 0
