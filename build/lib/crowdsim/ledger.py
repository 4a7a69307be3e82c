"""One double-entry ledger for all money in the market, in integer micro-dollars.

Accounts (balances in micro-USD; a transfer debits one account and credits another, so the sum
of all balances is always zero):

- ``requester_funds``: the requesters' money outside the platform (starts at 0 and goes negative
  as they deposit; minus this balance is what requesters have put in).
- ``escrow``: money reserved for posted assignments and for submitted work awaiting review
  (reward plus the requester-side fee).
- ``worker_paid``: pay credited to workers (net of any worker-side fee).
- ``platform_fees``: the platform's revenue.
- ``refunded``: money returned to requesters (unfilled, rejected, abandoned work). Kept apart from
  ``requester_funds`` so that spending and refunds can both be reported.

Per-worker and per-requester sub-ledgers live in numpy columns on the model; the ledger checks
that they add up to its accounts.
"""

from __future__ import annotations

import numpy as np

MICRO = 1_000_000  # micro-dollars per USD

ACCOUNTS = ("requester_funds", "escrow", "worker_paid", "platform_fees", "refunded")


def to_micro(usd: np.ndarray | float) -> np.ndarray:
    """USD (float) to integer micro-dollars, rounded to the nearest micro-dollar."""
    return np.rint(np.asarray(usd, dtype=np.float64) * MICRO).astype(np.int64)


class Ledger:
    """Double-entry ledger with a fixed chart of accounts."""

    def __init__(self) -> None:
        self.balance: dict[str, int] = dict.fromkeys(ACCOUNTS, 0)
        self.n_transfers = 0

    def transfer(self, debit: str, credit: str, amount: int | np.integer) -> None:
        """Move ``amount`` micro-dollars from account ``debit`` to account ``credit``."""
        amount = int(amount)
        if amount < 0:
            raise ValueError(f"negative transfer {amount} from {debit} to {credit}")
        if amount == 0:
            return
        self.balance[debit] -= amount
        self.balance[credit] += amount
        self.n_transfers += 1

    def usd(self, account: str) -> float:
        return self.balance[account] / MICRO

    @property
    def imbalance(self) -> int:
        """Sum of all balances: zero when money is conserved."""
        return sum(self.balance.values())

    def totals_usd(self) -> dict[str, float]:
        """Ledger totals in USD for the summary."""
        b = self.balance
        deposited = -b["requester_funds"]
        return {
            "ledger_requester_deposited_usd": deposited / MICRO,
            "ledger_requester_spent_usd": (deposited - b["refunded"]) / MICRO,
            "ledger_worker_paid_usd": b["worker_paid"] / MICRO,
            "ledger_platform_fees_usd": b["platform_fees"] / MICRO,
            "ledger_escrow_usd": b["escrow"] / MICRO,
            "ledger_refunded_usd": b["refunded"] / MICRO,
            "ledger_imbalance_usd": self.imbalance / MICRO,
        }
