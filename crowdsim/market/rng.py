"""Random numbers, alias tables and memory prefetching for the compiled phases.

Helpers shared by the phases' compiled loops (``post``, ``search``, ``submit``, ``settle``,
``adapt``); none of them holds any economics.

Random numbers: each compiled call draws a 64-bit seed from the model's per-concern
``numpy.random.Generator`` (:func:`seed_state`, so a seed still fixes the run and the streams
stay separate) and runs an inline SplitMix64 generator from it (Steele, Lea & Flood 2014;
passes BigCrush); calls into the Generator from compiled code would cost more than the
arithmetic around them. SplitMix64 is a counter, so loops that run in parallel (``prange``) give
item k the k-th draws (:func:`uniform_at`), or a sub-stream of its own ``SUBSTREAM`` draws apart,
and results do not depend on the number of threads (:mod:`crowdsim.threads`).

With ``NUMBA_DISABLE_JIT=1`` every function here runs as plain Python (the prefetch hint is then
a no-op), so a whole model can be stepped through in a debugger.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

_SQRT2 = math.sqrt(2.0)


@njit(cache=True, inline="always")
def ndtr(x):
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / _SQRT2)


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """A generator state for one kernel call, drawn from ``rng``."""
    return np.array([rng.integers(1 << 63)], dtype=np.uint64)


GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
# parallel loops give item j the draws from j x 2**20 on (far more than one item uses)
SUBSTREAM = np.uint64((0x9E3779B97F4A7C15 << 20) % (1 << 64))


@njit(cache=True, inline="always")
def uniform_at(base, k):
    """The ``k``-th uniform draw in [0, 1) after state ``base`` (SplitMix64 is a counter: draw k
    is the mix of ``base + k x golden``), so loops can draw in parallel and stay reproducible."""
    z = base + np.uint64(k) * GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(np.int64(z >> _S11)) * _TO_UNIT  # 53 bits: a signed conversion is exact


@njit(cache=True, inline="always")
def uniform(st):
    """The next uniform draw of the stream whose state is ``st[0]`` (a one-element uint64 array)."""
    u = uniform_at(st[0], 1)
    st[0] += GOLDEN
    return u


@njit(cache=True, inline="always")
def normal(st):
    """A standard normal draw: the inverse normal CDF of a uniform draw."""
    u = uniform(st)
    while u <= 0.0:
        u = uniform(st)
    return norm_ppf(u)


@njit(cache=True, inline="always")
def norm_ppf(u):
    """The inverse standard normal CDF for 0 < u < 1, by Acklam's rational approximation
    (relative error below 1.2e-9), with a logarithm only in the 5% of tails."""
    if u < 0.02425:
        q = math.sqrt(-2.0 * math.log(u))
        return tail_num(q) / tail_den(q)
    if u > 0.97575:
        q = math.sqrt(-2.0 * math.log(1.0 - u))
        return -tail_num(q) / tail_den(q)
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
def tail_num(q):
    return ((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
             - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00  # fmt: skip


@njit(cache=True, inline="always")
def tail_den(q):
    return (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
            + 3.754408661907416e00) * q + 1.0  # fmt: skip


@njit(cache=True, inline="always")
def bernoulli_successes(st, n, p):
    """Successes in ``n`` trials of probability ``p``, one uniform draw each."""
    k = 0
    for _ in range(n):
        if uniform(st) < p:
            k += 1
    return k


@njit(cache=True, inline="always")
def binomial(st, n, p):
    """A binomial(n, p) draw (n is small here: the assignments of one claim or record): up to 12
    trials by counting Bernoulli successes, more by inversion from the likelier side."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n <= 12:
        return bernoulli_successes(st, n, p)
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    pk = math.exp(n * math.log1p(-pp))  # P(0)
    k = 0
    if pk < 1e-300:  # too many trials for inversion
        k = bernoulli_successes(st, n, pp)
    else:
        u = uniform(st)
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


def prefetch(arr, idx):
    """Ask the processor to load ``arr[idx]``'s cache line (for writing) ahead of its use.

    A hint only: in plain Python (``NUMBA_DISABLE_JIT=1``) it does nothing; compiled, it is the
    ``llvm.prefetch`` intrinsic below (one ``prefetchw`` instruction in the caller's loop: LLVM
    inlines the overload's small function).

    The overload is deliberately *not* ``inline="always"``. numba (0.68) inlines such an
    overload in a typed pass (``InlineOverloads``) and then runs dead-code elimination over the
    whole caller with its alias analysis (``ir_utils.find_potential_aliases``). That analysis
    does not follow a tuple unpacked into names (``a, b = tup``, an ``exhaust_iter``): arrays
    taken out of a tuple argument that way are not known to alias the argument, so every write
    to them is judged dead and dropped, silently. The due-date calendar's ``calendar_file``
    unpacked its arrays so: with an inline prefetch beside it, ``file_records`` filed nothing
    and no record was ever settled (``tests/test_market_phases.py`` catches it). Without the
    inline flag no typed dead-code pass runs on the caller."""


@intrinsic
def _prefetch_intrinsic(typingctx, arr, idx):
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


@overload(prefetch)  # not inline="always": see prefetch's docstring
def _prefetch_compiled(arr, idx):
    def impl(arr, idx):
        _prefetch_intrinsic(arr, idx)

    return impl
