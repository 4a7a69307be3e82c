"""Global sensitivity analysis: SALib wrappers against known answers, and a tiny crowdsim run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdsim.studies import sensitivity as sa

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_exact(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic first-order and total indices of the Ishigami function (Sobol' & Levitan 1999)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v}


def test_sobol_indices_of_ishigami_match_the_analytic_values():
    exact = ishigami_exact()
    assert exact["S1"] == pytest.approx([0.314, 0.442, 0.0], abs=1e-3)
    assert exact["ST"][2] == pytest.approx(0.244, abs=1e-3)
    X = sa.sobol_sample(ISHIGAMI, 2048, seed=3)
    assert X.shape == (2048 * 5, 3)
    t = sa.sobol_indices(ISHIGAMI, ishigami(X), resamples=200, seed=3)
    assert t["S1"].to_numpy() == pytest.approx(exact["S1"], abs=0.05)
    assert t["ST"].to_numpy() == pytest.approx(exact["ST"], abs=0.05)
    # the bootstrap intervals exist, are positive and cover the truth for the total indices
    assert (t[["S1_conf", "ST_conf"]].to_numpy() > 0).all()
    assert (np.abs(t["ST"] - exact["ST"]) <= 2 * t["ST_conf"]).all()


def test_morris_ranks_a_linear_function():
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    X = sa.morris_sample(problem, 20, seed=1)
    Y = 3.0 * X[:, 0] + 0.0 * X[:, 1] + 1.0 * X[:, 2]
    t = sa.morris_indices(problem, X, Y, resamples=100, seed=1)
    assert t["mu_star"].to_numpy() == pytest.approx([3.0, 0.0, 1.0], abs=1e-9)
    assert t["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_sobol_sample_size_must_be_a_power_of_two():
    from crowdsim.config import ConfigError

    with pytest.raises(ConfigError, match="power of 2"):
        sa.sobol_sample(ISHIGAMI, 12)


def test_log_scaled_parameters_are_sampled_in_their_logarithm():
    from crowdsim.studies.calibrate import Parameter

    p = sa.Problem(
        [
            Parameter("market.demand_ratio", 0.1, 1.0, log=True),
            Parameter("platform.commission", 0.0, 0.4),
        ]
    )
    bounds = p.salib()["bounds"]
    assert bounds[0] == pytest.approx([np.log(0.1), 0.0]) and bounds[1] == [0.0, 0.4]
    vals = p.to_values(np.array([[np.log(0.5), 0.2]]))
    assert vals[0] == pytest.approx([0.5, 0.2])


def test_tiny_crowdsim_run_gives_indices_with_intervals(tmp_path):
    s = sa.SensitivitySettings(
        method="both",
        n=4,
        trajectories=2,
        seeds=1,
        workers=100,
        days=3,
        warmup_days=1,
        jobs=2,  # two processes of the cores launcher: the runs are small, the overhead per run is not
        resamples=50,
        params=["platform.commission", "workers.search_minutes"],
        base_params=None,
        out=str(tmp_path),
    )
    tables = sa.run_sensitivity(s)
    sobol, morris = tables["sobol"], tables["morris"]
    assert set(sobol["output"]) == set(sa.OUTPUTS)
    assert set(sobol["parameter"]) == {"platform.commission", "workers.search_minutes"}
    for col in ("S1", "S1_conf", "ST", "ST_conf"):
        assert sobol[col].notna().all(), col
    assert (sobol["ST_conf"] >= 0).all()
    assert morris["mu_star"].notna().all() and morris["mu_star_conf"].notna().all()
    samples = pd.read_parquet(tmp_path / "samples_sobol.parquet")
    assert len(samples) == 4 * (2 + 2)
    # (the space fixes the floor on the estimate at its default $8: in a market of 4 requesters
    # those whose work is worth less than the floor post little or nothing, and the work left
    # may all be for one that has not reviewed it in the 2 measured days)
    assert (samples["platform_revenue_usd"] >= 0).all() and (
        samples["platform_revenue_usd"] > 0
    ).any()
    for name in (
        "sobol.csv",
        "sobol.parquet",
        "morris.csv",
        "sobol.png",
        "morris.png",
        "sensitivity.json",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    top = sa.top_parameters(sobol, "wage_median_all_in", k=2)
    assert len(top) == 2 and top["ST"].is_monotonic_decreasing


POLICY_DECIDING = {
    "requesters.value_markup_median",
    "requesters.task_value_sigma",
    "requesters.exit_plan_share",
    "requesters.screening_elasticity",
    "requesters.supply_elasticity_belief",
    "requesters.fill_target",
    "requesters.fill_learning_rate",
    "requesters.value_markup_sigma",
    "workers.market_look_prob_per_day",
    "workers.search_minutes",
    "workers.search_learning_rate",
    "workers.initial_belief_find",
    "workers.belief_find_recovery_per_day",
    "workers.choice_pay_sensitivity",
    "workers.exit_wage_ratio",
    "workers.exit_prob_side",
    "workers.exit_days",
    "workers.entry_wage_elasticity",
    "workers.discouragement_per_day",
}


def test_sensitivity_space_holds_the_behavioural_parameters_that_can_decide_a_policy_result():
    problem = sa.load_problem(sa.DEFAULT_SPACE)
    assert POLICY_DECIDING <= set(problem.names)
    behavioural = sa.policy_free(problem)
    assert not any(n.startswith("platform.") for n in behavioural.names)
    assert POLICY_DECIDING <= set(behavioural.names) and behavioural.fixed == {}


def test_difference_mode_analyses_each_scenario_against_the_reference_on_common_seeds(tmp_path):
    s = sa.SensitivitySettings(
        method="morris",
        trajectories=2,
        seeds=1,
        workers=120,
        days=3,
        warmup_days=1,
        jobs=2,  # the cores launcher (see above)
        resamples=20,
        scenario="min_pay,mturk_2014",
        versus="status_quo",
        params=["platform.commission", "workers.search_minutes", "workers.exit_days"],
        outputs=["wage_median_all_in", "wage_median_paid_only"],
        base_params=None,
        out=str(tmp_path),
    )
    tables = sa.run_sensitivity(s)
    morris, signs = tables["morris"], tables["signs"]
    # the platform lever is dropped: the scenarios set the rules
    assert set(morris["parameter"]) == {"workers.search_minutes", "workers.exit_days"}
    assert set(morris["scenario"]) == {"min_pay", "mturk_2014"}
    assert set(morris["output"]) == {"diff_wage_median_all_in", "diff_wage_median_paid_only"}
    samples = pd.read_parquet(tmp_path / "samples_morris.parquet")
    assert len(samples) == 2 * 2 * (2 + 1)  # scenarios x trajectories x (D + 1)
    assert (samples["workers.exit_days"] == samples["workers.exit_days"].round()).all()
    # each difference is the scenario minus the reference on the same seed
    for col in ("wage_median_all_in", "wage_median_paid_only"):
        got = samples[f"diff_{col}"].to_numpy()
        want = (samples[col] - samples[f"status_quo_{col}"]).to_numpy()
        assert got == pytest.approx(want, abs=1e-12)
    # common seeds: the reference levels are the same rows for both scenarios
    ref = samples.groupby("scenario")["status_quo_wage_median_all_in"].apply(list)
    assert ref["min_pay"] == ref["mturk_2014"]
    assert (samples.loc[samples["scenario"] == "min_pay", "diff_wage_median_all_in"] != 0).any()
    for col in ("mu_star", "sigma", "share_negative", "share_negative_low", "share_negative_high"):
        assert morris[col].between(-1e9, 1e9).all(), col
    assert morris["share_negative"].between(0, 1).all()
    row = signs.set_index(["scenario", "output"]).loc[("min_pay", "wage_median_all_in")]
    sub = samples[samples["scenario"] == "min_pay"]["diff_wage_median_all_in"]
    assert row["share_negative"] == pytest.approx(float((sub < 0).mean()))
    assert row["mean_diff"] == pytest.approx(float(sub.mean()))
    for name in ("morris.csv", "sign_summary.csv", "morris.png", "sensitivity.json"):
        assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--scenario", "min_pay,appeals"], "--scenario"),
        (["--scenario", "min_pay", "--versus", "min_pay"], "--versus"),
        (["--scenario", "min_pay", "--versus", "nowhere"], "--versus"),
        (["--method", "fast"], "--method"),
        (["--n", "12"], "--n"),
        (["--params", "workers.nope"], "workers.nope"),
        (["--outputs", "happiness"], "--outputs"),
    ],
)
def test_sensitivity_cli_bad_input_is_one_line(argv, needle, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        sa.main([*argv, "--out", str(tmp_path), "--base-params", "none"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err
