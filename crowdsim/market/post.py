"""Phases 1-2: requesters post batches of assignments; expired batches are refunded.

How a requester prices a batch (all vectorised over the batches posted in an hour):

- duration: the task type's median duration x a lognormal draw (the *true* median time); the
  requester's *estimate* is that times its duration bias (requesters understate durations);
- reward per assignment = target pay per hour x estimated minutes / 60, adjusted for the fee:
  ``((1 + reference_fee) / (1 + fee)) ** fee_pass_through`` (part of a fee rise is passed to
  workers as a lower reward, part is borne by the requester);
- a minimum-pay floor raises the reward to floor x duration, on the estimated or the measured
  (true median) duration, as the platform's rule says; under Prolific's rule
  (``median_top_up``) the estimate at posting, and a top-up when the batch closes if the
  median completion time of its submissions makes the reward fall below the floor
  (:mod:`crowdsim.policy.min_pay`);
- paid by the hour (``platform.pay_basis``), the reward posted is the platform's hourly rate x
  the estimated time, a deposit settled to the time worked at submission;
- volume responds to the cost per assignment relative to the reference cost with elasticity
  ``demand_elasticity``; a requester whose cost per hour of work exceeds its value leaves;
- with a batch surcharge, requesters who split batches post HITs below the surcharge size
  (MTurk: fewer than 0.3% of HITs had 10+ assignments after the 2015 fee change).
"""

from __future__ import annotations

import numpy as np

from crowdsim.config import TASK_TYPES
from crowdsim.ledger import to_micro
from crowdsim.policy.fees import requester_fee_per_assignment, requester_fee_rate


def calibrate_batch_rate(model) -> float:
    """Batches per hour per unit of requester activity so that posted assignment-hours equal
    ``market.demand_ratio`` x expected online worker-hours (at the posting profile's mean hour)."""
    cfg = model.config
    mc = cfg.market
    W = model.workers
    online_hours = float(np.minimum(W.online_base[: W.n], 1.0).sum())
    shares = np.array([mc.type_shares[t] for t in model.task_types], dtype=float)
    shares = shares / shares.sum()
    size_mean = np.array(
        [
            min(mc.type_batch_median[t] * np.exp(mc.batch_size_sigma**2 / 2), mc.max_batch_size)
            for t in model.task_types
        ]
    )
    dur_mean = np.array(
        [
            min(mc.type_duration_minutes[t] * np.exp(mc.duration_sigma**2 / 2), mc.max_task_minutes)
            for t in model.task_types
        ]
    )
    hours_per_batch = float((shares * size_mean * dur_mean / 60.0).sum())
    batches_per_hour = mc.demand_ratio * online_hours / hours_per_batch
    R = model.requesters
    return batches_per_hour / float(R.activity[: R.n].sum())


def post_params(cfg) -> tuple[np.ndarray, np.ndarray]:
    """Median minutes and median batch size of each task type (by index in TASK_TYPES), as
    posting takes them (rebuilt with the other phases' parameters at a reform)."""
    mc = cfg.market
    return (
        np.array([mc.type_duration_minutes.get(t, 1.0) for t in TASK_TYPES]),
        np.array([mc.type_batch_median.get(t, 1.0) for t in TASK_TYPES]),
    )


def post(model) -> None:
    """Requesters post this hour's batches; their cost goes from requester funds into escrow."""
    cfg, rng, R = model.config, model.rng_post, model.requesters
    rc, mc, pc = cfg.requesters, cfg.market, cfg.platform
    present = model.pool.requesters
    if present.size == 0:
        return
    act = R.activity[present]
    mu = model.batch_rate_per_activity * act.sum() * model.posting_weight[model.hour % 168]
    n = int(rng.poisson(mu))
    if n == 0:
        return
    cum = np.cumsum(act)
    req = present[
        np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), present.size - 1)
    ]
    ttype = R.task_type[req].astype(np.int64)
    type_dur, type_size = model.post_params
    true_minutes = np.minimum(
        type_dur[ttype] * np.exp(mc.duration_sigma * rng.standard_normal(n)), mc.max_task_minutes
    )
    est_minutes = true_minutes * R.duration_bias[req]
    size0 = np.clip(
        np.rint(type_size[ttype] * np.exp(mc.batch_size_sigma * rng.standard_normal(n))),
        1,
        mc.max_batch_size,
    )

    # batch splitting to dodge a size surcharge
    chunk = pc.batch_surcharge_min_assignments - 1
    # counting by HIT, a batch of tasks a worker may do several of is HITs of one assignment each
    one_per_hit = (
        model.type_max_per_worker[ttype] > 1
        if pc.batch_surcharge_counts == "hit"
        else np.zeros(n, dtype=bool)
    )
    split = (pc.batch_surcharge > 0) & R.splits[req] & (size0 > chunk) & ~one_per_hit
    eff_size = np.where(one_per_hit, 1, np.where(split, np.minimum(size0, chunk), size0))
    fee_rate = requester_fee_rate(pc, eff_size)
    pass_through = ((1.0 + rc.reference_fee) / (1.0 + fee_rate)) ** rc.fee_pass_through
    asked = R.target_pay[req] * est_minutes / 60.0  # before the fee's pass-through and any floor
    reward = asked * pass_through
    if pc.pay_basis == "hourly":  # a deposit at the platform's rate for the estimated time,
        reward = pc.hourly_rate_usd * est_minutes / 60.0  # settled to the time worked (submit)
    covered = np.zeros(n, dtype=bool)
    if pc.min_pay_mode != "none" and pc.min_pay_usd_per_hour > 0 and pc.pay_basis == "task":
        basis = true_minutes if pc.min_pay_mode == "measured" else est_minutes
        floor = pc.min_pay_usd_per_hour * basis / 60.0
        covered = reward < floor
        reward = np.maximum(reward, floor)
    # volume and exit respond to the cost the rules impose (before rounding to whole cents)
    cost = reward * (1.0 + fee_rate)
    ref_cost = R.target_pay[req] * est_minutes / 60.0 * (1.0 + rc.reference_fee)
    volume = (cost / ref_cost) ** (-rc.demand_elasticity)
    size = np.floor(size0 * volume + rng.random(n)).astype(np.int64)
    if pc.batch_surcharge_counts == "hit" and pc.pay_basis == "task":
        # priced at the fee of the HIT really posted: a batch that volume brought below the
        # surcharge size is not priced as if it paid it (its volume is kept)
        posted = np.where(one_per_hit, 1, np.where(split, np.minimum(size, chunk), size))
        refit = (requester_fee_rate(pc, posted) != fee_rate) & (size > 0)
        if refit.any():
            new_rate = requester_fee_rate(pc, posted[refit])
            reward[refit] = asked[refit] * ((1.0 + rc.reference_fee) / (1.0 + new_rate)) ** rc.fee_pass_through
            if pc.min_pay_mode != "none" and pc.min_pay_usd_per_hour > 0:
                covered[refit] = reward[refit] < floor[refit]
                reward[refit] = np.maximum(reward[refit], floor[refit])
    # whole increments (MTurk: cents), at least one increment
    per_usd = 1.0 / pc.reward_increment_usd  # exactly 100.0 for whole cents
    reward = np.maximum(np.ceil(reward * per_usd - 1e-9) / per_usd, pc.reward_increment_usd)
    # a requester whose cost per (estimated) hour of work, at its initial target pay, exceeds its
    # value leaves the platform (the platform's rules made it unprofitable; repricing does not)
    cost_at_initial = (
        cost * np.maximum(R.initial_pay[req] / R.target_pay[req], 1.0)
        if pc.min_pay_mode == "none"
        else cost
    )
    unprofitable = cost_at_initial / (est_minutes / 60.0) > R.value_per_hour[req]
    model.counters.batches_not_posted += int(
        unprofitable.sum() + ((size == 0) & ~unprofitable).sum()
    )
    # the welfare ledger: the value of the assignments not posted because of what the rules
    # made them cost (the batch as planned at the reference terms, less what is posted)
    unit_value = R.value_per_hour[req] * true_minutes / 60.0
    not_posted = np.where(unprofitable, size0, np.maximum(size0 - size, 0))
    model.counters.value_not_posted_micro += int(to_micro(unit_value * not_posted).sum())
    if unprofitable.any():
        model.remove_requesters(np.unique(req[unprofitable]), hour=model.hour)
    keep = (~unprofitable) & (size > 0)
    if not keep.any():
        return
    req, ttype, size = req[keep], ttype[keep], size[keep]
    split = split[keep] & (size > chunk)
    reward, covered = reward[keep], covered[keep]
    true_minutes, est_minutes = true_minutes[keep], est_minutes[keep]
    # the fee follows the size of each HIT actually posted (a split batch posts HITs of <= chunk)
    one_per_hit = one_per_hit[keep]
    per_hit = np.where(one_per_hit, 1, np.where(split, np.minimum(size, chunk), size))
    fee = requester_fee_per_assignment(pc, reward, per_hit)
    # A split batch is one row: the platform lists identical HITs of one requester as one group
    # (as MTurk's HIT groups do), with `hits` HITs of `assignments_per_hit` assignments each.
    hits = np.where(one_per_hit, size, np.where(split, -(-size // max(chunk, 1)), 1))
    model.counters.batches_split += int(split.sum())
    model.counters.hits_posted += int(hits.sum())
    model.counters.hits_10plus += int((hits * (per_hit >= pc.batch_surcharge_min_assignments)).sum())
    k = size.size
    expires = model.hour + max(1, int(round(rc.batch_lifetime_days * 24)))
    list_batches(
        model, requester=req, task_type=ttype, size=size, hits=hits, per_hit=per_hit,
        reward_micro=to_micro(reward), fee_micro=to_micro(fee), est_minutes=est_minutes,
        true_minutes=true_minutes, covered=covered, gated=rng.random(k) < pc.qualification_share,
        restricted=rng.random(k) < pc.restricted_share, expires=np.full(k, expires),
    )  # fmt: skip


def list_batches(
    model, *, requester, task_type, size, hits, per_hit, reward_micro, fee_micro, est_minutes,
    true_minutes, covered, gated, restricted, expires,
) -> np.ndarray:  # fmt: skip
    """Put batches on the listing (one row per batch, arrays of equal length): their cost goes
    from requester funds into escrow and each is filed under the hour it expires. Returns the
    batch rows."""
    B, R = model.batches, model.requesters
    k = size.size
    idx = B.allocate(k, reset=False)  # every column is set below (expires_hour by the calendar)
    B.requester[idx] = requester
    B.task_type[idx] = task_type
    B.size[idx] = size
    B.remaining[idx] = size
    B.hits[idx] = hits
    B.assignments_per_hit[idx] = per_hit
    B.reward_micro[idx] = reward_micro
    B.fee_micro[idx] = fee_micro
    B.est_minutes[idx] = est_minutes
    B.true_minutes[idx] = true_minutes
    B.gated[idx] = gated
    B.restricted[idx] = restricted
    B.posted_hour[idx] = model.hour
    B.max_per_worker[idx] = model.type_max_per_worker[task_type]
    B.covered_floor[idx] = covered
    B.value_micro[idx] = to_micro(R.value_per_hour[requester] * true_minutes / 60.0)
    deposit = size * (reward_micro + fee_micro)
    model.ledger.transfer("requester_funds", "escrow", int(deposit.sum()))
    np.add.at(R.spent_micro, requester, deposit)
    np.add.at(R.n_posted, requester, size)
    model.counters.assignments_posted += int(size.sum())
    model.counters.assignment_minutes_posted += float((size * true_minutes).sum())
    model.counters.reward_posted_micro += int((size * reward_micro).sum())
    model.counters.batches_posted += int(k)
    model.due_batches.add(expires, idx)
    return idx


def withdraw(model, rows: np.ndarray) -> int:
    """Take batches off the listing now: their open assignments are refunded (the rows are
    released when they expire). Returns the assignments withdrawn."""
    B, R = model.batches, model.requesters
    rem = B.remaining[rows]
    refund = rem * (B.reward_micro[rows] + B.fee_micro[rows])
    model.ledger.transfer("escrow", "refunded", int(refund.sum()))
    np.subtract.at(R.spent_micro, B.requester[rows], refund)
    B.remaining[rows] = 0
    return int(rem.sum())


def expire(model) -> None:
    """Refund the unfilled assignments of batches whose lifetime ends this hour; requesters reprice."""
    B, R = model.batches, model.requesters
    due = model.due_batches.pop(model.hour)
    if due.size == 0:
        return
    rem = B.remaining[due]
    refund = rem * (B.reward_micro[due] + B.fee_micro[due])
    model.ledger.transfer("escrow", "refunded", int(refund.sum()))
    np.subtract.at(R.spent_micro, B.requester[due], refund)
    model.counters.assignments_expired += int(rem.sum())
    # repricing: a batch that expired mostly unfilled (more than `reprice_unfilled_share` left)
    # raises the requester's target pay by a step, a batch that filled lowers it by
    # `reprice_down_share` of a step, within [initial / max_factor, initial x max_factor]
    rc = model.config.requesters
    slow = rem > rc.reprice_unfilled_share * B.size[due]
    filled = rem == 0
    if slow.any():
        r = np.unique(B.requester[due][slow])
        cap = np.minimum(
            R.initial_pay[r] * rc.reprice_max_factor,
            R.value_per_hour[r] / (1.0 + model.config.platform.commission),
        )
        R.target_pay[r] = np.maximum(
            np.minimum(R.target_pay[r] * (1.0 + rc.reprice_step), cap),
            R.target_pay[r] * 0 + np.minimum(R.target_pay[r], cap),
        )
    if filled.any():
        r = np.unique(B.requester[due][filled])
        R.target_pay[r] = np.maximum(
            R.target_pay[r] / (1.0 + rc.reprice_step * rc.reprice_down_share), R.initial_pay[r] / rc.reprice_max_factor
        )
    if model.top_ups is not None:
        model.top_ups.close_batches(model, due)
    B.remaining[due] = 0
    B.release(due)
