"""Requesters' demand: how much of a fee change reaches rewards (market/post.py reprice), measured
on the same requesters (metrics/windows.py fee_pass_through), on common seeds."""

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from crowdsim import CrowdWorkModel
from crowdsim.cli import CONFIG_DIR
from crowdsim.metrics.windows import fee_pass_through

# MTurk's 2015 fee change as a reform on day 28 of the 2014 rules; the control keeps the 2014 fees
# (same seed: both runs are identical until the reform)
FEE_2015 = ["scenario=mturk_2014", "reform=mturk_fee_2015", "sim.reform_day=28", "sim.days=42",
            "sim.warmup_days=14", "population.n_workers=1500"]  # fmt: skip
CONTROL = ["reform.rules.platform.commission=0.1", "reform.rules.platform.commission_min_usd=0.005",
           "reform.rules.platform.batch_surcharge=0.0"]  # fmt: skip


def _run(seed, *more):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*FEE_2015, f"seed={seed}", *more])
    model = CrowdWorkModel(cfg, create_agents=False)
    model.run()
    return model


def _vs_control(seed, *more):
    """The share on the same requesters after the reform: the fee run against its control."""
    fee, control = _run(seed, *more), _run(seed, *more, *CONTROL)
    return fee_pass_through(
        control.windows.posted["after_reform"], fee.windows.posted["after_reform"]
    )


def test_the_measure_on_hand_built_requesters():
    hours = np.array([10.0, 30.0])
    pay0 = np.array([2.0, 4.0]) * hours
    before = (pay0, pay0, 0.1 * pay0, hours)
    # rewards unchanged: requesters bear the fee
    assert fee_pass_through(before, (pay0, pay0, 0.2 * pay0, hours))["share"] == 0.0
    # rewards cut so that reward x (1 + fee) is unchanged: workers bear it
    pay1 = pay0 * 1.1 / 1.2
    full = fee_pass_through(before, (pay1, pay1, 0.2 * pay1, hours))
    assert full["share"] == pytest.approx(1.0, rel=1e-12)
    # who posts does not enter: a requester posting far more hours after changes nothing
    more = np.array([10.0, 300.0])
    more_pay = np.array([2.0, 4.0]) * more
    assert fee_pass_through(before, (more_pay, more_pay, 0.2 * more_pay, more))["share"] == 0.0
    # no change of fee: nothing to measure
    assert fee_pass_through(before, before) is None


def test_a_fee_change_passes_to_rewards_by_a_share_in_0_1_that_the_summary_reports():
    shares = [_vs_control(seed)["share"] for seed in (1, 2, 3, 4)]
    # requesters pay norms and raise pay only to fill their batches, never above what the work
    # is worth net of the fee: a share between 0 and 1, small (Gomez-Herrera et al. 2023: prices
    # did not change significantly after a fee rise)
    assert 0.0 <= float(np.mean(shares)) <= 0.25, shares
    # a run with a reform of the fee rules reports it, on the same requesters either side
    s = _run(1).results().summary
    assert s["fee_pass_through_basis"]["requesters"] > 20
    assert (
        s["fee_pass_through_basis"]["fee_rate_after"]
        > s["fee_pass_through_basis"]["fee_rate_before"]
    )
    assert np.isfinite(s["fee_pass_through_measured"])


def test_requesters_who_pay_their_norm_pass_none_of_the_fee():
    # without learning from fill, every requester pays its norm: rewards do not move at all
    assert _vs_control(1, "requesters.fill_learning_rate=0")["share"] == pytest.approx(0, abs=1e-9)
    # requesters who want every batch filled pay up to what their work is worth net of the fee,
    # so a higher fee lowers their pay: the share rises towards 1
    assert _vs_control(1, "requesters.fill_target=1.0")["share"] > 0.2
