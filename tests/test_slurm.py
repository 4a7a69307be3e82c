"""Sweeps on a real Slurm cluster: rows equal joblib's, a cancelled task is a result, resume.

Needs a reachable Slurm cluster with accounting (``bash .ci/slurm-up`` starts a single-node one
on this host, as CI does). Without one the tests are skipped with one line saying so, except in
CI (``CROWDSIM_CI=1``, set by ``.ci/run``, or ``CI=true``), where they fail: CI must test
against Slurm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid

import pandas as pd
import pytest
from test_sweeps import GRID, SMALL, crowdsim, reproducible

SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10"]


def _slurm_problem() -> str | None:
    for command in ("sbatch", "sinfo", "sacct", "scancel"):
        if shutil.which(command) is None:
            return f"no Slurm commands ({command} not on PATH)"
    for command in (["sinfo", "-h", "-o", "%T"], ["sacct", "-n", "-X", "-S", "now-1minute"]):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` did not answer in 20 s"
        if out.returncode != 0:
            return f"`{' '.join(command)}` failed: {out.stderr.strip().splitlines()[:1]}"
        if command[0] == "sinfo" and not any(
            s.startswith(("idle", "mix", "alloc")) for s in out.stdout.split()
        ):
            return f"no Slurm node is up (sinfo: {out.stdout.split()})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = _slurm_problem()
    if problem is not None:
        from conftest import HOW_TO_RUN_ALL, unavailable

        unavailable(
            "a Slurm cluster",
            problem,
            f"`sudo bash .ci/slurm-up` starts one here, or {HOW_TO_RUN_ALL}",
        )


def test_slurm_sweep_has_the_rows_of_joblib(slurm, tmp_path):
    tables = {}
    for name, launcher in {
        "slurm": SLURM,
        "joblib": ["hydra/launcher=cores", "hydra.launcher.n_jobs=2"],
    }.items():
        sweep_dir = tmp_path / name
        crowdsim("-m", *SMALL, *GRID, *launcher, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
        tables[name] = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert len(tables["slurm"]) == 4 and (tables["slurm"]["status"] == "ok").all()
    pd.testing.assert_frame_equal(
        reproducible(tables["slurm"]), reproducible(tables["joblib"]), check_exact=True
    )
    prov = json.loads((tmp_path / "slurm" / "0" / "provenance.json").read_text())
    assert prov["launcher"] == "SlurmLauncher" and prov["job_id"].split("_")[0].isdigit()


def _running_task(name: str, task: int, deadline: float) -> str:
    """The id (ARRAY_TASK) of task ``task`` of the Slurm array named ``name``, once it runs."""
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-n", name, "-t", "RUNNING", "-o", "%i"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        for job_id in out.stdout.split():
            if job_id.endswith(f"_{task}"):
                return job_id
        time.sleep(0.1)
    raise AssertionError(f"task {task} of the Slurm array {name} never ran")


def test_cancelled_task_is_a_failed_row_and_resume_submits_only_it(slurm, tmp_path):
    sweep_dir = tmp_path / "sweep"
    name = f"crowdsim-test-{uuid.uuid4().hex[:8]}"
    args = [
        "-m",
        *SMALL,
        "seed=range(0,4)",
        *SLURM,
        "hydra.launcher.array_parallelism=1",  # one task at a time
        f"hydra.launcher.name={name}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdsim.sweeps.app", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        task = _running_task(name, 1, time.monotonic() + 120)
        subprocess.run(["scancel", task], check=True, timeout=20)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            subprocess.run(["scancel", "-n", name], timeout=20)
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert "1 failed of 4 jobs" in lines[-1] and "Traceback" not in err, err
    df = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert df["status"].tolist() == ["ok", "failed", "ok", "ok"]
    error = df.loc[df["job"] == 1, "error"].item()
    assert error.startswith("JobCancelled:") and f"Slurm job {task} ended CANCELLED" in error
    failed = json.loads((sweep_dir / "1" / "FAILED.json").read_text())
    assert failed["scheduler_fault"] and failed["seed"] == 1
    finished = {j: (sweep_dir / str(j) / "summary.json").stat().st_mtime_ns for j in (0, 2, 3)}

    # resume: only the cancelled job goes to Slurm again
    before = {p.name for p in (sweep_dir / ".submitit").glob("[0-9]*")}
    resumed = crowdsim(*args, cwd=tmp_path)
    assert "3 of 4 jobs complete already" in resumed.stdout + resumed.stderr
    new = sorted({p.name for p in (sweep_dir / ".submitit").glob("[0-9]*")} - before)
    assert len(new) == 1, new  # one Slurm job (a single task is not an array)
    tasks = subprocess.run(
        ["sacct", "-n", "-X", "-j", new[0], "-o", "JobID"], capture_output=True, text=True
    ).stdout.split()
    assert tasks == [new[0]], tasks
    df = pd.read_parquet(sweep_dir / "sweep.parquet")
    assert (df["status"] == "ok").all() and sorted(df["seed"]) == [0, 1, 2, 3]
    for j, mtime in finished.items():
        assert (sweep_dir / str(j) / "summary.json").stat().st_mtime_ns == mtime


def test_calibration_on_slurm_equals_the_one_in_this_process(slurm, tmp_path):
    """crowdsim-calibrate --launcher slurm: every trial's runs are Slurm array tasks, and the
    trials (parameters, objectives) are those of the same calibration run here."""
    from conftest import calibration_on_launcher

    slurm_out, (on_slurm, in_process), here = calibration_on_launcher(
        tmp_path, "slurm",
        ["--set=hydra.launcher.mem_gb=1", "--set=hydra.launcher.timeout_min=10"],
        timeout=600,
    )  # fmt: skip
    pd.testing.assert_frame_equal(on_slurm, in_process)
    assert len(here.trials) == 2
    for trial in ("trial_0000", "trial_0001"):
        for seed in (1000, 1001):
            prov = json.loads(
                (slurm_out / "runs" / trial / f"seed_{seed}" / "provenance.json").read_text()
            )
            assert prov["launcher"] == "SlurmLauncher" and prov["job_id"].split("_")[0].isdigit()
    assert (slurm_out / "study.journal").stat().st_size > 0


def test_cancelled_task_resumes_from_its_checkpoint(slurm, tmp_path):
    """A task cancelled part-way (as a time limit or a lost node would end it) is run again by
    the same command and starts from its latest checkpoint, with the summary of a run never
    interrupted."""
    sweep_dir = tmp_path / "sweep"
    name = f"crowdsim-test-{uuid.uuid4().hex[:8]}"
    grid = ["population.n_workers=4000", "sim.days=200", "sim.checkpoint_days=1", "seed=3,4"]
    args = ["-m", *grid, *SLURM, "hydra.launcher.array_parallelism=1", f"hydra.launcher.name={name}",
            f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdsim.sweeps.app", *args], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        task = _running_task(name, 0, time.monotonic() + 180)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # a checkpoint of day 2 or later, then cancel
            found = list((sweep_dir / "0" / "checkpoints").glob("hour_*.npz"))
            if any(int(p.stem.split("_")[1]) >= 48 for p in found):
                break
            time.sleep(0.05)
        # submitit lets scancel's SIGTERM pass; Slurm kills the task KillWait (5 s in
        # .ci/slurm-up) later, long before its 200 days are simulated
        subprocess.run(["scancel", task], check=True, timeout=20)
        proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            subprocess.run(["scancel", "-n", name], timeout=20)
    assert not (sweep_dir / "0" / "DONE.json").exists(), "the task finished before its cancel"
    assert list((sweep_dir / "0" / "checkpoints").glob("hour_*.npz"))
    crowdsim(*args, cwd=tmp_path)  # resume: the cancelled task again, on Slurm
    log = "\n".join(p.read_text() for p in (sweep_dir / "0").glob("*.log"))
    assert "resumed from" in log, log[-2000:]
    here = tmp_path / "here"
    crowdsim("-m", *grid[:-1], "seed=3", f"hydra.sweep.dir={here}", cwd=tmp_path)  # job 0
    a, b = (json.loads((d / "0" / "summary.json").read_text()) for d in (sweep_dir, here))
    for timing in ("phase_seconds", "wall_seconds"):
        a.pop(timing, None), b.pop(timing, None)
    assert a == b
