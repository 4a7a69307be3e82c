"""Checkpoints (crowdsim/checkpoint.py): a market saved and restored runs on exactly as if it had
never stopped; a branch from a warmed-up status quo equals the replayed short run; files from
another config or version, truncated or corrupt ones, are refused with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_regression import BASELINE, CASES, _canonical, describe

from crowdsim import checkpoint
from crowdsim.checkpoint import CheckpointError
from crowdsim.config import to_config
from crowdsim.model import CrowdWorkModel

ROOT = Path(__file__).resolve().parents[1]


def _config(case: str):
    spec = CASES[case]
    if isinstance(spec, dict):
        return to_config(**spec)
    from hydra import compose, initialize_config_dir

    from crowdsim.cli.overrides import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return to_config(compose(config_name="config", overrides=spec))


def _observed(model) -> dict:
    return describe(model.results())


def _hours(case: str, cfg) -> list[int]:
    """Where to stop: a random hour (seeded by the case's name), and the hours around a reform
    and the end of the warm-up, where the state changes most."""
    rng = np.random.default_rng(sum(map(ord, case)))
    n = cfg.sim.days * 24
    hours = {int(rng.integers(1, n))}
    for day in (cfg.sim.reform_day, cfg.sim.warmup_days or None):
        if day:
            hours |= {day * 24 - 1, day * 24, day * 24 + 1}
    return sorted(hours)


@pytest.mark.parametrize("case", sorted(CASES))
def test_stopped_and_restored_gives_the_frozen_results(case, tmp_path):
    """Saved at an hour, restored in a new model and run on: the frozen regression figures."""
    frozen = json.loads(BASELINE.read_text())[case]
    cfg = _config(case)
    for hour in _hours(case, cfg):
        first = CrowdWorkModel(cfg, create_agents=False).run(hour)
        path = checkpoint.save(first, tmp_path / checkpoint.checkpoint_name(hour))
        del first
        restored = checkpoint.restore(cfg, path)
        assert restored.hour == hour
        got = _observed(restored.run())
        changed = {
            k: (v, got["summary"].get(k))
            for k, v in frozen["summary"].items()
            if got["summary"].get(k) != v
        }
        assert not changed, f"{case} stopped at hour {hour}: {changed}"
        assert got["frames"] == frozen["frames"], f"{case} stopped at hour {hour}: frames differ"


def test_a_checkpoint_twice_over_is_the_same_state(tmp_path):
    """Restoring and saving again writes the same arrays (nothing lost or added)."""
    cfg = to_config(population__n_workers=200, sim__days=3, seed=2)
    model = CrowdWorkModel(cfg, create_agents=False).run(37)
    a = checkpoint.save(model, tmp_path / "a.npz")
    b = checkpoint.save(checkpoint.restore(cfg, a), tmp_path / "b.npz")
    meta_a, arrays_a = checkpoint.read(a)
    meta_b, arrays_b = checkpoint.read(b)
    assert meta_a == meta_b
    assert arrays_a.keys() == arrays_b.keys()
    for k in arrays_a:
        np.testing.assert_array_equal(arrays_a[k], arrays_b[k], err_msg=k)


def _short_run_config(reform: str, warmup: int, days: int, seed: int, workers: int):
    from hydra import compose, initialize_config_dir

    from crowdsim.cli.overrides import CONFIG_DIR

    base = [f"population.n_workers={workers}", f"sim.days={days}", f"seed={seed}",
            f"sim.warmup_days={warmup}"]  # fmt: skip
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        status_quo = to_config(compose(config_name="config", overrides=base))
        short = to_config(
            compose(
                config_name="config",
                overrides=[*base, f"reform={reform}", f"sim.reform_day={warmup}"],
            )
        )
    return status_quo, short


@pytest.mark.parametrize("reform", ["to_min_pay", "to_prolific_like", "to_fairwork"])
def test_a_branch_from_the_warm_up_equals_the_replayed_short_run(reform, tmp_path):
    """The short run (status quo, then a reform at the end of the warm-up) started from the
    status quo's checkpoint at that hour gives the same results as replaying the warm-up."""
    status_quo, short = _short_run_config(reform, warmup=3, days=8, seed=4, workers=300)
    warm = CrowdWorkModel(status_quo, create_agents=False).run(3 * 24)
    path = checkpoint.save(warm, tmp_path / "warm.npz")
    branched = checkpoint.restore(short, path, branch=True).run()
    replayed = CrowdWorkModel(short, create_agents=False).run()
    assert _observed(branched) == _observed(replayed)
    # and through the option a user sets (sim.start_from), as run() takes it
    from crowdsim import run

    via_option = run(short, sim__start_from=str(path))
    assert _canonical(via_option.summary) | {"phase_seconds": None} == _canonical(
        replayed.results().summary
    ) | {"phase_seconds": None}


def test_refused_with_one_line(tmp_path):
    cfg = to_config(population__n_workers=150, sim__days=3, seed=1)
    model = CrowdWorkModel(cfg, create_agents=False).run(24)
    path = checkpoint.save(model, tmp_path / checkpoint.checkpoint_name(24))

    def refused(fn, *words):
        with pytest.raises(CheckpointError) as err:
            fn()
        msg = str(err.value)
        assert "\n" not in msg and all(w in msg for w in words), msg

    # another config: resuming needs the same config; a branch needs the same market
    other = to_config(population__n_workers=150, sim__days=3, seed=2)
    refused(lambda: checkpoint.restore(other, path), "another config")
    refused(lambda: checkpoint.restore(other, path, branch=True), "differs")
    # a branch after the branch's own reform hour (day 1 = hour 24; the market ran on to 30)
    status_quo, late = _short_run_config("to_min_pay", warmup=1, days=3, seed=1, workers=150)
    on = checkpoint.save(
        CrowdWorkModel(status_quo, create_agents=False).run(30), tmp_path / "h30.npz"
    )
    refused(lambda: checkpoint.restore(late, on, branch=True), "after this run's reform")
    # another crowdsim version
    meta, arrays = checkpoint.read(path)
    tampered = tmp_path / "other_version.npz"
    np.savez(
        tampered, __meta__=np.array(json.dumps(meta | {"crowdsim_version": "0.0.1"})), **arrays
    )
    refused(lambda: checkpoint.restore(cfg, tampered), "written by crowdsim 0.0.1")
    # truncated, corrupt, not a checkpoint, a missing array
    data = path.read_bytes()
    for name, content in (
        ("truncated.npz", data[: len(data) // 2]),
        ("garbage.npz", os.urandom(4096)),
    ):
        (tmp_path / name).write_bytes(content)
        refused(lambda n=name: checkpoint.restore(cfg, tmp_path / n), "not a readable checkpoint")
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    refused(lambda: checkpoint.restore(cfg, tmp_path / "plain.npz"), "not a crowdsim checkpoint")
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n != "__meta__.npy"]
    partial = tmp_path / "partial.npz"
    np.savez(partial, __meta__=np.array(json.dumps(meta)),
             **{k: v for k, v in arrays.items() if k + ".npy" != names[0]})  # fmt: skip
    refused(lambda: checkpoint.restore(cfg, partial), "incomplete")


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    from crowdsim import run

    cfg = to_config(population__n_workers=150, sim__days=4, seed=3, sim__checkpoint_days=1)
    folder = tmp_path / "checkpoints"
    whole = run(cfg)  # no folder: no checkpoints
    model = CrowdWorkModel(cfg, create_agents=False)
    for _ in (1, 2):
        model.run(24)
        checkpoint.save(model, folder / checkpoint.checkpoint_name(model.hour))
    newest = folder / checkpoint.checkpoint_name(48)
    newest.write_bytes(newest.read_bytes()[:1000])  # a write cut short (not by crowdsim's own
    resumed = run(cfg, checkpoint_dir=folder)  # atomic writes, but a disk can fail)
    strip = {"phase_seconds": None}
    assert _canonical(resumed.summary) | strip == _canonical(whole.summary) | strip


def test_disk_use_is_bounded(tmp_path):
    from crowdsim import run

    cfg = to_config(
        population__n_workers=100, sim__days=6, seed=1, sim__checkpoint_days=1,
        sim__checkpoint_keep=2,
    )  # fmt: skip
    run(cfg, checkpoint_dir=tmp_path)
    kept = [p.name for p in checkpoint.latest(tmp_path)]
    assert kept == [checkpoint.checkpoint_name(120), checkpoint.checkpoint_name(96)]


def test_start_from_a_missing_file_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "crowdsim.sweeps.app", "population.n_workers=50", "sim.days=1",
         f"sim.start_from={tmp_path / 'nowhere.npz'}", f"hydra.run.dir={out}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "sim.start_from" in proc.stderr
    assert not out.exists()


def _summary(folder: Path) -> dict:
    s = json.loads((folder / "summary.json").read_text())
    return {k: v for k, v in s.items() if k not in ("phase_seconds", "wall_seconds")}


def _kill_after_checkpoint(cmd: list[str], folder: Path, timeout: float = 240) -> None:
    """Start ``cmd`` and kill -9 it (its whole process group) once a checkpoint of day 2 or
    later is in ``folder``; fails if the run finished first."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            found = list(folder.glob("**/checkpoints/hour_*.npz"))
            if any(int(p.stem.split("_")[1]) >= 48 for p in found):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.01)
        else:
            raise AssertionError("no checkpoint appeared in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_killed_run_resumes_to_the_same_results(tmp_path):
    """kill -9 part-way through a single run; the same command again finishes it from its
    latest checkpoint, with the summary of a run never interrupted."""
    opts = ["population.n_workers=1500", "sim.days=40", "seed=9", "sim.checkpoint_days=1"]
    cmd = [sys.executable, "-m", "crowdsim.sweeps.app", *opts]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    _kill_after_checkpoint([*cmd, f"hydra.run.dir={killed}"], killed)
    assert not (killed / "DONE.json").exists()
    left = checkpoint.latest(killed / "checkpoints")
    assert left, "no checkpoint to resume from"
    for out in (killed, whole):
        proc = subprocess.run([*cmd, f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert _summary(killed) == _summary(whole)
    assert not (killed / "checkpoints").exists()  # removed once the job is complete


@pytest.mark.slow  # in the default suite, tests/test_slurm.py kills and resumes a sweep's job
def test_killed_sweep_resumes_to_the_same_results(tmp_path):
    """The same in a sweep (cores launcher): the sweep killed part-way and run again."""
    opts = ["population.n_workers=1200", "sim.days=30", "sim.checkpoint_days=1", "seed=1,2",
            "hydra/launcher=sequential"]  # fmt: skip
    cmd = [sys.executable, "-m", "crowdsim.sweeps.app", "-m", *opts]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    _kill_after_checkpoint([*cmd, f"hydra.sweep.dir={killed}"], killed)
    for out in (killed, whole):
        proc = subprocess.run([*cmd, f"hydra.sweep.dir={out}"], cwd=ROOT, capture_output=True,
                              text=True, timeout=400)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = sorted(p.parent.name for p in whole.glob("*/summary.json"))
    assert len(jobs) == 2
    for job in jobs:
        assert _summary(killed / job) == _summary(whole / job), job


def test_a_sweep_shares_each_warm_up_with_the_same_results(tmp_path):
    """sim.share_warmup: the short runs of a seed start from one simulated warm-up, kept in the
    sweep's folder, and give the summaries of runs that each replay it. The first reform's runs
    (a waitlist: a series of their own) write it, the second's read it."""
    grid = ["scenario=status_quo", "population.n_workers=300", "sim.days=6",
            "sim.warmup_days=2", "reform=to_prolific_like,to_min_pay", "sim.reform_day=2",
            "seed=1,2", "hydra/launcher=sequential"]  # fmt: skip
    shared, replayed = tmp_path / "shared", tmp_path / "replayed"
    for out, extra in ((shared, ["sim.share_warmup=true"]), (replayed, [])):
        proc = subprocess.run(
            [sys.executable, "-m", "crowdsim.sweeps.app", "-m", *grid, *extra, f"hydra.sweep.dir={out}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    warmups = sorted(p.name for p in (shared / "warmups").iterdir())
    assert len(warmups) == 2 and all(w.endswith("_hour_48.npz") for w in warmups)
    assert not (replayed / "warmups").exists()
    for job in range(4):
        assert _summary(shared / str(job)) == _summary(replayed / str(job)), job

    # crowdsim-compare's long runs: the baseline's starts from its seed's warm-up (the same market
    # at the end of the warm-up, saved by the short runs), another scenario's finds none of its own
    from crowdsim.folders import release
    from crowdsim.studies.compare import _share_warmups

    long = ["scenario=status_quo,prolific_like", "population.n_workers=300", "sim.days=6",
            "sim.warmup_days=2", "seed=1", "hydra/launcher=sequential",
            "hydra.sweep.subdir=${scenario_name}"]  # fmt: skip
    started, alone = tmp_path / "long_shared", tmp_path / "long_alone"
    _share_warmups(shared, started)
    release(started)  # held by this process, as crowdsim-compare holds it for its own sweep
    assert sorted(p.name for p in (started / "warmups").iterdir()) == warmups
    assert (started / "warmups" / warmups[0]).stat().st_nlink == 2  # linked, not copied
    for out, extra in ((started, ["sim.share_warmup=true"]), (alone, [])):
        proc = subprocess.run(
            [sys.executable, "-m", "crowdsim.sweeps.app", "-m", *long, *extra, f"hydra.sweep.dir={out}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    logs = {s: (started / s / "crowdsim.log").read_text() for s in ("status_quo", "prolific_like")}
    assert "started from the shared warm-up" in logs["status_quo"]
    assert "started from the shared warm-up" not in logs["prolific_like"]
    for s in ("status_quo", "prolific_like"):
        assert _summary(started / s) == _summary(alone / s), s
