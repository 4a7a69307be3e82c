"""Faults during sweeps: a full disk, a corrupt marker, leftovers of kill -9, a sweep folder that
belongs to another sweep, an unwritable --out, a killed joblib launcher. Real processes, real
file systems (a small tmpfs where this platform allows mounting one)."""

from __future__ import annotations

import os
import time

import pytest
from test_sweeps import SMALL, crowdsim

from crowdsim.experiments.aggregate import aggregate
from crowdsim.experiments.aggregate import main as aggregate_main
from crowdsim.experiments.sweep import STALE_TMP_SECONDS, completed_summary, job_state


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
