"""Sweeps on real Hydra launchers: tables, failures, resume, provenance, reproducibility.

Every sweep here runs the real ``crowdsim`` command in a subprocess, with small markets
(200 workers x 2 days) so that a job takes well under a second of simulation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crowdsim.cli.overrides import (
    CONFIG_DIR,
    launcher_options,
    validate_hydra_overrides,
    validate_overrides,
)
from crowdsim.config import ConfigError
from crowdsim.sweeps.aggregate import aggregate, collect
from crowdsim.sweeps.aggregate import main as aggregate_main
from crowdsim.sweeps.folder import MANIFEST_FILE
from crowdsim.sweeps.job import completed_summary

REPO = Path(__file__).resolve().parents[1]
SMALL = ["population.n_workers=200", "sim.days=2"]
GRID = ["platform.commission=0.1,0.2", "seed=0,1"]  # 2 configurations x 2 seeds
# columns that legitimately differ between two runs of the same job
NOT_REPRODUCIBLE = ("phase_seconds/",)


def crowdsim(
    *args: str, cwd: Path, timeout: float = 240, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the ``crowdsim`` command (``python -m crowdsim.sweeps.app``) and return the finished process."""
    proc = subprocess.run(
        [sys.executable, "-m", "crowdsim.sweeps.app", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"crowdsim {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def reproducible(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if not c.startswith(NOT_REPRODUCIBLE)]
    return df[cols].sort_values("job").reset_index(drop=True)


def head_revision() -> str | None:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


# --- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
)
def test_experiment_files_validate_and_expand(name):
    """Each experiment file composes, every value of its grid validates, and its size is as documented."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    validate_overrides([f"+experiment={name}"])
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={name}"], return_hydra_config=True)
    params = dict(cfg.hydra.sweeper.params)
    assert "seed" in params and len(params) >= 3
    jobs = BasicSweeper.split_arguments(
        OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()]), None
    )[0]
    text = (Path(CONFIG_DIR) / "experiment" / f"{name}.yaml").read_text()
    assert f"= {len(jobs)} jobs" in text  # the header states the grid's size


def test_job_list_expands_glob_range_and_experiment_grid():
    """sweep_jobs.json lists the jobs exactly as the basic sweeper launches them."""
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from crowdsim.sweeps.folder import expand_sweep

    scenarios = sorted(p.stem for p in (Path(CONFIG_DIR) / "scenario").glob("*.yaml"))
    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {
                    "_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                    "params": {"platform.commission": "0.1,0.2", "seed": "range(0,5)"},
                },
                "overrides": {"task": ["scenario=glob(*)", "seed=range(0,2)", "sim.days=2"]},
            }
        }
    )
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        jobs = expand_sweep(config)
    # the command line's seed list replaces the grid's
    assert len(jobs) == 2 * len(scenarios) * 2
    assert jobs[0] == [
        "platform.commission=0.1",
        "seed=0",
        f"scenario={scenarios[0]}",
        "sim.days=2",
    ]
    assert {o for job in jobs for o in job if o.startswith("scenario=")} == {
        f"scenario={s}" for s in scenarios
    }
    config.hydra.sweeper._target_ = (
        "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    )
    assert expand_sweep(config) is None  # jobs of adaptive sweepers are not known in advance


@pytest.mark.parametrize(
    "launcher, target, options",
    [
        ("cores", "JoblibLauncher", {"n_jobs": -1}),
        ("local_submitit", "LocalLauncher", {"timeout_min": 600}),
        (
            "slurm",
            "SlurmLauncher",
            {"partition": None, "timeout_min": 60, "mem_gb": 4, "cpus_per_task": 1},
        ),
    ],
)
def test_launcher_files_compose(launcher, target, options):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    for key, value in options.items():
        assert cfg.hydra.launcher[key] == value
    assert launcher_options()[launcher] is None  # its plugin is installed


def test_ray_launcher_needs_the_cluster_extra():
    if launcher_options().get("ray_cluster") is None:  # the Ray plugin is installed
        validate_hydra_overrides(["hydra/launcher=ray_cluster"])
    else:
        with pytest.raises(ConfigError, match=r"pip install -e '\.\[cluster\]'"):
            validate_hydra_overrides(["hydra/launcher=ray_cluster"])


def test_bad_launcher_or_experiment_is_one_line(tmp_path, monkeypatch, capsys):
    from crowdsim.sweeps.app import main

    monkeypatch.chdir(tmp_path)
    for args, option in [
        (["-m", "hydra/launcher=nope", "seed=0,1"], "hydra/launcher"),
        (["-m", "+experiment=nope"], "experiment"),
        (
            ["-m", "+experiment=guarantee_minimum_pay", "platform.min_pay_mode=none,hourly"],
            "platform.min_pay_mode",
        ),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and option in lines[0] and "allowed" in lines[0], lines
    assert not (tmp_path / "multirun").exists()


def test_resume_needs_the_same_config(tmp_path):
    """DONE.json counts only for the configuration it was written for."""
    from crowdsim.run import run, write_results

    resolved = {"population": {"n_workers": 200}, "sim": {"days": 1}, "seed": 3}
    write_results(run(resolved), tmp_path, resolved_config=resolved)
    assert completed_summary(tmp_path, resolved)["seed"] == 3
    assert completed_summary(tmp_path, resolved | {"seed": 4}) is None
    (tmp_path / "summary.json").unlink()
    assert completed_summary(tmp_path, resolved) is None


# --- sweeps on each launcher -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The same 2 x 2 sweep with the basic launcher, joblib and submitit_local."""
    root = tmp_path_factory.mktemp("sweeps")
    launchers = {
        "basic": [],
        "joblib": ["hydra/launcher=cores", "hydra.launcher.n_jobs=2"],
        "submitit_local": ["hydra/launcher=local_submitit", "hydra.sweeper.max_batch_size=2"],
    }
    out = {}
    for name, extra in launchers.items():
        sweep_dir = root / name
        t0 = time.perf_counter()
        proc = crowdsim("-m", *SMALL, *GRID, *extra, f"hydra.sweep.dir={sweep_dir}", cwd=root)
        out[name] = {
            "dir": sweep_dir,
            "proc": proc,
            "seconds": time.perf_counter() - t0,
            "table": pd.read_parquet(sweep_dir / "sweep.parquet"),
        }
    return out


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_sweep_table_has_one_row_per_job(sweeps, launcher):
    df = sweeps[launcher]["table"]
    assert len(df) == 4
    assert list(df.columns[:4]) == [
        "population.n_workers",
        "sim.days",
        "platform.commission",
        "seed",
    ]
    assert sorted(zip(df["platform.commission"], df["seed"], strict=True)) == [
        (0.1, 0),
        (0.1, 1),
        (0.2, 0),
        (0.2, 1),
    ]
    assert (df["status"] == "ok").all() and df["error"].isna().all()
    assert df["job"].tolist() == [0, 1, 2, 3]
    for metric in (
        "wage_median_all_in",
        "unpaid_time_share",
        "platform_revenue_usd",
        "by_country/US/wage_median_all_in",
    ):
        assert pd.api.types.is_float_dtype(df[metric]) and df[metric].notna().all(), metric
    assert df["config_sha256"].nunique() == 4
    # dotted names are overrides, and the table says which columns are
    assert [c for c in df.columns if "." in c] == [
        "population.n_workers",
        "sim.days",
        "platform.commission",
    ]
    assert df.attrs["override_columns"] == [
        "population.n_workers",
        "sim.days",
        "platform.commission",
        "seed",
    ]

    summary = pd.read_parquet(sweeps[launcher]["dir"] / "sweep_summary.parquet")
    wage = summary[summary["metric"] == "wage_median_all_in"].sort_values("platform.commission")
    assert wage["platform.commission"].tolist() == [0.1, 0.2]
    assert (wage["n"] == 2).all() and (wage["n_ok"] == 2).all() and (wage["n_failed"] == 0).all()
    for _, row in wage.iterrows():
        values = df.loc[
            df["platform.commission"] == row["platform.commission"], "wage_median_all_in"
        ]
        assert row["mean"] == pytest.approx(values.mean())
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert (sweeps[launcher]["dir"] / "sweep_summary.csv").is_file()


def test_same_rows_whatever_the_launcher(sweeps):
    basic = reproducible(sweeps["basic"]["table"])
    for name in ("joblib", "submitit_local"):
        pd.testing.assert_frame_equal(reproducible(sweeps[name]["table"]), basic, check_exact=True)


def test_each_job_records_its_provenance(sweeps):
    revision = head_revision()
    expected_launcher = {
        "basic": "BasicLauncher",
        "joblib": "JoblibLauncher",
        "submitit_local": "LocalLauncher",
    }
    for name, sweep in sweeps.items():
        manifest = json.loads((sweep["dir"] / MANIFEST_FILE).read_text())
        assert manifest["n_jobs"] == 4
        for job in manifest["jobs"]:
            job_dir = sweep["dir"] / str(job["num"])
            prov = json.loads((job_dir / "provenance.json").read_text())
            assert prov["overrides"] == job["overrides"]
            assert prov["seed"] == int(job["overrides"][-1].split("=")[1])
            assert prov["launcher"] == expected_launcher[name]
            assert prov["crowdsim_version"]
            if revision:  # run from a git checkout: the workers see it too
                assert prov["git_revision"] == revision
            config = (job_dir / "config.yaml").read_text()  # the resolved config
            assert "n_workers: 200" in config and f"seed: {prov['seed']}" in config


def test_multirun_shows_progress(sweeps):
    for sweep in sweeps.values():
        err = sweep["proc"].stderr
        assert "[crowdsim] sweep of 4 jobs" in err
        assert "4/4 jobs finished" in err
        assert "4 jobs (4 ok)" in err


@pytest.mark.slow
def test_same_rows_at_scale_basic_vs_joblib(tmp_path):
    """At 10k workers, sums are long enough for BLAS to split them across threads: metrics must
    not depend on the thread count (1 per joblib worker, all cores in the basic launcher)."""
    grid = ["population.n_workers=10000", "sim.days=28", "seed=0,1"]
    tables = []
    for name, extra in {
        "basic": [],
        "joblib": ["hydra/launcher=cores", "hydra.launcher.n_jobs=2"],
    }.items():
        crowdsim(
            "-m", *grid, *extra, f"hydra.sweep.dir={tmp_path / name}", cwd=tmp_path, timeout=900
        )
        tables.append(reproducible(pd.read_parquet(tmp_path / name / "sweep.parquet")))
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


# --- failures, resume, double counting --------------------------------------------------------


def test_a_failed_job_is_marked_and_the_others_aggregate(tmp_path):
    # Each value passes the command-line check (made one value at a time), but the combination
    # median 12 > mean 11 is not a lognormal: that job raises inside run().
    sweep_dir = tmp_path / "sweep"
    proc = crowdsim(
        "-m",
        *SMALL,  # basic launcher: joblib and submitit run the same code in their workers
        "requesters.pay_median_usd_per_hour=5,12",
        "requesters.pay_mean_usd_per_hour=12,11",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "1 failed of 4 jobs" in proc.stderr.strip().splitlines()[-1]
    df = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert len(df) == 4
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1
    row = failed.iloc[0]
    assert (row["requesters.pay_median_usd_per_hour"], row["requesters.pay_mean_usd_per_hour"]) == (
        12.0,
        11.0,
    )
    assert "pay_mean_usd_per_hour" in row["error"] and row["error"].startswith("ConfigError")
    assert pd.isna(row["wage_median_all_in"])
    assert (df.loc[df["status"] == "ok", "wage_median_all_in"].notna()).all()
    assert (sweep_dir / row["job_dir"] / "FAILED.json").is_file()
    summary = pd.read_parquet(sweep_dir / "sweep_summary.parquet")
    bad = summary[
        (summary["requesters.pay_median_usd_per_hour"] == 12.0)
        & (summary["requesters.pay_mean_usd_per_hour"] == 11.0)
    ]
    assert len(bad) == 1 and bad["n_failed"].item() == 1 and bad["n_ok"].item() == 0

    # aggregating again, or with a stray copy of a job folder, does not count a job twice
    shutil.copytree(sweep_dir / "0", sweep_dir / "copy_of_0")
    assert aggregate_main([str(sweep_dir)]) == 0
    again = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert len(again) == 4 and again["status"].value_counts().to_dict() == {"ok": 3, "failed": 1}
    (sweep_dir / MANIFEST_FILE).unlink()  # without the job list, rows are keyed by overrides
    assert len(collect(sweep_dir)) == 4


@pytest.mark.parametrize(
    "launcher",
    [
        [],
        pytest.param(
            ["hydra/launcher=cores", "hydra.launcher.n_jobs=2"], marks=pytest.mark.slow, id="joblib"
        ),
    ],
    ids=["basic", "joblib"],
)
def test_killed_sweep_resumes_only_missing_jobs(tmp_path, launcher):
    sweep_dir = tmp_path / "sweep"
    args = [
        "-m",
        "population.n_workers=1000",
        "sim.days=5",
        "seed=range(0,6)",
        *launcher,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdsim.sweeps.app", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    try:
        while len(list(sweep_dir.glob("*/DONE.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and any worker processes
        proc.wait()
    done = {
        p.parent.name: (p.parent / "summary.json").stat() for p in sweep_dir.glob("*/DONE.json")
    }
    assert 2 <= len(done) < 6, f"{len(done)} jobs done when killed: make the jobs longer"

    # the killed sweep aggregates: what did not finish says missing
    killed = aggregate(sweep_dir).sweep
    assert len(killed) == 6 and (killed["status"] == "ok").sum() == len(done)
    assert set(killed.loc[killed["status"] == "missing", "job"]) == set(range(6)) - {
        int(j) for j in done
    }

    resumed = crowdsim(*args, cwd=tmp_path)
    assert f"{len(done)} complete already" in resumed.stderr
    assert resumed.stdout.count("complete already, skipped") == len(done)
    df = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert len(df) == 6 and (df["status"] == "ok").all() and sorted(df["seed"]) == list(range(6))
    for job, before in done.items():  # finished jobs were not simulated again
        after = (sweep_dir / job / "summary.json").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    logs = {
        d.name: (d / "crowdsim.log").read_text()
        for d in sweep_dir.iterdir()
        if (d / "crowdsim.log").is_file()
    }
    assert sum(log.count("complete already") for log in logs.values()) == len(done)
    for job in done:
        assert logs[job].count("simulating") == 1


def test_a_sweep_of_the_old_callback_path_resumes(tmp_path):
    """A sweep folder whose saved configs name the callback by its path before 0.4
    (``crowdsim.experiments.callbacks.SweepResults``, kept as a shim for this release) counts
    its jobs done, and the same sweep run again skips every job; Hydra builds the callback
    from the old path."""
    from hydra.utils import instantiate

    from crowdsim.sweeps.callback import SweepResults
    from crowdsim.sweeps.job import job_status

    old, new = (
        "crowdsim.experiments.callbacks.SweepResults",
        "crowdsim.sweeps.callback.SweepResults",
    )
    assert type(instantiate({"_target_": old, "progress_seconds": 0})) is SweepResults
    sweep_dir = tmp_path / "sweep"
    grid = ["-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={sweep_dir}"]
    crowdsim(*grid, cwd=tmp_path)
    first = pd.read_parquet(sweep_dir / "sweep.parquet")
    saved = [*sweep_dir.glob("*/.hydra/hydra.yaml"), sweep_dir / "multirun.yaml"]
    for path in saved:  # as an earlier release wrote them
        assert new in path.read_text()
        path.write_text(path.read_text().replace(new, old))
    assert [job_status(sweep_dir / j) for j in ("0", "1")] == [("ok", None)] * 2

    resumed = crowdsim(*grid, cwd=tmp_path)
    assert resumed.stdout.count("complete already, skipped") == 2
    again = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert len(again) == 2 and (again["status"] == "ok").all()
    assert reproducible(again).equals(reproducible(first))


def test_aggregate_command_rejects_a_folder_without_jobs(tmp_path, capsys):
    for target in (tmp_path / "absent", tmp_path):
        assert aggregate_main([str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "DIR" in err[0] and "allowed" in err[0]
