"""The browser app without a browser: the page rendered with ``solara.render`` (as Mesa tests its
SolaraViz), the model behind it, its controls, its plots' data and the ``crowdsim-app`` launcher."""

from __future__ import annotations

import time
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
import solara.widgets
from mesa.visualization.solara_viz import _check_model_params

from crowdsim.cli.overrides import CONFIG_DIR
from crowdsim.config import ConfigError
from crowdsim.metrics.summary import workers_frame
from crowdsim.viz import app, launch
from crowdsim.viz.app import (
    AS_SCENARIO,
    LEVERS,
    AppModel,
    compose_config,
    lever_overrides,
    model_params,
)
from crowdsim.viz.components import headline_lines, headline_numbers, wage_by_country_figure

SMALL = {"n_workers": 200, "days": 3}


# ---------------------------------------------------------------- controls -> config
def test_scenarios_are_the_files_in_configs_scenario():
    names = app.available_scenarios()
    assert set(names) == {p.stem for p in (Path(CONFIG_DIR) / "scenario").glob("*.yaml")}
    assert names[0] == "status_quo"


@pytest.mark.parametrize("scenario", app.available_scenarios())
def test_every_scenario_builds_and_steps(scenario):
    model = AppModel(scenario_name=scenario, chance_twin=False, **SMALL)
    assert model.scenario_name == model.config.scenario_name
    model.run(3)
    assert model.hour == 3


def test_model_params_fit_the_model_signature():
    _check_model_params(AppModel.__init__, model_params())  # Mesa's own check, raises on a mismatch
    params = model_params()
    for name, lever in LEVERS.items():
        assert params[name]["type"] == "Select"
        assert params[name]["values"][0] == AS_SCENARIO
        assert params[name]["values"] == list(lever["choices"])


def test_every_lever_choice_gives_a_valid_config():
    for name, lever in LEVERS.items():
        for choice, overrides in lever["choices"].items():
            cfg = compose_config(**{name: choice}, n_workers=100)
            for key, value in overrides.items():
                section, option = key.split(".")
                assert getattr(getattr(cfg, section), option) == value, (name, choice, key)


def test_levers_reach_the_model_and_as_in_scenario_keeps_the_scenario():
    base = compose_config("status_quo")
    model = AppModel(
        commission="40%",
        transparency="reason + statistics + appeals",
        payment_guarantee="escrow + 3-day auto-approval",
        min_pay="$8/h on the measured median time",
        qualification_gate="none",
        seed="7",
        **SMALL,
    )
    p = model.config.platform
    assert (p.commission, p.reason_required, p.public_requester_stats, p.appeals) == (
        0.4,
        True,
        True,
        True,
    )
    assert (p.payment_guarantee, p.min_pay_mode, p.min_pay_usd_per_hour, p.qualification_share) == (
        "escrow",
        "measured",
        8.0,
        0.0,
    )
    assert (model.config.seed, model.config.population.n_workers, model.config.sim.days) == (
        7,
        200,
        3,
    )
    assert "commission 40%" in model.label
    plain = AppModel(**SMALL)
    assert plain.config.platform == base.platform
    assert "with" not in plain.label


def test_bad_choices_get_a_message_naming_the_option():
    with pytest.raises(ConfigError, match=r"commission.*99%.*allowed"):
        lever_overrides(commission="99%")
    with pytest.raises(ConfigError, match="seed"):
        AppModel(seed="forty-two", **SMALL)
    with pytest.raises(ConfigError, match=r"scenario.*no_such_scenario"):
        AppModel(scenario_name="no_such_scenario", **SMALL)


# ---------------------------------------------------------------- what the plots show
def test_data_collector_records_one_row_per_hour_of_model_level_aggregates():
    model = AppModel(**SMALL)
    model.run(30)
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 31  # the start, then every hour
    assert model.datacollector.agent_reporters == {}  # no per-agent reporters: cheap at any size
    for cumulative in ("Platform revenue", "Paid to workers", "Good work rejected"):
        assert np.all(np.diff(df[cumulative]) >= -1e-9), cumulative
    assert df["Active workers"].iloc[1:].to_numpy() == pytest.approx(
        model.series["active_workers"][:30]
    )
    assert df["Platform revenue"].iloc[-1] == pytest.approx(
        model.ledger.totals_usd()["ledger_platform_fees_usd"]
    )


def test_headline_and_unpaid_shares_agree_with_the_run_summary():
    model = AppModel(**SMALL)
    model.run()
    s = model.results().summary
    n = headline_numbers(model)
    assert n["wage_median_all_in"] == pytest.approx(s["wage_median_all_in"])
    assert n["share_above_7_25"] == pytest.approx(s["share_above_7_25"])
    assert n["share_above_local_min_wage"] == pytest.approx(s["share_above_local_min_wage"])
    assert n["platform_revenue_usd"] == pytest.approx(s["platform_revenue_usd"])
    shares = model.unpaid_shares()
    assert shares["total"] == pytest.approx(s["unpaid_time_share"])
    for kind in ("search", "returned", "rejected", "never_paid"):
        assert shares[kind] == pytest.approx(s[f"unpaid_share_{kind}"])
    assert not model.running
    model.step()  # past the horizon: nothing happens
    assert model.hour == model.n_hours
    assert headline_lines(model)[0].startswith(f"**Day {model.n_hours // 24 + 1}")


def test_wage_plot_marks_each_country_at_its_local_minimum_wage():
    model = AppModel(n_workers=600, days=3, seed=1)
    model.run(48)
    fig = wage_by_country_figure(model)
    ax = fig.axes[0]
    labels = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    assert "US" in labels and "IN" in labels
    markers = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert len(markers) == len(labels)
    local_min = dict(zip(model.countries.codes, model.countries.min_wage_usd, strict=True))
    for line in markers:
        (x,), (y,) = line.get_xdata(), line.get_ydata()
        assert x == pytest.approx(local_min[labels[int(y) - 1]])


def test_wage_plot_before_any_work_says_so():
    model = AppModel(**SMALL)
    texts = [t.get_text() for t in wage_by_country_figure(model).axes[0].texts]
    assert any("No worker has enough working time yet" in t for t in texts)


# ---------------------------------------------------------------- the rendered page
def _render(model):
    @solara.component
    def Host():  # the server wraps pages in an AppLayout: the sidebar and app bar need one
        with solara.AppLayout():
            app.make_page(model)

    _box, rc = solara.render(Host(), handle_error=False)
    return rc


def _button(rc, text):
    return rc.find(v.Btn, children=[text]).widget


def _plot_image(rc, key) -> bytes:
    card = next(w for w in rc.find(v.Card).widgets if f"crowdsim-plot-{key}" in w.class_.split())
    return bytes(rc.find(v.Card, class_=card.class_).find(ipywidgets.Image).widget.value)


def test_page_renders_controls_and_plots():
    rc = _render(AppModel(**SMALL))
    for text in ("Reset", "Step", "Run 1 day", "Run 1 week"):
        _button(rc, text)
    labels = [s.label for s in rc.find(v.Select).widgets]
    assert labels.count("Saved markets") == 1  # the sidebar's card to save and reload a market
    labels.remove("Saved markets")
    assert labels == ["Scenario"] + [lever["label"] for lever in LEVERS.values()] + [
        "Compare the status quo with",
        "Over",
    ]
    assert len(rc.find(ipywidgets.Image).widgets) == 1 + len(app.TIME_SERIES)
    # controls named for this model, each slider with its value in its label
    sliders = [s.label for s in rc.find(v.Slider).widgets]
    assert "Hours per Step: 1" in sliders
    assert "Pause while ▶ plays: 50 ms" in sliders
    assert f"Workers: {app.DEFAULT_N_WORKERS:,}" in sliders
    texts = " ".join(str(getattr(w, "label", "")) for w in rc.find(v.Checkbox).widgets)
    for jargon in ("Play Interval", "Render Interval", "Use Threads"):
        assert jargon not in " ".join(sliders) + texts
    assert not [c for c in rc.find(v.Card).widgets if "Information" in str(c.children)]


def test_time_series_start_with_a_message_and_run_against_hours_then_days():
    model = AppModel(**SMALL)
    fig = app.time_series(model, "workers")
    ax = fig.axes[0]
    assert any("No hour simulated yet" in t.get_text() for t in ax.texts)
    assert ax.get_xlim() == (0, 24) and "hours" in ax.get_xlabel()
    model.run(30)
    ax = app.time_series(model, "workers").axes[0]
    assert not ax.texts and "hours" in ax.get_xlabel() and ax.get_xlim() == (0, 30)
    model.run(30)
    ax = app.time_series(model, "revenue").axes[0]
    assert "days" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["0", "1", "2"]
    # the chance twin is drawn dashed beside the market's own line
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles == ["-", "--"]


def test_first_hours_have_ticks_and_a_rate_is_drawn_from_its_100th_review():
    """After two hours the axis is labelled 0, 1, 2 (it showed "0" alone); rejection rates start
    once 100 tasks are reviewed (over the first few reviews one rejection drew a 10-20% spike
    that squashed the curve), with a message until then."""
    model = AppModel(**SMALL)
    model.run(2)
    ax = app.time_series(model, "workers").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    df = model.datacollector.get_model_vars_dataframe()
    reviewed = model.counters["assignments_rejected"] + model.counters["assignments_approved"]
    if reviewed < app.MIN_REVIEWED:
        assert df["Rejection rate"].isna().all()
        texts = [t.get_text() for t in app.time_series(model, "rejections").axes[0].texts]
        assert any("Too little data yet" in t for t in texts)
    model.run()  # to the horizon (3 days)
    df = model.datacollector.get_model_vars_dataframe()
    reviewed = model.counters["assignments_rejected"] + model.counters["assignments_approved"]
    assert reviewed >= app.MIN_REVIEWED
    assert df["Rejection rate"].iloc[-1] == pytest.approx(
        100 * model.counters["assignments_rejected"] / reviewed
    )
    assert not app.time_series(model, "rejections").axes[0].texts


def test_wage_plots_keep_their_legend_whole_and_off_the_boxes():
    """The comparison's legend ran off the figure ("$8/h minimum pay on measured tim") and the
    wage plot's covered the bottom boxes."""
    from conftest import legend_clear_of_the_plot

    from crowdsim.scenarios import title as scenario_title
    from crowdsim.viz.components import comparison_figure

    models = app.run_comparison("min_pay", n_workers=300, seed=2, hours=30)
    legend_clear_of_the_plot(wage_by_country_figure(models["status quo"]))
    shown = {scenario_title(k if k != "status quo" else "status_quo"): m for k, m in models.items()}
    shown.pop(next(reversed(shown)))  # the chance twin is the table's, not the plot's
    legend_clear_of_the_plot(comparison_figure(shown))


def test_the_same_rules_with_the_next_seed_run_alongside():
    model = AppModel(commission="40%", seed=3, **SMALL)
    twin = model.twin
    assert twin is not None and twin.twin is None
    assert twin.config.seed == 4 and twin.config.platform == model.config.platform
    model.run(30)
    assert twin.hour == 30
    assert twin.ledger.totals_usd() != model.ledger.totals_usd()
    model.run(42)
    line = headline_lines(model)[-1]
    assert line.startswith("How much is chance: the same rules with seed 4")
    mine, other = headline_numbers(model), headline_numbers(twin)
    if mine["wage_median_all_in"] is None or other["wage_median_all_in"] is None:
        assert "numbers appear after the first hours of work" in line
    else:
        assert f"seed 3: ${mine['wage_median_all_in']:.2f}/h" in line
        assert f"give a median all-in wage of **${other['wage_median_all_in']:.2f}/h**" in line


def test_comparison_runs_both_rule_sets_with_the_same_seed_and_shows_the_difference():
    from crowdsim.viz.components import comparison_numbers, comparison_rows

    models = app.run_comparison("min_pay", n_workers=300, seed=2, hours=24)
    assert [m.config.scenario_name for m in models.values()] == [
        "status_quo",
        "min_pay",
        "status_quo",
    ]
    assert [m.config.seed for m in models.values()] == [2, 2, 3]
    assert all(m.hour == 24 for m in models.values())
    a, b, c = (comparison_numbers(m) for m in models.values())
    rows = {r["key"]: r for r in comparison_rows(a, b, c)}
    r = rows["tasks_submitted"]
    assert r["diff_value"] == pytest.approx(b["tasks_submitted"] - a["tasks_submitted"])
    assert r["beyond_chance"] == (
        abs(b["tasks_submitted"] - a["tasks_submitted"])
        > abs(c["tasks_submitted"] - a["tasks_submitted"])
    )
    html = app.comparison_html(models, "min_pay")
    assert "Tasks submitted" in html and r["difference"] in html


def test_comparison_button_on_the_page_shows_the_table_and_the_plot(monkeypatch):
    monkeypatch.setattr(app, "COMPARE_HORIZONS", {"1 day": 6, "1 week": 12, "4 weeks": 24})
    model = AppModel(**SMALL)
    rc = _render(model)
    before = len(rc.find(ipywidgets.Image).widgets)
    _button(rc, "Run the comparison").click()
    html = " ".join(
        w.unsafe_innerHTML
        for w in rc.find(solara.widgets.HTML).widgets
        if "crowdsim-compare-table" in str(getattr(w, "unsafe_innerHTML", ""))
    )
    assert "$8/h minimum pay on measured time" in html and "chance alone" in html
    assert len(rc.find(ipywidgets.Image).widgets) == before + 1


def test_step_and_run_buttons_advance_the_model_and_redraw_the_plots():
    model = AppModel(**SMALL)
    rc = _render(model)
    before = {key: _plot_image(rc, key) for key in ("workers", "revenue", "wages")}
    _button(rc, "Step").click()
    assert model.hour == 1
    _button(rc, "Run 1 day").click()
    assert model.hour == 25
    after = {key: _plot_image(rc, key) for key in before}
    for key in before:
        assert after[key] != before[key], f"plot {key} did not change after running"


def test_changing_a_lever_then_reset_builds_a_new_market_with_it(monkeypatch):
    monkeypatch.setattr(app, "DEFAULT_N_WORKERS", 300)  # the sidebar's default size, read at render
    first = AppModel(**SMALL)
    current = solara.reactive(first)  # the page's model: Reset replaces the value
    rc = _render(current)
    _button(rc, "Run 1 day").click()
    select = rc.find(v.Select, label=LEVERS["commission"]["label"]).widget
    select.v_model = "40%"
    assert current.value is first  # levers take effect on Reset
    _button(rc, "Reset").click()
    model = current.value
    assert model is not first and first.hour == 24
    assert model.hour == 0 and model.config.platform.commission == 0.4
    assert "commission 40%" in model.label
    assert (
        model.config.population.n_workers == app.DEFAULT_N_WORKERS
    )  # the other controls' defaults
    _button(rc, "Step").click()
    assert model.hour == 1


@pytest.mark.parametrize("choice, commission", [("10% (MTurk until July 2015)", 0.1), ("40%", 0.4)])
def test_platform_keeps_at_least_the_commission_on_worker_pay(choice, commission):
    """The commission lever reaches the ledger: every approved assignment pays the platform at
    least commission x reward (a surcharge for large batches and the $0.01 minimum only add)."""
    model = AppModel(commission=choice, n_workers=400, days=3, seed=2)
    model.run(48)
    totals = model.ledger.totals_usd()
    assert totals["ledger_worker_paid_usd"] > 0
    assert (
        totals["ledger_platform_fees_usd"] >= commission * totals["ledger_worker_paid_usd"] - 0.01
    )


@pytest.mark.slow  # a timing: meaningful on a machine not shared with other work
def test_responsive_at_5000_workers():
    """A simulated hour of the page's market at 5,000 workers (and of its chance twin), with the
    data collectors, takes milliseconds: the page's time goes to drawing the plots (measured in
    the browser test and reported in docs/students.md). The bound is loose for a busy machine."""
    model = AppModel(n_workers=5000, days=2)
    model.run(6)
    start = time.perf_counter()
    model.run(24)
    per_hour = (time.perf_counter() - start) / 24
    assert per_hour < 0.25, f"{per_hour * 1000:.0f} ms per simulated hour at 5,000 workers (x2)"


# ---------------------------------------------------------------- the crowdsim-app launcher
def test_launcher_serves_the_page_locally_without_telemetry(monkeypatch):
    calls = []
    monkeypatch.setattr(launch.os, "execve", lambda exe, cmd, env: calls.append((cmd, env)))
    launch.main(["--port", "0", "--no-open"])
    cmd, env = calls[0]
    assert cmd[1:5] == ["-m", "solara", "run", launch.APP]
    assert cmd[cmd.index("--host") + 1] == "localhost"
    port = int(cmd[cmd.index("--port") + 1])
    assert 0 < port < 65536
    for flag in ("--production", "--no-check-version", "--no-open"):
        assert flag in cmd
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"


def test_launcher_takes_a_free_port_when_the_default_is_busy(monkeypatch):
    import socket

    calls = []
    monkeypatch.setattr(launch.os, "execve", lambda exe, cmd, env: calls.append(cmd))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(launch, "DEFAULT_PORT", taken)
        launch.main(["--no-open"])
    port = int(calls[0][calls[0].index("--port") + 1])
    assert port != taken


def test_launcher_passes_the_markets_folder_and_refuses_a_file(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(launch.os, "execve", lambda exe, cmd, env: calls.append(env))
    launch.main(["--port", "0", "--no-open", "--markets", str(tmp_path / "saved")])
    assert calls[0]["CROWDSIM_APP_MARKETS"] == str(tmp_path / "saved")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as exc:
        launch.main(["--port", "0", "--no-open", "--markets", str(tmp_path / "a-file")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'--markets'" in err and "a-file" in err and "Traceback" not in err
    assert len(calls) == 1


def test_launcher_rejects_a_bad_port(capsys):
    with pytest.raises(SystemExit) as exc:
        launch.main(["--port", "70000"])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_front_end_files_are_the_versions_solara_asks_for(tmp_path):
    from crowdsim.viz import assets

    packages = dict(assets.required_packages())
    assert any(name.startswith("@widgetti/solara-vuetify") for name in packages)
    assert "requirejs" in packages
    assert assets.missing_packages(tmp_path) == assets.required_packages()


# ---------------------------------------------------------------- save and reload a market
def _frames(model):
    return model.datacollector.get_model_vars_dataframe(), workers_frame(model)


def test_a_saved_market_reloads_and_runs_on_as_if_it_had_never_stopped(tmp_path):
    """The market, its chance twin and the plotted history come back at the saved hour, with
    their levers; stepping on gives, hour by hour, what the market never saved gives."""
    kept = AppModel(n_workers=300, days=3, seed=4, min_pay="$8/h on the measured median time")
    kept.run(30)
    path = kept.save(tmp_path / app.market_file_name(kept))
    assert path.name == "status_quo-seed4-300w-day1h6.npz"
    loaded = AppModel.load(path)
    assert (loaded.hour, loaded.twin.hour, loaded.label) == (30, 30, kept.label)
    assert loaded.twin.config.seed == 5 and loaded.levers == kept.levers
    assert loaded.datacollector.get_model_vars_dataframe().equals(_frames(kept)[0])
    kept.run(20)
    loaded.run(20)
    for a, b in ((kept, loaded), (kept.twin, loaded.twin)):
        (plots_a, workers_a), (plots_b, workers_b) = _frames(a), _frames(b)
        assert plots_a.equals(plots_b) and len(plots_a) == 51
        assert workers_a.equals(workers_b)
        assert a.ledger.balance == b.ledger.balance


def test_a_market_without_its_twin_reloads_without_one(tmp_path):
    kept = AppModel(chance_twin=False, **SMALL)
    kept.run(5)
    loaded = AppModel.load(kept.save(tmp_path / "m.npz"))
    assert loaded.twin is None and loaded.hour == 5


def test_reloading_refuses_what_is_not_a_market_saved_by_the_app(tmp_path):
    from crowdsim import checkpoint
    from crowdsim.checkpoint import CheckpointError
    from crowdsim.model import CrowdWorkModel

    plain = CrowdWorkModel(compose_config(n_workers=100, days=2), create_agents=False)
    plain.run(3)
    checkpoint.save(plain, tmp_path / "run.npz")  # a run's checkpoint: no app settings in it
    with pytest.raises(CheckpointError, match="not a market saved by the app"):
        AppModel.load(tmp_path / "run.npz")
    good = AppModel(**SMALL).save(tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    for bad in ("cut.npz", "missing.npz"):
        with pytest.raises(CheckpointError) as err:
            AppModel.load(tmp_path / bad)
        assert "\n" not in str(err.value)
    stepped = AppModel(**SMALL)
    stepped.step()
    meta, arrays = checkpoint.read(good)
    with pytest.raises(CheckpointError, match="not one at hour 1"):
        checkpoint.load_into(stepped, meta, arrays)
    other = AppModel(**{**SMALL, "seed": 9}, chance_twin=False)
    with pytest.raises(checkpoint.CheckpointMismatch):
        checkpoint.load_into(other, meta, arrays)


def test_save_and_reload_buttons_on_the_page(monkeypatch, tmp_path):
    folder = tmp_path / "markets"
    monkeypatch.setenv("CROWDSIM_APP_MARKETS", str(folder))
    current = solara.reactive(AppModel(**SMALL))
    rc = _render(current)
    assert rc.find(v.Select, label="Saved markets").widget.items == []
    _button(rc, "Run 1 day").click()
    _button(rc, "Save this market").click()
    saved = folder / "status_quo-seed0-200w-day1h0.npz"
    assert saved.is_file()
    assert rc.find(v.Select, label="Saved markets").widget.v_model == saved.name
    _button(rc, "Reset").click()
    assert current.value.hour == 0
    _button(rc, "Reload").click()
    assert current.value.hour == 24 and current.value.twin.hour == 24
    assert "Reloaded status_quo-seed0-200w-day1h0.npz: day 1, hour 0" in str(
        rc.find(v.Alert).widgets[0].children
    )
    _button(rc, "Step").click()  # the reloaded market runs on from the page
    assert current.value.hour == 25
    (folder / "zz-not-a-market.npz").write_bytes(b"not a checkpoint")
    rc.find(v.Select, label="Saved markets").widget.v_model = "zz-not-a-market.npz"
    before = current.value
    _button(rc, "Reload").click()
    assert current.value is before  # a bad file leaves the page's market as it was
    errors = " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
    assert (
        "could not reload zz-not-a-market.npz" in errors and "not a readable checkpoint" in errors
    )
