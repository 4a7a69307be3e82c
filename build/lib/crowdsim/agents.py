"""Mesa agents for workers and requesters: thin views over a row of the model's numpy columns.

State lives in the model (``model.workers``, ``model.requesters``: one array per attribute);
an agent only knows its ``row``. So ``model.agents_by_type[Worker]`` with AgentSet ``select``,
``groupby`` and ``agg`` works in a notebook while the hourly phases work on the columns (numpy and
compiled kernels), never on agent objects.
"""

from __future__ import annotations

import mesa

from crowdsim.ledger import MICRO

REVIEW_KINDS = ("prompt", "slow", "never")
REJECTION_KINDS = ("honest", "strict", "opportunistic")


class Worker(mesa.Agent):
    """A crowd worker (view over ``model.workers`` row ``row``)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = int(row)

    @property
    def _s(self):
        return self.model.workers

    @property
    def country(self) -> str:
        return self.model.countries.codes[self._s.country[self.row]]

    @property
    def reservation_wage(self) -> float:
        """USD per hour."""
        return float(self._s.reservation_wage[self.row])

    @property
    def main_income(self) -> bool:
        return bool(self._s.main_income[self.row])

    @property
    def weekly_hours(self) -> float:
        return float(self._s.weekly_hours[self.row])

    @property
    def skill(self) -> float:
        return float(self._s.skill[self.row])

    @property
    def approval_rate(self) -> float:
        a, r = self._s.n_approved[self.row], self._s.n_rejected[self.row]
        return float(a / (a + r)) if a + r else 1.0

    @property
    def approved_tasks(self) -> int:
        return int(self._s.n_approved[self.row])

    @property
    def present(self) -> bool:
        return bool(self._s.present[self.row])

    @property
    def earnings_usd(self) -> float:
        return float(self._s.earned_micro[self.row] / MICRO)

    @property
    def hours_paid(self) -> float:
        return float(self._s.m_paid[self.row] / 60)

    @property
    def hours_unpaid(self) -> float:
        s = self._s
        r = self.row
        return float((s.m_search[r] + s.m_returned[r] + s.m_rejected[r] + s.m_never_paid[r]) / 60)

    @property
    def wage_all_in(self) -> float:
        """Cash earnings so far / resolved working time, paid and unpaid (Hara et al. 2018), USD/h.

        Run summaries use the accrual basis (see ``crowdsim.metrics.summary``); this view counts
        only what has been paid and resolved by now. NaN before any resolved work."""
        h = self.hours_paid + self.hours_unpaid
        return self.earnings_usd / h if h > 0 else float("nan")

    @property
    def wage_paid_only(self) -> float:
        h = self.hours_paid
        return self.earnings_usd / h if h > 0 else float("nan")

    @property
    def local_min_wage_usd(self) -> float:
        return float(self.model.countries.min_wage_usd[self._s.country[self.row]])

    @property
    def wage_relative_to_local_min(self) -> float:
        return self.wage_all_in / self.local_min_wage_usd


class Requester(mesa.Agent):
    """A requester (view over ``model.requesters`` row ``row``)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = int(row)

    @property
    def _s(self):
        return self.model.requesters

    @property
    def task_type(self) -> str:
        return self.model.task_types[self._s.task_type[self.row]]

    @property
    def target_pay_per_hour(self) -> float:
        return float(self._s.target_pay[self.row])

    @property
    def review_behaviour(self) -> str:
        return REVIEW_KINDS[self._s.review_kind[self.row]]

    @property
    def rejection_behaviour(self) -> str:
        return REJECTION_KINDS[self._s.rejection_kind[self.row]]

    @property
    def activity(self) -> float:
        return float(self._s.activity[self.row])

    @property
    def spent_usd(self) -> float:
        return float(self._s.spent_micro[self.row] / MICRO)

    @property
    def present(self) -> bool:
        return bool(self._s.present[self.row])

    @property
    def approval_rate(self) -> float:
        a, r = self._s.n_approved[self.row], self._s.n_rejected[self.row]
        return float(a / (a + r)) if a + r else float("nan")
