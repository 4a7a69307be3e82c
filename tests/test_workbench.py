"""The EMA Workbench interface: uncertainties, levers and outcomes of a Workbench model of
crowdsim, 8 experiments of a tiny market, in this process and through crowdsim's launchers."""

import numpy as np
import pytest

try:
    import ema_workbench as ema
except ImportError as exc:  # in the dev extra: CI has it
    from conftest import unavailable

    unavailable("ema-workbench", str(exc), "pip install -e '.[workbench]' (make venv installs it)")

from crowdsim.studies.workbench import LauncherEvaluator, workbench_model, workbench_name

TINY = dict(workers=120, days=3, warmup_days=1, seeds=[0])
UNCERTAIN = ["workers.search_minutes", "market.demand_ratio"]
FLOOR_OPTION = "platform.min_pay_usd_per_hour"
FLOOR = workbench_name(FLOOR_OPTION)


def _model(**kw):
    return workbench_model(**TINY, uncertainties=UNCERTAIN, levers=[FLOOR_OPTION], **kw)


def _experiments(model):
    from ema_workbench import Sample
    from ema_workbench.em_framework.samplers import LHSSampler

    scenarios = LHSSampler().generate_samples(model.uncertainties, 4, rng=1)
    policies = [Sample("no floor", **{FLOOR: 0.0}), Sample("floor 12", **{FLOOR: 12.0})]
    return scenarios, policies


def test_the_model_declares_behaviour_as_uncertain_rules_as_levers():
    full = workbench_model(**TINY)
    assert {p.name for p in full.levers} and all(
        p.name.startswith("platform_") for p in full.levers
    )
    assert {p.name for p in full.uncertainties} >= {workbench_name(n) for n in UNCERTAIN}
    assert not any(p.name.startswith("platform_") for p in full.uncertainties)
    outcomes = {o.name for o in full.outcomes}
    assert {"wage_median_all_in", "tasks_submitted", "wage_median_all_in_change",
            "tasks_submitted_ratio"} <= outcomes  # fmt: skip
    with pytest.raises(Exception, match="platform.nope"):
        workbench_model(**TINY, levers=["platform.nope"])


def test_eight_experiments_in_this_process_and_on_a_launcher_agree(tmp_path):
    model = _model()
    scenarios, policies = _experiments(model)
    experiments, outcomes = ema.perform_experiments(model, scenarios=scenarios, policies=policies)
    assert len(experiments) == 8
    for name in ("wage_median_all_in", "tasks_submitted", "tasks_submitted_ratio"):
        assert outcomes[name].shape == (8,) and np.isfinite(outcomes[name]).all(), name
    assert (outcomes["tasks_submitted"] > 0).all()
    # a floor of 0 on the estimate is the status quo's rules: no change, all the work kept
    none = (experiments["policy"] == "no floor").to_numpy()
    assert none.sum() == 4
    np.testing.assert_array_equal(outcomes["wage_median_all_in_change"][none], 0.0)
    np.testing.assert_array_equal(outcomes["tasks_submitted_ratio"][none], 1.0)
    # the same experiments as one crowdsim sweep on a launcher: the same numbers
    with LauncherEvaluator(model, tmp_path / "runs", launcher="sequential") as evaluator:
        again, by_launcher = evaluator.perform_experiments(scenarios=scenarios, policies=policies)
    assert len(again) == 8
    for name, values in outcomes.items():
        np.testing.assert_allclose(by_launcher[name], values, err_msg=name)
    # 8 rule sets and each market's baseline once (not once per rule set): 12 runs
    assert len(list((tmp_path / "runs").glob("set_*/seed_0/DONE.json"))) == 8 + 4
