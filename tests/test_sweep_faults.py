"""Faults during sweeps: a full disk, a corrupt marker, leftovers of kill -9, a sweep folder that
belongs to another sweep, an unwritable --out, a killed joblib launcher. Real processes, real
file systems (a small tmpfs where this platform allows mounting one)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sweeps import SMALL, crowdsim

from crowdsim.sweeps.aggregate import aggregate
from crowdsim.sweeps.aggregate import main as aggregate_main
from crowdsim.sweeps.folder import count_states
from crowdsim.sweeps.job import (
    STALE_TMP_SECONDS,
    clear_markers,
    completed_summary,
    job_state,
    job_status,
)


@pytest.fixture(scope="module")
def done_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    sweep_dir = root / "sweep"
    crowdsim("-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={sweep_dir}", cwd=root)
    return root, sweep_dir


def test_a_different_sweep_into_the_same_folder_is_refused(done_sweep):
    root, sweep_dir = done_sweep
    before = sorted(p.name for p in sweep_dir.iterdir())
    proc = crowdsim("-m", *SMALL, "seed=0,2", f"hydra.sweep.dir={sweep_dir}", cwd=root, check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "hydra.sweep.dir" in err[0] and "different sweep" in err[0], err
    assert sorted(p.name for p in sweep_dir.iterdir()) == before  # nothing written
    # the same grid in another order is the same sweep: it resumes
    again = crowdsim("-m", *SMALL, "seed=1,0", f"hydra.sweep.dir={sweep_dir}", cwd=root)
    assert "2 jobs (2 ok)" in again.stderr


def test_corrupt_done_json_is_not_complete_for_aggregate_nor_resume(done_sweep, tmp_path):
    import shutil

    _root, sweep_dir = done_sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    job = copy / "0"
    resolved = __import__("yaml").safe_load((job / "config.yaml").read_text())
    assert job_state(job) == "ok" and completed_summary(job, resolved) is not None
    (job / "DONE.json").write_text('{"status": "ok", "config_sha')  # cut off by a crash
    assert completed_summary(job, resolved) is None  # resume runs it again
    assert job_state(job) == "missing"  # and aggregation does not count it
    df = aggregate(copy).sweep
    assert df.set_index("job")["status"].to_dict() == {0: "missing", 1: "ok"}


def test_done_json_of_another_config_is_stale_for_aggregate_as_for_resume(done_sweep, tmp_path):
    import re
    import shutil

    _root, sweep_dir = done_sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    done = copy / "0" / "DONE.json"
    done.write_text(
        re.sub(r'"config_sha256": "[0-9a-f]+"', '"config_sha256": "00"', done.read_text())
    )
    resolved = __import__("yaml").safe_load((copy / "0" / "config.yaml").read_text())
    assert completed_summary(copy / "0", resolved) is None  # resume runs it again
    state, why = job_status(copy / "0")
    assert state == "missing" and why.startswith("stale:"), why
    out = aggregate(copy)
    assert out.sweep.set_index("job")["status"].to_dict() == {0: "missing", 1: "ok"}
    assert "1 stale" in out.describe()


def test_the_progress_count_follows_each_change_of_a_jobs_files(done_sweep, tmp_path):
    """The count a sweep's progress shows keeps each job's state while its files are unchanged,
    and reads a job again when its markers change: it agrees with an uncached count throughout."""
    import shutil

    _root, sweep_dir = done_sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    kept: dict = {}
    done = copy / "0" / "DONE.json"
    good = done.read_text()

    def both():
        a, b = count_states(copy, kept), count_states(copy)
        assert a == b
        return a

    assert both() == {"ok": 2, "failed": 0, "missing": 0}
    done.write_text(good[:20])  # cut off by a crash
    assert both() == {"ok": 1, "failed": 0, "missing": 1}
    done.unlink()
    assert both() == {"ok": 1, "failed": 0, "missing": 1}
    (copy / "0" / "FAILED.json").write_text('{"status": "failed"}')
    assert both() == {"ok": 1, "failed": 1, "missing": 0}
    (copy / "0" / "FAILED.json").unlink()
    done.write_text(good)
    assert both() == {"ok": 2, "failed": 0, "missing": 0}
    assert set(kept) == {copy / "0", copy / "1"}


def test_a_folder_in_place_of_done_json_is_not_done_and_is_not_deleted(done_sweep, tmp_path):
    import shutil

    root, sweep_dir = done_sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    done = copy / "0" / "DONE.json"
    done.unlink()
    (done / "inside").mkdir(parents=True)
    (done / "inside" / "keep.txt").write_text("not crowdsim's")
    assert job_state(copy / "0") == "missing"
    clear_markers(copy / "0")  # what a job does before it runs again
    assert (done / "inside" / "keep.txt").read_text() == "not crowdsim's"
    # resumed, the job cannot write its marker there: it fails, the folder is kept
    proc = crowdsim("-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={copy}", cwd=root, check=False)
    assert proc.returncode == 1, proc.stderr
    assert (done / "inside" / "keep.txt").read_text() == "not crowdsim's"
    assert job_state(copy / "0") == "failed" and job_state(copy / "1") == "ok"


def test_a_full_disk_in_a_single_run_is_one_line_and_leaves_nothing(tmp_path):
    with _nearly_full_disk(tmp_path, free_kb=100) as disk:
        run = disk / "run"
        proc = crowdsim(
            "population.n_workers=1000", "sim.days=5", f"hydra.run.dir={run}", cwd=tmp_path,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        (line,) = [ln for ln in proc.stderr.strip().splitlines() if "error" in ln]
        assert "No space left on device writing" in line and str(run) in line, line
        assert proc.stderr.strip().splitlines()[-1] == line
        assert not list(run.rglob(".*.tmp")) and not (run / "DONE.json").exists()
        assert not list(run.glob("*.parquet"))
        # the sweep's own bookkeeping (multirun.yaml) on a full disk: one line too
        try:
            (disk / "more").write_bytes(b"x" * 1024 * 1024)  # the disk is now full
        except OSError:
            pass
        sweep = crowdsim(
            "-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={disk / 'sweep'}", cwd=tmp_path,
            check=False,
        )  # fmt: skip
        assert sweep.returncode == 1 and "Traceback" not in sweep.stderr, sweep.stderr
        assert "No space left on device" in sweep.stderr.strip().splitlines()[-1]


def test_leftover_temporary_files_are_cleaned(done_sweep, tmp_path):
    import shutil

    _root, sweep_dir = done_sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    old = time.time() - STALE_TMP_SECONDS - 60
    stale = [copy / "0" / ".workers.parquet.abc123.tmp", copy / ".sweep.parquet.def456.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
        os.utime(p, (old, old))
    fresh = copy / "1" / ".summary.json.xyz789.tmp"  # a write in progress elsewhere: kept
    fresh.write_bytes(b"{")
    assert aggregate_main([str(copy)]) == 0
    assert not any(p.exists() for p in stale) and fresh.exists()


def test_unwritable_out_is_one_line_and_exit_2(done_sweep, tmp_path, capsys):
    _root, sweep_dir = done_sweep
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert aggregate_main([str(sweep_dir), "--out", str(blocker / "tables")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "allowed" in err[0], err


def _mount_tmpfs(path: Path, options: str) -> str | None:
    """Mount a tmpfs at ``path``; return why not if this platform does not allow it."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run mount: {exc}"
    return None if out.returncode == 0 else f"mount -t tmpfs failed: {out.stderr.strip()}"


@contextlib.contextmanager
def _nearly_full_disk(tmp_path: Path, free_kb: int):
    """A 1 MB tmpfs with ``free_kb`` left (the test is skipped where mounting is not allowed),
    unmounted afterwards."""
    disk = tmp_path / "disk"
    problem = _mount_tmpfs(disk, "size=1m")
    if problem:
        pytest.skip(f"needs a small tmpfs to fill: {problem}")
    try:
        (disk / "filler").write_bytes(b"x" * (1024 - free_kb) * 1024)
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], timeout=20)


def test_a_full_disk_fails_jobs_not_the_sweep(tmp_path):
    with _nearly_full_disk(tmp_path, free_kb=160) as disk:  # about one job's outputs
        sweep_dir = disk / "sweep"
        args = ["population.n_workers=1000", "sim.days=5", "seed=range(0,4)"]
        proc = crowdsim(
            "-m", *args, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path, check=False, timeout=900
        )
        assert proc.returncode == 1, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert "of 4 jobs" in last and "sweep.parquet" in last, proc.stderr
        # the tables cannot be written on the full disk; aggregate elsewhere afterwards
        assert aggregate_main([str(sweep_dir), "--out", str(tmp_path / "tables")]) == 0
        df = pd.read_parquet(tmp_path / "tables" / "sweep.parquet")
        assert len(df) == 4 and "failed" in set(df["status"])
        for _, row in df[df["status"] == "failed"].iterrows():
            assert "No space left on device" in row["error"], row["error"]
            failed = json.loads((sweep_dir / row["job_dir"] / "FAILED.json").read_text())
            assert failed["error_type"] == "OSError"
        assert not list(sweep_dir.rglob(".*.tmp"))  # failed atomic writes leave nothing


@pytest.mark.parametrize("when", ["a job has started", "workers just started"])
def test_killing_the_joblib_launcher_leaves_no_worker(tmp_path, when):
    """Busy workers watch the launcher and exit within a second of its death; idle ones (no job
    yet, or none left) leave after a few idle seconds instead of loky's 300."""
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crowdsim.sweeps.app",
            "-m",
            "population.n_workers=2000",
            "sim.days=28",
            "seed=range(0,8)",
            "hydra/launcher=cores",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.2)
    assert workers, "the joblib launcher started no worker process"
    while (
        when == "a job has started"
        and not list(sweep_dir.glob("*/.hydra"))
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)  # a job has started in a worker
    os.kill(proc.pid, signal.SIGKILL)  # only the launching process
    proc.wait()
    deadline = time.monotonic() + 30
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _alive(pid)}
        time.sleep(0.5)
    for pid in alive:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"worker processes {sorted(alive)} outlived the killed launcher"


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    found = set()
    for child in map(int, out.stdout.split()):
        found.add(child)
        found |= _children(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_ctrl_c_ends_a_single_run_cleanly(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdsim.sweeps.app", "population.n_workers=1000", "sim.days=56",
         f"hydra.run.dir={run}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    log = run / "crowdsim.log"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and "simulating" in log.read_text()):
        time.sleep(0.2)
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (line,) = err.strip().splitlines()
    assert "interrupted (Ctrl-C)" in line and "no result of the run is kept" in line
    assert not (run / "DONE.json").exists() and not list(run.glob("*.parquet"))
    assert not list(run.rglob(".*.tmp"))
