"""One title per scenario everywhere: each scenario file's ``title:``, read through
crowdsim.scenarios by the app's menus, its headline and the comparison report."""

from crowdsim import scenarios


def test_every_scenario_file_has_its_own_title():
    titles = {n: scenarios.title(n) for n in scenarios.names()}
    assert all(titles.values()) and len(set(titles.values())) == len(titles)
    for name, title in titles.items():
        assert scenarios.name_of(title) == name and scenarios.name_of(name) == name
        assert scenarios.composed(name)["title"] == title  # the config carries it


def test_the_app_and_the_report_call_a_scenario_by_the_same_title():
    from crowdsim.scenarios import title as scenario_title
    from crowdsim.viz import app

    menu = app.model_params()["scenario_name"]
    assert menu["values"] == [scenarios.title(n) for n in scenarios.names()]
    assert menu["value"] == scenario_title("status_quo") == "Status quo (MTurk-like)"
    model = app.AppModel("Requester fee capped at 15%", n_workers=200, days=1, chance_twin=False)
    assert model.config.scenario_name == "commission_cap"
    assert scenario_title("commission_cap") in model.label and model.description
