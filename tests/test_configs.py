"""Every shipped config composes and runs a short simulation; bad values are refused clearly."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from crowdsim import ConfigError, CrowdWorkModel
from crowdsim.cli.overrides import CONFIG_DIR
from crowdsim.config import to_config
from crowdsim.metrics.invariants import check_all

CONFIGS = Path(CONFIG_DIR)
SCENARIOS = sorted(p.stem for p in (CONFIGS / "scenario").glob("*.yaml"))
POPULATIONS = sorted(p.stem for p in (CONFIGS / "population").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
SHORT = ["population.n_workers=120", "sim.days=1"]


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_composes_and_runs(scenario):
    cfg = _compose([f"scenario={scenario}", *SHORT])
    assert cfg.scenario_name
    model = CrowdWorkModel(cfg, create_agents=False).run()
    check_all(model)  # escrow, sub-ledgers and time add up at the end
    assert model.results().summary["scenario"] == cfg.scenario_name


@pytest.mark.parametrize("population", POPULATIONS)
def test_population_composes_and_runs(population):
    model = CrowdWorkModel(_compose([f"population={population}", *SHORT]), create_agents=False)
    check_all(model.run())


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes(experiment):
    cfg = _compose([f"+experiment={experiment}", *SHORT])
    to_config(cfg)


def test_scenario_files_say_what_rule_they_stand_for():
    for path in (CONFIGS / "scenario").glob("*.yaml"):
        text = path.read_text()
        assert text.startswith("# @package _global_"), path.name
        assert text.count("\n#") >= 2, (
            f"{path.name} must explain the rule it stands for and its sources"
        )
        assert "scenario_name:" in text and "description:" in text, path.name


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("platform__commission", 1.5, "platform.commission"),
        ("population__n_workers", -3, "population.n_workers"),
        ("population__countries", ["US", "XX"], "population.countries"),
        ("platform__payment_guarantee", "sometimes", "none, auto_approval, escrow"),
        ("platform__comission", 0.1, "did you mean 'platform.commission'"),
        ("sim__days", 0, "sim.days"),
    ],
)
def test_bad_values_raise_clear_errors(option, value, fragment):
    with pytest.raises(ConfigError) as err:
        CrowdWorkModel(**{option: value})
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
