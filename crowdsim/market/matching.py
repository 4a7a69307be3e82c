"""Phase 3: online workers search (unpaid), choose among the tasks they see, work and sometimes return.

Each online worker has 60 minutes this hour, less any work spilling over from the last hour.
In up to ``workers.max_searches_per_hour`` rounds, for each worker still searching (the rounds run
in the compiled kernel ``kernels.search_rounds``; this module prepares the hour):

1. **search**: ``search_minutes x (1 + search_congestion x searchers / open assignments)`` of unpaid
   time, so search grows when work is scarce or competition is high;
2. **see**: ``candidates_seen`` task groups drawn by the platform's listing (newest first, or best
   paid first), filtered by qualification gate and country restriction;
3. **choose**: the expected hourly pay of each, ``reward x (1 - worker fee) x P(approved and paid)
   / (1 + impatience x expected delay) / expected minutes``, with the worker's beliefs about the
   requester (own experience, plus public statistics where the platform publishes them); the best
   is taken if it pays at least the worker's reservation wage;
4. **claim**: enough assignments to fill the time left, the last one possibly running into the
   next hour (at least one, at most the per-worker limit and what is left in the batch); choices
   are made against the listing as it stood at the start of the round, and when several workers
   want the same batch a random order decides (explicit resolution, not iteration order);
5. **work**: the worker's true time per assignment is the task's median x their speed x noise; an
   assignment that runs past ``return_threshold`` x the expected time is returned (time lost,
   unpaid), as are a few for other reasons; finished ones are submitted with their review outcome
   drawn now and scheduled for the review phase.
"""

from __future__ import annotations

import numpy as np

from crowdsim.ledger import MICRO
from crowdsim.market import kernels
from crowdsim.policy.fees import worker_fee_rate

VISIBILITY_HALF_LIFE_HOURS = 12.0  # assumption: how fast a task group sinks in a 'newest' listing
PUBLIC_STATS_PRIOR_TASKS = (
    20.0  # assumption: reviewed tasks at which public statistics weigh as much as own belief
)


class Listing:
    """The open task groups as the platform lists them, for drawing what workers see.

    'newest' (MTurk's default sort): a group's visibility halves every
    ``VISIBILITY_HALF_LIFE_HOURS`` of age; groups posted in the same hour share one weight, so a
    draw picks an hour cohort (Walker's alias method over the cohorts' weights) and then a group
    uniformly within it. 'pay': visibility proportional to the reward per estimated minute.
    ``rows`` are the groups' batch rows in listing order; ``start``/``count`` give each cohort's
    positions and ``prob``/``alias`` the cohorts' alias table.
    """

    def __init__(self, model, open_idx: np.ndarray):
        B = model.batches
        if model.config.platform.listing == "pay":
            rate = B.reward_micro[open_idx] / np.maximum(B.est_minutes[open_idx], 1e-3)
            self.rows = open_idx
            weight = rate / rate.max() + 1e-3
            self.start = np.arange(open_idx.size)
            self.count = np.ones(open_idx.size, dtype=np.int64)
        else:
            hours = B.posted_hour[open_idx]
            order = np.argsort(hours, kind="stable")
            self.rows = open_idx[order]
            h = hours[order]
            self.start = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
            self.count = np.diff(np.r_[self.start, h.size])
            age = model.hour - h[self.start]
            weight = (np.exp2(-age / VISIBILITY_HALF_LIFE_HOURS) + 0.02) * self.count
        self.prob, self.alias = kernels.alias_table(weight.astype(np.float64))
        with np.errstate(divide="ignore"):  # prob 0: never kept; prob 1: never aliased
            self.inv_prob = np.where(self.prob > 0, 1.0 / self.prob, 0.0)
            self.inv_rest = np.where(self.prob < 1, 1.0 / (1.0 - self.prob), 0.0)


def search_and_work(model) -> None:
    cfg, rng, W, B, R = (
        model.config,
        model.rng_match,
        model.workers,
        model.batches,
        model.requesters,
    )
    wc, pc = cfg.workers, cfg.platform
    present = model.present_workers
    on_buf = np.empty(present.size, dtype=np.int64)
    left_buf = np.empty(present.size, dtype=np.float64)
    n_on = kernels.go_online(
        kernels.seed_state(rng), present, model._present_base, model._present_country,
        model.availability[model.hour % 168], W.spill, W.online_hours, on_buf, left_buf,
    )  # fmt: skip
    on, left = on_buf[:n_on], left_buf[:n_on]
    model._online_idx = on
    model._hour_stats = dict(online=int(n_on), submitted=0, returned=0)
    if n_on == 0:
        return
    open_all = np.flatnonzero(B.in_use[: B.n] & (B.remaining[: B.n] > 0))
    if open_all.size == 0:  # nothing listed: one unpaid search and the rest of the hour idle
        s = np.minimum(wc.search_minutes * (1.0 + wc.search_congestion * on.size), left)
        W.m_search[on] += s
        W.m_idle_online[on] += left - s
        return
    listing = Listing(model, open_all)
    rows = listing.rows
    # what does not change during the hour, per online worker and per listed group
    a_n, r_n = W.n_approved[on], W.n_rejected[on]
    rate = np.where(a_n + r_n > 0, a_n / np.maximum(a_n + r_n, 1), 1.0)
    qualified = (rate >= pc.qualification_min_approval_rate) & (
        a_n >= pc.qualification_min_approved
    )
    allowed = model.restricted_allowed[W.country[on]] if pc.restricted_share > 0 else True
    access = (qualified + 2 * np.broadcast_to(allowed, on.shape)).astype(np.int8)  # bit flags
    needs = (B.gated[rows] + 2 * B.restricted[rows]).astype(np.int8)
    wfee = worker_fee_rate(pc, W.gross_billed_micro[on] / MICRO)
    remaining = B.remaining[rows]
    cap = n_on * wc.max_searches_per_hour
    out_w = np.empty(cap, dtype=np.int64)
    out_p = np.empty(cap, dtype=np.int64)
    out_k = np.empty(cap, dtype=np.int64)
    out_min = np.empty(cap, dtype=np.float64)
    n_out, submitted, returned = kernels.search_rounds(
        kernels.seed_state(rng), on, left, wfee, access,
        W.reservation_wage, W.belief_duration_ratio, W.speed, W.belief_ok, W.belief_delay_days,
        W.slot_req, W.slot_ok, W.slot_delay,
        W.m_search, W.m_returned, W.n_returned, W.m_idle_online, W.spill,
        listing.prob, listing.alias, listing.inv_prob, listing.inv_rest, listing.start,
        listing.count, remaining,
        needs,
        B.reward_micro[rows] / MICRO * 60.0 / np.maximum(B.est_minutes[rows], 1e-3),
        B.est_minutes[rows], B.true_minutes[rows], B.max_per_worker[rows], B.requester[rows],
        R.n_approved, R.n_rejected, R.n_abandoned, R.delay_hours_sum,
        wc.max_searches_per_hour, wc.candidates_seen, wc.search_minutes, wc.search_congestion,
        pc.public_requester_stats, PUBLIC_STATS_PRIOR_TASKS, wc.impatience_per_day,
        wc.return_threshold, wc.return_base_prob, wc.duration_noise_sigma, wc.learning_rate,
        out_w, out_p, out_k, out_min,
    )  # fmt: skip
    B.remaining[rows] = remaining
    if n_out:  # the hour's submissions, with their review outcomes, filed in one go
        _submit(model, out_w[:n_out], rows[out_p[:n_out]], out_k[:n_out], out_min[:n_out])
    model._hour_stats = dict(online=int(n_on), submitted=int(submitted), returned=int(returned))


def _submit(
    model, workers: np.ndarray, b: np.ndarray, k_done: np.ndarray, minutes: np.ndarray
) -> None:
    """Create submission records with their review outcome and resolution hour and file them
    under that hour (``kernels.file_submissions``)."""
    rc, pc = model.config.requesters, model.config.platform
    W, B, R, S = model.workers, model.batches, model.requesters, model.records
    if pc.payment_guarantee == "auto_approval":
        deadline = pc.auto_approval_days * 24.0
    elif pc.payment_guarantee == "escrow":
        deadline = pc.escrow_auto_approval_days * 24.0
    else:
        deadline = np.inf
    idx = S.allocate(workers.size, reset=False)  # every column is set by the kernel
    cal = model._due_records
    n_assign, value, never = kernels.file_submissions(
        kernels.seed_state(model.rng_review), idx, workers, b, k_done, minutes, model.hour,
        W.log_skill, W.m_pending, W.pending_value_micro, W.n_submitted,
        B.requester, B.reward_micro, B.fee_micro,
        R.strictness, R.rejection_kind, R.review_kind, R.n_submitted,
        np.array([rc.honest_reject_bad_prob, rc.strict_reject_bad_prob, 1.0]),
        np.array([0.0, rc.strict_reject_good_prob, rc.opportunistic_reject_good_prob]),
        rc.review_delay_hours_prompt, rc.review_delay_hours_slow, deadline,
        pc.abandon_days * 24.0, pc.appeals, pc.appeal_overturn_prob,
        S.worker, S.requester, S.kind, S.n_done, S.n_approve, S.n_rej_just, S.n_rej_unjust,
        S.n_overturn, S.reward_micro, S.fee_micro, S.minutes, S.submit_hour, S.resolve_hour,
        *cal.arrays(reserve=workers.size),
    )  # fmt: skip
    c = model.counters
    c["assignments_submitted"] += int(n_assign)
    c["value_submitted_micro"] += int(value)
    c["value_never_paid_micro"] += int(never)
