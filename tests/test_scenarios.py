"""Named scenarios: all those the issue lists exist, set the rules they claim, cite a source (or say
'assumption') for every number, and the seed platforms' markets look like what they stand for.
(That every scenario composes and runs is checked in test_configs.py.)"""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from crowdsim import run
from crowdsim.cli.overrides import CONFIG_DIR
from crowdsim.config import to_config
from crowdsim.studies.compare import MAIN_SCENARIOS, SEED_PLATFORMS

CONFIGS = Path(CONFIG_DIR)
NUMBER = re.compile(r"^\s*[\w.]+:\s*\[?-?\d")


def _cfg(scenario, *extra):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=[f"scenario={scenario}", *extra])


def test_every_scenario_the_issue_names_exists():
    names = {p.stem for p in (CONFIGS / "scenario").glob("*.yaml")}
    assert set(MAIN_SCENARIOS) | set(SEED_PLATFORMS) <= names


@pytest.mark.parametrize(
    "path",
    sorted((CONFIGS / "scenario").glob("*.yaml")) + sorted((CONFIGS / "population").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_every_number_has_a_source_or_is_an_assumption(path):
    """A line setting a number carries a comment, or its parent key does (for blocks of shares)."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#") or not NUMBER.match(line) or "#" in line:
            continue
        indent = len(line) - len(line.lstrip())
        parent = next(
            (
                lines[j]
                for j in range(i - 1, -1, -1)
                if lines[j].strip()
                and not lines[j].lstrip().startswith("#")
                and len(lines[j]) - len(lines[j].lstrip()) < indent
            ),
            "",
        )
        assert "#" in parent, f"{path.name}:{i + 1}: '{line.strip()}' has no source or assumption"


EXPECTED = {
    "status_quo": {
        "commission": 0.20,
        "batch_surcharge": 0.20,
        "auto_approval_days": 30,
        "min_pay_mode": "none",
    },
    "mturk_2014": {"commission": 0.10, "batch_surcharge": 0.0, "commission_min_usd": 0.005},
    "prolific_like": {
        "commission": 0.333,
        "min_pay_mode": "median_top_up",
        "min_pay_usd_per_hour": 8.0,
        "auto_approval_days": 21,
        "reason_required": True,
        "waitlist": True,
    },
    "transparency": {"reason_required": True, "public_requester_stats": True, "appeals": False},
    "appeals": {"reason_required": True, "appeals": True},
    "payment_guarantee": {"payment_guarantee": "escrow", "escrow_auto_approval_days": 3},
    "min_pay": {"min_pay_mode": "measured", "min_pay_usd_per_hour": 8.0},
    "commission_cap": {"commission_cap": 0.15},
    "fairwork": {
        "payment_guarantee": "escrow",
        "min_pay_mode": "measured",
        "min_pay_usd_per_hour": 7.25,
        "reason_required": True,
        "appeals": True,
        "public_requester_stats": True,
        "restricted_share": 0.0,
    },
    "eu_platform_work_directive": {
        "reason_required": True,
        "appeals": True,
        "appeal_delay_days": 14,
        "min_pay_mode": "measured",
        "min_pay_usd_per_hour": 7.25,
    },
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_sets_the_rules_it_stands_for(scenario):
    cfg = to_config(_cfg(scenario))
    assert cfg.scenario_name == scenario and cfg.description
    for option, value in EXPECTED[scenario].items():
        assert getattr(cfg.platform, option) == value, (scenario, option)
    # policy scenarios keep the status quo's MTurk-like pool, so differences are the rules' alone
    assert cfg.population.country_mix == "mturk"


def _small(scenario):
    return run(_cfg(scenario, "population.n_workers=250", "sim.days=3", "seed=3"))


def test_foule_factory_is_french_and_paid_in_euros():
    cfg = to_config(_cfg("foule_factory"))
    assert cfg.population.countries == ["FR"] and cfg.population.currency == "EUR"
    assert cfg.population.n_workers == 50000
    res = _small("foule_factory")
    assert set(res.workers["country"]) == {"FR"}
    assert res.workers["tasks_submitted"].sum() > 0


def test_click_farm_is_engagement_work_in_south_asia_without_a_payment_guarantee():
    res = _small("click_farm")
    assert (
        set(res.workers["country"]) <= {"IN", "BD", "PH"} and len(set(res.workers["country"])) == 3
    )
    assert set(res.requesters["task_type"]) == {"engagement_clicks"}
    assert res.summary["value_never_paid_share"] > 0


def test_survey_panel_is_surveys_paid_in_points():
    cfg = to_config(_cfg("survey_panel"))
    assert cfg.population.currency == "points"
    res = _small("survey_panel")
    assert set(res.requesters["task_type"]) == {"survey"}


def test_ai_rating_programme_has_vetted_workers_and_no_unpaid_work():
    cfg = to_config(_cfg("ai_rating_programme"))
    assert cfg.workers.skill_mean >= 0.99 and cfg.platform.restricted_share > 0
    res = _small("ai_rating_programme")
    assert set(res.requesters["task_type"]) <= {
        "data_lookup",
        "image_labelling",
        "content_moderation",
    }
    assert res.summary["value_never_paid_share"] == 0
    assert (
        res.summary["unjustified_rejection_rate"] < 0.01
    )  # no opportunistic reviewers (strict ones err at 3%)
