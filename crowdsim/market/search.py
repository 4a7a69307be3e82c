"""Phase 3: online workers search (unpaid), choose among the tasks they see, work and sometimes return.

Each online worker has 60 minutes this hour, less any work spilling over from the last hour.
In up to ``workers.max_searches_per_hour`` rounds, for each worker with time left:

0. **stay or log off** (:func:`keeps_looking`): the worker looks once more only while staying
   online is worth its reservation wage, given its beliefs about how often a look finds a task it
   takes and what such tasks pay (learnt look by look at ``workers.search_learning_rate``);
   otherwise it logs off and the rest of the hour is not working time (``hours_logged_off``).
   An empty or thin market gives short sessions and fewer of them;
1. **search**: each look costs ``search_minutes`` of unpaid time, whatever the size of the
   listing (reading a listing takes bounded time; competition shows as looks that find
   nothing, not as longer looks);
2. **see**: ``candidates_seen`` task groups drawn by the platform's listing (:class:`Listing`:
   newest first, or best paid first), filtered by qualification gate and country restriction;
3. **choose** (:func:`choose_task`): a logit over the groups seen and not taking any, on the
   log of each group's expected hourly pay (:func:`requester_belief`, :func:`expected_pay`:
   ``reward x (1 - worker fee) x P(approved and paid) / (1 + impatience x expected delay) /
   expected minutes``, with the worker's beliefs about the requester, own experience plus public
   statistics where the platform publishes them) against the log of the reservation wage, with
   idiosyncratic tastes; the pay sensitivity sets the labour-supply elasticity facing one
   requester (about 0.1 on MTurk, Dube et al. 2020);
4. **claim** (:func:`claim_size`): enough assignments to fill the time left, the last one possibly
   running into the next hour (at least one, at most the per-worker limit and what is left in
   the batch); choices are made against the listing as it stood at the start of the round, and
   when several workers want the same batch a random order decides (explicit resolution, not
   iteration order);
5. **work** (:func:`work_claim`): the worker's true time per assignment is the task's median x
   their speed x noise; an assignment that runs past ``return_threshold`` x the expected time is
   returned (time lost, unpaid), as are a few for other reasons. Finished work is handed to the
   submit phase (:mod:`crowdsim.market.submit`), which draws its review outcome.

Caps on work, where the platform sets them (off by default): with a weekly hours cap
(``platform.weekly_hours_cap``) a worker's hour is at most what is left of its week's allowance
and a claim that would run past it is cut (:func:`fit_in_allowance`: the worker stops at the cap,
what it had not finished goes back to the listing); with a monthly earnings cap
(``platform.monthly_earnings_cap_usd``) a claim is at most what the worker may still earn
(:func:`affordable`), and a worker who cannot take the task it chose is at its cap and stops
until the month ends. Paid by the hour (``platform.pay_basis``), a task's expected pay does not
depend on how long the worker believes it takes.

Working time is the same in every market state: looks (search), work (paid, pending, rejected
or never paid) and returned tasks. Minutes after a worker logs off are not working time; minutes
left after the hour's last permitted look are idle (online, not working). Neither counts in
the all-in wage.

The rules are small compiled functions; :func:`search_rounds` schedules them over the online
workers (compiled, partly in parallel; each worker's draws are its own counters of the stream,
so results do not depend on the number of threads).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from crowdsim.ledger import MICRO
from crowdsim.market.rng import (
    GOLDEN,
    SUBSTREAM,
    alias_table,
    binomial,
    ndtr,
    prefetch,
    seed_state,
    uniform,
    uniform_at,
)
from crowdsim.market.state import HourStats, Submissions


# ---------------------------------------------------------------------------- going online
@njit(cache=True, parallel=True)
def go_online(
    st, present, base, country, factor, spill, carries, online_hours, on_out, left_out
):  # fmt: skip
    """Who is online this hour: each present worker (rows ``present``) with probability
    ``base x factor[country]``, and everyone whose work runs on from the last hour. Writes the
    online rows and their minutes left to ``on_out``/``left_out`` and returns how many.

    Only a worker online last hour can carry work over (``carries``, by position in
    ``present``; rewritten here for the next hour), so only those have their scattered
    ``spill`` read: the same result, without a cache miss per present worker."""
    n_present = present.size
    s0 = st[0]
    for j in prange(n_present):
        carries[j] = uniform_at(s0, j + 1) < base[j] * factor[country[j]] or (
            carries[j] and spill[present[j]] > 0
        )
    st[0] += np.uint64(n_present) * GOLDEN
    online = carries  # who is online now is who may carry work over into the next hour
    n = 0
    for j in range(n_present):
        if online[j]:
            w = present[j]
            on_out[n] = w
            sp = spill[w]
            left_out[n] = 60.0 - min(sp, 60.0)
            spill[w] = max(sp - 60.0, 0.0)
            online_hours[w] += 1
            n += 1
    return n


# ---------------------------------------------------------------------------- the listing
class ListingColumns(NamedTuple):
    """The listed groups for the compiled rounds, by listing position: the alias table of the
    hour cohorts (``prob``, ``alias``, ``inv_prob``, ``inv_rest``, ``start``, ``count``) and the
    groups' columns."""

    prob: np.ndarray
    alias: np.ndarray
    inv_prob: np.ndarray
    inv_rest: np.ndarray
    start: np.ndarray
    count: np.ndarray
    remaining: np.ndarray  # open assignments (updated by the rounds)
    needs: np.ndarray  # bit 1 = gated, bit 2 = country-restricted, 2 << t = tier >= t
    rate: np.ndarray  # USD per hour at the posted time estimate
    est_minutes: np.ndarray
    true_minutes: np.ndarray
    max_per_worker: np.ndarray
    requester: np.ndarray
    reward_micro: np.ndarray  # reward per assignment, micro-USD (for a cap on earnings)


class Listing:
    """The open task groups as the platform lists them, for drawing what workers see.

    'newest' (MTurk's default sort): a group's visibility halves every
    ``platform.listing_half_life_hours`` of age (plus a floor, ``platform.listing_min_visibility``);
    groups posted in the same hour share one weight, so a draw picks an hour cohort (Walker's
    alias method over the cohorts' weights) and then a group uniformly within it. 'pay':
    visibility proportional to the reward per estimated minute. ``rows`` are the groups' batch
    rows in listing order; ``start``/``count`` give each cohort's positions and
    ``prob``/``alias`` the cohorts' alias table.
    """

    def __init__(self, model, open_idx: np.ndarray):
        B, pc = model.batches, model.config.platform
        if pc.listing == "pay":
            rate = B.reward_micro[open_idx] / np.maximum(B.est_minutes[open_idx], 1e-3)
            self.rows = open_idx
            weight = rate / rate.max() + 1e-3
            self.start = np.arange(open_idx.size)
            self.count = np.ones(open_idx.size, dtype=np.int64)
        else:  # by hour posted (a stable order: row order within an hour), one cohort an hour
            self.rows, self.start, self.count, cohort_hour = by_hour_posted(open_idx, B.posted_hour)
            age = model.hour - cohort_hour
            visibility = np.exp2(-age / pc.listing_half_life_hours) + pc.listing_min_visibility
            weight = visibility * self.count
        self.prob, self.alias = alias_table(weight.astype(np.float64))
        with np.errstate(divide="ignore"):  # prob 0: never kept; prob 1: never aliased
            self.inv_prob = np.where(self.prob > 0, 1.0 / self.prob, 0.0)
            self.inv_rest = np.where(self.prob < 1, 1.0 / (1.0 - self.prob), 0.0)

    def columns(self, model) -> ListingColumns:
        B = model.batches
        batches = BatchColumns(
            remaining=B.remaining, gated=B.gated, restricted=B.restricted, min_tier=B.min_tier,
            reward_micro=B.reward_micro, est_minutes=B.est_minutes, true_minutes=B.true_minutes,
            max_per_worker=B.max_per_worker, requester=B.requester,
        )  # fmt: skip
        return listed_columns(
            rows=self.rows, batches=batches, prob=self.prob, alias=self.alias,
            inv_prob=self.inv_prob, inv_rest=self.inv_rest, start=self.start, count=self.count,
        )  # fmt: skip


class BatchColumns(NamedTuple):
    """The batch columns the listing reads (by batch row)."""

    remaining: np.ndarray
    gated: np.ndarray
    restricted: np.ndarray
    min_tier: np.ndarray
    reward_micro: np.ndarray
    est_minutes: np.ndarray
    true_minutes: np.ndarray
    max_per_worker: np.ndarray
    requester: np.ndarray


@njit(cache=True)
def open_batches(in_use, remaining, n):
    """Rows below ``n`` of the batches in use with assignments left, in row order."""
    k = 0
    for b in range(n):
        if in_use[b] and remaining[b] > 0:
            k += 1
    out = np.empty(k, np.int64)
    k = 0
    for b in range(n):
        if in_use[b] and remaining[b] > 0:
            out[k] = b
            k += 1
    return out


@njit(cache=True)
def by_hour_posted(open_idx, posted_hour):
    """The rows ``open_idx`` ordered by the hour they were posted, rows of one hour in the order
    given (a counting sort: the order of a stable sort), and the hour cohorts: (rows, each
    cohort's first position, its size, its hour)."""
    n = open_idx.size
    if n == 0:
        e = np.empty(0, np.int64)
        return e, e.copy(), e.copy(), e.copy()
    lo = posted_hour[open_idx[0]]
    hi = lo
    for j in range(n):
        h = posted_hour[open_idx[j]]
        lo = min(lo, h)
        hi = max(hi, h)
    span = np.int64(hi) - np.int64(lo) + 1
    first = np.zeros(span + 1, np.int64)  # first position of each hour (after the prefix sum)
    for j in range(n):
        first[posted_hour[open_idx[j]] - lo + 1] += 1
    n_cohorts = 0
    for k in range(span):
        if first[k + 1] > 0:
            n_cohorts += 1
        first[k + 1] += first[k]
    start = np.empty(n_cohorts, np.int64)
    count = np.empty(n_cohorts, np.int64)
    hour = np.empty(n_cohorts, np.int64)
    c = 0
    for k in range(span):
        if first[k + 1] > first[k]:
            start[c] = first[k]
            count[c] = first[k + 1] - first[k]
            hour[c] = np.int64(lo) + k
            c += 1
    rows = np.empty(n, np.int64)
    for j in range(n):
        k = posted_hour[open_idx[j]] - lo
        rows[first[k]] = open_idx[j]
        first[k] += 1
    return rows, start, count, hour


@njit(cache=True)
def listed_columns(rows, batches, prob, alias, inv_prob, inv_rest, start, count):
    """The listed groups' columns by listing position (:class:`ListingColumns`), gathered from
    the batch columns in one pass; ``rate`` is USD per hour at the posted time estimate and
    ``needs`` the gates as bit flags (:func:`needs_flags`)."""
    n = rows.size
    remaining = np.empty(n, batches.remaining.dtype)
    needs = np.empty(n, np.int8)
    rate = np.empty(n, np.float64)
    est_minutes = np.empty(n, np.float64)
    true_minutes = np.empty(n, np.float64)
    max_per_worker = np.empty(n, batches.max_per_worker.dtype)
    requester = np.empty(n, batches.requester.dtype)
    reward_micro = np.empty(n, batches.reward_micro.dtype)
    for p in range(n):
        b = rows[p]
        remaining[p] = batches.remaining[b]
        tier = batches.min_tier[b]
        tier_bit = (2 << max(tier, 1)) if tier > 0 else 0
        needs[p] = np.int8(
            np.int64(batches.gated[b]) + 2 * np.int64(batches.restricted[b]) + tier_bit
        )
        est = batches.est_minutes[b]
        rate[p] = batches.reward_micro[b] / MICRO * 60.0 / max(est, 1e-3)
        est_minutes[p] = est
        true_minutes[p] = batches.true_minutes[b]
        max_per_worker[p] = batches.max_per_worker[b]
        requester[p] = batches.requester[b]
        reward_micro[p] = batches.reward_micro[b]
    return ListingColumns(
        prob, alias, inv_prob, inv_rest, start, count, remaining, needs, rate, est_minutes,
        true_minutes, max_per_worker, requester, reward_micro,
    )  # fmt: skip


@njit(cache=True, inline="always")
def listing_draw(u, listing):
    """Position in the listing for a uniform draw ``u``: a cohort by the alias method (constant
    time, no search), then a group uniformly within it, from the rest of the same draw."""
    prob = listing.prob
    x = u * prob.size
    c = min(int(x), prob.size - 1)
    f = x - c
    keep = f < prob[c]
    k = c if keep else listing.alias[c]
    v = f * listing.inv_prob[c] if keep else (f - prob[c]) * listing.inv_rest[c]
    return listing.start[k] + min(int(v * listing.count[k]), listing.count[k] - 1)


def needs_flags(gated, restricted, min_tier) -> np.ndarray:
    """A listed group's gates as bit flags: 1 the approval-rate qualification, 2 the country
    restriction, ``2 << t`` a productivity tier of at least ``t`` (1-4, screening)."""
    tier_bit = np.where(min_tier > 0, np.left_shift(2, np.maximum(min_tier, 1)), 0)
    return (gated + 2 * restricted + tier_bit).astype(np.int8)


def access_flags(qualified, allowed, tier) -> np.ndarray:
    """An online worker's access as bit flags matching :func:`needs_flags`: it passes the tier
    gate ``t`` when its tier is at least ``t``."""
    bits = qualified + 2 * allowed.astype(np.int64)
    for t in range(1, 5):
        bits = bits + (tier >= t) * (2 << t)
    return bits.astype(np.int8)


class AccessRules(NamedTuple):
    """What decides an online worker's access and fee (:func:`online_terms`)."""

    min_approval_rate: float  # the qualification: approval rate at least this ...
    min_approved: float  # ... over at least this many approved assignments
    restricted: bool  # whether any group is country-restricted
    allowed: np.ndarray  # by country: may take country-restricted groups
    fee_tiers_usd: np.ndarray  # worker fee tiers: lifetime billings (USD) where each rate starts
    fee_rates: np.ndarray  # worker fee rates, one more than tiers


@njit(cache=True)
def online_terms(on, n_approved, n_rejected, country, tier, gross_billed, rules):
    """Per online worker (rows ``on``), what does not change during the hour: its access flags
    (:func:`access_flags`: the qualification by approval rate, 1 with no record yet, and count;
    the country restriction; the productivity tier) and its fee rate at its lifetime billings
    (``policy.fees.worker_fee_rate``). Returns (access, fee rate)."""
    n = on.size
    access = np.empty(n, np.int8)
    fee = np.empty(n, np.float64)
    tiers = rules.fee_tiers_usd
    for i in range(n):
        w = on[i]
        a = n_approved[w]
        judged = a + n_rejected[w]
        rate = a / max(judged, 1) if judged > 0 else 1.0
        qualified = rate >= rules.min_approval_rate and a >= rules.min_approved
        allowed = rules.allowed[country[w]] if rules.restricted else True
        bits = np.int64(qualified) + 2 * np.int64(allowed)
        for t in range(1, 5):
            if tier[w] >= t:
                bits += 2 << t
        access[i] = np.int8(bits)
        billed = gross_billed[w] / MICRO
        k = 0
        while k < tiers.size and tiers[k] <= billed:  # numpy's searchsorted(side="right")
            k += 1
        fee[i] = rules.fee_rates[k]
    return access, fee


# ---------------------------------------------------------------------------- the rules
class OnlineWorkers(NamedTuple):
    """Per online worker this hour (index i): row, minutes left, fee rate and access flags."""

    rows: np.ndarray
    minutes_left: np.ndarray  # updated by the rounds
    worker_fee: np.ndarray
    access: np.ndarray  # bit 1 = qualification, bit 2 = country allowed, 2 << t = tier >= t


class WorkerColumns(NamedTuple):
    """The worker columns the search reads and writes (by worker row)."""

    reservation_wage: np.ndarray
    duration_ratio: np.ndarray  # belief: true / posted task time
    speed: np.ndarray
    belief_ok: np.ndarray  # general belief that work is approved and paid
    belief_delay: np.ndarray  # general belief about the payment delay, days
    slot_req: np.ndarray  # requesters remembered (row, slot)
    slot_ok: np.ndarray
    slot_delay: np.ndarray
    m_search: np.ndarray
    m_returned: np.ndarray
    n_returned: np.ndarray
    m_idle: np.ndarray
    m_logged_off: np.ndarray
    spill: np.ndarray
    belief_find: np.ndarray  # belief: probability that a look finds an acceptable task
    belief_found_wage: np.ndarray  # belief: expected pay per hour of a task found, USD
    week_allowance: np.ndarray  # minutes the worker may still work this week (inf: no cap)
    month_allowance: np.ndarray  # reward (micro-USD) it may still earn this month (inf: no cap)
    inclusive_value: np.ndarray  # summed over its looks, USD (see inclusive_value_usd)


class RequesterStats(NamedTuple):
    """Requesters' record as the platform could publish it (by requester row)."""

    n_approved: np.ndarray
    n_rejected: np.ndarray
    n_abandoned: np.ndarray
    delay_hours_sum: np.ndarray


class SearchParams(NamedTuple):
    max_rounds: int
    candidates_seen: int
    search_minutes: float
    choice_pay_sensitivity: float
    search_learning_rate: float
    public_stats: bool
    public_stats_prior_tasks: float
    impatience_per_day: float
    return_threshold: float
    return_base_prob: float
    return_other_time_share: float
    duration_noise_sigma: float
    learning_rate: float
    hourly_pay: bool  # paid per hour worked: expected pay does not depend on the task's length
    week_cap: bool  # platform.weekly_hours_cap is set
    month_cap: bool  # platform.monthly_earnings_cap_usd is set


class Beliefs(NamedTuple):
    """The online workers' beliefs as the rounds read them (by online index ``i``): general
    approval odds and payment delay (days), and the requesters remembered (``slot_req``, one
    row of slots per worker) with what it believes of each."""

    own_ok: np.ndarray
    own_delay: np.ndarray
    slot_req: np.ndarray
    slot_ok: np.ndarray
    slot_delay: np.ndarray


class Look(NamedTuple):
    """One look at the listing by online worker ``worker`` (its online index): what its choice
    depends on beyond the listing and its beliefs."""

    worker: int
    outside: float  # utility of taking no task (outside_utility of its reservation wage)
    beta_log_upper: float  # beta x ln(the highest expected pay any listed group could offer it)
    pay_factor: float  # (1 - worker fee) / believed duration ratio
    lacks: int  # the access flags it lacks (~access; see access_flags)


class SearchTotals(NamedTuple):
    n_out: int  # rows of finished work written to the output
    submitted: int
    returned: int
    active: int  # online workers who searched or worked this hour


@njit(cache=True, inline="always")
def requester_belief(i, r, beliefs, stats, params):
    """What online worker ``i`` expects of requester ``r``: (probability that work is approved
    and paid, payment delay in days). Its own memory of ``r`` if it has one (:class:`Beliefs`),
    else its general belief; blended with the platform's public statistics of ``r`` where they
    are published, weighing ``n / (n + public_stats_prior_tasks)`` for ``n`` reviewed tasks."""
    slot_req = beliefs.slot_req
    slot_ok = beliefs.slot_ok
    slot_delay = beliefs.slot_delay
    p_ok = beliefs.own_ok[i]
    delay = beliefs.own_delay[i]
    for k in range(slot_req.shape[1]):  # written without branches (selects)
        known = slot_req[i, k] == r
        p_ok = slot_ok[i, k] if known else p_ok
        delay = slot_delay[i, k] if known else delay
    if params.public_stats:
        a = stats.n_approved[r]
        n = a + stats.n_rejected[r] + stats.n_abandoned[r]
        weight = n / (n + params.public_stats_prior_tasks)
        public_ok = a / max(n, 1)
        public_delay = stats.delay_hours_sum[r] / a / 24.0 if a > 0 else delay
        p_ok = weight * public_ok + (1.0 - weight) * p_ok
        delay = weight * public_delay + (1.0 - weight) * delay
    return p_ok, delay


@njit(cache=True, inline="always")
def expected_pay(upper, p_ok, delay, impatience):
    """Expected pay per hour of a task as (numerator, denominator): ``upper`` (USD/h if approved
    and paid at once) x P(approved and paid) / (1 + impatience x delay in days)."""
    return upper * p_ok, 1.0 + impatience * delay


@njit(cache=True, inline="always")
def gumbel(u):
    """A standard Gumbel draw from a uniform one: the idiosyncratic taste of a discrete choice."""
    return -math.log(-math.log(min(max(u, 1e-300), 1.0 - 1e-16)))


@njit(cache=True, inline="always")
def choice_draws(n_seen):
    """Uniform draws a searcher uses per look: a listing draw and a taste per group seen, and a
    taste for not taking any."""
    return 2 * n_seen + 1


@njit(cache=True, inline="always")
def outside_utility(reservation, beta):
    """The systematic utility of taking no task this look: ``beta x ln(reservation wage)``."""
    return beta * math.log(max(reservation, 1e-9))


@njit(cache=True, inline="always")
def beaten_below(best_u, beta_log_upper):
    """The uniform draw below which a group's taste cannot lift it above ``best_u``, whatever
    the group: its utility is at most ``beta_log_upper + taste`` (``beta_log_upper``: beta x
    the log of the highest expected pay any listed group could offer the worker), so it loses
    when ``taste < t = best_u - beta_log_upper``, i.e. when its uniform draw is below
    ``exp(-exp(-t))`` (a Gumbel taste is ``-ln(-ln u)``). A margin keeps the test conservative
    against rounding, and 0 (no group skipped) where the threshold would be out of range."""
    t = best_u - beta_log_upper - 1e-9
    if t < -3.0:  # exp(-exp(3)) ~ 2e-9: too few skipped to be worth a draw's comparison
        return 0.0
    return math.exp(-math.exp(-t)) * (1.0 - 1e-12)


@njit(cache=True, inline="always")
def choose_task(s0, j, look, listing, beliefs, stats, params):
    """The listing position the worker of ``look`` (:class:`Look`; the ``j``-th searcher of
    the round) takes, or -1,
    the expected pay per hour of that task (USD) and the utility of the best option (taste
    included: its expectation is the logit's log-sum plus Euler's constant, the worker's
    inclusive value of the look).

    A discrete choice with frictions (a logit): the worker sees ``candidates_seen`` draws of the
    listing and values each open group it may take by ``choice_pay_sensitivity x ln(expected pay
    per hour) + taste``, against not taking any, ``outside`` (:func:`outside_utility` of its
    reservation wage) ``+ taste`` (tastes are independent standard Gumbel draws: what the worker
    likes in a task beyond its pay — topic, requester, effort). With a pay sensitivity of about
    0.1 the supply of labour facing one requester has an elasticity of about 0.1, as Dube,
    Jacobs, Naidu & Suri (2020) measured on MTurk. The draws are the round's stream ``s0`` from
    ``j x choice_draws + 1``. ``look.pay_factor`` = (1 - worker fee) / believed duration
    ratio; ``look.lacks`` = ~access.

    A group whose taste is too low to win whatever it pays (:func:`beaten_below`, with
    ``look.beta_log_upper`` = beta x ln(the listing's highest rate x ``pay_factor``)) is
    passed over without looking it up: the same choice, for less work."""
    beta_log_upper = look.beta_log_upper
    pay_factor = look.pay_factor
    lacks = look.lacks
    n_seen = params.candidates_seen
    beta = params.choice_pay_sensitivity
    base = j * choice_draws(n_seen)
    best_u = look.outside + gumbel(uniform_at(s0, base + 2 * n_seen + 1))
    floor_u = beaten_below(best_u, beta_log_upper)
    best_p = -1
    best_value = 0.0
    for c in range(n_seen):
        u_taste = uniform_at(s0, base + 2 * c + 2)
        if u_taste < floor_u:
            continue
        p = listing_draw(uniform_at(s0, base + 2 * c + 1), listing)
        if listing.remaining[p] <= 0 or (listing.needs[p] & lacks) != 0:
            continue
        p_ok, delay = requester_belief(look.worker, listing.requester[p], beliefs, stats, params)
        num, den = expected_pay(
            listing.rate[p] * pay_factor, p_ok, delay, params.impatience_per_day
        )
        value = num / den
        u = beta * math.log(max(value, 1e-9)) + gumbel(u_taste)
        if u > best_u:
            best_u = u
            best_p = p
            best_value = value
            floor_u = beaten_below(best_u, beta_log_upper)
    return best_p, best_value, best_u


EULER_GAMMA = 0.5772156649015329  # the mean of a standard Gumbel draw


@njit(cache=True, inline="always")
def inclusive_value_usd(best_u, outside, reservation, beta):
    """A look's realised gain over taking no task, ``best_u - outside - Euler's constant`` (its
    expectation is the logit's log-sum ``ln(1 + sum exp(v_j - outside))``, the inclusive value),
    in USD per hour: linearised at the reservation wage, where a utility of ``beta x ln(pay)``
    gains ``beta / reservation`` per dollar an hour."""
    if beta <= 0.0:
        return 0.0
    return (best_u - outside - EULER_GAMMA) * reservation / beta


@njit(cache=True, inline="always")
def keeps_looking(p_find, found_wage, reservation):
    """Whether a worker with time left looks at the listing once more, or logs off.

    A one-look-ahead rule: staying online is worth ``p_find x found_wage`` an hour (its beliefs:
    the chance that a look finds a task it takes, and what such tasks pay), and the worker stays
    while that is at least its reservation wage. Each look that finds nothing lowers
    ``p_find``; so a worker in an empty or thin market logs off after a few looks, and comes
    back less often (until its belief recovers, ``workers.belief_find_recovery_per_day``)."""
    return p_find * found_wage >= reservation


@njit(cache=True, inline="always")
def claim_size(minutes_left, expected_minutes, max_per_worker, remaining):
    """Assignments claimed: enough to fill the time left (the last may run into the next hour),
    at least one, at most the per-worker limit and what is left."""
    want = max(1, int(math.ceil(minutes_left / expected_minutes)))
    return min(want, max_per_worker, remaining)


@njit(cache=True, inline="always")
def work_claim(sg, grant, expected_minutes, median_minutes, params):
    """Work through ``grant`` assignments whose expected time is ``expected_minutes`` and true
    median time for this worker ``median_minutes`` (lognormal noise ``duration_noise_sigma``).

    An assignment is returned when it runs past ``return_threshold`` x the expected time (after
    that much time) or, with ``return_base_prob``, for other reasons (after
    ``return_other_time_share`` of its median time). Returns (returned, minutes on finished
    assignments, minutes on returned ones); finished minutes are the truncated mean."""
    sigma = params.duration_noise_sigma
    s2 = sigma * sigma
    threshold = params.return_threshold
    ratio = median_minutes / expected_minutes
    ln_c = math.log(threshold / ratio)
    p_finish = ndtr((ln_c + s2 / 2.0) / sigma)  # P(noise <= threshold / ratio)
    p_ret = 1.0 - (1.0 - params.return_base_prob) * p_finish
    k_ret = binomial(sg, grant, p_ret)
    k_done = grant - k_ret
    mean_done = ndtr((ln_c - s2 / 2.0) / sigma) / max(p_finish, 1e-12)
    minutes_done = k_done * median_minutes * min(mean_done, threshold / ratio)
    share_dur = (1.0 - p_finish) / max(p_ret, 1e-12) if p_ret > 0 else 0.0
    minutes_ret = k_ret * (
        share_dur * threshold * expected_minutes
        + (1.0 - share_dur) * params.return_other_time_share * median_minutes
    )
    return k_ret, minutes_done, minutes_ret


@njit(cache=True, inline="always")
def affordable(grant, allowance_micro, reward_micro):
    """Assignments of a claim of ``grant`` that fit in what a worker may still earn this month
    (``allowance_micro``) at ``reward_micro`` each (a monthly earnings cap)."""
    if reward_micro <= 0:
        return grant
    return min(grant, int(math.floor(allowance_micro / reward_micro)))


@njit(cache=True, inline="always")
def fit_in_allowance(k_done, k_ret, minutes_done, minutes_ret, allowance):
    """A worker with ``allowance`` minutes left of its weekly cap stops when it reaches it: of a
    claim's ``k_done`` finished and ``k_ret`` returned assignments (``minutes_done``,
    ``minutes_ret``), it keeps the finished ones that fit (at their mean time) and the returned
    time scaled to fit; the rest goes back to the listing unfinished. Returns (finished,
    back to the listing, minutes finished, minutes returned, whether it stopped at the cap)."""
    used = minutes_done + minutes_ret
    if used <= allowance:
        return k_done, k_ret, minutes_done, minutes_ret, False
    scale = max(allowance, 0.0) / used
    kept = int(math.floor(k_done * scale))
    done = minutes_done * kept / k_done if k_done > 0 else 0.0
    return kept, k_ret + (k_done - kept), done, minutes_ret * scale, True


# ---------------------------------------------------------------------------- the rounds
WORKER_AHEAD = 8  # online workers ahead whose lines the copy-in and copy-out loops request early


@njit(cache=True, parallel=True)
def search_rounds(st, online, workers, listing, stats, params, out, active_out):
    """Up to ``params.max_rounds`` rounds of search, choice, claim and work for the ``online``
    workers. Finished work goes to ``out`` (a :class:`~crowdsim.market.state.Submissions` of
    preallocated arrays; ``batch`` holds listing positions), whether each online worker searched
    or worked to ``active_out``. Returns :class:`SearchTotals`."""
    # (numba 0.68 loses writes made through a NamedTuple's arrays inside a parallel loop: every
    # array written below is bound to a local name first)
    on, left = online.rows, online.minutes_left
    m_search, m_returned, n_returned = workers.m_search, workers.m_returned, workers.n_returned
    m_idle, spill, duration_ratio = workers.m_idle, workers.spill, workers.duration_ratio
    m_logged_off = workers.m_logged_off
    belief_find, found_wage = workers.belief_find, workers.belief_found_wage
    week_allowance, month_allowance = workers.week_allowance, workers.month_allowance
    inclusive = workers.inclusive_value
    remaining = listing.remaining
    out_worker, out_batch, out_k, out_min = out.worker, out.batch, out.k_done, out.minutes
    n_on = on.size
    k_slots = workers.slot_req.shape[1]
    searching = np.empty(n_on, np.int64)
    choice = np.empty(n_on, np.int64)
    choice_value = np.empty(n_on, np.float64)
    choice_iv = np.empty(n_on, np.float64)
    active = np.zeros(n_on, np.bool_)
    acc_i = np.empty(n_on, np.int64)
    acc_p = np.empty(n_on, np.int64)
    acc_v = np.empty(n_on, np.float64)
    got_j = np.empty(n_on, np.int64)
    got_n = np.empty(n_on, np.int64)
    got_ret = np.empty(n_on, np.int64)
    got_min = np.empty(n_on, np.float64)
    streams = np.empty(n_on, np.uint64)
    n_open = 0
    max_rate = 0.0
    for p in range(remaining.size):
        n_open += remaining[p]
        max_rate = max(max_rate, listing.rate[p])
    beta = params.choice_pay_sensitivity
    # the online workers' beliefs, copied next to each other for the rounds (they do not change
    # during the search; the duration ratio, which does, is kept in step below)
    c_res = np.empty(n_on)
    c_outside = np.empty(n_on)  # utility of taking no task (a function of the reservation wage)
    c_ratio = np.empty(n_on)
    c_ok = np.empty(n_on)
    c_delay = np.empty(n_on)
    c_find = np.empty(n_on)
    c_found = np.empty(n_on)
    c_week = np.empty(n_on)  # minutes left of the weekly cap
    c_month = np.empty(n_on)  # reward left of the monthly cap, micro-USD
    c_iv = np.zeros(n_on)  # inclusive value of this hour's looks, USD (see inclusive_value_usd)
    c_slot_req = np.empty((n_on, k_slots), workers.slot_req.dtype)
    c_slot_ok = np.empty((n_on, k_slots), workers.slot_ok.dtype)
    c_slot_delay = np.empty((n_on, k_slots), workers.slot_delay.dtype)
    for i in prange(n_on):
        if i + WORKER_AHEAD < n_on:  # latency hiding: the (scattered) worker's lines ahead
            ahead = on[i + WORKER_AHEAD]
            prefetch(workers.reservation_wage, ahead)  # the worked group
            prefetch(workers.belief_ok, ahead)  # the settled group, slots included
            prefetch(workers.slot_req, ahead)
            prefetch(week_allowance, ahead)
            prefetch(month_allowance, ahead)
        w = on[i]
        c_res[i] = workers.reservation_wage[w]
        c_outside[i] = outside_utility(c_res[i], beta)
        c_ratio[i] = workers.duration_ratio[w]
        c_ok[i] = workers.belief_ok[w]
        c_delay[i] = workers.belief_delay[w]
        c_find[i] = belief_find[w]
        c_found[i] = found_wage[w]
        c_week[i] = week_allowance[w]
        c_month[i] = month_allowance[w]
        active[i] = left[i] < 60.0  # work ran on from the last hour
        if params.week_cap and left[i] > c_week[i]:  # the cap ends the worker's week this hour
            m_logged_off[w] += left[i] - max(c_week[i], 0.0)
            left[i] = max(c_week[i], 0.0)
        for k in range(k_slots):
            c_slot_req[i, k] = workers.slot_req[w, k]
            c_slot_ok[i, k] = workers.slot_ok[w, k]
            c_slot_delay[i, k] = workers.slot_delay[w, k]
    beliefs = Beliefs(c_ok, c_delay, c_slot_req, c_slot_ok, c_slot_delay)
    n_out = 0
    submitted = 0
    returned = 0
    s_min = params.search_minutes
    lam = params.search_learning_rate
    for _round in range(params.max_rounds):
        # 1. stay or log off: another look only while it is worth the worker's reservation wage
        n_s = 0
        for i in range(n_on):
            if left[i] > 0.5:
                if keeps_looking(c_find[i], c_found[i], c_res[i]) and c_month[i] > 0:
                    searching[n_s] = i
                    n_s += 1
                else:
                    m_logged_off[on[i]] += left[i]
                    left[i] = 0.0
        if n_s == 0:
            break
        # a look costs the same bounded time whatever the state of the listing
        for j in range(n_s):
            i = searching[j]
            s = min(s_min, left[i])
            m_search[on[i]] += s
            left[i] -= s
            c_week[i] -= s
            active[i] = True
        # 2-3. see the listing and choose, against the state at the start of the round (in
        # parallel: each worker's draws are its own counters of the stream)
        s0 = st[0]
        if n_open > 0:
            for j in prange(n_s):
                i = searching[j]
                ratio = (
                    1.0 if params.hourly_pay else c_ratio[i]
                )  # paid by the hour: any length pays the rate
                pay_factor = (1.0 - online.worker_fee[i]) / ratio
                beta_log_upper = beta * math.log(max(max_rate * pay_factor, 1e-9))
                look = Look(i, c_outside[i], beta_log_upper, pay_factor, ~online.access[i])
                choice[j], choice_value[j], best_u = choose_task(
                    s0=s0, j=j, look=look, listing=listing, beliefs=beliefs, stats=stats,
                    params=params,
                )  # fmt: skip
                choice_iv[j] = inclusive_value_usd(best_u, c_outside[i], c_res[i], beta)
            st[0] += np.uint64(n_s * choice_draws(params.candidates_seen)) * GOLDEN
            for j in range(n_s):
                c_iv[searching[j]] += choice_iv[j]
        else:  # nothing listed: no option beyond logging off, an inclusive value of 0
            for j in range(n_s):
                choice[j] = -1
        n_acc = 0
        for j in range(n_s):
            if choice[j] >= 0:
                acc_i[n_acc] = searching[j]
                acc_p[n_acc] = choice[j]
                acc_v[n_acc] = choice_value[j]
                n_acc += 1
            else:  # the look found nothing the worker would take
                i = searching[j]
                c_find[i] += lam * (0.0 - c_find[i])
        # 4. claim: a random order decides among workers wanting the same group
        for j in range(n_acc - 1, 0, -1):
            t = min(int(uniform(st) * (j + 1)), j)
            acc_i[j], acc_i[t] = acc_i[t], acc_i[j]
            acc_p[j], acc_p[t] = acc_p[t], acc_p[j]
            acc_v[j], acc_v[t] = acc_v[t], acc_v[j]
        n_got = 0
        for j in range(n_acc):
            i, p = acc_i[j], acc_p[j]
            grant = claim_size(
                left[i], listing.est_minutes[p] * c_ratio[i], listing.max_per_worker[p],
                remaining[p],
            )  # fmt: skip
            if params.month_cap and grant > 0:
                grant = affordable(grant, c_month[i], listing.reward_micro[p])
                if grant <= 0:  # the worker is at its monthly cap: it stops until next month
                    c_month[i] = 0.0
                    continue
            # what the look taught the worker: found (and got) a task, at this expected pay
            if grant <= 0:
                c_find[i] += lam * (0.0 - c_find[i])
                continue
            c_find[i] += lam * (1.0 - c_find[i])
            c_found[i] += lam * (acc_v[j] - c_found[i])
            remaining[p] -= grant
            n_open -= grant
            got_j[n_got] = j
            got_n[n_got] = grant
            n_got += 1
        # 5. work: true time, returns, submissions; in parallel (a worker claims at most once a
        # round, claim g draws from its own sub-stream), then returns go back to the groups
        s0 = st[0]
        for g in prange(n_got):
            streams[g] = s0 + np.uint64(g) * SUBSTREAM
            sg = streams[g : g + 1]
            i, p = acc_i[got_j[g]], acc_p[got_j[g]]
            w = on[i]
            expected = listing.est_minutes[p] * c_ratio[i]
            k_ret, minutes_done, minutes_ret = work_claim(
                sg, got_n[g], expected, listing.true_minutes[p] * workers.speed[w], params
            )
            k_done = got_n[g] - k_ret
            if params.week_cap:
                k_done, k_ret, minutes_done, minutes_ret, stopped = fit_in_allowance(
                    k_done, k_ret, minutes_done, minutes_ret, c_week[i]
                )
                c_week[i] = 0.0 if stopped else c_week[i] - minutes_done - minutes_ret
                if (
                    stopped and left[i] > minutes_done + minutes_ret
                ):  # the rest of the hour is not worked
                    m_logged_off[w] += left[i] - minutes_done - minutes_ret
                    left[i] = minutes_done + minutes_ret
            if params.month_cap:
                c_month[i] -= k_done * listing.reward_micro[p]
            if k_ret > 0:
                m_returned[w] += minutes_ret
                n_returned[w] += k_ret
            left[i] -= minutes_done + minutes_ret
            if left[i] < 0:
                spill[w] -= left[i]
                left[i] = 0.0
            if k_done > 0:
                # workers learn how long tasks really take relative to the posted estimate
                obs = (minutes_done / k_done) / listing.est_minutes[p]
                c_ratio[i] += params.learning_rate * (obs - c_ratio[i])
                duration_ratio[w] = c_ratio[i]
            got_ret[g] = k_ret
            got_min[g] = minutes_done
        st[0] = s0 + np.uint64(n_got) * SUBSTREAM
        for g in range(n_got):
            i, p = acc_i[got_j[g]], acc_p[got_j[g]]
            k_ret = got_ret[g]
            k_done = got_n[g] - k_ret
            remaining[p] += k_ret
            n_open += k_ret
            submitted += k_done
            returned += k_ret
            if k_done > 0:
                out_worker[n_out] = on[i]
                out_batch[n_out] = p
                out_k[n_out] = k_done
                out_min[n_out] = got_min[g]
                n_out += 1
    # minutes left after the hour's last look (the cap on looks) are idle; beliefs kept
    n_active = 0
    for i in range(n_on):
        if i + WORKER_AHEAD < n_on:
            ahead = on[i + WORKER_AHEAD]
            prefetch(m_idle, ahead)  # the worked group
            prefetch(week_allowance, ahead)
            prefetch(month_allowance, ahead)
            prefetch(inclusive, ahead)
        w = on[i]
        m_idle[w] += max(left[i], 0.0)
        belief_find[w] = c_find[i]
        found_wage[w] = c_found[i]
        week_allowance[w] = c_week[i]
        month_allowance[w] = c_month[i]
        inclusive[w] += c_iv[i]
        active_out[i] = active[i]
        n_active += active[i]
    return SearchTotals(n_out, submitted, returned, n_active)


# ---------------------------------------------------------------------------- the phase
def search_params(cfg) -> SearchParams:
    wc, pc = cfg.workers, cfg.platform
    return SearchParams(
        max_rounds=wc.max_searches_per_hour,
        candidates_seen=wc.candidates_seen,
        search_minutes=wc.search_minutes,
        choice_pay_sensitivity=wc.choice_pay_sensitivity,
        search_learning_rate=wc.search_learning_rate,
        public_stats=bool(pc.public_requester_stats),
        public_stats_prior_tasks=float(wc.public_stats_prior_tasks),
        impatience_per_day=wc.impatience_per_day,
        return_threshold=wc.return_threshold,
        return_base_prob=wc.return_base_prob,
        return_other_time_share=wc.return_other_time_share,
        duration_noise_sigma=wc.duration_noise_sigma,
        learning_rate=wc.learning_rate,
        hourly_pay=pc.pay_basis == "hourly",
        week_cap=pc.weekly_hours_cap is not None,
        month_cap=pc.monthly_earnings_cap_usd is not None,
    )


WEEK_HOURS, MONTH_HOURS = 168, 30 * 24  # the caps' periods, from hour 0 (Monday 00:00 UTC)


def cap_allowances(pc) -> tuple[float, float]:
    """The whole of each cap: (minutes a week, reward a month in micro-USD), inf where none."""
    week = np.inf if pc.weekly_hours_cap is None else pc.weekly_hours_cap * 60.0
    month = np.inf if pc.monthly_earnings_cap_usd is None else pc.monthly_earnings_cap_usd * MICRO
    return week, month


def new_worker_allowances(model, rows: np.ndarray) -> None:
    """Newcomers start with the whole of each cap."""
    week, month = cap_allowances(model.config.platform)
    model.workers.week_allowance[rows] = week
    model.workers.month_allowance[rows] = month


def refresh_allowances(model) -> None:
    """At the first hour of each week (month) every worker's allowance of the weekly hours cap
    (the monthly earnings cap) starts again; without a cap it is infinite (also after a reform
    that lifts it)."""
    W, pc = model.workers, model.config.platform
    week, month = cap_allowances(pc)
    periods = (
        model.hour // WEEK_HOURS if np.isfinite(week) else -1,
        model.hour // MONTH_HOURS if np.isfinite(month) else -1,
    )
    last_week, last_month = model.allowance_periods
    if periods[0] != last_week:
        W.week_allowance[: W.n] = week
    if periods[1] != last_month:
        W.month_allowance[: W.n] = month
    model.allowance_periods = periods


def search_and_work(model) -> HourStats:
    """Phase 3 for this hour: who is online, and their search, choices and work."""
    cfg, rng, W, B, R = (
        model.config,
        model.rng_match,
        model.workers,
        model.batches,
        model.requesters,
    )
    wc, pc = cfg.workers, cfg.platform
    pool = model.pool
    if (
        model.search_params.week_cap
        or model.search_params.month_cap
        or model.allowance_periods != (-1, -1)
    ):
        refresh_allowances(model)
    on_buf = np.empty(pool.workers.size, dtype=np.int64)
    left_buf = np.empty(pool.workers.size, dtype=np.float64)
    n_on = go_online(
        st=seed_state(rng), present=pool.workers, base=pool.worker_base,
        country=pool.worker_country, factor=model.availability[model.hour % 168], spill=W.spill,
        carries=pool.worker_carries, online_hours=W.online_hours, on_out=on_buf,
        left_out=left_buf,
    )  # fmt: skip
    on, left = on_buf[:n_on], left_buf[:n_on]
    if n_on == 0:
        return HourStats(
            online=on, active=on, submitted=0, returned=0, submissions=Submissions.empty()
        )
    open_all = open_batches(B.in_use, B.remaining, B.n)
    if open_all.size:
        listing = Listing(model, open_all)
        rows, columns = listing.rows, listing.columns(model)
    else:  # nothing listed: a look finds nothing
        rows, columns = open_all, empty_listing()
    # what does not change during the hour, per online worker
    access, worker_fee = online_terms(
        on=on, n_approved=W.n_approved, n_rejected=W.n_rejected, country=W.country,
        tier=W.tier, gross_billed=W.gross_billed_micro,
        rules=AccessRules(
            min_approval_rate=float(pc.qualification_min_approval_rate),
            min_approved=float(pc.qualification_min_approved),
            restricted=pc.restricted_share > 0,
            allowed=model.restricted_allowed,
            fee_tiers_usd=model.settle_params.tier_usd,
            fee_rates=model.settle_params.tier_rates,
        ),
    )  # fmt: skip
    active = np.empty(n_on, dtype=np.bool_)
    cap = n_on * wc.max_searches_per_hour
    out = Submissions(
        worker=np.empty(cap, dtype=np.int64),
        batch=np.empty(cap, dtype=np.int64),
        k_done=np.empty(cap, dtype=np.int64),
        minutes=np.empty(cap, dtype=np.float64),
    )
    totals = search_rounds(
        st=seed_state(rng),
        online=OnlineWorkers(
            rows=on, minutes_left=left,
            worker_fee=worker_fee, access=access,
        ),
        workers=WorkerColumns(
            reservation_wage=W.reservation_wage, duration_ratio=W.belief_duration_ratio,
            speed=W.speed, belief_ok=W.belief_ok, belief_delay=W.belief_delay_days,
            slot_req=W.slot_req, slot_ok=W.slot_ok, slot_delay=W.slot_delay,
            m_search=W.m_search, m_returned=W.m_returned, n_returned=W.n_returned,
            m_idle=W.m_idle_online, m_logged_off=W.m_logged_off, spill=W.spill,
            belief_find=W.belief_find, belief_found_wage=W.belief_found_wage,
            week_allowance=W.week_allowance, month_allowance=W.month_allowance,
            inclusive_value=W.inclusive_value_usd,
        ),
        listing=columns,
        stats=RequesterStats(
            n_approved=R.n_approved, n_rejected=R.n_rejected, n_abandoned=R.n_abandoned,
            delay_hours_sum=R.delay_hours_sum,
        ),
        params=model.search_params,
        out=out,
        active_out=active,
    )  # fmt: skip
    B.remaining[rows] = columns.remaining
    k = totals.n_out
    done = Submissions(
        worker=out.worker[:k],
        batch=rows[out.batch[:k]],
        k_done=out.k_done[:k],
        minutes=out.minutes[:k],
    )
    return HourStats(
        online=on, active=on[active], submitted=int(totals.submitted),
        returned=int(totals.returned), submissions=done,
    )  # fmt: skip


def empty_listing() -> ListingColumns:
    f, i = np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    return ListingColumns(
        prob=f, alias=i, inv_prob=f, inv_rest=f, start=i, count=i, remaining=i,
        needs=np.empty(0, dtype=np.int8), rate=f, est_minutes=f, true_minutes=f,
        max_per_worker=i, requester=np.empty(0, dtype=np.int32), reward_micro=i,
    )  # fmt: skip
