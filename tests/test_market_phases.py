"""Phase-level guards for the compiled market phases: each phase does its whole job.

A compiled phase can fail silently: a write the compiler drops leaves the market running, with
no error, but with (say) records never filed, so nothing is ever settled. The frozen regression
test catches a change of results only on its four configurations; these tests state what each
phase must do, on a small market with known work:

- filing (``submit.file_submissions``) files every record in the due-date calendar, under its
  resolution hour, and books its minutes and assignments to its worker;
- settling (``settle.review_and_settle``) settles every record due at the hour, and no other;
- hour by hour in a whole run, every record in use is in the calendar exactly once and none is
  overdue, and every batch in use is in the batches' calendar;
- the phases give the same state whatever the number of threads.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

from crowdsim import CrowdWorkModel, threads
from crowdsim.market import settle, submit
from crowdsim.market.state import Submissions


def calendar_rows(cal) -> np.ndarray:
    """Every row filed in a due-date calendar (each chunk in use, its filled part), sorted."""
    n_chunks = cal.rows.shape[0]
    used = np.ones(n_chunks, dtype=bool)
    used[cal.free[: int(cal.free_top[0])]] = False
    filled = np.arange(cal.rows.shape[1]) < cal.fill[:, None]
    return np.sort(cal.rows[used & filled.any(axis=1)][filled[used & filled.any(axis=1)]])


def rows_due(cal, hour: int) -> np.ndarray:
    """The rows filed in the list of ``hour`` (walking its chunks), sorted."""
    out = []
    c = int(cal.head[hour % cal.head.size])
    while c >= 0:
        out.extend(cal.rows[c, : cal.fill[c]].tolist())
        c = int(cal.next[c])
    return np.sort(np.array(out, dtype=np.int64))


def small_market(**options) -> CrowdWorkModel:
    """200 workers after a day: batches on the listing, records in flight; every record
    resolves within two days (auto-approval after 2 days)."""
    m = CrowdWorkModel(
        population__n_workers=200,
        sim__days=5,
        seed=5,
        create_agents=False,
        platform__auto_approval_days=2,
        **options,
    )
    m.run(24)
    return m


@pytest.mark.parametrize("appeals", [False, True], ids=["no_appeals", "appeals"])
def test_filing_files_every_record_and_settling_settles_every_record_due(appeals):
    opts = {"platform__appeals": True, "platform__reason_required": True} if appeals else {}
    m = small_market(**opts)
    W, B, S, cal = m.workers, m.batches, m.records, m.due_records
    # known work: 12 workers each submit 1-3 assignments of an open batch, 7.5 minutes each
    open_batches = np.flatnonzero(B.in_use[: B.n])
    assert open_batches.size > 0
    k = 12
    who = m.pool.workers[:k]
    work = Submissions(
        worker=who.astype(np.int64),
        batch=open_batches[np.arange(k) % open_batches.size].astype(np.int64),
        k_done=(np.arange(k) % 3 + 1).astype(np.int64),
        minutes=7.5 * (np.arange(k) % 3 + 1),
    )
    in_use_before = np.flatnonzero(S.in_use)
    filed_before = len(cal)
    pending_before = W.m_pending[who].copy()
    submitted_before = W.n_submitted[who].copy()

    totals = submit.file_submissions(m, work)

    new = np.setdiff1d(np.flatnonzero(S.in_use), in_use_before)
    assert new.size == k
    assert int(totals.assignments) == int(work.k_done.sum())
    assert len(cal) == filed_before + k  # every record filed ...
    np.testing.assert_array_equal(calendar_rows(cal), np.flatnonzero(S.in_use))
    for row in new:  # ... under its resolution hour
        assert S.resolve_hour[row] > m.hour
        assert row in rows_due(cal, int(S.resolve_hour[row]))
    np.testing.assert_array_equal(S.worker[new][np.argsort(S.worker[new])], np.sort(who))
    np.testing.assert_allclose(W.m_pending[who] - pending_before, work.minutes)
    np.testing.assert_array_equal(W.n_submitted[who] - submitted_before, work.k_done)

    # settling, hour by hour until the known records are all settled: exactly the records due
    settled_total = 0
    last = int(S.resolve_hour[new].max())
    for hour in range(m.hour + 1, last + 1):
        m.hour = hour
        due = np.flatnonzero(S.in_use & (S.resolve_hour == hour))
        np.testing.assert_array_equal(rows_due(cal, hour), due)
        t = settle.review_and_settle(m)
        settled = 0 if t is None else int(t.records)
        assert settled == due.size, f"hour {hour}: {due.size} records due, {settled} settled"
        settled_total += settled
        in_use = np.flatnonzero(S.in_use)
        assert not np.any(S.resolve_hour[in_use] <= hour), "a record due was left unsettled"
        assert len(cal) == in_use.size
    assert not S.in_use[new].any()
    assert settled_total >= k
    assert m.ledger.usd("worker_paid") > 0


def test_every_record_and_batch_is_in_its_calendar_hour_by_hour():
    """In a whole run (every phase), after each hour: the records in use are the records filed,
    each once; none is overdue; the batches in use are the batches filed; and the hour's new
    records are its submissions."""
    m = CrowdWorkModel(population__n_workers=300, sim__days=3, seed=7, create_agents=False)
    S, B = m.records, m.batches
    filed = settled_any = 0
    while m.running:
        submitted_before = m.counters.assignments_submitted
        m.step()
        in_use = np.flatnonzero(S.in_use)
        np.testing.assert_array_equal(calendar_rows(m.due_records), in_use)
        assert not np.any(S.resolve_hour[in_use] < m.hour), f"hour {m.hour}: a record overdue"
        np.testing.assert_array_equal(calendar_rows(m.due_batches), np.flatnonzero(B.in_use))
        filed += m.counters.assignments_submitted - submitted_before
        settled_any = m.counters.assignments_approved + m.counters.assignments_rejected
    assert filed > 1000
    assert settled_any > 100


def _state(m: CrowdWorkModel) -> dict[str, bytes]:
    W, R, S = m.workers, m.requesters, m.records
    cols = {f"w.{k}": getattr(W, k)[: W.n] for k in W._spec}
    cols |= {f"r.{k}": getattr(R, k)[: R.n] for k in R._spec}
    rows = S.table[S.in_use]  # (compared field by field: a row's padding bytes are not set)
    cols |= {f"records.{k}": rows[k] for k in rows.dtype.names}
    return {k: np.ascontiguousarray(v).tobytes() for k, v in cols.items()}


def test_phases_give_the_same_state_whatever_the_number_of_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: nothing to compare")
    states = []
    try:
        for n in (1, 2):
            m = CrowdWorkModel(population__n_workers=400, sim__days=2, seed=3, create_agents=False)
            numba.set_num_threads(n)
            m.run()
            states.append(_state(m))
    finally:
        threads.configure()
    one, two = states
    assert one.keys() == two.keys()
    differ = [k for k in one if one[k] != two[k]]
    assert not differ, f"columns that depend on the number of threads: {differ}"


def test_a_checkpoint_without_the_carry_over_flags_is_refused(tmp_path):
    """Going online reads carried-over minutes only of the workers flagged as online last hour
    (``Pool.worker_carries``): a checkpoint whose pool lacks the flags (written before they were
    kept) is refused, never restored with a default that would drop work carried over."""
    from crowdsim import checkpoint

    m = CrowdWorkModel(population__n_workers=300, sim__days=3, seed=2, create_agents=False)
    m.run(30)
    carries = m.pool.worker_carries
    del m.pool.worker_carries
    path = tmp_path / checkpoint.checkpoint_name(m.hour)
    checkpoint.save(m, path)
    m.pool.worker_carries = carries
    with pytest.raises(checkpoint.CheckpointError, match="worker_carries"):
        checkpoint.restore(m.config, path)


def test_compiled_listing_and_access_match_their_numpy_definitions():
    """The compiled listing build and search set-up give, on a market's own state, exactly what
    their numpy definitions give: the stable order by hour posted and its cohorts, the gates
    (``needs_flags``), pay rates, and each online worker's access (``access_flags``) and fee."""
    from crowdsim.ledger import MICRO
    from crowdsim.market import search
    from crowdsim.policy.fees import worker_fee_rate

    m = CrowdWorkModel(
        population__n_workers=2000, sim__days=3, seed=5, create_agents=False,
        platform__restricted_share=0.3, platform__restricted_countries=["US"],
    )  # fmt: skip
    m.run(30)
    B, W, pc = m.batches, m.workers, m.config.platform
    B.min_tier[: B.n] = np.arange(B.n) % 5  # every screening tier
    open_idx = search.open_batches(B.in_use, B.remaining, B.n)
    np.testing.assert_array_equal(
        open_idx, np.flatnonzero(B.in_use[: B.n] & (B.remaining[: B.n] > 0))
    )
    assert open_idx.size > 10
    rows, start, count, hour = search.by_hour_posted(open_idx, B.posted_hour)
    order = np.argsort(B.posted_hour[open_idx], kind="stable")
    np.testing.assert_array_equal(rows, open_idx[order])
    h = B.posted_hour[rows]
    np.testing.assert_array_equal(start, np.flatnonzero(np.r_[True, h[1:] != h[:-1]]))
    np.testing.assert_array_equal(count, np.diff(np.r_[start, h.size]))
    np.testing.assert_array_equal(hour, h[start])
    cols = search.Listing(m, open_idx).columns(m)
    np.testing.assert_array_equal(
        cols.needs, search.needs_flags(B.gated[rows], B.restricted[rows], B.min_tier[rows])
    )
    np.testing.assert_array_equal(
        cols.rate, B.reward_micro[rows] / MICRO * 60.0 / np.maximum(B.est_minutes[rows], 1e-3)
    )
    on = m.pool.workers
    W.n_approved[on] = np.arange(on.size) % 300  # below and above the qualification's count
    W.gross_billed_micro[on] = np.arange(on.size) * 50_000
    access, fee = search.online_terms(
        on=on, n_approved=W.n_approved, n_rejected=W.n_rejected, country=W.country, tier=W.tier,
        gross_billed=W.gross_billed_micro,
        rules=search.AccessRules(
            min_approval_rate=float(pc.qualification_min_approval_rate),
            min_approved=float(pc.qualification_min_approved), restricted=True,
            allowed=m.restricted_allowed, fee_tiers_usd=np.array([1.0, 5.0]),
            fee_rates=np.array([0.0, 0.1, 0.2]),
        ),
    )  # fmt: skip
    a, r = W.n_approved[on], W.n_rejected[on]
    rate = np.where(a + r > 0, a / np.maximum(a + r, 1), 1.0)
    qualified = (rate >= pc.qualification_min_approval_rate) & (a >= pc.qualification_min_approved)
    expected = search.access_flags(qualified, m.restricted_allowed[W.country[on]], W.tier[on])
    np.testing.assert_array_equal(access, expected)
    assert len(set(access.tolist())) > 3
    tiered = dataclasses.replace(
        pc, commission_tiers_usd=[1.0, 5.0], commission_tier_rates=[0.0, 0.1, 0.2]
    )
    np.testing.assert_array_equal(fee, worker_fee_rate(tiered, W.gross_billed_micro[on] / MICRO))
    assert set(fee.tolist()) == {0.0, 0.1, 0.2}
