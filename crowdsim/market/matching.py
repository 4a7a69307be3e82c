"""Phase 3: online workers search (unpaid), choose among the tasks they see, work and sometimes return.

Each online worker has 60 minutes this hour, less any work spilling over from the last hour.
In up to ``workers.max_searches_per_hour`` rounds, vectorised over the workers still searching:

1. **search**: ``search_minutes x (1 + search_congestion x searchers / open assignments)`` of unpaid
   time, so search grows when work is scarce or competition is high;
2. **see**: ``candidates_seen`` task groups drawn by the platform's listing (newest first, or best
   paid first), filtered by qualification gate and country restriction;
3. **choose**: the expected hourly pay of each, ``reward x (1 - worker fee) x P(approved and paid)
   / (1 + impatience x expected delay) / expected minutes``, with the worker's beliefs about the
   requester (own experience, plus public statistics where the platform publishes them); the best
   is taken if it pays at least the worker's reservation wage;
4. **claim**: enough assignments to fill the time left, the last one possibly running into the
   next hour (at least one, at most the per-worker limit and what is left in the batch); when several workers want the same batch, a random
   order decides (explicit resolution, not iteration order);
5. **work**: the worker's true time per assignment is the task's median x their speed x noise; an
   assignment that runs past ``return_threshold`` x the expected time is returned (time lost,
   unpaid), as are a few for other reasons; finished ones are submitted with their review outcome
   drawn now and scheduled for the review phase.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from crowdsim.ledger import MICRO
from crowdsim.market import KIND_ABANDON, KIND_AUTO, KIND_REVIEW
from crowdsim.policy.fees import worker_fee_rate

# record kinds
VISIBILITY_HALF_LIFE_HOURS = 12.0  # assumption: how fast a task group sinks in a 'newest' listing
PUBLIC_STATS_PRIOR_TASKS = (
    20.0  # assumption: reviewed tasks at which public statistics weigh as much as own belief
)


class Listing:
    """The open task groups as the platform lists them, for drawing what workers see.

    'newest' (MTurk's default sort): a group's visibility halves every
    ``VISIBILITY_HALF_LIFE_HOURS`` of age; groups posted in the same hour share one weight, so a
    draw picks an hour cohort (binary search over at most a few dozen cohorts) and then a group
    uniformly within it. 'pay': visibility proportional to the reward per estimated minute.
    """

    def __init__(self, model, open_idx: np.ndarray):
        B = model.batches
        if model.config.platform.listing == "pay":
            rate = B.reward_micro[open_idx] / np.maximum(B.est_minutes[open_idx], 1e-3)
            self.rows = open_idx
            weight = rate / rate.max() + 1e-3
            self.start = np.arange(open_idx.size)
            self.count = np.ones(open_idx.size)
        else:
            hours = B.posted_hour[open_idx]
            order = np.argsort(hours, kind="stable")
            self.rows = open_idx[order]
            h = hours[order]
            self.start = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
            self.count = np.diff(np.r_[self.start, h.size]).astype(np.float64)
            age = model.hour - h[self.start]
            weight = (np.exp2(-age / VISIBILITY_HALF_LIFE_HOURS) + 0.02) * self.count
        self.cum = np.cumsum(weight)
        self.total = float(self.cum[-1]) if self.cum.size else 0.0

    def draw(self, u: np.ndarray) -> np.ndarray:
        """Rows for uniform draws ``u`` in [0, 1) (any shape)."""
        x = u * self.total
        c = np.minimum(np.searchsorted(self.cum, x, side="right"), self.cum.size - 1)
        lower = np.where(c > 0, self.cum[c - 1], 0.0)
        frac = np.clip((x - lower) / (self.cum[c] - lower), 0.0, 1.0)
        count = self.count[c]
        k = np.minimum((frac * count).astype(np.int64), count.astype(np.int64) - 1)
        return self.rows[self.start[c] + k]


def expected_approval(
    model, workers: np.ndarray, reqs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each worker's belief that work for the requester is approved and paid, and the expected
    payment delay in days. ``workers`` has shape (n,), ``reqs`` shape (n, m)."""
    W, R = model.workers, model.requesters
    slots = W.slot_req[workers]  # (n, K): the requesters each worker remembers
    k_slots = slots.shape[1]
    flat = np.full(reqs.shape, -1, dtype=np.int64)  # flat index of the matching slot, -1 if unknown
    base = workers[:, None].astype(np.int64) * k_slots
    for k in range(k_slots):
        flat = np.where(slots[:, k, None] == reqs, base + k, flat)
    known = flat >= 0
    safe = np.where(known, flat, 0)
    p_ok = np.where(known, W.slot_ok.ravel()[safe], W.belief_ok[workers][:, None])
    delay = np.where(known, W.slot_delay.ravel()[safe], W.belief_delay_days[workers][:, None])
    if model.config.platform.public_requester_stats:
        # public statistics: the requester's approval rate (abandoned work counts as unpaid) and
        # mean payment delay, weighted by the evidence behind them against the worker's own belief
        a = R.n_approved[reqs]
        j = R.n_rejected[reqs] + R.n_abandoned[reqs]
        n = a + j
        weight = n / (n + PUBLIC_STATS_PRIOR_TASKS)
        public_ok = a / np.maximum(n, 1)
        public_delay = np.where(a > 0, R.delay_hours_sum[reqs] / np.maximum(a, 1) / 24.0, delay)
        p_ok = weight * public_ok + (1.0 - weight) * p_ok
        delay = weight * public_delay + (1.0 - weight) * delay
    return p_ok, delay


def search_and_work(model) -> None:
    cfg, rng, W, B = model.config, model.rng_match, model.workers, model.batches
    wc, pc = cfg.workers, cfg.platform
    present = model.present_workers
    model._hour_stats = dict(online=0, submitted=0, returned=0)
    model._online_idx = present[:0]
    if present.size == 0:
        return
    factor = model.availability[model.hour % 168]
    p_online = model._present_base * factor[model._present_country]
    online = rng.random(present.size, dtype=np.float32) < p_online
    spilling = model._spilling[W.present[model._spilling]]
    on = np.union1d(present[online], spilling) if spilling.size else present[online]
    model._spilling = on[:0]
    if on.size == 0:
        model._hour_stats = dict(online=0, submitted=0, returned=0)
        model._online_idx = on
        return
    W.online_hours[on] += 1
    spill_in = W.spill[on]
    left = 60.0 - np.minimum(spill_in, 60.0)
    W.spill[on] = np.maximum(spill_in - 60.0, 0.0)

    claims: list[tuple[np.ndarray, ...]] = []
    open_all = np.flatnonzero(B.in_use[: B.n] & (B.remaining[: B.n] > 0))
    listing = Listing(model, open_all) if open_all.size else None
    submitted = returned = 0
    sigma = wc.duration_noise_sigma
    m = wc.candidates_seen
    for _round in range(wc.max_searches_per_hour):
        pos = np.flatnonzero(left > 0.5)
        if pos.size == 0:
            break
        workers = on[pos]
        n_open_assign = int(B.remaining[open_all].sum()) if open_all.size else 0
        search = wc.search_minutes * (
            1.0 + wc.search_congestion * workers.size / (n_open_assign + 1.0)
        )
        s = np.minimum(search, left[pos])
        W.m_search[workers] += s
        left[pos] -= s
        if n_open_assign == 0:
            break
        # candidates seen (n, m) drawn from the listing
        cand = listing.draw(rng.random((workers.size, m)))
        # eligibility: remaining, qualification gate, country restriction
        elig = B.remaining[cand] > 0
        a_n, r_n = W.n_approved[workers], W.n_rejected[workers]
        rate = np.where(a_n + r_n > 0, a_n / np.maximum(a_n + r_n, 1), 1.0)
        qualified = (rate >= pc.qualification_min_approval_rate) & (
            a_n >= pc.qualification_min_approved
        )
        elig &= ~B.gated[cand] | qualified[:, None]
        if pc.restricted_share > 0:
            allowed = model.restricted_allowed[W.country[workers]]
            elig &= ~B.restricted[cand] | allowed[:, None]
        wfee = worker_fee_rate(pc, W.gross_billed_micro[workers] / MICRO)
        exp_minutes = B.est_minutes[cand] * W.belief_duration_ratio[workers][:, None]
        # pay per expected hour if approved and paid at once: an upper bound of the value, so
        # candidates below the reservation wage on it can be dropped before beliefs are looked up
        upper = (
            B.reward_micro[cand]
            / MICRO
            * (1.0 - wfee)[:, None]
            / np.maximum(exp_minutes, 1e-3)
            * 60.0
        )
        reservation = W.reservation_wage[workers]
        viable_r, viable_c = np.nonzero(elig & (upper >= reservation[:, None]))
        if viable_r.size == 0:
            continue
        p_ok, delay = expected_approval(
            model, workers[viable_r], B.requester[cand[viable_r, viable_c]][:, None]
        )
        value = np.full(cand.shape, -np.inf)
        value[viable_r, viable_c] = (
            upper[viable_r, viable_c] * p_ok[:, 0] / (1.0 + wc.impatience_per_day * delay[:, 0])
        )
        best = value.argmax(axis=1)
        rows = np.arange(workers.size)
        best_value = value[rows, best]
        accept = best_value >= reservation
        if not accept.any():
            continue
        pos, workers, best = pos[accept], workers[accept], best[accept]
        b = cand[accept, best]
        e = exp_minutes[accept, best]
        # enough assignments to fill the time left (the last one may run into the next hour)
        want = np.clip(np.ceil(left[pos] / e), 1, None).astype(np.int64)
        want = np.minimum(want, np.minimum(B.max_per_worker[b], B.remaining[b]))
        # explicit conflict resolution: a random order among workers wanting the same batch
        order = np.lexsort((rng.random(b.size), b))
        b_sorted, want_sorted = b[order], want[order]
        cum = np.cumsum(want_sorted)
        start = np.flatnonzero(np.r_[True, b_sorted[1:] != b_sorted[:-1]])
        group_base = np.repeat(
            cum[start] - want_sorted[start], np.diff(np.r_[start, b_sorted.size])
        )
        before = cum - want_sorted - group_base
        grant_sorted = np.clip(B.remaining[b_sorted] - before, 0, want_sorted)
        grant = np.empty_like(grant_sorted)
        grant[order] = grant_sorted
        got = grant > 0
        if not got.any():
            continue
        pos, workers, b, e, grant = pos[got], workers[got], b[got], e[got], grant[got]
        np.subtract.at(B.remaining, b, grant)
        # work: returns and time
        a_med = B.true_minutes[b] * W.speed[workers]
        ratio = a_med / e
        ln_c = np.log(wc.return_threshold / ratio)
        p_finish_dur = ndtr((ln_c + sigma**2 / 2) / sigma)  # P(noise <= threshold / ratio)
        p_ret = 1.0 - (1.0 - wc.return_base_prob) * p_finish_dur
        k_ret = rng.binomial(grant, p_ret)
        k_done = grant - k_ret
        mean_done = ndtr((ln_c - sigma**2 / 2) / sigma) / np.maximum(p_finish_dur, 1e-12)
        minutes_done = k_done * a_med * np.minimum(mean_done, wc.return_threshold / ratio)
        share_dur = np.where(p_ret > 0, (1.0 - p_finish_dur) / np.maximum(p_ret, 1e-12), 0.0)
        minutes_ret = k_ret * (
            share_dur * wc.return_threshold * e + (1.0 - share_dur) * 0.5 * a_med
        )
        if k_ret.any():
            np.add.at(B.remaining, b, k_ret)  # returned assignments go back to the batch
            np.add.at(W.m_returned, workers, minutes_ret)
            np.add.at(W.n_returned, workers, k_ret)
        used = minutes_done + minutes_ret
        left[pos] -= used
        over = left[pos] < 0
        if over.any():
            np.add.at(W.spill, workers[over], -left[pos][over])
            left[pos[over]] = 0.0
        submitted += int(k_done.sum())
        returned += int(k_ret.sum())
        # workers learn how long tasks really take relative to the posted estimate
        done = k_done > 0
        if done.any():
            obs = (minutes_done[done] / k_done[done]) / B.est_minutes[b[done]]
            lr = wc.learning_rate
            W.belief_duration_ratio[workers[done]] += lr * (
                obs - W.belief_duration_ratio[workers[done]]
            )
            claims.append((workers[done], b[done], k_done[done], minutes_done[done]))
    if claims:  # submissions of the hour, with their review outcomes, filed in one go
        _submit(model, *(np.concatenate(parts) for parts in zip(*claims, strict=True)))
    W.m_idle_online[on] += np.maximum(left, 0.0)
    model._spilling = on[W.spill[on] > 0]  # busy into the next hour, online whatever their profile
    model._hour_stats = dict(online=int(on.size), submitted=submitted, returned=returned)
    model._online_idx = on


def _submit(
    model, workers: np.ndarray, b: np.ndarray, k_done: np.ndarray, minutes: np.ndarray
) -> None:
    """Create submission records with their review outcome and resolution hour."""
    cfg, rng, W, B, R = (
        model.config,
        model.rng_review,
        model.workers,
        model.batches,
        model.requesters,
    )
    rc, pc = cfg.requesters, cfg.platform
    n = workers.size
    req = B.requester[b]
    p_good = W.skill[workers] ** R.strictness[req]
    n_good = rng.binomial(k_done, np.clip(p_good, 0.0, 1.0))
    n_bad = k_done - n_good
    rej_kind = R.rejection_kind[req]
    p_rb = np.choose(rej_kind, [rc.honest_reject_bad_prob, rc.strict_reject_bad_prob, 1.0])
    p_rg = np.choose(rej_kind, [0.0, rc.strict_reject_good_prob, rc.opportunistic_reject_good_prob])
    n_rj = rng.binomial(n_bad, p_rb)
    n_ru = rng.binomial(n_good, p_rg)
    # timing: review delay by requester behaviour vs the payment guarantee's deadline
    rev = R.review_kind[req]
    z = rng.standard_normal(n)
    delay = np.where(
        rev == 0,
        rc.review_delay_hours_prompt * np.exp(0.8 * z),
        np.where(rev == 1, rc.review_delay_hours_slow * np.exp(0.5 * z), np.inf),
    )
    if pc.payment_guarantee == "auto_approval":
        deadline = pc.auto_approval_days * 24.0
    elif pc.payment_guarantee == "escrow":
        deadline = pc.escrow_auto_approval_days * 24.0
    else:
        deadline = np.inf
    reviewed = delay < deadline
    kind = np.where(reviewed, KIND_REVIEW, np.where(np.isfinite(deadline), KIND_AUTO, KIND_ABANDON))
    when = np.where(reviewed, delay, np.where(kind == KIND_AUTO, deadline, pc.abandon_days * 24.0))
    when = model.hour + np.maximum(1, np.ceil(when)).astype(np.int64)
    n_rj = np.where(reviewed, n_rj, 0)
    n_ru = np.where(reviewed, n_ru, 0)
    n_over = (
        rng.binomial(n_ru, pc.appeal_overturn_prob) if pc.appeals else np.zeros(n, dtype=np.int64)
    )
    n_approve = np.where(kind == KIND_ABANDON, 0, k_done - n_rj - n_ru)
    idx = model.records.allocate(n, reset=False)  # every column is set below
    S = model.records
    S.worker[idx] = workers
    S.requester[idx] = req
    S.kind[idx] = kind
    S.n_done[idx] = k_done
    S.n_approve[idx] = n_approve
    S.n_rej_just[idx] = n_rj
    S.n_rej_unjust[idx] = n_ru
    S.n_overturn[idx] = n_over
    S.reward_micro[idx] = B.reward_micro[b]
    S.fee_micro[idx] = B.fee_micro[b]
    S.minutes[idx] = minutes
    S.submit_hour[idx] = model.hour
    S.resolve_hour[idx] = when
    model._due_records.add(when, idx)
    value = k_done * B.reward_micro[b]
    np.add.at(W.m_pending, workers, minutes)
    np.add.at(W.pending_value_micro, workers, value)
    np.add.at(W.n_submitted, workers, k_done)
    np.add.at(R.n_submitted, req, k_done)
    c = model.counters
    c["assignments_submitted"] += int(k_done.sum())
    c["value_submitted_micro"] += int(value.sum())
    c["value_never_paid_micro"] += int(value[kind == KIND_ABANDON].sum())
