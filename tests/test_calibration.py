"""Calibration: moments, the SMM loop end to end at a tiny size, the fit table, validation, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import crowdsim
from crowdsim.config import ConfigError, flatten
from crowdsim.metrics.stats import mean_ci
from crowdsim.moments import MOMENTS, compute_moments, simulate, window_wages
from crowdsim.studies import calibrate as cal
from crowdsim.studies import options

TINY = dict(workers=120, days=5, warmup_days=1.0)
SMALLEST = dict(workers=40, days=3, warmup_days=1.0)  # runs whose numbers are only compared


def test_simulate_reproduces_run_and_window_moments():
    kw = dict(population__n_workers=150, sim__days=4, seed=3)
    measured = simulate(None, warmup_days=0, **kw)
    plain = crowdsim.run(**kw)
    pd.testing.assert_frame_equal(measured.results.workers, plain.workers)
    pd.testing.assert_frame_equal(measured.results.timeseries, plain.timeseries)
    m = compute_moments(measured)
    assert set(m) == set(MOMENTS)
    # with no warm-up, windowed wages are the run's wages
    assert m["wage_median_all_in"] == pytest.approx(plain.summary["wage_median_all_in"])
    assert m["wage_median_paid_only"] == pytest.approx(plain.summary["wage_median_paid_only"])
    assert 0 <= m["return_rate"] <= 1 and 0 <= m["rejection_rate"] <= 1
    assert 0 <= m["india_share_08_10_utc"] <= 1


def test_window_excludes_warmup_work():
    full = simulate(None, warmup_days=0, population__n_workers=150, sim__days=4, seed=3)
    late = simulate(None, warmup_days=2, population__n_workers=150, sim__days=4, seed=3)
    # same run, so the whole-run results are equal; the window holds only part of the hours
    pd.testing.assert_frame_equal(full.results.workers, late.results.workers)
    w_full, w_late = window_wages(full), window_wages(late)
    assert w_late["resolved_hours"].sum() < w_full["resolved_hours"].sum()
    assert (late.results.timeseries["hour"] >= 0).all() and late.warmup_hours == 48


def test_targets_file_has_a_source_and_se_for_every_number():
    targets = cal.load_targets()
    assert {
        "wage_median_all_in",
        "wage_mean_all_in",
        "wage_median_paid_only",
        "share_above_7_25",
        "rejection_rate",
        "return_rate",
    } <= {n for n, t in targets.items() if t.role == "fit"}
    held = [t for t in targets.values() if t.role == "validate"]
    assert held and all(t.held_out_because for t in held)
    for t in targets.values():
        assert t.se > 0 and t.source and t.se_basis


def test_bad_targets_file_is_one_clear_error(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(
        yaml.safe_dump(
            {"targets": {"wage_median_all_in": {"value": 1.77, "se": 0.2, "role": "fit"}}}
        )
    )
    with pytest.raises(ConfigError, match="source"):
        cal.load_targets(p)
    p.write_text(
        yaml.safe_dump(
            {"targets": {"no_such_moment": {"value": 1, "se": 1, "role": "fit", "source": "x"}}}
        )
    )
    with pytest.raises(ConfigError, match="no_such_moment"):
        cal.load_targets(p)


@pytest.fixture(scope="module")
def tiny_calibration(tmp_path_factory):
    """A tiny calibration from a deliberately bad start (at the edges of the search space):
    maximal search cost, scarce work, requesters who understate durations by half, frequent
    returns."""
    out = tmp_path_factory.mktemp("calib")
    start = out / "bad_start.yaml"
    start.write_text(
        yaml.safe_dump(
            {
                "workers": {
                    "search_minutes": 2.0,
                    "return_base_prob": 0.06,
                    "duration_noise_sigma": 0.6,
                },
                "market": {"demand_ratio": 0.2},
                "requesters": {"duration_bias_median": 0.5, "honest_reject_bad_prob": 0.4},
            }
        )
    )
    s = cal.Settings(
        trials=8,
        seeds=1,
        jobs=1,
        sampler_seed=1,
        seed_start=11,
        recheck_top=2,
        recheck_seeds=2,
        start=str(start),
        out=str(out),
        **TINY,
    )
    return cal.calibrate(s, progress=False), s


def test_calibration_improves_on_its_start(tiny_calibration):
    result, s = tiny_calibration
    trials = result.trials
    assert len(trials) == s.trials
    first = trials.loc[trials["trial"] == 0].iloc[0]
    assert first["param.workers.search_minutes"] == 2.0  # the first trial is the bad start
    assert first["objective"] == pytest.approx(result.start_objective)
    # best-so-far never rises and ends strictly below the start
    assert (np.diff(trials["best_so_far"].to_numpy()) <= 0).all()
    # (the start is as bad as the search space's edges allow: 8 trials cut its distance by a third)
    assert trials["best_so_far"].iloc[-1] < 0.7 * trials["objective"].iloc[0]
    # the final choice is the best of the re-runs of the two best trials on fresh seeds
    rechecked = trials["recheck_objective"].dropna()
    assert len(rechecked) == 2
    assert set(rechecked.index) == set(trials["objective"].nsmallest(2).index)
    assert result.best_objective == pytest.approx(rechecked.min())


def test_fit_table_holds_the_numbers_the_runs_produced(tiny_calibration):
    result, s = tiny_calibration
    out = result.out_dir
    for name in (
        "best_params.yaml",
        "fit_table.csv",
        "fit_table.md",
        "moments_by_seed.csv",
        "trials.csv",
        "convergence.png",
        "calibration.json",
    ):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "fit_table.csv")
    by_seed = pd.read_csv(out / "moments_by_seed.csv")
    # the table is the seed mean and t-interval of the runs behind it
    for row in table.itertuples():
        m, lo, hi, n = mean_ci(by_seed[row.moment].to_numpy(dtype=float))
        assert row.simulated_mean == pytest.approx(m, nan_ok=True)
        if np.isfinite(lo):
            assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi))
        assert row.n_seeds == n
    # and those runs are the best parameters simulated at those seeds
    best = flatten(yaml.safe_load((out / "best_params.yaml").read_text()))
    assert best == result.best_params
    cfg = options.base_config()
    for seed, row in zip(by_seed["seed"], by_seed.itertuples(), strict=True):
        again = cal.run_moments(
            cfg,
            result.best_params,
            int(seed),
            s.workers,
            s.days,
            s.warmup_days,
            ["wage_median_all_in", "return_rate"],
        )
        assert again["wage_median_all_in"] == pytest.approx(
            row.wage_median_all_in, rel=1e-9, nan_ok=True
        )
        assert again["return_rate"] == pytest.approx(row.return_rate, rel=1e-9, nan_ok=True)
    # the distance of the chosen trial is the table's
    fit = table[table["role"] == "fit"]
    z = np.where(
        np.isfinite(fit["simulated_mean"]),
        (fit["simulated_mean"] - fit["target"]) / fit["se"],
        cal.NAN_PENALTY_Z,
    )
    assert float((z**2).sum()) == pytest.approx(result.best_objective, rel=1e-9)
    md = (out / "fit_table.md").read_text()
    assert "wage_median_all_in" in md and "Hara" in md


def test_calibrated_yaml_composes_and_validates():
    from hydra import compose, initialize_config_dir

    from crowdsim.cli.overrides import CONFIG_DIR
    from crowdsim.config import to_config

    params = flatten(yaml.safe_load((options.CALIBRATION_DIR / "calibrated.yaml").read_text()))
    # searched, or (the choice's pay coefficient) fitted to the honeypot elasticity
    space = {p.name for p in cal.load_space()} | {"workers.choice_pay_sensitivity"}
    assert set(params) <= space
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["scenario=status_quo"])
    # applied as crowdsim-validate and crowdsim-sensitivity apply it: as validated overrides
    obj = to_config(cfg, **cal.params_to_overrides(params))
    defaults = to_config(cfg)
    for name, value in params.items():
        section, key = name.split(".")
        assert getattr(getattr(obj, section), key) == pytest.approx(value)
        # the calibrated values are the defaults: the file cannot drift from config.py
        assert getattr(getattr(defaults, section), key) == pytest.approx(value), name


def test_validate_writes_report(tmp_path):
    from crowdsim.studies.validate import ValidationSettings, validate

    params = tmp_path / "p.yaml"
    params.write_text(cal.params_yaml({"workers.search_minutes": 1.0}, "# test"))
    table = validate(
        ValidationSettings(
            params=str(params),
            seeds=2,
            workers=120,
            days=4,
            warmup_days=1,
            concentration_workers=200,
            concentration_seeds=1,
            baseline=False,
            jobs=2,  # two processes of the cores launcher: the runs are small, the overhead per run is not
            out=str(tmp_path / "v"),
        )
    )
    assert set(table["role"]) == {"fit", "validate", "input"}
    report = (tmp_path / "v" / "validation_report.md").read_text()
    for heading in (
        "Fitted targets",
        "Held-out figures",
        "held out because",
        "Published figures not compared",
    ):
        assert heading in report
    assert table.loc[table["moment"] == "requester_top1pct_volume_share", "n_seeds"].iloc[0] == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--trials", "0"], "--trials"),
        (["--workers", "many"], "--workers"),
        (["--days", "5", "--warmup-days", "9"], "--warmup-days"),
        (["--scenario", "atlantis"], "--scenario"),
        (["--start", "/nonexistent.yaml"], "--start"),
        (["--launcher", "nowhere"], "launcher"),
        (["--storage", "nodb://somewhere/calibration"], "--storage"),
    ],
)
def test_calibrate_cli_bad_input_is_one_line(argv, needle, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cal.main([*argv, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "allowed" in err


def test_validate_cli_bad_params_file_is_one_line(capsys):
    from crowdsim.studies import validate

    with pytest.raises(SystemExit) as exc:
        validate.main(["--params", "/nonexistent.yaml"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--params" in err


def test_start_file_must_name_search_parameters_within_range(tmp_path):
    space = cal.load_space()
    p = tmp_path / "start.yaml"
    p.write_text(yaml.safe_dump({"workers": {"serch_minutes": 1.0}}))
    with pytest.raises(ConfigError, match="serch_minutes"):
        cal.load_start(str(p), space)
    p.write_text(yaml.safe_dump({"workers": {"search_minutes": 99.0}}))
    with pytest.raises(ConfigError, match="search range"):
        cal.load_start(str(p), space)
    p.write_text(yaml.safe_dump({"workers": {"search_minutes": 2.0}}))
    assert cal.load_start(str(p), space) == {"workers.search_minutes": 2.0}


def _done_times(runs) -> dict[str, int]:
    return {
        str(p.parent.relative_to(runs)): p.stat().st_mtime_ns for p in runs.glob("*/*/DONE.json")
    }


def test_a_calibration_run_again_resumes_its_study(tmp_path):
    """The study is on disk (OUT/study.journal) and the runs in job folders: asking for 4 trials
    after 2 evaluates only the 2 missing ones; other settings are refused."""
    import optuna

    settings = dict(seeds=1, jobs=1, recheck_top=0, out=str(tmp_path), **SMALLEST)
    first = cal.calibrate(cal.Settings(trials=2, **settings), progress=False)
    runs = tmp_path / "runs"
    before = _done_times(runs)
    assert sorted(before) == ["trial_0000/seed_1000", "trial_0001/seed_1000"]
    again = cal.calibrate(cal.Settings(trials=4, **settings), progress=False)
    after = _done_times(runs)
    assert sorted(after) == [f"trial_000{i}/seed_1000" for i in range(4)]
    assert {k: after[k] for k in before} == before  # the first two were not simulated again
    assert list(again.trials["trial"]) == [0, 1, 2, 3]
    assert list(again.trials["folder"]) == [f"trial_000{i}" for i in range(4)]
    pd.testing.assert_series_equal(again.trials["objective"][:2], first.trials["objective"])
    study = optuna.load_study(
        study_name="calibration",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.journal"))
        ),
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    # the objective of a trial is that of its runs on disk
    rows = [json.loads((runs / "trial_0003/seed_1000/moments.json").read_text())]
    means = {k: np.nan if v is None else v for k, v in rows[0].items()}
    assert study.trials[3].value == pytest.approx(cal.distance(means, cal.load_targets()))
    with pytest.raises(ConfigError, match="--workers"):
        cal.calibrate(cal.Settings(trials=4, **(settings | {"workers": 130})), progress=False)


def test_runs_are_the_same_on_every_launcher(tmp_path):
    """The job runner gives a calibration's runs the moments of the direct simulation, one after
    another in this process or on the cores launcher's worker processes."""
    from crowdsim.sweeps.grid import launcher_overrides, measure_grid

    sets = {
        "trial_0000": {"workers.search_minutes": 1.5},
        "trial_0001": {"market.demand_ratio": 0.3},
    }
    fixed = options.grid_overrides("status_quo", SMALLEST["workers"], SMALLEST["days"], [])
    names = ["wage_median_all_in", "return_rate", "rejection_rate", "active_share"]
    moments = {
        launcher: measure_grid(
            sets,
            [21],
            fixed,
            SMALLEST["warmup_days"],
            names,
            tmp_path / launcher,
            launcher_overrides(launcher, 2, []),
        )  # fmt: skip
        for launcher in ("sequential", "cores")
    }
    np.testing.assert_equal(moments["sequential"], moments["cores"])  # exactly, NaN = NaN
    cfg = options.base_config()
    for (name, seed), got in moments["cores"].items():
        direct = cal.run_moments(
            cfg, sets[name], seed, SMALLEST["workers"], SMALLEST["days"], 1.0, names
        )
        np.testing.assert_equal(got, direct)
    assert moments["cores"][("trial_0000", 21)] != moments["cores"][("trial_0001", 21)]
