"""Scenario files that stand for real rules, each with a test of its mechanism."""

from __future__ import annotations

import numpy as np
from hydra import compose, initialize_config_dir

from crowdsim import CrowdWorkModel
from crowdsim.cli import CONFIG_DIR
from crowdsim.ledger import MICRO
from crowdsim.metrics.invariants import check_all


def _model(*overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=["population.n_workers=200", "sim.days=1", *overrides]
        )
    return CrowdWorkModel(cfg, create_agents=False)


def _posted_rewards(model, hours=24):
    B, rewards = model.batches, []
    for _ in range(hours):
        h = model.hour
        model.step()
        rows = np.flatnonzero(B.in_use[: B.n] & (B.posted_hour[: B.n] == h))
        rewards.append(B.reward_micro[rows].copy())
    return np.concatenate(rewards)


def test_click_farm_pays_fractions_of_a_cent_per_action():
    farm = _model("scenario=click_farm")
    micro = _posted_rewards(farm)
    assert micro.size
    assert (micro < 10_000).any()  # below one cent: representable where the scenario says so
    assert (micro % 100 == 0).all() and micro.min() >= 100  # whole $0.0001, at least one
    check_all(farm)  # money still adds up to the micro-dollar
    # whole cents, at least $0.01, everywhere else (MTurk's rule)
    mturk = _posted_rewards(_model("scenario=status_quo"))
    assert (mturk % 10_000 == 0).all() and mturk.min() >= 0.01 * MICRO


def test_requesters_post_in_their_own_business_hours():
    """A French platform posts in French business hours (UTC+1), MTurk's requesters in US
    Eastern ones (UTC-5): the hour of the week with the most posting moves by six hours."""

    def posted_by_utc_hour(*overrides):
        model = _model("sim.days=2", *overrides).run()
        posted = model.results().timeseries["tasks_posted"].to_numpy()
        return np.bincount(np.arange(posted.size) % 24, weights=posted, minlength=24)

    # business hours 9:00-18:00 local: 8-17 UTC in Paris, 14-23 UTC in New York (winter time)
    paris = posted_by_utc_hour("scenario=foule_factory", "population.n_workers=300")
    assert paris[8:17].sum() > 0.6 * paris.sum() and paris[17:].sum() < paris[8:17].sum()
    weekday = slice(0, 24)  # Monday, UTC
    for scenario, business in (("foule_factory", slice(8, 17)), ("status_quo", slice(14, 23))):
        w = _model(f"scenario={scenario}").posting_weight[weekday]
        assert w[business].sum() > 0.6 * w.sum()
