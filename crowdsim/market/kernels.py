"""Compiled kernels for the hot loops: going online, the search rounds, filing submissions,
settling them, and the daily worker update.

The phases in :mod:`crowdsim.market.matching`, :mod:`crowdsim.market.review` and
:mod:`crowdsim.market.adapt` prepare the hour (what is listed, fee rates, the stores' arrays) with
numpy and hand the per-worker and per-record work to these functions, compiled with numba. A
worker's round (draw the listing, look up beliefs, choose, claim, work) and a record's settlement
are one pass each instead of dozens of whole-array numpy operations. State is updated in place in
the model's columns.

Random numbers: each call draws a 64-bit seed from the model's per-concern
``numpy.random.Generator`` (so a seed still fixes the run and the streams stay separate) and runs
an inline SplitMix64 generator from it (Steele, Lea & Flood 2014; passes BigCrush); calls into the
Generator from compiled code would cost more than the arithmetic around them. SplitMix64 is a
counter, so the loops that run in parallel (``prange``) give item k the k-th draws, or a
sub-stream of its own 2**20 draws apart, and results do not depend on the number of threads
(:mod:`crowdsim.threads`). Settlement splits workers among threads so that each worker's records
are applied in the same order whatever the number of threads.

The rules are the ones documented in ``matching``, ``review`` and ``adapt``; this module only says
how they are computed. Compiled code is cached next to this file (``cache=True``), so only the
first run on a machine pays the compilation (about 10 s).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from crowdsim.ledger import MICRO
from crowdsim.market import KIND_ABANDON, KIND_APPEAL, KIND_AUTO, KIND_REVIEW
from crowdsim.stores import calendar_file, calendar_take

_SQRT2 = math.sqrt(2.0)
PREFETCH_AHEAD = 8  # records ahead whose worker's state is requested from memory early


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Ask the processor to load ``arr[idx]``'s cache line (for writing) ahead of its use."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        first = context.cast(builder, args[1], idxty, types.intp)
        zero = context.get_constant(types.intp, 0)
        inds = [first] + [zero] * (aryty.ndim - 1)  # the row's first element
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, inds, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        rw, locality, data = ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)
        builder.call(fn, [builder.bitcast(ptr, i8p), rw, locality, data])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _ndtr(x):
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / _SQRT2)


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """A generator state for one kernel call, drawn from ``rng``."""
    return np.array([rng.integers(1 << 63)], dtype=np.uint64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
# parallel loops give item j the draws from j x 2**20 on (far more than one item uses)
_SUBSTREAM = np.uint64((0x9E3779B97F4A7C15 << 20) % (1 << 64))


@njit(cache=True, inline="always")
def _uniform_at(base, k):
    """The ``k``-th uniform draw in [0, 1) after state ``base`` (SplitMix64 is a counter: draw k
    is the mix of ``base + k x golden``), so loops can draw in parallel and stay reproducible."""
    z = base + np.uint64(k) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(np.int64(z >> _S11)) * _TO_UNIT  # 53 bits: a signed conversion is exact


@njit(cache=True, inline="always")
def _uniform(st):
    """The next uniform draw of the stream whose state is ``st[0]`` (a one-element uint64 array)."""
    u = _uniform_at(st[0], 1)
    st[0] += _GOLDEN
    return u


@njit(cache=True, inline="always")
def _normal(st):
    """A standard normal draw: the inverse normal CDF of a uniform draw."""
    u = _uniform(st)
    while u <= 0.0:
        u = _uniform(st)
    return norm_ppf(u)


@njit(cache=True, inline="always")
def norm_ppf(u):
    """The inverse standard normal CDF for 0 < u < 1, by Acklam's rational approximation
    (relative error below 1.2e-9), with a logarithm only in the 5% of tails."""
    if u < 0.02425:
        q = math.sqrt(-2.0 * math.log(u))
        return _tail_num(q) / _tail_den(q)
    if u > 0.97575:
        q = math.sqrt(-2.0 * math.log(1.0 - u))
        return -_tail_num(q) / _tail_den(q)
    q = u - 0.5
    r = q * q
    num = (
        (
            ((-3.969683028665376e01 * r + 2.209460984245205e02) * r - 2.759285104469687e02) * r
            + 1.383577518672690e02
        )
        * r
        - 3.066479806614716e01
    ) * r + 2.506628277459239e00
    den = (
        (
            ((-5.447609879822406e01 * r + 1.615858368580409e02) * r - 1.556989798598866e02) * r
            + 6.680131188771972e01
        )
        * r
        - 1.328068155288572e01
    ) * r + 1.0
    return num * q / den  # fmt: skip


@njit(cache=True, inline="always")
def _tail_num(q):
    return ((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
             - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00  # fmt: skip


@njit(cache=True, inline="always")
def _tail_den(q):
    return (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
            + 3.754408661907416e00) * q + 1.0  # fmt: skip


@njit(cache=True, inline="always")
def _bernoulli_successes(st, n, p):
    """Successes in ``n`` trials of probability ``p``, one uniform draw each."""
    k = 0
    for _ in range(n):
        if _uniform(st) < p:
            k += 1
    return k


@njit(cache=True, inline="always")
def _binomial(st, n, p):
    """A binomial(n, p) draw (n is small here: the assignments of one claim or record): up to 12
    trials by counting Bernoulli successes, more by inversion from the likelier side."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n <= 12:
        return _bernoulli_successes(st, n, p)
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    pk = math.exp(n * math.log1p(-pp))  # P(0)
    k = 0
    if pk < 1e-300:  # too many trials for inversion
        k = _bernoulli_successes(st, n, pp)
    else:
        u = _uniform(st)
        cdf = pk
        odds = pp / (1.0 - pp)
        while u > cdf and k < n:
            pk *= (n - k) / (k + 1) * odds
            k += 1
            cdf += pk
    return n - k if flip else k


@njit(cache=True)
def alias_table(weight):
    """Walker's alias table for drawing index i with probability weight[i] / sum (Vose's
    construction): returns (prob, alias)."""
    n = weight.size
    scaled = weight * (n / weight.sum())
    prob = np.ones(n)
    alias = np.arange(n)
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    n_small = 0
    n_large = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[n_small] = i
            n_small += 1
        else:
            large[n_large] = i
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        s = small[n_small]
        n_large -= 1
        g = large[n_large]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        if scaled[g] < 1.0:
            small[n_small] = g
            n_small += 1
        else:
            large[n_large] = g
            n_large += 1
    return prob, alias


@njit(cache=True, inline="always")
def _listing_draw(u, prob, alias, inv_prob, inv_rest, start, count):
    """Position in the listing for a uniform draw ``u`` (see ``matching.Listing``): a cohort by
    the alias method (constant time, no search), then a group uniformly within it, from the rest
    of the same draw."""
    x = u * prob.size
    c = min(int(x), prob.size - 1)
    f = x - c
    keep = f < prob[c]
    k = c if keep else alias[c]
    v = f * inv_prob[c] if keep else (f - prob[c]) * inv_rest[c]
    return start[k] + min(int(v * count[k]), count[k] - 1)


@njit(cache=True, parallel=True)
def go_online(st, present, base, country, factor, spill, online_hours, on_out, left_out):
    """Who is online this hour: each present worker with probability ``base x factor[country]``,
    and everyone whose work runs on from the last hour. Writes the online rows and their minutes
    left to ``on_out``/``left_out`` and returns how many."""
    n_present = present.size
    online = np.empty(n_present, np.bool_)
    s0 = st[0]
    for j in prange(n_present):
        online[j] = _uniform_at(s0, j + 1) < base[j] * factor[country[j]] or spill[present[j]] > 0
    st[0] += np.uint64(n_present) * _GOLDEN
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


@njit(cache=True, parallel=True)
def search_rounds(
    st,
    on,
    left,
    wfee,
    access,  # per online worker: bit 1 = passes the qualification gate, bit 2 = country allowed
    # worker columns
    reservation,
    duration_ratio,
    speed,
    belief_ok,
    belief_delay,
    slot_req,
    slot_ok,
    slot_delay,
    m_search,
    m_returned,
    n_returned,
    m_idle,
    spill,
    # the listing (see ``matching.Listing``) and its groups' columns, by listing position
    prob,
    alias,
    inv_prob,
    inv_rest,
    start,
    count,
    l_remaining,
    l_needs,  # bit 1 = gated, bit 2 = country-restricted
    l_rate,  # USD per hour at the posted time estimate
    l_est,
    l_true,
    l_max_per_worker,
    l_requester,
    # requester public statistics
    r_approved,
    r_rejected,
    r_abandoned,
    r_delay_sum,
    # parameters
    max_rounds,
    n_seen,
    search_minutes,
    congestion,
    public_stats,
    prior_tasks,
    impatience,
    return_threshold,
    return_base_prob,
    sigma,
    learning_rate,
    # outputs: one row per (worker, round) with finished work
    out_w,
    out_p,
    out_k,
    out_min,
):
    """Up to ``max_rounds`` rounds of search, choice, claim and work for the online workers
    ``on`` (``left`` = minutes left this hour). Returns (rows written to ``out_*``, assignments
    submitted, assignments returned); ``out_p`` holds listing positions."""
    n_on = on.size
    k_slots = slot_req.shape[1]
    searching = np.empty(n_on, np.int64)
    choice = np.empty(n_on, np.int64)
    acc_i = np.empty(n_on, np.int64)
    acc_p = np.empty(n_on, np.int64)
    got_j = np.empty(n_on, np.int64)
    got_n = np.empty(n_on, np.int64)
    got_ret = np.empty(n_on, np.int64)
    got_min = np.empty(n_on, np.float64)
    streams = np.empty(n_on, np.uint64)
    n_open = 0
    for p in range(l_remaining.size):
        n_open += l_remaining[p]
    # the online workers' beliefs, copied next to each other for the rounds (they do not change
    # during the search; the duration ratio, which does, is kept in step below)
    c_res = np.empty(n_on)
    c_ratio = np.empty(n_on)
    c_ok = np.empty(n_on)
    c_delay = np.empty(n_on)
    c_slot_req = np.empty((n_on, k_slots), slot_req.dtype)
    c_slot_ok = np.empty((n_on, k_slots), slot_ok.dtype)
    c_slot_delay = np.empty((n_on, k_slots), slot_delay.dtype)
    for i in prange(n_on):
        w = on[i]
        c_res[i] = reservation[w]
        c_ratio[i] = duration_ratio[w]
        c_ok[i] = belief_ok[w]
        c_delay[i] = belief_delay[w]
        for k in range(k_slots):
            c_slot_req[i, k] = slot_req[w, k]
            c_slot_ok[i, k] = slot_ok[w, k]
            c_slot_delay[i, k] = slot_delay[w, k]
    n_out = 0
    submitted = 0
    returned = 0
    s2 = sigma * sigma
    for _round in range(max_rounds):
        n_s = 0
        for i in range(n_on):
            if left[i] > 0.5:
                searching[n_s] = i
                n_s += 1
        if n_s == 0:
            break
        # 1. search: unpaid minutes, longer when searchers are many and open assignments few
        search = search_minutes * (1.0 + congestion * n_s / (n_open + 1.0))
        for j in range(n_s):
            i = searching[j]
            s = min(search, left[i])
            m_search[on[i]] += s
            left[i] -= s
        if n_open <= 0:
            break
        # 2-3. see the listing and choose, against the state at the start of the round (in
        # parallel: each worker's draws are its own counters of the stream)
        s0 = st[0]
        for j in prange(n_s):
            i = searching[j]
            res = c_res[i]
            pay_factor = (1.0 - wfee[i]) / c_ratio[i]
            lacks = ~access[i]
            best_num = -1.0  # the best value so far is best_num / best_den (no division per draw)
            best_den = 1.0
            best_p = -1
            for c in range(n_seen):  # written without branches on the draws (selects)
                u = _uniform_at(s0, j * n_seen + c + 1)
                p = _listing_draw(u, prob, alias, inv_prob, inv_rest, start, count)
                upper = l_rate[p] * pay_factor  # if approved and paid at once
                # open, accessible and at least the reservation wage even if paid at once
                viable = (l_remaining[p] > 0) & ((l_needs[p] & lacks) == 0) & (upper >= res)
                r = l_requester[p]
                p_ok = c_ok[i]
                delay = c_delay[i]
                for k in range(k_slots):
                    known = c_slot_req[i, k] == r
                    p_ok = c_slot_ok[i, k] if known else p_ok
                    delay = c_slot_delay[i, k] if known else delay
                if public_stats:
                    a = r_approved[r]
                    n = a + r_rejected[r] + r_abandoned[r]
                    weight = n / (n + prior_tasks)
                    public_ok = a / max(n, 1)
                    public_delay = r_delay_sum[r] / a / 24.0 if a > 0 else delay
                    p_ok = weight * public_ok + (1.0 - weight) * p_ok
                    delay = weight * public_delay + (1.0 - weight) * delay
                num = upper * p_ok  # value = num / den, the expected pay per hour
                den = 1.0 + impatience * delay
                better = viable & (num * best_den > best_num * den)
                best_num = num if better else best_num
                best_den = den if better else best_den
                best_p = p if better else best_p
            choice[j] = best_p if best_p >= 0 and best_num >= res * best_den else -1
        st[0] += np.uint64(n_s * n_seen) * _GOLDEN
        n_acc = 0
        for j in range(n_s):
            if choice[j] >= 0:
                acc_i[n_acc] = searching[j]
                acc_p[n_acc] = choice[j]
                n_acc += 1
        # 4. claim: a random order decides among workers wanting the same group
        for j in range(n_acc - 1, 0, -1):
            t = min(int(_uniform(st) * (j + 1)), j)
            acc_i[j], acc_i[t] = acc_i[t], acc_i[j]
            acc_p[j], acc_p[t] = acc_p[t], acc_p[j]
        n_got = 0
        for j in range(n_acc):
            i, p = acc_i[j], acc_p[j]
            e = l_est[p] * c_ratio[i]
            want = max(1, int(math.ceil(left[i] / e)))
            grant = min(want, l_max_per_worker[p], l_remaining[p])
            if grant <= 0:
                continue
            l_remaining[p] -= grant
            n_open -= grant
            got_j[n_got] = j
            got_n[n_got] = grant
            n_got += 1
        # 5. work: true time, returns, submissions; in parallel (a worker claims at most once a
        # round, claim g draws from its own sub-stream), then returns go back to the groups
        s0 = st[0]
        for g in prange(n_got):
            streams[g] = s0 + np.uint64(g) * _SUBSTREAM
            sg = streams[g : g + 1]
            grant = got_n[g]
            i, p = acc_i[got_j[g]], acc_p[got_j[g]]
            w = on[i]
            e = l_est[p] * c_ratio[i]
            a_med = l_true[p] * speed[w]
            ratio = a_med / e
            ln_c = math.log(return_threshold / ratio)
            p_finish = _ndtr((ln_c + s2 / 2.0) / sigma)  # P(noise <= threshold / ratio)
            p_ret = 1.0 - (1.0 - return_base_prob) * p_finish
            k_ret = _binomial(sg, grant, p_ret)
            k_done = grant - k_ret
            mean_done = _ndtr((ln_c - s2 / 2.0) / sigma) / max(p_finish, 1e-12)
            minutes_done = k_done * a_med * min(mean_done, return_threshold / ratio)
            share_dur = (1.0 - p_finish) / max(p_ret, 1e-12) if p_ret > 0 else 0.0
            minutes_ret = k_ret * (
                share_dur * return_threshold * e + (1.0 - share_dur) * 0.5 * a_med
            )
            if k_ret > 0:
                m_returned[w] += minutes_ret
                n_returned[w] += k_ret
            left[i] -= minutes_done + minutes_ret
            if left[i] < 0:
                spill[w] -= left[i]
                left[i] = 0.0
            if k_done > 0:
                # workers learn how long tasks really take relative to the posted estimate
                obs = (minutes_done / k_done) / l_est[p]
                c_ratio[i] += learning_rate * (obs - c_ratio[i])
                duration_ratio[w] = c_ratio[i]
            got_ret[g] = k_ret
            got_min[g] = minutes_done
        st[0] = s0 + np.uint64(n_got) * _SUBSTREAM
        for g in range(n_got):
            i, p = acc_i[got_j[g]], acc_p[got_j[g]]
            k_ret = got_ret[g]
            k_done = got_n[g] - k_ret
            l_remaining[p] += k_ret
            n_open += k_ret
            submitted += k_done
            returned += k_ret
            if k_done > 0:
                out_w[n_out] = on[i]
                out_p[n_out] = p
                out_k[n_out] = k_done
                out_min[n_out] = got_min[g]
                n_out += 1
    for i in range(n_on):
        m_idle[on[i]] += max(left[i], 0.0)
    return n_out, submitted, returned


@njit(cache=True, parallel=True)
def file_submissions(
    st,
    idx,
    workers,
    b,
    k_done,
    minutes,
    hour,
    # worker, batch and requester columns
    log_skill,
    m_pending,
    pending_value,
    w_submitted,
    batch_requester,
    batch_reward,
    batch_fee,
    strictness,
    rejection_kind,
    review_kind,
    r_submitted,
    # parameters
    p_reject_bad,  # by rejection kind: honest, strict, opportunistic
    p_reject_good,
    delay_prompt,
    delay_slow,
    deadline,  # hours; inf without a payment guarantee
    abandon_hours,
    appeals,
    p_overturn,
    # the record store's columns, written at rows ``idx``
    s_worker,
    s_requester,
    s_kind,
    s_done,
    s_approve,
    s_rej_just,
    s_rej_unjust,
    s_overturn,
    s_reward,
    s_fee,
    s_minutes,
    s_submit,
    s_resolve,
    # the records' due-date calendar (``stores.DueCalendar.arrays``)
    cal_head,
    cal_count,
    cal_rows,
    cal_next,
    cal_fill,
    cal_free,
    cal_free_top,
):
    """Create submission records with their review outcome and resolution hour, filed in the
    due-date calendar. Returns (assignments, value submitted, value never to be paid) in micro-USD."""
    n = idx.size
    # outcomes, in parallel: record j draws from its own sub-stream of the call's stream
    s0 = st[0]
    streams = np.empty(n, np.uint64)
    due_hour = np.empty(n, np.int64)
    never = np.empty(n, np.bool_)
    for j in prange(n):
        streams[j] = s0 + np.uint64(j) * _SUBSTREAM
        sj = streams[j : j + 1]
        w = workers[j]
        bj = b[j]
        k = k_done[j]
        req = batch_requester[bj]
        p_good = min(max(math.exp(strictness[req] * log_skill[w]), 0.0), 1.0)  # skill^strictness
        n_good = _binomial(sj, k, p_good)
        n_bad = k - n_good
        rk = rejection_kind[req]
        n_rj = _binomial(sj, n_bad, p_reject_bad[rk])
        n_ru = _binomial(sj, n_good, p_reject_good[rk])
        z = _normal(sj)
        rev = review_kind[req]
        if rev == 0:
            delay = delay_prompt * math.exp(0.8 * z)
        elif rev == 1:
            delay = delay_slow * math.exp(0.5 * z)
        else:
            delay = np.inf
        if delay < deadline:
            kind = KIND_REVIEW
            when = delay
        elif deadline < np.inf:
            kind = KIND_AUTO
            when = deadline
            n_rj = 0
            n_ru = 0
        else:
            kind = KIND_ABANDON
            when = abandon_hours
            n_rj = 0
            n_ru = 0
        n_over = _binomial(sj, n_ru, p_overturn) if appeals else 0
        row = idx[j]
        s_worker[row] = w
        s_requester[row] = req
        s_kind[row] = kind
        s_done[row] = k
        s_approve[row] = 0 if kind == KIND_ABANDON else k - n_rj - n_ru
        s_rej_just[row] = n_rj
        s_rej_unjust[row] = n_ru
        s_overturn[row] = n_over
        s_reward[row] = batch_reward[bj]
        s_fee[row] = batch_fee[bj]
        s_minutes[row] = minutes[j]
        s_submit[row] = hour
        s_resolve[row] = hour + max(1, int(math.ceil(when)))
        due_hour[j] = s_resolve[row]  # compact copies for the filing below
        never[j] = kind == KIND_ABANDON
    st[0] = s0 + np.uint64(n) * _SUBSTREAM
    # filing and the workers' and requesters' sums, in order
    n_assign = 0
    value_total = 0
    value_never = 0
    for j in range(n):
        row = idx[j]
        calendar_file(
            cal_head, cal_count, cal_rows, cal_next, cal_fill, cal_free, cal_free_top,
            row, due_hour[j],
        )  # fmt: skip
        w = workers[j]
        k = k_done[j]
        value = k * batch_reward[b[j]]
        m_pending[w] += minutes[j]
        pending_value[w] += value
        w_submitted[w] += k
        r_submitted[batch_requester[b[j]]] += k
        n_assign += k
        value_total += value
        if never[j]:
            value_never += value
    return n_assign, value_total, value_never


@njit(cache=True, parallel=True)
def settle(
    hour,
    # the records' due-date calendar (``stores.DueCalendar.arrays``)
    cal_head,
    cal_count,
    cal_rows,
    cal_next,
    cal_fill,
    cal_free,
    cal_free_top,
    s_resolve,
    # the record store's columns
    s_worker,
    s_requester,
    s_kind,
    s_done,
    s_approve,
    s_rej_just,
    s_rej_unjust,
    s_overturn,
    s_reward,
    s_fee,
    s_minutes,
    s_submit,
    # worker columns
    earned,
    fees_paid,
    gross_billed,
    pending_value,
    m_pending,
    m_paid,
    m_rejected,
    m_never_paid,
    w_approved,
    w_rejected,
    belief_ok,
    belief_delay,
    slot_req,
    slot_ok,
    slot_delay,
    slot_ptr,
    weekly,  # this week's earnings per worker (float32), or an empty array
    # requester columns
    r_spent,
    r_approved,
    r_rejected,
    r_unjust,
    r_abandoned,
    r_delay_sum,
    # parameters
    tier_usd,  # worker-side fee tiers: lifetime billings (USD) where each next rate starts
    tier_rates,  # worker-side fee rates, one more than tiers (a flat fee: one rate, no tiers)
    reason_required,
    reputation_penalty,
    learning_rate,
    # outputs per settled record: its row, assignments held for an appeal and their minutes
    due_out,
    held_out,
    held_min_out,
    totals,  # int64[10], see review.review_and_settle
    n_threads,
):
    """Take the records due at ``hour`` off the calendar and settle them: money, time, counts and
    beliefs. Workers are split among the threads (worker row modulo threads), each thread settles
    its workers' records in list order, and requester sums are added up after; so a worker's
    records are applied in the same order whatever the number of threads, and the sums are of
    integers (exact in any order). Returns (records settled, sum of delay hours x approved)."""
    # 1. off the calendar, in filing order
    n = calendar_take(
        cal_head, cal_count, cal_rows, cal_next, cal_fill, cal_free, cal_free_top,
        s_resolve, hour, due_out,
    )  # fmt: skip
    # 2. settle, the workers split among the threads in blocks of 64 rows (so that threads do
    # not write to the same cache lines); each thread takes a contiguous run of the records
    # arranged by thread, in list order within it
    owner = np.empty(n, np.int64)
    first = np.zeros(n_threads + 1, np.int64)
    for d in range(n):
        owner[d] = (s_worker[due_out[d]] >> 6) % n_threads
        first[owner[d] + 1] += 1
    for t in range(n_threads):
        first[t + 1] += first[t]
    order = np.empty(n, np.int64)
    fill = first[:-1].copy()
    for d in range(n):
        order[fill[owner[d]]] = d
        fill[owner[d]] += 1
    # per record (arranged by thread), for the requesters' sums and the appeals: refund,
    # approved, rejected, unjust, abandoned, delay hours x approved, held back for an appeal,
    # requester
    by_record = np.empty((n, 8), np.int64)
    held_minutes = np.empty(n, np.float64)
    t_sums = np.zeros((n_threads, totals.size), np.int64)
    k_slots = slot_req.shape[1]
    record_weekly = weekly.size > 0
    for t in prange(n_threads):
        ts = t_sums[t]
        for q in range(first[t], first[t + 1]):
            if q + PREFETCH_AHEAD < first[t + 1]:
                w_next = s_worker[due_out[order[q + PREFETCH_AHEAD]]]
                _prefetch(earned, w_next)  # the worker's three lines of settled state
                _prefetch(belief_ok, w_next)
                _prefetch(slot_ok, w_next)
                if record_weekly:
                    _prefetch(weekly, w_next)
            d = order[q]
            row = due_out[d]
            kind = s_kind[row]
            w = s_worker[row]
            r = s_requester[row]
            n_done = s_done[row]
            reward = s_reward[row]
            fee = s_fee[row]
            minutes = s_minutes[row]
            is_review = kind == KIND_REVIEW
            is_abandon = kind == KIND_ABANDON
            held = s_overturn[row] if is_review else 0
            rej_unjust = s_rej_unjust[row] - held if is_review else 0
            rejected = (s_rej_just[row] if is_review else 0) + rej_unjust
            approved = s_approve[row]
            abandoned = n_done if is_abandon else 0

            # money
            gross = approved * reward
            req_fee = approved * fee
            tier = 0
            while tier < tier_usd.size and tier_usd[tier] <= gross_billed[w] / MICRO:
                tier += 1
            wfee = np.int64(np.rint(gross * tier_rates[tier]))
            refund = (rejected + abandoned) * (reward + fee)
            pay = gross - wfee
            ts[0] += pay
            ts[1] += req_fee + wfee
            ts[2] += refund
            earned[w] += pay
            fees_paid[w] += wfee
            gross_billed[w] += gross
            pending_value[w] -= (approved + rejected + abandoned) * reward
            if record_weekly:
                weekly[w] += np.float32(pay / MICRO)

            # time: pending -> paid / rejected / never paid (the held part stays pending)
            per = minutes / max(n_done, 1)
            never_min = minutes if is_abandon else 0.0
            held_min = per * held
            if rejected > 0:
                paid_min = per * approved
                rej_min = minutes - paid_min - never_min - held_min
            else:
                paid_min = minutes - never_min - held_min  # absorbs rounding
                rej_min = 0.0
            m_pending[w] -= minutes - held_min
            m_paid[w] += paid_min
            m_rejected[w] += rej_min
            m_never_paid[w] += never_min
            held_minutes[q] = held_min

            # counts and statistics
            w_approved[w] += approved
            w_rejected[w] += rejected
            delay_h = hour - s_submit[row]
            rec = by_record[q]
            rec[7] = r
            rec[6] = held
            rec[0] = refund
            rec[1] = approved
            rec[2] = rejected
            rec[3] = rej_unjust
            rec[4] = abandoned
            rec[5] = delay_h * approved
            ts[3] += approved
            ts[4] += rejected
            ts[5] += rej_unjust
            ts[6] += abandoned
            if kind == KIND_APPEAL:
                ts[7] += approved
            ts[8] += rej_unjust * reward
            ts[9] += delay_h * approved

            # beliefs: general, then the slot of this requester (taken over if not remembered)
            judged = approved + rejected
            if judged > 0 or is_abandon:
                if is_abandon:
                    obs_req = 0.0
                    obs_general = 0.0
                else:
                    obs_general = approved / judged
                    if reason_required:
                        obs_req = 1.0 - min(1.0, reputation_penalty * rej_unjust / judged)
                    else:
                        obs_req = obs_general
                obs_delay = delay_h / 24.0
                belief_ok[w] += 0.5 * learning_rate * (obs_general - belief_ok[w])
                belief_delay[w] += 0.5 * learning_rate * (obs_delay - belief_delay[w])
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
                slot_ok[w, s_k] += learning_rate * (obs_req - slot_ok[w, s_k])
                slot_delay[w, s_k] += learning_rate * (obs_delay - slot_delay[w, s_k])
    # 3. the requesters' sums, the appeals' parts and the totals
    for q in range(n):
        d = order[q]
        rec = by_record[q]
        r = rec[7]
        held_out[d] = rec[6]
        held_min_out[d] = held_minutes[q]
        r_spent[r] -= rec[0]
        r_approved[r] += rec[1]
        r_rejected[r] += rec[2]
        r_unjust[r] += rec[3]
        r_abandoned[r] += rec[4]
        r_delay_sum[r] += rec[5]
    for t in range(n_threads):
        for i in range(totals.size):
            totals[i] += t_sums[t, i]
    return n


@njit(cache=True, parallel=True)
def daily_workers(
    present,
    u_wage,
    u_base,
    # worker columns
    m_paid,
    m_pending,
    m_rejected,
    m_returned,
    m_search,
    m_never_paid,
    earned,
    pending_value,
    belief_ok,
    last_minutes,
    last_earned,
    win_minutes,
    win_earn,
    reservation,
    strikes,
    engagement,
    main_income,
    # parameters
    decay,
    min_window,
    exit_wage_ratio,
    discouragement_threshold,
    discouragement_step,
    min_engagement,
    exit_prob_main,
    exit_prob_side,
    exit_days,
    base_daily,
    # outputs per present worker
    leave,
    wage_exit,
):
    """The daily update of each present worker (see ``adapt``): the recent all-in wage window,
    strikes below the reservation wage, engagement, and whether the worker leaves."""
    for j in prange(present.size):
        w = present[j]
        worked = m_paid[w] + m_pending[w] + m_rejected[w] + m_returned[w] + m_search[w]
        worked += m_never_paid[w]
        # what the worker counts on: pay received plus submitted work valued at its belief
        got = (earned[w] + pending_value[w] * belief_ok[w]) / MICRO
        d_min = worked - last_minutes[w]
        d_earn = got - last_earned[w]
        last_minutes[w] = worked
        last_earned[w] = got
        win_minutes[w] = win_minutes[w] * decay + d_min
        win_earn[w] = win_earn[w] * decay + d_earn
        has_work = win_minutes[w] > min_window
        wage = win_earn[w] / max(win_minutes[w], 1e-9) * 60.0
        if has_work and wage < exit_wage_ratio * reservation[w]:
            strikes[w] += 1
        elif has_work:
            strikes[w] = 0
        # intensive margin: discouraged workers log on less, and come back as work pays again
        if has_work and wage < discouragement_threshold * reservation[w]:
            engagement[w] = max(engagement[w] * (1.0 - discouragement_step), min_engagement)
        elif has_work:
            engagement[w] = min(engagement[w] * (1.0 + discouragement_step), 1.0)
        p_exit = exit_prob_main if main_income[w] else exit_prob_side
        wage_exit[j] = strikes[w] >= exit_days and u_wage[j] < p_exit
        leave[j] = wage_exit[j] or u_base[j] < base_daily
