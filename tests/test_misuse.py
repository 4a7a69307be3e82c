"""Hard to misuse: configs cannot run code, misspelt keys are caught with or without `+`, group
files are named in their errors, runs too big for memory are refused before allocating, tiny
markets finish with n/a and null, and the commands answer --version and --help quickly."""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crowdsim.cli.command import check_command_line, completions, help_text
from crowdsim.cli.overrides import check_no_code, launcher_options, validate_overrides
from crowdsim.config import ConfigError
from crowdsim.resources import estimate_memory

CLI = [sys.executable, "-c", "from crowdsim.sweeps.app import main; main()"]


def _cli(args, cwd, timeout=300):
    env = dict(os.environ, HYDRA_FULL_ERROR="0")
    return subprocess.run(
        CLI + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _refused(argv) -> str:
    with pytest.raises(ConfigError) as err:
        check_command_line(argv)
    message = str(err.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------ configs run no code
def test_callback_payload_does_not_run(tmp_path):
    payload = tmp_path / "PWNED"
    p = _cli(
        [
            "+hydra.callbacks.x._target_=builtins.open",
            f"+hydra.callbacks.x._args_=[{payload},w]",
            f"hydra.run.dir={tmp_path / 'RUN'}",
        ],
        tmp_path,
    )
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "hydra.callbacks.x._target_" in lines[0], p.stderr
    assert not payload.exists() and not (tmp_path / "RUN").exists()


def test_payload_in_a_scenario_file_does_not_run(tmp_path):
    payload = tmp_path / "PWNED"
    (tmp_path / "conf" / "scenario").mkdir(parents=True)
    (tmp_path / "conf" / "scenario" / "evil.yaml").write_text(
        "# @package _global_\nscenario_name: evil\nhydra:\n  callbacks:\n    x:\n"
        f"      _target_: os.makedirs\n      _args_: [{payload}]\n"
    )
    p = _cli(
        [
            "--config-dir",
            str(tmp_path / "conf"),
            "scenario=evil",
            f"hydra.run.dir={tmp_path / 'R'}",
        ],
        tmp_path,
    )
    assert p.returncode == 2 and not payload.exists()
    (line,) = p.stderr.strip().splitlines()
    assert "evil.yaml, line 6" in line and "_target_" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["+hydra.callbacks.x._target_=shutil.copyfile"],
        ["+hydra.callbacks.x._target_=pandas.read_pickle", "+hydra.callbacks.x._args_=[f]"],
        ["+hydra.job_logging.handlers.h.class=os.system"],
        ["+hydra.hydra_logging.filters.f.()=os.system"],
        ["hydra.job.env_set.LD_PRELOAD=/tmp/x.so"],
        ["+hydra.job.env_set.PYTHONPATH=/tmp"],
        ["hydra.launcher._target_=numpy.save"],
        ["+platform._target_=builtins.open"],
        ["+_target_=builtins.open"],
        ["--experimental-rerun", "config.pickle"],
    ],
)
def test_anything_that_would_run_code_is_refused_naming_the_key(argv):
    message = _refused(argv)
    key = argv[0].lstrip("+").split("=")[0]
    assert key in message


def test_crowdsims_own_callback_and_every_shipped_launcher_are_allowed():
    for name, missing_plugin in launcher_options().items():
        if missing_plugin is None:
            validate_overrides([f"hydra/launcher={name}", "sim.days=1"])


def test_check_no_code_walks_lists():
    with pytest.raises(ConfigError, match=r"hydra\.callbacks\.x\.0\._target_"):
        check_no_code({"hydra": {"callbacks": {"x": [{"_target_": "os.system"}]}}})


# ------------------------------------------------------------------------ keys, syntax, sweeps
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (
            ["+platform.comission=0.5"],
            ["'platform.comission'", "did you mean 'platform.commission'"],
        ),
        (["++platform.comission=0.5"], ["'platform.comission'"]),
        (["~platform.comission"], ["'platform.comission'"]),
        (["platfrom.commission=0.1"], ["did you mean 'platform.commission'"]),
        (["+market.type_shares.surveyy=0.5"], ["'market.type_shares.surveyy'", "keys among"]),
        (["=0.1"], ["'=0.1'", "KEY=VALUE"]),
        (["a=0.1,0.2"], ["unknown option 'a'"]),
        (["platform.commission=0.1,0.2"], ["'platform.commission'", "add -m"]),
        (["seed=range(0,3)"], ["'seed'", "add -m"]),
        (["seed=1.5"], ["'seed': '1.5'", "an integer"]),
        (["platform.commission=nan"], ["'platform.commission'", "finite"]),
        (["workers.reservation_wage_median_usd=inf"], ["reservation_wage_median_usd"]),
        (["platform.commission_min_usd=1e300"], ["platform.commission_min_usd"]),
        (["sim.days=100000"], ["'sim.days'"]),
        (["population.countries=US"], ["'population.countries'", "ISO codes"]),
        (["platform.appeals=maybe"], ["'platform.appeals'", "true or false"]),
        (["--bogus"], ["'--bogus'"]),
        (["platform.appeals=2"], ["'platform.appeals': '2'", "true or false"]),
        (["platform.commission.x=0.1"], ["'platform.commission.x'", "no options under it"]),
        (["--config-dir", "/nonexistent/conf"], ["'--config-dir'", "/nonexistent/conf"]),
        (["hydra.run.dir=/proc/crowdsim"], ["'hydra.run.dir'", "a folder this user can write"]),
        (
            ["market.type_shares={}"],
            ["'market.type_shares'", "keys among survey", "changes nothing"],
        ),
        (
            ["reform.rules={platform:{comission:0.1}}", "sim.reform_day=2"],
            ["reform.rules", "'platform.comission'", "did you mean 'platform.commission'"],
        ),
        (
            ["reform.rules={platform:{commission:nan}}", "sim.reform_day=2"],
            ["reform.rules", "'platform.commission': nan", "finite"],
        ),
        (
            ["reform.rules={platform:{commission:0.1}}", "sim.reform_day=2"],
            ["'reform.rules'", "added with '+': +reform.rules={platform:{commission:0.1}}"],
        ),
    ],
)
def test_bad_command_lines_one_line_naming_the_option(argv, fragments):
    message = _refused(argv)
    for f in fragments:
        assert f in message, message


def test_hydra_keys_are_hydras_and_sweeps_pass_with_m(tmp_path):
    check_command_line([f"hydra.run.dir={tmp_path}", "hydra.job.chdir=false", "sim.days=1"])
    check_command_line(["-m", "platform.commission=0.1,0.2", "sim.days=1"])


def test_compare_refuses_a_misspelt_plus_key_through_set(tmp_path):
    from crowdsim.studies.compare import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(
            [
                "--scenarios",
                "status_quo",
                "--seeds",
                "1",
                "--set",
                "+platform.comission=0.5",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert ex.value.code == 2 and not (tmp_path / "out").exists()
    (line,) = err.getvalue().strip().splitlines()
    assert "platform.comission" in line and "did you mean 'platform.commission'" in line


def test_argparse_errors_name_the_option_once():
    from crowdsim.studies.compare import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        main(["--seeds", "0"])
    assert err.getvalue().strip() == (
        "crowdsim-compare: error: invalid value for option '--seeds': '0' (allowed: an integer >= 1)"
    )


def test_compare_refuses_code_and_an_unknown_launcher_in_set_before_any_run(tmp_path):
    from crowdsim.studies.compare import main

    for sets, fragment in (
        (["+hydra.callbacks.x._target_=os.makedirs", f"+hydra.callbacks.x._args_=[{tmp_path}/P]"],
         "hydra.callbacks.x._target_"),
        (["hydra/launcher=nope"], "'hydra/launcher': 'nope'"),
    ):  # fmt: skip
        err = io.StringIO()
        argv = ["--seeds", "1", "--out", str(tmp_path / "out")]
        for o in sets:
            argv += ["--set", o]
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
            main(argv)
        assert ex.value.code == 2
        (line,) = err.getvalue().strip().splitlines()
        assert fragment in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("crowdsim.studies.compare", ["--seeds", "1"]),
        ("crowdsim.studies.calibrate", ["--trials", "1"]),
        ("crowdsim.studies.validate", []),
        ("crowdsim.studies.sensitivity", []),
    ],
)
def test_an_unwritable_out_is_one_line_before_any_run(tmp_path, module, extra):
    import importlib

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        importlib.import_module(module).main([*extra, "--out", str(blocker / "out")])
    assert ex.value.code == 2
    (line,) = err.getvalue().strip().splitlines()
    assert "'--out'" in line and "is not a folder" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.mark.parametrize(
    ("module", "argv", "fragments"),
    [
        ("crowdsim.sweeps.aggregate", [], ["'DIR': nothing", "allowed: a sweep folder"]),
        ("crowdsim.studies.compare", ["--bogus"], ["'--bogus'", "allowed: ", "--seeds"]),
        ("crowdsim.studies.calibrate", ["--space", "BAD"], ["'--space'", "not YAML at line"]),
        ("crowdsim.studies.validate", ["--params", "BAD"], ["'--params'", "not YAML"]),
        (
            "crowdsim.studies.sensitivity",
            ["--base-params", "/no/such.yaml"],
            ["'--base-params'"],
        ),
        ("crowdsim.viz.launch", ["--host", "no such host!", "--no-open"], ["'--host'", "allowed"]),
        ("crowdsim.studies.calibrate", ["--launcher", "nope"], ["'--launcher': 'nope'"]),
        ("crowdsim.studies.compare", ["--launcher", "nope"], ["'--launcher': 'nope'"]),
        ("crowdsim.studies.validate", ["--launcher", "nope"], ["'--launcher': 'nope'"]),
        ("crowdsim.studies.sensitivity", ["--launcher", "nope"], ["'--launcher': 'nope'"]),
    ],
)
def test_tool_arguments_answered_in_one_line(tmp_path, module, argv, fragments):
    import importlib

    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    argv = [str(bad) if a == "BAD" else a for a in argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        importlib.import_module(module).main(
            [*argv, "--out", str(tmp_path / "out")] if "launch" not in module and argv else argv
        )
    assert ex.value.code == 2
    (line,) = err.getvalue().strip().splitlines()
    for f in fragments:
        assert f in line, line


# ------------------------------------------------------------------------ scenario files
SCENARIO_FILES = {
    "unknown_key": (
        "# @package _global_\nplatform:\n  comission: 0.5\n",
        ["line 3", "platform.comission", "did you mean"],
    ),
    "wrong_type": (
        "# @package _global_\nplatform:\n  commission: abc\n",
        ["line 3", "'platform.commission'", "a number"],
    ),
    "not_finite": (
        "# @package _global_\nplatform:\n  commission: .nan\n",
        ["line 3", "'platform.commission'"],
    ),
    "code": (
        "# @package _global_\nplatform:\n  _target_: os.system\n",
        ["line 3", "platform._target_"],
    ),
    "no_header": ("platform:\n  commission: 0.1\n", ["@package _global_"]),
    "bad_yaml": (
        "# @package _global_\nplatform:\n  commission: [0.1\n",
        ["line 4", "YAML syntax error"],
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIO_FILES))
def test_scenario_file_errors_name_the_file_and_line(tmp_path, name):
    text, fragments = SCENARIO_FILES[name]
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / f"{name}.yaml").write_text(text)
    message = _refused(["--config-dir", str(tmp_path), f"scenario={name}"])
    assert f"{name}.yaml" in message
    for f in fragments:
        assert f in message, message
    assert "unknown option 'scenario'" not in message


def test_a_user_file_with_the_name_of_a_shipped_one_is_refused(tmp_path):
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "fairwork.yaml").write_text("# @package _global_\nseed: 3\n")
    for argv in (
        ["--config-dir", str(tmp_path), "scenario=fairwork"],
        [f"hydra.searchpath=[file://{tmp_path}]", "scenario=fairwork"],
    ):
        message = _refused(argv)
        assert str(tmp_path / "scenario" / "fairwork.yaml") in message, message
        assert "another name for yours" in message


def test_a_defaults_list_naming_no_file_names_the_file_line_and_choices(tmp_path):
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "mars.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /population: mars\n"
    )
    message = _refused(["--config-dir", str(tmp_path), "scenario=mars"])
    assert "mars.yaml, line 3" in message and "'population': 'mars'" in message, message
    assert "mturk" in message


def test_nan_in_an_experiment_files_sweep_names_the_file(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "grid.yaml").write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n      platform.commission: 0.1,nan\n"
    )
    message = _refused(["-m", "--config-dir", str(tmp_path), "+experiment=grid"])
    assert "grid.yaml, line 5" in message and "'platform.commission': nan" in message, message


def test_a_number_for_a_true_false_option_in_a_scenario_file_names_the_line(tmp_path):
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "two.yaml").write_text(
        "# @package _global_\nplatform:\n  appeals: 2\n"
    )
    message = _refused(["--config-dir", str(tmp_path), "scenario=two"])
    assert "two.yaml, line 3" in message and "true or false" in message


def test_an_output_folder_under_a_file_is_refused_before_hydra_starts(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    message = _refused([f"hydra.run.dir={blocker}/run", "sim.days=1"])
    assert "'hydra.run.dir'" in message and "is not a folder" in message
    message = _refused(["-m", "seed=0,1", f"hydra.sweep.dir={blocker}/sweep"])
    assert "'hydra.sweep.dir'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_flags_after_overrides_reach_hydra(tmp_path):
    (tmp_path / "conf" / "scenario").mkdir(parents=True)
    (tmp_path / "conf" / "scenario" / "mine.yaml").write_text(
        "# @package _global_\nscenario_name: mine\nplatform:\n  commission: 0.1  # assumption\n"
    )
    out = tmp_path / "OUT"
    p = _cli(
        ["population.n_workers=30", "sim.days=1", "--config-dir", str(tmp_path / "conf"),
         "scenario=mine", f"hydra.run.dir={out}"],
        tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "summary.json").read_text())["scenario"] == "mine"


def test_a_good_scenario_file_from_config_dir_is_used(tmp_path):
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "mine.yaml").write_text(
        "# @package _global_\nscenario_name: mine\nplatform:\n  commission: 0.1  # assumption\n"
    )
    check_command_line(["--config-dir", str(tmp_path), "scenario=mine", "sim.days=1"])


# ------------------------------------------------------------------------ memory
def test_a_run_too_big_for_memory_is_refused_with_both_figures():
    message = _refused(["population.n_workers=1000000000"])
    assert "'population.n_workers'" in message and "needs about" in message
    assert message.count("iB") == 2  # what it needs and what is available


def test_memory_estimate_bounds_a_measured_run(tmp_path):
    code = (
        "import resource; from crowdsim.run import run; "
        "run(population__n_workers=20000, sim__days=2); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    peak = float(p.stdout.strip().splitlines()[-1])
    from crowdsim.config import to_config

    estimate = estimate_memory(to_config(population__n_workers=20000, sim__days=2)).total_bytes
    assert peak <= estimate <= 4 * peak, (peak, estimate)


# ------------------------------------------------------------------------ tiny markets
def test_tiny_market_finishes_with_null_and_na(tmp_path):
    out = tmp_path / "OUT"
    p = _cli(["population.n_workers=50", "sim.days=1", "seed=0", f"hydra.run.dir={out}"], tmp_path)
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_no_nan)
    assert summary["wage_median_all_in"] is None
    assert "median all-in wage n/a" in p.stdout


def _no_nan(name):
    raise AssertionError(f"summary.json holds {name}, not standard JSON")


@pytest.mark.parametrize("seed", range(4))
def test_tiny_markets_write_standard_json(tmp_path, seed):
    from crowdsim.run import run, write_results
    from crowdsim.sweeps.job import describe

    res = run(population__n_workers=20, sim__days=1, seed=seed)
    write_results(res, tmp_path)
    json.loads((tmp_path / "summary.json").read_text(), parse_constant=_no_nan)
    repr(res)
    assert "n/a" in describe(res.summary) or res.summary["wage_median_all_in"] is not None


def test_progress_bar_gives_the_same_run():
    from crowdsim.run import run

    a = run(population__n_workers=100, sim__days=2, seed=3)
    b = run(population__n_workers=100, sim__days=2, seed=3, progress=True)
    drop = {"phase_seconds"}
    assert {k: v for k, v in a.summary.items() if k not in drop} == {
        k: v for k, v in b.summary.items() if k not in drop
    }


def _progress_output(stderr_on_terminal: bool) -> str:
    """What a 2-day run with the progress bar (shown at once) writes to its stderr: a
    pseudo-terminal of 0 columns (never sized, as under `script` or a CI runner), or a pipe."""
    import pty

    code = (
        "from crowdsim.config import to_config\n"
        "from crowdsim.model import CrowdWorkModel\n"
        "from crowdsim.run import _run_with_progress\n"
        "m = CrowdWorkModel(to_config(None, population__n_workers=40, sim__days=2), create_agents=False)\n"
        "_run_with_progress(m, delay_seconds=0)\n"
    )
    if not stderr_on_terminal:
        p = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr
        return p.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the run ended and closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_of_unknown_width_and_none_off_a_terminal():
    shown = _progress_output(stderr_on_terminal=True)
    assert "simulating: 100%" in shown and "day 2/2" in shown, repr(shown)
    assert "day" not in _progress_output(stderr_on_terminal=False)


# ------------------------------------------------------------------------ the app's port
def test_app_refuses_a_taken_port_before_saying_it_serves():
    from crowdsim.viz.launch import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with pytest.raises(SystemExit) as ex:
                main(["--port", str(port), "--no-open"])
    assert ex.value.code == 2 and "serving on" not in out.getvalue()
    (line,) = err.getvalue().strip().splitlines()
    assert "'--port'" in line and str(port) in line


# ------------------------------------------------------------------------ version, help, completion
def _tools() -> dict[str, str]:
    """Every command pyproject.toml installs, with the module whose ``main`` it runs."""
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    return {k: v.split(":")[0] for k, v in scripts["project"]["scripts"].items()}


TOOLS = _tools()


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_prints_crowdsims_version(tool):
    import importlib

    import crowdsim

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        importlib.import_module(TOOLS[tool]).main(["--version"])
    assert out.getvalue().strip().endswith(crowdsim.__version__)
    assert "Hydra" not in out.getvalue()


def test_help_version_and_completion_load_neither_the_model_nor_launchers():
    code = (
        "import os, sys, io, contextlib; from crowdsim.sweeps.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help']); main(['--version'])\n"
        "    os.environ['COMP_LINE'] = 'crowdsim platform.comm'; main(['-sc', 'query=bash'])\n"
    )
    _assert_not_imported(code, ("numba", "mesa", "pandas", "joblib", "submitit", "crowdsim.model"))


def _assert_not_imported(code: str, modules: tuple[str, ...]) -> None:
    """Run ``code`` in a fresh interpreter; none of ``modules`` may have been imported by it."""
    code += f"print([m for m in {modules!r} if m in sys.modules])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "[]", p.stdout + p.stderr


@pytest.mark.parametrize("tool", ["crowdsim-compare", "crowdsim-app"])
def test_tool_help_and_version_load_neither_pandas_nor_the_report(tool):
    """crowdsim-compare --help took 3-4 s: it imported the report (scipy, pandas) before parsing."""
    code = (
        "import sys, io, contextlib, importlib\n"
        f"main = importlib.import_module({TOOLS[tool]!r}).main\n"
        "for flag in ('--help', '--version'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main([flag])\n"
    )
    _assert_not_imported(code, ("pandas", "scipy", "matplotlib", "numba", "mesa"))


def test_help_names_crowdsim_and_its_groups():
    text = help_text()
    assert text.startswith("crowdsim ") and "powered by Hydra" not in text
    assert "scenario: " in text and "platform.*: commission" in text


def test_completion_suggests_options_groups_and_values():
    assert "platform.commission=" in completions("platform.comm")
    assert completions("plat") == ["platform."]
    assert "+platform." in completions("+plat")
    assert completions("scenario=fair") == ["scenario=fairwork"]
    assert completions("platform.payment_guarantee=es") == ["platform.payment_guarantee=escrow"]
    assert completions("platform.appeals=") == ["platform.appeals=true", "platform.appeals=false"]


def test_aggregate_help_shows_a_single_percent_sign():
    from crowdsim.sweeps.aggregate import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--help"])
    assert "95%" in out.getvalue() and "95%%" not in out.getvalue()


def test_run_log_is_named_crowdsim(tmp_path):
    out = tmp_path / "OUT"
    p = _cli(["population.n_workers=30", "sim.days=1", f"hydra.run.dir={out}"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert (out / "crowdsim.log").is_file() and not (out / "cli.log").exists()
    assert "[crowdsim." in Path(out / "crowdsim.log").read_text()


def test_a_repeated_logged_warning_is_shown_once():
    import logging

    from crowdsim.sweeps.app import _OnceFilter

    records = []
    logger = logging.getLogger("submitit.test_once")
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.addFilter(_OnceFilter())
    try:
        for n in range(3):
            logger.warning("Call #%d - Bypassing sacct error, status may be inaccurate.", n)
        logger.error("job 1 failed")
        logger.error("job 2 failed")
    finally:
        logger.removeHandler(handler)
    assert [r.levelname for r in records] == ["WARNING", "ERROR", "ERROR"]


def test_a_submitit_warning_prints_once_where_the_sweep_is_launched():
    """submitit's own stdout and stderr handlers plus the root logger's (Hydra's console) printed
    each warning three times; with the launcher's setup and crowdsim's filter, a warning polled
    three times prints once."""
    code = (
        "import logging\n"
        "logging.basicConfig(format='[%(asctime)s][HYDRA] %(message)s', level=logging.INFO)\n"
        "from submitit.core import logger\n"
        "from crowdsim.sweeps.app import _warn_once\n"
        "from hydra_plugins.crowdsim_launchers.launchers import submitit_logs_once\n"
        "_warn_once(); submitit_logs_once()\n"
        "for n in range(1, 4):\n"
        "    logger.get_logger().warning(f'Call #{n} - Bypassing sacct error x, status may be inaccurate.')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SUBMITIT_LOG_LEVEL"}
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert p.returncode == 0, p.stderr
    assert (p.stdout + p.stderr).count("Bypassing sacct error") == 1, p.stdout + p.stderr


def test_package_names_stay_the_functions_and_classes():
    import importlib

    import crowdsim

    for sub in ("crowdsim.run", "crowdsim.model", "crowdsim.config"):
        importlib.import_module(sub)
    assert callable(crowdsim.run) and crowdsim.run.__name__ == "run"
    assert crowdsim.CrowdWorkModel.__name__ == "CrowdWorkModel"
    assert {"run", "CrowdWorkModel", "Worker", "Results"} <= set(dir(crowdsim))


def test_compare_refuses_a_shadowing_searchpath_before_any_run(tmp_path):
    from crowdsim.studies.compare import main as compare_main

    (tmp_path / "conf" / "scenario").mkdir(parents=True)
    (tmp_path / "conf" / "scenario" / "fairwork.yaml").write_text("# @package _global_\nseed: 3\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        compare_main(
            ["--seeds", "1", "--scenarios", "status_quo,fairwork", "--out", str(tmp_path / "out"),
             "--set", f"hydra.searchpath=[file://{tmp_path / 'conf'}]"]
        )  # fmt: skip
    assert ex.value.code == 2
    (line,) = err.getvalue().strip().splitlines()
    assert "fairwork.yaml" in line and "another name for yours" in line, line
    assert not (tmp_path / "out").exists()
