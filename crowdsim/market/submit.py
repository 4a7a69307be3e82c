"""Phase 4: finished work is submitted; its review outcome is drawn now and filed under its hour.

Each submission (one worker's finished assignments of one batch in one search round) becomes a
record whose fate is decided at submission (:func:`draw_review_outcome`), though it is only
settled, and learnt by the worker, at its resolution hour (:mod:`crowdsim.market.settle`):

- **quality**: each assignment meets the requester's bar with probability ``skill ** strictness``;
- **rejection**: bad work is rejected with the requester's probability for its kind (honest,
  strict, opportunistic), good work too with a small (strict) or large (opportunistic) one;
- **when** (:func:`resolution`): a prompt or slow requester reviews after a lognormal delay
  (median ``requesters.review_delay_hours_prompt|slow``, dispersion
  ``requesters.review_delay_sigma_prompt|slow``); if the payment guarantee's deadline comes
  first, everything is auto-approved then; a requester who never reviews, on a platform with no
  guarantee, abandons the work after ``platform.abandon_days`` (never paid);
- **appeal**: with appeals, each unjustified rejection is overturned with
  ``platform.appeal_overturn_prob`` (decided later, see ``settle``).

Paid by the hour (``platform.pay_basis: hourly``), a record's reward per assignment is the
minutes worked at ``platform.hourly_rate_usd`` (:func:`hourly_terms`) instead of the batch's
posted reward, and the difference between the two moves between the requester and escrow as the
record is filed, so escrow always holds what the records will pay.

Drawing the outcome at submission lets the summary count work still awaiting review by its fate
(wages on an accrual basis, :mod:`crowdsim.metrics.summary`). The records are written by
:func:`write_records` (compiled; outcomes in parallel, each record from its own sub-stream)
and filed in the records' due-date calendar in order by :func:`file_records`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from crowdsim.ledger import MICRO
from crowdsim.market import KIND_ABANDON, KIND_AUTO, KIND_REVIEW
from crowdsim.market.rng import SUBSTREAM, binomial, normal, prefetch, seed_state
from crowdsim.market.state import Submissions
from crowdsim.stores import calendar_file


class ReviewParams(NamedTuple):
    p_reject_bad: np.ndarray  # by rejection kind: honest, strict, opportunistic
    p_reject_good: np.ndarray
    delay_prompt: float  # hours, median
    delay_slow: float
    sigma_prompt: float
    sigma_slow: float
    deadline: float  # hours until auto-approval; inf without a payment guarantee
    abandon_hours: float
    appeals: bool
    p_overturn: float
    hourly_micro_per_minute: (
        float  # pay per minute worked (platform.pay_basis 'hourly'); 0: per task
    )


class SubmitWorkers(NamedTuple):
    log_skill: np.ndarray
    m_pending: np.ndarray
    pending_value: np.ndarray
    n_submitted: np.ndarray
    work_value: np.ndarray  # welfare ledger: value of the worker's approved work, micro-USD
    work_reward: np.ndarray  # ... gross rewards for it
    work_cost: np.ndarray  # ... rewards + requester fees for it


class SubmitRequesters(NamedTuple):
    strictness: np.ndarray
    rejection_kind: np.ndarray
    review_kind: np.ndarray
    n_submitted: np.ndarray
    spent: np.ndarray
    value: np.ndarray  # welfare ledger: value of approved work, micro-USD
    cost: np.ndarray  # ... rewards + fees for it


class BatchTerms(NamedTuple):
    requester: np.ndarray
    reward_micro: np.ndarray
    fee_micro: np.ndarray
    value_micro: np.ndarray  # value of an approved assignment to the requester


class SubmitTotals(NamedTuple):
    assignments: int
    value_micro: int  # reward value submitted
    never_paid_micro: int  # of which will never be paid (abandoned)
    escrow_in_micro: int  # paid by the hour: deposited beyond the posted terms (work ran long)
    escrow_out_micro: int  # ... and refunded (work ran short)
    approved_value_micro: int  # value of the work that will be approved (and paid)
    approved_reward_micro: int  # its rewards
    approved_cost_micro: int  # its rewards + requester fees


@njit(cache=True, inline="always")
def hourly_terms(minutes, k, batch_reward, batch_fee, micro_per_minute):
    """Reward and fee per assignment (micro-USD) of a submission paid by the hour: the minutes
    worked on its ``k`` assignments at ``micro_per_minute``, the fee at the batch's fee share of
    its posted reward."""
    reward = np.int64(np.rint(minutes / k * micro_per_minute))
    fee = (
        np.int64(np.rint(batch_fee * (reward / batch_reward))) if batch_reward > 0 else np.int64(0)
    )
    return reward, fee


@njit(cache=True, inline="always")
def draw_review_outcome(st, k, log_skill, strictness, rejection_kind, params):
    """For ``k`` assignments of a worker (``log_skill``) for a requester (``strictness``,
    ``rejection_kind``): (good ones, justly rejected, unjustly rejected), before the timing rule."""
    p_good = min(max(math.exp(strictness * log_skill), 0.0), 1.0)  # skill ** strictness
    n_good = binomial(st, k, p_good)
    n_bad = k - n_good
    n_rj = binomial(st, n_bad, params.p_reject_bad[rejection_kind])
    n_ru = binomial(st, n_good, params.p_reject_good[rejection_kind])
    return n_good, n_rj, n_ru


@njit(cache=True, inline="always")
def resolution(st, review_kind, params):
    """(kind of settlement, hours after submission): reviewed after a lognormal delay, unless
    the payment guarantee's deadline comes first (auto-approved) or the requester never reviews
    on a platform with no guarantee (abandoned, never paid)."""
    z = normal(st)
    if review_kind == 0:
        delay = params.delay_prompt * math.exp(params.sigma_prompt * z)
    elif review_kind == 1:
        delay = params.delay_slow * math.exp(params.sigma_slow * z)
    else:
        delay = np.inf
    if delay < params.deadline:
        return KIND_REVIEW, delay
    if params.deadline < np.inf:
        return KIND_AUTO, params.deadline
    return KIND_ABANDON, params.abandon_hours


FILE_AHEAD = 8  # records ahead whose lines writing and filing request from memory early


@njit(cache=True, parallel=True)
def write_records(
    st, rows, work, hour, workers, requesters, batches, params, table, due_hour, never
):
    """Write submission records at ``rows`` of the record ``table`` (a structured array) for the
    finished ``work`` (:class:`~crowdsim.market.state.Submissions` with batch rows), with their
    review outcomes; in parallel, record j drawing from its own sub-stream of the call's stream.
    Writes each record's resolution hour and whether it will never be paid to ``due_hour`` and
    ``never``."""
    n = rows.size
    s0 = st[0]
    streams = np.empty(n, np.uint64)
    for j in prange(n):
        if j + FILE_AHEAD < n:  # latency hiding: the (scattered) record row and worker ahead
            prefetch(table, rows[j + FILE_AHEAD])
            prefetch(workers.log_skill, work.worker[j + FILE_AHEAD])
        streams[j] = s0 + np.uint64(j) * SUBSTREAM
        sj = streams[j : j + 1]
        w = work.worker[j]
        bj = work.batch[j]
        k = work.k_done[j]
        req = batches.requester[bj]
        rk = requesters.rejection_kind[req]
        n_good, n_rj, n_ru = draw_review_outcome(
            sj, k, workers.log_skill[w], requesters.strictness[req], rk, params
        )
        kind, when = resolution(sj, requesters.review_kind[req], params)
        if kind != KIND_REVIEW:  # auto-approved or abandoned: no rejection stands
            n_rj = 0
            n_ru = 0
        n_over = binomial(sj, n_ru, params.p_overturn) if params.appeals else 0
        rec = table[rows[j]]
        rec["worker"] = w
        rec["requester"] = req
        rec["kind"] = kind
        rec["n_done"] = k
        rec["n_approve"] = 0 if kind == KIND_ABANDON else k - n_rj - n_ru
        rec["n_rej_just"] = n_rj
        rec["n_rej_unjust"] = n_ru
        rec["n_overturn"] = n_over
        reward, fee = batches.reward_micro[bj], batches.fee_micro[bj]
        if params.hourly_micro_per_minute > 0 and k > 0:
            reward, fee = hourly_terms(
                work.minutes[j], k, reward, fee, params.hourly_micro_per_minute
            )
        rec["reward_micro"] = reward
        rec["fee_micro"] = fee
        rec["minutes"] = work.minutes[j]
        rec["submit_hour"] = hour
        rec["resolve_hour"] = hour + max(1, int(math.ceil(when)))
        due_hour[j] = rec["resolve_hour"]  # compact copies for the filing
        never[j] = kind == KIND_ABANDON
    st[0] = s0 + np.uint64(n) * SUBSTREAM


@njit(cache=True)
def file_records(rows, work, due_hour, never, table, workers, requesters, batches, calendar):
    """File the new records in the due-date ``calendar`` and add them to the workers' and
    requesters' sums, in order. A record whose terms differ from its batch's (paid by the hour)
    moves the difference between the requester and escrow. Returns :class:`SubmitTotals`."""
    n_assign = 0
    value_total = 0
    value_never = 0
    escrow_in = 0
    escrow_out = 0
    ok_value = 0
    ok_reward = 0
    ok_cost = 0
    for j in range(rows.size):
        if j + FILE_AHEAD < rows.size:  # latency hiding: the record's and worker's lines ahead
            ahead = work.worker[j + FILE_AHEAD]
            prefetch(table, rows[j + FILE_AHEAD])
            prefetch(workers.m_pending, ahead)  # with pending_value: one line (settled group)
            prefetch(workers.n_submitted, ahead)
            prefetch(workers.work_value, ahead)
            prefetch(workers.work_reward, ahead)
            prefetch(workers.work_cost, ahead)
        calendar_file(calendar, rows[j], due_hour[j])
        w = work.worker[j]
        k = work.k_done[j]
        b = work.batch[j]
        reward = table[rows[j]]["reward_micro"]
        value = k * reward
        diff = k * (
            reward + table[rows[j]]["fee_micro"] - batches.reward_micro[b] - batches.fee_micro[b]
        )
        if diff > 0:
            escrow_in += diff
        else:
            escrow_out -= diff
        requesters.spent[batches.requester[b]] += diff
        workers.m_pending[w] += work.minutes[j]
        workers.pending_value[w] += value
        workers.n_submitted[w] += k
        requesters.n_submitted[batches.requester[b]] += k
        n_assign += k
        value_total += value
        if never[j]:
            value_never += value
        # the welfare ledger: the work that will be approved and paid (overturned on appeal
        # included), as the summary's accrual basis counts it
        n_ok = table[rows[j]]["n_approve"] + table[rows[j]]["n_overturn"]
        r = batches.requester[b]
        v = n_ok * batches.value_micro[b]
        pay = n_ok * reward
        cost = pay + n_ok * table[rows[j]]["fee_micro"]
        workers.work_value[w] += v
        workers.work_reward[w] += pay
        workers.work_cost[w] += cost
        requesters.value[r] += v
        requesters.cost[r] += cost
        ok_value += v
        ok_reward += pay
        ok_cost += cost
    return SubmitTotals(
        n_assign, value_total, value_never, escrow_in, escrow_out, ok_value, ok_reward, ok_cost
    )


def review_params(cfg) -> ReviewParams:
    rc, pc = cfg.requesters, cfg.platform
    if pc.payment_guarantee == "auto_approval":
        deadline = pc.auto_approval_days * 24.0
    elif pc.payment_guarantee == "escrow":
        deadline = pc.escrow_auto_approval_days * 24.0
    else:
        deadline = np.inf
    return ReviewParams(
        p_reject_bad=np.array([rc.honest_reject_bad_prob, rc.strict_reject_bad_prob, 1.0]),
        p_reject_good=np.array(
            [0.0, rc.strict_reject_good_prob, rc.opportunistic_reject_good_prob]
        ),
        delay_prompt=float(rc.review_delay_hours_prompt),
        delay_slow=float(rc.review_delay_hours_slow),
        sigma_prompt=float(rc.review_delay_sigma_prompt),
        sigma_slow=float(rc.review_delay_sigma_slow),
        deadline=float(deadline),
        abandon_hours=float(pc.abandon_days * 24.0),
        appeals=bool(pc.appeals),
        p_overturn=float(pc.appeal_overturn_prob),
        hourly_micro_per_minute=float(pc.hourly_rate_usd * MICRO / 60.0)
        if pc.pay_basis == "hourly"
        else 0.0,
    )


def file_submissions(model, work: Submissions) -> SubmitTotals | None:
    """Phase 4 for this hour: records for the hour's finished work, filed under their hour."""
    if work.worker.size == 0:
        return None
    W, B, R, S = model.workers, model.batches, model.requesters, model.records
    n = work.worker.size
    rows = S.allocate(n, reset=False)  # every column is set below
    workers = SubmitWorkers(
        log_skill=W.log_skill,
        m_pending=W.m_pending,
        pending_value=W.pending_value_micro,
        n_submitted=W.n_submitted,
        work_value=W.work_value_micro,
        work_reward=W.work_reward_micro,
        work_cost=W.work_cost_micro,
    )
    requesters = SubmitRequesters(
        strictness=R.strictness, rejection_kind=R.rejection_kind, review_kind=R.review_kind,
        n_submitted=R.n_submitted, spent=R.spent_micro, value=R.value_micro, cost=R.cost_micro,
    )  # fmt: skip
    batches = BatchTerms(
        requester=B.requester, reward_micro=B.reward_micro, fee_micro=B.fee_micro,
        value_micro=B.value_micro,
    )  # fmt: skip
    due_hour = np.empty(n, dtype=np.int64)
    never = np.empty(n, dtype=np.bool_)
    write_records(
        st=seed_state(model.rng_review), rows=rows, work=work, hour=model.hour, workers=workers,
        requesters=requesters, batches=batches, params=model.review_params, table=S.table,
        due_hour=due_hour, never=never,
    )  # fmt: skip
    totals = file_records(
        rows=rows, work=work, due_hour=due_hour, never=never, table=S.table, workers=workers,
        requesters=requesters, batches=batches,
        calendar=model.due_records.arrays(reserve=n),
    )  # fmt: skip
    if model.top_ups is not None:  # Prolific's rule: checked when the batch closes
        model.top_ups.log(work.batch, work.worker, work.k_done, S.n_approve[rows], work.minutes)
    model.ledger.transfer("requester_funds", "escrow", int(totals.escrow_in_micro))
    model.ledger.transfer("escrow", "refunded", int(totals.escrow_out_micro))
    c = model.counters
    c.assignments_submitted += int(totals.assignments)
    c.value_submitted_micro += int(totals.value_micro)
    c.value_never_paid_micro += int(totals.never_paid_micro)
    c.value_approved_micro += int(totals.approved_value_micro)
    c.reward_approved_micro += int(totals.approved_reward_micro)
    c.cost_approved_micro += int(totals.approved_cost_micro)
    return totals
