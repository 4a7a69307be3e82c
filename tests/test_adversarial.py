"""One regression test for each way a config could run code, touch files outside its run, leak
a secret, exhaust memory or hang (the categories of tests/adversarial.py, the probe). Refusals
are checked in-process where the command's own check refuses them (nothing is written before
it), the rest run the real command (tests/adversarial.py: payload file absent, checksums of
every file outside the run's folder unchanged, one line and exit 2 or exit 0)."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import pytest
from adversarial import CASES, run_case

from crowdsim.cli.command import check_command_line
from crowdsim.cli.overrides import check_no_code, resolved_container
from crowdsim.config import ConfigError


def _refused(argv: list[str], *fragments: str) -> str:
    with pytest.raises(ConfigError) as err:
        check_command_line(argv)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    for f in fragments:
        assert f in message, message
    return message


def _case(name: str):
    (case,) = [c for c in CASES if c.name == name]
    return case


def _handled(tmp_path: Path, name: str, status: str | None = None) -> None:
    out = run_case(_case(name), tmp_path / "case")
    assert out.handled, out.detail
    if status is not None:
        assert out.status == status, out


def _scenario(tmp_path: Path, body: str, group: str = "scenario", name: str = "evil") -> str:
    d = tmp_path / "conf" / group
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.yaml").write_text(body)
    return str(tmp_path / "conf")


# 1 ------------------------------------------------------------------ interpolation hides _target_
def test_an_interpolated_target_is_refused_before_and_after_resolving(tmp_path):
    payload = tmp_path / "P"
    for value in (
        f"'${{oc.create:{{_target_: os.makedirs, name: {payload}}}}}'",
        f"\"${{oc.decode:'{{_target_: builtins.open, file: {payload}}}'}}\"",
    ):
        _refused([f"+hydra.callbacks.x={value}"], "'hydra.callbacks.x'")
        _refused([f"description={value}"], "'description'", "no resolver 'oc.")
    # what will run is checked with interpolations resolved: a reference that lands a _target_
    # where none is allowed is caught even though no resolver is involved
    from omegaconf import OmegaConf

    launcher = "hydra_plugins.crowdsim_launchers.launchers.BasicLauncher"  # allowed there only
    cfg = OmegaConf.create(
        {"hydra": {"launcher": {"_target_": launcher}, "callbacks": {"x": "${hydra.launcher}"}}}
    )
    check_no_code(OmegaConf.to_container(cfg, resolve=False))  # as written: nothing to see
    with pytest.raises(ConfigError, match=r"hydra\.callbacks\.x\._target_"):
        check_no_code(resolved_container(cfg))
    assert not payload.exists()


# 2 ------------------------------------------------------------------ the job's environment
def test_the_environment_of_git_is_crowdsims_not_the_configs(tmp_path):
    from crowdsim.run import GIT_OPTIONS, git_env

    env = git_env(str(tmp_path))
    assert env["PATH"] == "/usr/bin:/bin" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull and "core.fsmonitor=false" in GIT_OPTIONS
    _refused(["+hydra.job.env_set.PATH=/evil:/usr/bin"], "'hydra.job.env_set.PATH'")
    _refused(["hydra.job.env_copy=[SECRET]"], "'hydra.job.env_copy'")
    # an inherited PATH with an attacker's git and a HOME whose .gitconfig sets an fsmonitor:
    # the run completes and neither ran
    _handled(tmp_path / "path", "an inherited PATH with an attacker's git", "ran")
    _handled(tmp_path / "home", "an inherited HOME with an fsmonitor .gitconfig", "ran")


# 3 ------------------------------------------------------------------ logging writes anywhere
def test_logging_cannot_be_configured_to_write_anywhere(tmp_path):
    victim = tmp_path / "victim"
    _refused(
        [
            f"hydra.job_logging.handlers.file.filename={victim}",
            "+hydra.job_logging.handlers.file.mode=w",
        ],
        "'hydra.job_logging.handlers.file.filename'",
        "hydra.run.dir",
    )
    _refused(["hydra/job_logging=disabled"], "'hydra/job_logging'")
    conf = _scenario(
        tmp_path,
        f"# @package _global_\nhydra:\n  job_logging:\n    handlers:\n      file:\n        filename: {victim}\n",
    )
    _refused(["--config-dir", conf, "scenario=evil"], "evil.yaml, line 6", "'hydra.job_logging")
    assert not victim.exists()


# 4 ------------------------------------------------------------------ files crowdsim did not write
@pytest.mark.parametrize(
    "name",
    [
        "a run into a folder with someone's summary.json",
        "a failing run into a folder with someone's files",
        "a folder named DONE.json",
        "symlink crowdsim.log -> victim",
        "the run folder itself a symlink -> outside",
        "a sweep whose job folder is a symlink",
    ],
)
def test_files_crowdsim_did_not_write_are_neither_written_through_nor_deleted(tmp_path, name):
    _handled(tmp_path, name)


def test_a_failed_run_deletes_only_the_files_it_wrote(tmp_path):
    from crowdsim.files import atomic_write_text
    from crowdsim.sweeps.job import _remove_partial_results

    theirs = tmp_path / "summary.json"
    theirs.write_text("theirs")
    atomic_write_text(tmp_path / "config.yaml", "mine: 1\n")
    _remove_partial_results(tmp_path)
    assert theirs.read_text() == "theirs" and not (tmp_path / "config.yaml").exists()


# 5 ------------------------------------------------------------------ races
def test_two_sweeps_started_at_once_into_one_folder_one_is_refused(tmp_path):
    out = run_case(_case("two different sweeps at once into one folder"), tmp_path / "case")
    assert out.handled, out.detail
    assert sorted(out.status.split("+")) == ["ran", "refused"], out
    assert "another crowdsim command" in out.detail or "different sweep" in out.detail


def test_a_claim_is_a_lock_between_processes(tmp_path):
    import subprocess
    import sys

    from crowdsim.folders import FolderRefused, claim, release

    folder = tmp_path / "out"
    claim(folder, "compare")
    try:
        code = (
            "import sys; from crowdsim.folders import claim, FolderRefused\n"
            f"try: claim({str(folder)!r}, 'compare')\n"
            "except FolderRefused as e: print(e); sys.exit(3)\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert p.returncode == 3 and "another crowdsim command" in p.stdout
        with pytest.raises(FolderRefused, match="a comparison's folder"):
            release(folder)
            claim(folder, "sweep")  # the mark stays: a sweep may not take a comparison's folder
    finally:
        release(folder)


def test_compare_takes_its_out_folder_only_when_free(tmp_path):
    from crowdsim.folders import claim, release
    from crowdsim.studies.compare import main

    out = tmp_path / "out"
    (out / "notes.txt").parent.mkdir()
    (out / "notes.txt").write_text("mine")
    err = io.StringIO()
    argv = ["--scenarios", "status_quo", "--seeds", "1", "--workers", "40", "--days", "1"]
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main([*argv, "--out", str(out), "--no-plots"])
    assert ex.value.code == 2
    (line,) = err.getvalue().strip().splitlines()
    assert "'--out'" in line and "notes.txt" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    claim(tmp_path / "busy", "run")
    release(tmp_path / "busy")


# 6 ------------------------------------------------------------------ secrets
def test_a_secret_cannot_be_copied_into_results(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET", "s3cret")
    conf = _scenario(tmp_path, "# @package _global_\ndescription: ${oc.env:SECRET}\n")
    message = _refused(["--config-dir", conf, "scenario=evil"], "evil.yaml, line 2", "'oc.env'")
    assert "s3cret" not in message
    _refused(["description=${oc.env:SECRET}"], "'description'", "'oc.env'")
    conf = _scenario(tmp_path, "name: ${oc.env:SECRET}\n", group="reform")
    _refused(["--config-dir", conf, "reform=evil", "sim.reform_day=0"], "'oc.env'")


# 7 ------------------------------------------------------------------ where output goes
def test_a_scenario_file_cannot_choose_where_output_goes(tmp_path):
    conf = _scenario(
        tmp_path, f"# @package _global_\nscenario_name: x\nhydra:\n  run:\n    dir: {tmp_path}/o\n"
    )
    _refused(["--config-dir", conf, "scenario=evil"], "evil.yaml, line 5", "'hydra.run.dir'")
    conf = _scenario(
        tmp_path,
        f"# @package _global_\nhydra:\n  sweep:\n    dir: {tmp_path}/o\n  sweeper:\n    params:\n"
        "      seed: 0,1\n",
        group="experiment",
    )
    _refused(["-m", "--config-dir", conf, "+experiment=evil"], "'hydra.sweep.dir'")
    _refused(["hydra.searchpath=[pkg://os]"], "'hydra.searchpath'", "file://")
    # the user's own command line chooses it
    check_command_line([f"hydra.run.dir={tmp_path}/mine", "sim.days=1"])
    assert not (tmp_path / "o").exists()


# 8 ------------------------------------------------------------------ sizes
def test_sizes_that_would_exhaust_memory_are_refused_with_both_figures():
    import re

    for argv, option in (
        (["market.max_task_minutes=1e-9"], "'market.max_task_minutes'"),
        (["-m", "seed=range(0,1000000000)"], "'seed'"),
    ):
        message = _refused(argv, option, "is available")
        assert len(re.findall(r"\d+(?:\.\d+)? [KMGTP]i?B", message)) == 2, message
    from crowdsim.studies.compare import main

    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["--seeds", "1000000000", "--out", "/tmp/crowdsim-never-written"])
    assert ex.value.code == 2 and time.perf_counter() - t0 < 60
    (line,) = err.getvalue().strip().splitlines()
    assert "'--seeds'" in line and "is available" in line
    assert not Path("/tmp/crowdsim-never-written").exists()


# 9 ------------------------------------------------------------------ tracebacks and hangs
def test_bombs_cycles_and_crashing_values_are_one_line(tmp_path):
    from adversarial import _bomb

    conf = _scenario(tmp_path, _bomb(), name="bomb")
    t0 = time.perf_counter()
    _refused(["--config-dir", conf, "scenario=bomb"], "bomb.yaml, line", "aliases")
    assert time.perf_counter() - t0 < 10
    _scenario(tmp_path, "# @package _global_\ndefaults:\n  - /scenario: ping\n", name="pong")
    _scenario(tmp_path, "# @package _global_\ndefaults:\n  - /scenario: pong\n", name="ping")
    _refused(["--config-dir", conf, "scenario=ping"], "includes itself", "scenario/ping -> ")
    _refused(["workers.skill_mean=0"], "'workers.skill_mean'", "> 0")
    _refused(["workers.skill_mean=1"], "'workers.skill_mean'", "< 1")
    _refused(["-m", "seed=9223372036854775808,1"], "'seed'", "9223372036854775807")
    _refused(["+hydra.job.env_set.N=40", "population.n_workers=${oc.env:N}"], "env_set")
