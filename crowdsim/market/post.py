"""Phases 1-2: requesters post batches of assignments; expired batches are refunded.

How a requester prices a batch (all vectorised over the batches posted in an hour):

- duration: the task type's median duration x a lognormal draw (the *true* median time); the
  requester's *estimate* is that times its duration bias (requesters understate durations);
- reward per assignment = the requester's pay per hour x estimated minutes / 60: its pay norm
  (Hara et al.'s requester-level distribution), raised when its batches expire unfilled and
  lowered when they fill (:func:`expire`: the supply it has learnt it faces); the fee is a cost
  on top, so how much of a fee change reaches rewards is an outcome (through repricing and who
  keeps posting), measured as ``fee_pass_through_measured`` by a reform of the fee rules;
- a minimum-pay floor raises the reward to floor x duration, on the estimated or the measured
  (true median) duration, as the platform's rule says; under Prolific's rule
  (``median_top_up``) the estimate at posting, and a top-up when the batch closes if the
  median completion time of its submissions makes the reward fall below the floor
  (:mod:`crowdsim.policy.min_pay`);
- paid by the hour (``platform.pay_basis``), the reward posted is the platform's hourly rate x
  the estimated time, a deposit settled to the time worked at submission;
- volume from profit: each requester has a plan of tasks whose values are lognormal around its
  median task's (``value_per_hour`` x estimated hours; ``requesters.value_markup_median`` x the
  cost at the reference terms, dispersion ``requesters.task_value_sigma``); it posts the tasks
  worth their cost per accepted task (reward + fee: rejected work is refunded), so volume is
  :func:`plan_share` at the cost now over that at the reference terms (its pay at the reference
  fee, no floor; the batch drawn); the value of an approved task is the mean over the tasks
  posted (:func:`plan_value`); one left with less than ``requesters.exit_plan_share`` of its plan
  leaves (counting at its initial pay: repricing does not make it leave);
- screening: a requester whose pay per hour the rules raise by a factor r above its own admits
  only the most productive share ``r ** -requesters.screening_elasticity`` of workers (by
  quintile of speed x skill: a prescreen or quality tier), so a binding floor shifts work to
  more productive workers (Horton, AER 2025); the search phase applies it with the other gates;
- with a batch surcharge, requesters who split batches post HITs below the surcharge size
  (MTurk: fewer than 0.3% of HITs had 10+ assignments after the 2015 fee change).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import ndtr

from crowdsim.config import TASK_TYPES
from crowdsim.ledger import MICRO, to_micro
from crowdsim.policy.fees import requester_fee_per_assignment, requester_fee_rate


def plan_share(cost_over_value, sigma: float) -> np.ndarray:
    """Share of a requester's tasks worth their cost: the value of its tasks is lognormal
    around the median task's (dispersion ``sigma``, ``requesters.task_value_sigma``), so the
    share worth a cost ``cost_over_value`` x the median value is ``1 - Phi(ln(x) / sigma)``."""
    x = np.asarray(cost_over_value, dtype=np.float64)
    if sigma <= 0:
        return (x <= 1.0).astype(np.float64)
    with np.errstate(divide="ignore"):
        return ndtr(-np.log(x) / sigma)


def plan_value(cost_over_value, sigma: float) -> np.ndarray:
    """The value of the tasks worth their cost, per task of the plan, over the median task's:
    ``E[v / median; v >= cost] = exp(sigma^2 / 2) Phi((sigma^2 - ln x) / sigma)``."""
    x = np.asarray(cost_over_value, dtype=np.float64)
    if sigma <= 0:
        return (x <= 1.0).astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.exp(sigma**2 / 2) * ndtr((sigma**2 - np.log(x)) / sigma)


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


class NewBatches(NamedTuple):
    """Batches to put on the listing, one entry per batch (arrays of equal length)."""

    requester: np.ndarray  # requester row
    task_type: np.ndarray  # index in TASK_TYPES
    size: np.ndarray  # assignments
    hits: np.ndarray  # HITs (a split batch is one row of several identical HITs)
    per_hit: np.ndarray  # assignments per HIT
    reward_micro: np.ndarray  # reward per assignment, micro-USD
    fee_micro: np.ndarray  # requester fee per assignment, micro-USD
    est_minutes: np.ndarray  # the requester's estimate of an assignment's minutes
    true_minutes: np.ndarray  # its true median minutes
    covered: np.ndarray  # whether a minimum-pay floor raised the reward
    gated: np.ndarray  # behind the approval-rate qualification
    restricted: np.ndarray  # restricted to some countries
    expires: np.ndarray  # the hour it expires
    # the value of an approved assignment to its requester (None: the median task's, its
    # value per hour for the estimated time) and the productivity tier a worker needs (None: 0)
    value_micro: np.ndarray | None = None
    min_tier: np.ndarray | None = None
    # the reward its requester chose before rounding to the increment (None: the reward)
    decided_usd: np.ndarray | None = None


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
    # the reward: the requester's pay per hour (its norm, learnt from its batches' fill, see
    # expire) for the estimated time; the fee is the requester's cost on top
    reward = R.target_pay[req] * est_minutes / 60.0
    if pc.pay_basis == "hourly":  # a deposit at the platform's rate for the estimated time,
        reward = pc.hourly_rate_usd * est_minutes / 60.0  # settled to the time worked (submit)
    covered = np.zeros(n, dtype=bool)
    if pc.min_pay_mode != "none" and pc.min_pay_usd_per_hour > 0 and pc.pay_basis == "task":
        basis = true_minutes if pc.min_pay_mode == "measured" else est_minutes
        floor = pc.min_pay_usd_per_hour * basis / 60.0
        covered = reward < floor
        reward = np.maximum(reward, floor)
    # volume: the tasks of the requester's plan worth their cost per accepted task (rejected
    # work is refunded, so an accepted task costs its reward and fee), against the plan drawn
    # as size0 at the reference terms (its pay now, at the reference fee, with no floor)
    value = R.value_per_hour[req] * est_minutes / 60.0  # the median task's value
    ref_cost = R.target_pay[req] * est_minutes / 60.0 * (1.0 + rc.reference_fee)
    cost = reward * (1.0 + fee_rate)
    sigma = rc.task_value_sigma
    ref_share = plan_share(ref_cost / value, sigma)
    volume = plan_share(cost / value, sigma) / ref_share
    size = np.floor(size0 * volume + rng.random(n)).astype(np.int64)
    if pc.batch_surcharge_counts == "hit" and pc.pay_basis == "task":
        # a batch that volume brought below the surcharge size pays the fee of the HIT really
        # posted (its volume is kept)
        posted = np.where(one_per_hit, 1, np.where(split, np.minimum(size, chunk), size))
        refit = (requester_fee_rate(pc, posted) != fee_rate) & (size > 0)
        if refit.any():
            fee_rate = np.where(refit, requester_fee_rate(pc, posted), fee_rate)
            cost = reward * (1.0 + fee_rate)
    # screening: a requester paying more per hour than its own pay because of the rules
    # admits only the most productive share of workers (by quintile), the harder the more
    own_reward = R.target_pay[req] * est_minutes / 60.0
    admitted = np.minimum(reward / own_reward, 1e6) ** -rc.screening_elasticity
    min_tier = np.clip(np.floor(5.0 * (1.0 - admitted) + 1e-9), 0, 4).astype(np.int8)
    decided = reward  # the requester's pay for the task, before rounding to an increment
    # whole increments (MTurk: cents), at least one increment
    per_usd = 1.0 / pc.reward_increment_usd  # exactly 100.0 for whole cents
    reward = np.maximum(np.ceil(reward * per_usd - 1e-9) / per_usd, pc.reward_increment_usd)
    # a requester left with less than requesters.exit_plan_share of its plan worth posting (at
    # its initial pay, however it has repriced: the rules made it unprofitable) leaves
    cost_at_initial = (
        cost * np.maximum(R.initial_pay[req] / R.target_pay[req], 1.0)
        if pc.min_pay_mode == "none"
        else cost
    )
    unprofitable = plan_share(cost_at_initial / value, sigma) < rc.exit_plan_share * ref_share
    model.counters.batches_not_posted += int(
        unprofitable.sum() + ((size == 0) & ~unprofitable).sum()
    )
    # the welfare ledger: the value of the tasks of the plan not posted because of what the
    # rules made them cost (between the reference cost and the cost now; a leaver's whole plan)
    plan = size0 / ref_share  # tasks in the requester's pipeline, worth or not at the reference
    kept_value = plan_value(np.where(unprofitable, np.inf, cost / value), sigma)
    lost = plan * value * np.maximum(plan_value(ref_cost / value, sigma) - kept_value, 0.0)
    model.counters.value_not_posted_micro += int(to_micro(lost).sum())
    # the value of an approved task of what is posted: the mean over the tasks worth their cost
    unit_value = value * kept_value / np.maximum(plan_share(cost / value, sigma), 1e-300)
    if unprofitable.any():
        model.remove_requesters(np.unique(req[unprofitable]), hour=model.hour)
    keep = (~unprofitable) & (size > 0)
    if not keep.any():
        return
    req, ttype, size = req[keep], ttype[keep], size[keep]
    split = split[keep] & (size > chunk)
    reward, covered, unit_value = reward[keep], covered[keep], unit_value[keep]
    decided = decided[keep]
    min_tier = min_tier[keep]
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
    model.counters.hits_10plus += int(
        (hits * (per_hit >= pc.batch_surcharge_min_assignments)).sum()
    )
    k = size.size
    expires = model.hour + max(1, int(round(rc.batch_lifetime_days * 24)))
    new = NewBatches(
        requester=req, task_type=ttype, size=size, hits=hits, per_hit=per_hit,
        reward_micro=to_micro(reward), fee_micro=to_micro(fee), est_minutes=est_minutes,
        true_minutes=true_minutes, covered=covered, value_micro=to_micro(unit_value),
        gated=rng.random(k) < pc.qualification_share,
        restricted=rng.random(k) < pc.restricted_share, expires=np.full(k, expires),
        min_tier=min_tier, decided_usd=decided,
    )  # fmt: skip
    list_batches(model, new)


class BatchTable(NamedTuple):
    """The batch store's columns that listing a batch writes (by batch row)."""

    requester: np.ndarray
    task_type: np.ndarray
    size: np.ndarray
    remaining: np.ndarray
    hits: np.ndarray
    assignments_per_hit: np.ndarray
    reward_micro: np.ndarray
    fee_micro: np.ndarray
    est_minutes: np.ndarray
    true_minutes: np.ndarray
    gated: np.ndarray
    restricted: np.ndarray
    posted_hour: np.ndarray
    max_per_worker: np.ndarray
    covered_floor: np.ndarray
    value_micro: np.ndarray
    min_tier: np.ndarray


def batch_table(B) -> BatchTable:
    return BatchTable(*(getattr(B, name) for name in BatchTable._fields))


@njit(cache=True)
def write_batches(idx, new, hour, type_max_per_worker, table, spent, n_posted):
    """Write the batches ``new`` (:class:`NewBatches`, every field an array) at rows ``idx`` of
    the batch ``table`` and add each one's deposit (size x (reward + fee)) and size to its
    requester's ``spent`` and ``n_posted``, in order. Returns (deposits, assignments, rewards)
    in micro-USD and assignments (integers: exact in any order)."""
    requester, task_type, size = table.requester, table.task_type, table.size
    remaining, hits, per_hit = table.remaining, table.hits, table.assignments_per_hit
    reward_micro, fee_micro = table.reward_micro, table.fee_micro
    est_minutes, true_minutes = table.est_minutes, table.true_minutes
    gated, restricted, posted_hour = table.gated, table.restricted, table.posted_hour
    max_per_worker, covered, value_micro = (
        table.max_per_worker,
        table.covered_floor,
        table.value_micro,
    )
    min_tier = table.min_tier
    deposits = 0
    assignments = 0
    rewards = 0
    for k in range(idx.size):
        b = idx[k]
        r = new.requester[k]
        t = new.task_type[k]
        n = new.size[k]
        requester[b] = r
        task_type[b] = t
        size[b] = n
        remaining[b] = n
        hits[b] = new.hits[k]
        per_hit[b] = new.per_hit[k]
        reward_micro[b] = new.reward_micro[k]
        fee_micro[b] = new.fee_micro[k]
        est_minutes[b] = new.est_minutes[k]
        true_minutes[b] = new.true_minutes[k]
        gated[b] = new.gated[k]
        restricted[b] = new.restricted[k]
        posted_hour[b] = hour
        max_per_worker[b] = type_max_per_worker[t]
        covered[b] = new.covered[k]
        value_micro[b] = new.value_micro[k]
        min_tier[b] = new.min_tier[k]
        deposit = n * (new.reward_micro[k] + new.fee_micro[k])
        spent[r] += deposit
        n_posted[r] += n
        deposits += deposit
        assignments += n
        rewards += n * new.reward_micro[k]
    return deposits, assignments, rewards


def list_batches(model, new: NewBatches) -> np.ndarray:
    """Put batches on the listing (:class:`NewBatches`, one row per batch): their cost goes
    from requester funds into escrow and each is filed under the hour it expires. Returns the
    batch rows. ``new.decided_usd``: the reward each requester chose before rounding to the
    reward increment (by default the reward), which the fee pass-through measures (rounding
    varies with the mix of task lengths)."""
    B, R = model.batches, model.requesters
    k = new.size.size
    if new.value_micro is None:
        new = new._replace(
            value_micro=to_micro(R.value_per_hour[new.requester] * new.est_minutes / 60.0)
        )
    if new.min_tier is None:
        new = new._replace(min_tier=np.zeros(k, dtype=np.int8))
    idx = B.allocate(k, reset=False)  # every column is set below (expires_hour by the calendar)
    deposits, assignments, rewards = write_batches(
        idx=idx, new=new, hour=model.hour, type_max_per_worker=model.type_max_per_worker,
        table=batch_table(B), spent=R.spent_micro, n_posted=R.n_posted,
    )  # fmt: skip
    model.ledger.transfer("requester_funds", "escrow", int(deposits))
    decided = new.reward_micro / MICRO if new.decided_usd is None else new.decided_usd
    np.add.at(R.pay_posted_usd, new.requester, new.size * decided)
    np.add.at(R.reward_posted_micro, new.requester, new.size * new.reward_micro)
    np.add.at(R.fee_posted_micro, new.requester, new.size * new.fee_micro)
    np.add.at(R.est_hours_posted, new.requester, new.size * new.est_minutes / 60.0)
    c = model.counters
    c.assignments_posted += int(assignments)
    c.assignment_minutes_posted += float((new.size * new.true_minutes).sum())  # numpy's sums
    c.reward_posted_micro += int(rewards)
    c.cost_posted_micro += int(deposits)
    c.assignment_est_minutes_posted += float((new.size * new.est_minutes).sum())
    c.batches_posted += int(k)
    model.due_batches.add(new.expires, idx)
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


def reprice(
    model,
    requester: np.ndarray,
    filled: np.ndarray,
    pay_posted: np.ndarray | None = None,
    fee_rate: np.ndarray | None = None,
) -> None:
    """Requesters learn the supply they face from their expired batches (``filled``: the share
    of each batch done, at ``pay_posted`` per hour of its estimated time, with the fee rate
    ``fee_rate`` on the reward) and set their pay per hour from it.

    Each keeps a belief about the share of a batch that would fill at its norm (its initial pay:
    requesters do not cut pay to the monopsony level when batches fill, the reading of Dube et
    al. 2020 that fits Hara et al.'s pay distribution), updated at
    ``requesters.fill_learning_rate`` towards what each batch says about it: its filled share at
    the pay it was posted at, brought back to the norm along the supply curve the requester
    believes it faces, ``filled x (norm / pay_posted) ** elasticity``
    (``requesters.supply_elasticity_belief``), so a batch that filled because its pay was
    raised does not make the requester believe that its norm fills. While that belief is at
    least ``requesters.fill_target`` it pays its norm; below it, the pay that fills the target,
    ``norm x (target / belief) ** (1 / elasticity)``, but never more per hour than the mean
    value of the tasks it posts net of the fee its batches pay (a batch's expected profit stays
    positive). A fee therefore reaches rewards only through this rule: fully for a requester
    whose pay the value of its work caps (the cap falls with the fee), partly through fill (a
    fee rise makes requesters post less, so batches fill at less pay), not at all for one that
    pays its norm: a share between 0 and 1 (``fee_pass_through_measured``)."""
    rc = model.config.requesters
    if rc.fill_learning_rate <= 0 or requester.size == 0:
        return
    R = model.requesters
    r, inv = np.unique(requester, return_inverse=True)
    count = np.bincount(inv)
    norm = R.initial_pay[r]
    eps = rc.supply_elasticity_belief
    seen = filled
    if pay_posted is not None:  # the fill it would have had at its norm
        seen = filled * np.minimum(norm[inv] / np.maximum(pay_posted, 1e-9), 1.0) ** eps
    mean_fill = np.bincount(inv, weights=seen) / count
    belief = R.fill_belief[r] + rc.fill_learning_rate * (mean_fill - R.fill_belief[r])
    R.fill_belief[r] = belief
    raise_factor = np.maximum(rc.fill_target / np.maximum(belief, 1e-3), 1.0) ** (1.0 / eps)
    x = norm * (1.0 + rc.reference_fee) / R.value_per_hour[r]  # its cost over value at its norm
    mean_value = (
        R.value_per_hour[r]
        * plan_value(x, rc.task_value_sigma)
        / np.maximum(plan_share(x, rc.task_value_sigma), 1e-300)
    )
    fee = (
        np.full(r.size, model.config.platform.commission)
        if fee_rate is None
        else np.bincount(inv, weights=fee_rate) / count
    )
    cap = np.maximum(mean_value / (1.0 + fee), norm)
    R.target_pay[r] = np.minimum(norm * raise_factor, cap)


@njit(cache=True)
def refund_unfilled(due, table, spent):
    """For the batches ``due`` (rows of the batch ``table``), in order: refund each one's
    unfilled assignments (reward + fee) to its requester's ``spent``. Returns (refunds in
    micro-USD, assignments expired, each batch's requester, the share of each batch done)."""
    n = due.size
    refunds = 0
    expired = 0
    requester = np.empty(n, table.requester.dtype)
    filled = np.empty(n, np.float64)
    for k in range(n):
        b = due[k]
        rem = table.remaining[b]
        refund = rem * (table.reward_micro[b] + table.fee_micro[b])
        r = table.requester[b]
        spent[r] -= refund
        refunds += refund
        expired += rem
        requester[k] = r
        filled[k] = 1.0 - rem / max(table.size[b], 1)
    return refunds, expired, requester, filled


def expire(model) -> None:
    """Refund the unfilled assignments of batches whose lifetime ends this hour; requesters
    reprice (:func:`reprice`)."""
    B, R = model.batches, model.requesters
    due = model.due_batches.pop(model.hour)
    if due.size == 0:
        return
    refunds, expired, requester, filled = refund_unfilled(
        due=due, table=batch_table(B), spent=R.spent_micro
    )
    model.ledger.transfer("escrow", "refunded", int(refunds))
    model.counters.assignments_expired += int(expired)
    reward = B.reward_micro[due].astype(np.float64)
    reprice(
        model,
        requester,
        filled,
        pay_posted=reward / MICRO * 60.0 / np.maximum(B.est_minutes[due], 1e-9),
        fee_rate=B.fee_micro[due] / np.maximum(reward, 1.0),
    )
    if model.top_ups is not None:
        model.top_ups.close_batches(model, due)
    B.remaining[due] = 0
    B.release(due)
