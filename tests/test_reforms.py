"""Reforms as events (crowdsim/conf/reform/): a change of the platform's rules applied at the
first hour of ``sim.reform_day``, checked on the batches posted either side, with equal windows
of headline metrics before and after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir

from crowdsim import ConfigError, CrowdWorkModel
from crowdsim.cli.overrides import CONFIG_DIR
from crowdsim.ledger import MICRO
from crowdsim.metrics.windows import HEADLINE

CONFIGS = Path(CONFIG_DIR)
REFORMS = sorted(p.stem for p in (CONFIGS / "reform").glob("*.yaml"))


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _fee_2015(days=4, reform_day=2, **more):
    extra = [f"{k}={v}" for k, v in more.items()]
    cfg = _compose(
        ["scenario=mturk_2014", "reform=mturk_fee_2015", f"sim.reform_day={reform_day}",
         f"sim.days={days}", "population.n_workers=300", "seed=2", *extra]
    )  # fmt: skip
    return CrowdWorkModel(cfg, create_agents=False)


def _posted_each_hour(model):
    """Step to the end; for each hour, the batches posted in it (read before they expire)."""
    out = []
    B = model.batches
    while model.running:
        h = model.hour
        model.step()
        rows = np.flatnonzero(B.in_use[: B.n] & (B.posted_hour[: B.n] == h))
        out.append(
            dict(hour=h, commission=model.config.platform.commission,
                 reward=B.reward_micro[rows] / MICRO, fee=B.fee_micro[rows] / MICRO,
                 per_hit=B.assignments_per_hit[rows].copy(), hits=B.hits[rows].copy())
        )  # fmt: skip
    return out


def test_fee_change_applies_exactly_at_its_day():
    model = _fee_2015()
    hours = _posted_each_hour(model)
    before = [h for h in hours if h["hour"] < 48]
    after = [h for h in hours if h["hour"] >= 48]
    assert {h["commission"] for h in before} == {0.10} and {h["commission"] for h in after} == {
        0.20
    }

    def cat(rows, key):
        return np.concatenate([r[key] for r in rows])

    r0, f0, k0 = cat(before, "reward"), cat(before, "fee"), cat(before, "per_hit")
    r1, f1, k1, hits1 = (
        cat(after, "reward"),
        cat(after, "fee"),
        cat(after, "per_hit"),
        cat(after, "hits"),
    )
    assert r0.size and r1.size
    # 2014 rules on every batch before: 10%, at least half a cent, no surcharge for large HITs
    np.testing.assert_allclose(f0, np.maximum(0.10 * r0, 0.005), atol=1e-6)
    assert (k0 >= 10).any()  # large HITs were posted and not surcharged
    # 2015 rules on every batch after: 20% (+20% for HITs of 10+ assignments), at least $0.01
    rate = 0.20 + np.where(k1 >= 10, 0.20, 0.0)
    np.testing.assert_allclose(f1, np.maximum(rate * r1, 0.01), atol=1e-6)
    assert (hits1 > 1).any()  # requesters who split batches now post HITs of fewer than 10


def test_windows_either_side_have_equal_length():
    for days, reform_day, warmup in ((4, 1, 0), (4, 3, 0), (4, 2, 1)):
        model = _fee_2015(days=days, reform_day=reform_day, **{"sim.warmup_days": warmup})
        s = model.run().results().summary
        b, a = s["before_reform"], s["after_reform"]
        length = min(reform_day - warmup, days - reform_day)
        assert b["days"] == a["days"] == length
        assert b["end_hour"] == a["start_hour"] == reform_day * 24
        assert set(HEADLINE) <= set(b) and set(HEADLINE) <= set(a)
        ts = model.results().timeseries
        in_after = ts[(ts["hour"] >= a["start_hour"]) & (ts["hour"] < a["end_hour"])]
        assert a["tasks_posted"] == in_after["tasks_posted"].sum()
        assert a["batches_split"] == in_after["batches_split"].sum()
        assert a["platform_revenue_usd"] == pytest.approx(in_after["platform_fees_usd"].sum())
        assert s["reform"] == "mturk_fee_2015"


@pytest.mark.parametrize("reform", REFORMS)
def test_reform_files_compose_and_name_themselves(reform):
    cfg = _compose([f"reform={reform}", "sim.reform_day=1", "sim.days=2"])
    assert cfg.reform.name == reform and cfg.reform.rules and cfg.reform.description
    text = (CONFIGS / "reform" / f"{reform}.yaml").read_text()
    assert text.startswith("# @package reform")


@pytest.mark.parametrize("reform", [r for r in REFORMS if r.startswith("to_")])
def test_each_reform_turns_the_status_quo_into_its_scenario(reform):
    scenario = reform.removeprefix("to_")
    rules = yaml.safe_load((CONFIGS / "reform" / f"{reform}.yaml").read_text())["rules"]
    target = yaml.safe_load((CONFIGS / "scenario" / f"{scenario}.yaml").read_text())
    assert rules == {"platform": target["platform"]}
    # the reformed status quo has the scenario's platform rules
    model = CrowdWorkModel(
        _compose([f"reform={reform}", "sim.reform_day=1", "sim.days=2", "population.n_workers=50"]),
        create_agents=False,
    )
    want = CrowdWorkModel(
        _compose([f"scenario={scenario}", "sim.days=2", "population.n_workers=50"]),
        create_agents=False,
    )
    assert model.reform_config.platform == want.config.platform


def test_bad_reforms_are_refused_before_the_run():
    with pytest.raises(ConfigError, match="reform.rules.platform.comission|platform.comission"):
        _compose_model({"platform": {"comission": 0.3}}, 2)
    with pytest.raises(ConfigError, match="platform.commission"):
        _compose_model({"platform": {"commission": 1.5}}, 2)
    with pytest.raises(ConfigError, match="sim.reform_day"):
        _compose_model({"platform": {"commission": 0.3}}, 5)  # not before the end of the run
    with pytest.raises(ConfigError, match="sim.reform_day"):
        _compose_model({"platform": {"commission": 0.3}}, None)


def _compose_model(rules, day):
    from crowdsim.config import to_config

    return to_config(
        {"reform": {"name": "test", "rules": rules}, "sim": {"days": 5, "reform_day": day}}
    )
