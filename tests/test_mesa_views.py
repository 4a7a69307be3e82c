"""Mesa integration: workers and requesters are agents; AgentSet select/groupby/agg work."""

import warnings

import numpy as np

from crowdsim import CrowdWorkModel, Requester, Worker


def test_agentset_views_match_columns():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        model = CrowdWorkModel(population__n_workers=300, sim__days=2, seed=3)
        model.run()
    workers = model.agents_by_type[Worker]
    assert len(workers) == model.workers.present[: model.workers.n].sum()
    assert (
        len(model.agents_by_type[Requester]) == model.requesters.present[: model.requesters.n].sum()
    )
    indians = workers.select(lambda a: a.country == "IN")
    assert 0 < len(indians) < len(workers)
    groups = workers.groupby("country")
    sizes = groups.count()
    assert sum(sizes.values()) == len(workers)
    mean_res = workers.agg("reservation_wage", np.mean)
    rows = [a.row for a in workers]
    assert np.isclose(mean_res, model.workers.reservation_wage[rows].mean())
    earned = workers.agg("earnings_usd", sum)
    assert earned >= 0
    a = next(iter(workers))
    assert a.approval_rate <= 1.0 and a.local_min_wage_usd > 0


def test_model_uses_only_its_own_rng():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking the legacy global RNG is untouched
    CrowdWorkModel(population__n_workers=100, sim__days=1, seed=1, create_agents=False).run()
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002
