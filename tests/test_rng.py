"""The compiled phases' random draws (``crowdsim.market.rng``): right distributions, reproducible from a seed."""

import numpy as np
import pytest
from numba import njit
from scipy import stats
from scipy.special import ndtri

from crowdsim.market import rng as kernels
from crowdsim.market.search import ListingColumns, listing_draw


@njit
def _draw_uniforms(st, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = kernels.uniform(st)
    return out


@njit
def _draw_binomials(st, n, p, size):
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = kernels.binomial(st, n, p)
    return out


@njit
def _draw_normals(st, size):
    out = np.empty(size)
    for i in range(size):
        out[i] = kernels.normal(st)
    return out


@njit
def _ppf(u):
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = kernels.norm_ppf(u[i])
    return out


def test_uniform_stream_is_a_counter():
    """Draw k of a stream is the k-th counter value, so parallel loops can jump ahead."""
    st = kernels.seed_state(np.random.default_rng(5))
    s0 = st[0]
    seq = _draw_uniforms(st, 1000)
    assert int(st[0]) == (int(s0) + 1000 * int(kernels.GOLDEN)) % 2**64
    jumped = np.array([kernels.uniform_at(s0, k) for k in (1, 2, 500, 1000)])
    np.testing.assert_array_equal(jumped, seq[[0, 1, 499, 999]])
    u = _draw_uniforms(kernels.seed_state(np.random.default_rng(6)), 200_000)
    assert ((u >= 0) & (u < 1)).all()
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_inverse_normal_cdf_accurate():
    u = np.concatenate([np.linspace(1e-12, 1 - 1e-12, 100_001), [1e-300, 0.02425, 0.97575]])
    np.testing.assert_allclose(_ppf(u), ndtri(u), rtol=2e-9, atol=1e-12)
    z = _draw_normals(kernels.seed_state(np.random.default_rng(7)), 200_000)
    assert stats.kstest(z, "norm").pvalue > 1e-4


@pytest.mark.parametrize(
    "n,p", [(1, 0.9), (5, 0.3), (12, 0.97), (40, 0.8), (200, 0.02), (150, 0.5)]
)
def test_binomial_matches_its_distribution(n, p):
    k = _draw_binomials(kernels.seed_state(np.random.default_rng(n)), n, p, 100_000)
    assert k.min() >= 0 and k.max() <= n
    support = np.arange(n + 1)
    expected = stats.binom.pmf(support, n, p) * k.size
    observed = np.bincount(k, minlength=n + 1)
    keep = expected > 5  # pool the sparse tails
    obs = np.r_[observed[keep], observed[~keep].sum()]
    exp = np.r_[expected[keep], expected[~keep].sum()]
    obs, exp = obs[exp > 0], exp[exp > 0]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4


def test_binomial_edges():
    st = kernels.seed_state(np.random.default_rng(1))
    assert (_draw_binomials(st, 7, 0.0, 100) == 0).all()
    assert (_draw_binomials(st, 7, 1.0, 100) == 7).all()
    assert (_draw_binomials(st, 0, 0.5, 100) == 0).all()


@njit
def _draw_positions(u, listing):
    out = np.empty(u.size, np.int64)
    for i in range(u.size):
        out[i] = listing_draw(u[i], listing)
    return out


def test_listing_draw_follows_the_weights():
    """A listing draw picks a cohort with probability proportional to its weight (alias method)
    and a group uniformly within it."""
    count = np.array([3, 1, 5, 2, 40, 1])
    start = np.r_[0, np.cumsum(count)[:-1]]
    weight = np.array([0.5, 0.0, 2.0, 1.0, 4.0, 0.25]) * count  # a cohort of no weight too
    prob, alias = kernels.alias_table(weight)
    inv_prob = np.where(prob > 0, 1 / np.where(prob > 0, prob, 1), 0.0)
    inv_rest = np.where(prob < 1, 1 / np.where(prob < 1, 1 - prob, 1), 0.0)
    u = np.random.default_rng(2).random(400_000)
    e = np.empty(0)
    listing = ListingColumns(prob, alias, inv_prob, inv_rest, start, count, *([e] * 8))
    pos = _draw_positions(u, listing)
    per_group = np.repeat(weight / count, count) / weight.sum()
    observed = np.bincount(pos, minlength=count.sum())
    assert observed[start[1]] == 0  # no weight, never drawn
    keep = per_group > 0
    assert stats.chisquare(observed[keep], per_group[keep] * u.size).pvalue > 1e-4
