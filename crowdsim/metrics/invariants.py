"""Conservation checks: money (double-entry ledger and sub-ledgers) and time (every worker minute classified).

Used by the tests after every step on random configurations, and by ``sim.check_invariants``.
"""

from __future__ import annotations

import numpy as np


class InvariantError(AssertionError):
    pass


def check_money(model) -> None:
    led, W, B, S, R = model.ledger, model.workers, model.batches, model.records, model.requesters
    if led.imbalance != 0:
        raise InvariantError(f"ledger imbalance {led.imbalance} micro-USD")
    for name, bal in led.balance.items():
        if name != "requester_funds" and bal < 0:
            raise InvariantError(f"negative balance in {name}: {bal}")
    if led.balance["worker_paid"] != int(W.earned_micro[: W.n].sum()):
        raise InvariantError("worker sub-ledger does not add up to the worker_paid account")
    if (W.earned_micro[: W.n] < 0).any() or (W.pending_value_micro[: W.n] < 0).any():
        raise InvariantError("a worker has a negative balance")
    # escrow = open assignments + submitted work awaiting resolution (reward + fee)
    used_b = B.in_use[: B.n]
    open_value = int(
        (
            B.remaining[: B.n][used_b]
            * (B.reward_micro[: B.n][used_b] + B.fee_micro[: B.n][used_b])
        ).sum()
    )
    used_s = S.in_use[: S.n]
    n_out = S.n_done[: S.n][used_s]  # an appeal record holds only the overturned assignments
    pending_value = int(
        (n_out * (S.reward_micro[: S.n][used_s] + S.fee_micro[: S.n][used_s])).sum()
    )
    if led.balance["escrow"] != open_value + pending_value:
        raise InvariantError(
            f"escrow {led.balance['escrow']} != open assignments {open_value} + pending work {pending_value}"
        )
    deposited = -led.balance["requester_funds"]
    if int(R.spent_micro[: R.n].sum()) != deposited - led.balance["refunded"]:
        raise InvariantError("requester sub-ledger does not add up to deposits minus refunds")


def check_time(model, tol: float = 1e-6) -> None:
    W = model.workers
    n = W.n
    classified = (
        W.m_paid[:n]
        + W.m_pending[:n]
        + W.m_rejected[:n]
        + W.m_returned[:n]
        + W.m_search[:n]
        + W.m_never_paid[:n]
        + W.m_idle_online[:n]
        + W.m_logged_off[:n]
    )
    online_minutes = W.online_hours[:n] * 60.0
    gap = classified - W.spill[:n] - online_minutes
    if np.abs(gap).max(initial=0.0) > tol * np.maximum(1.0, online_minutes).max(initial=1.0):
        bad = int(np.abs(gap).argmax())
        raise InvariantError(f"time not conserved for worker {bad}: gap {gap[bad]:.6f} minutes")
    for col in (
        "m_paid",
        "m_rejected",
        "m_returned",
        "m_search",
        "m_never_paid",
        "m_idle_online",
        "m_logged_off",
        "spill",
    ):
        if (getattr(W, col)[:n] < -tol).any():
            raise InvariantError(f"negative time in {col}")
    if (W.m_pending[:n] < -1e-6).any():
        raise InvariantError("negative pending time")
    present_hours = (
        np.where(W.left_hour[:n] >= 0, W.left_hour[:n], model.hour + 1) - W.joined_hour[:n]
    )
    if (W.online_hours[:n] > present_hours).any():
        raise InvariantError("a worker was online for more hours than it was in the pool")


def check_all(model) -> None:
    check_money(model)
    check_time(model)
