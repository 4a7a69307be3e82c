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


def test_mesa_batch_run_gives_the_headline_reporters_per_run():
    """Mesa's own batch runner: two commissions x two iterations, dotted options as keyword
    arguments, Mesa's ``rng`` taken as the seed; one row per run with the model's reporters."""
    import mesa
    import pandas as pd

    from crowdsim.model import HEADLINE_KEYS

    small = {"population__n_workers": 200, "sim__days": 3, "create_agents": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Mesa 3.5 prefers rng= to iterations=
        rows = mesa.batch_run(
            CrowdWorkModel,
            parameters={"platform__commission": [0.1, 0.4], **small},
            iterations=2,
            max_steps=48,
            display_progress=False,
        )
    df = pd.DataFrame(rows)
    assert len(df) == 4 and sorted(df["platform__commission"]) == [0.1, 0.1, 0.4, 0.4]
    assert set(HEADLINE_KEYS) <= set(df.columns) and (df["Step"] == 48).all()
    assert df["seed"].nunique() == 4  # rng=None: a fresh seed each run, recorded
    assert (df["tasks_submitted"] > 0).all() and df["wage_median_all_in"].gt(0).all()
    # the platform's fees are at least its commission on what workers were paid (any seed)
    assert (
        df["platform_revenue_usd"] >= df["platform__commission"] * df["worker_earnings_usd"] - 1e-6
    ).all()
    # a seed given as Mesa's rng: the same rows again, and the seed a run reports
    again = mesa.batch_run(
        CrowdWorkModel,
        parameters={"platform__commission": 0.4, **small},
        rng=[int(df["seed"].iloc[1]), 11],
        max_steps=48,
        display_progress=False,
    )
    assert again[0]["wage_median_all_in"] == df["wage_median_all_in"].iloc[1]
    assert again[0]["seed"] == df["seed"].iloc[1] and again[1]["seed"] == 11


def test_datacollector_collects_every_day_when_asked_and_refuses_a_bad_rng():
    import pytest

    from crowdsim import ConfigError

    model = CrowdWorkModel(
        population__n_workers=100, sim__days=2, rng=3, collect_every_hours=24, create_agents=False
    ).run()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 3 and model.config.seed == 3  # hour 0, end of day 1, end of day 2
    assert frame["tasks_submitted"].is_monotonic_increasing
    assert frame["wage_median_all_in"].iloc[-1] == model.results().summary["wage_median_all_in"]
    with pytest.raises(ConfigError, match="'rng'"):
        CrowdWorkModel(population__n_workers=100, rng="abc")
    with pytest.raises(ConfigError, match="'rng'"):
        CrowdWorkModel(population__n_workers=100, rng=3, seed=4)
