"""crowdsim benchmark: simulated worker-hours per second and peak memory.

Usage:
    python benchmarks/bench.py                 # small and medium workloads, start-up, Mesa baseline
    python benchmarks/bench.py large           # MTurk scale: 100k workers x 365 days
    python benchmarks/bench.py large world     # and 1M workers x 365 days, timed against large
    python benchmarks/bench.py small medium large scaling
    python benchmarks/bench.py cost            # cost per worker-hour, 10k to 1M workers (+ plot)
    python benchmarks/bench.py sweep           # 40 and 20 jobs of 10k x 28 days, cores launcher: fixed + per-job cost
    python benchmarks/bench.py sweep:1000      # the 1,000 jobs themselves (~10 min on 2 cores)
    python benchmarks/bench.py hours           # phases in ms per hour and the hour's cost model

Each workload runs in a fresh subprocess (so peak RSS is its own) and prints one JSON line:
workers, days, threads, the time to load the compiled kernels (or compile them, on a machine's
first run; not counted in wall), wall seconds, simulated worker-hours per second, peak RSS in MB
and the per-phase time breakdown. ``startup`` times building a 100k-worker model (agents included);
``mesa`` runs Mesa's own Boltzmann wealth example (10k agents) for agent-steps per second;
``scaling`` compares 100k vs 10k workers over the same days.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

WORKLOADS = {
    "small": (1_000, 28),
    "medium": (10_000, 28),
    "large": (100_000, 365),
    "world": (1_000_000, 365),  # requesters in proportion (population.workers_per_requester)
}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_workload(n_workers: int, days: int, seed: int = 1) -> dict:
    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    from crowdsim import CrowdWorkModel

    # load the compiled kernels (compiling them on a machine's first run) before timing
    tj = time.perf_counter()
    # (a short run reaches every kernel: the hour's phases, the daily update, settlement and the
    # weekly windows' accrual; a kernel first met inside the timed run would count its compile)
    CrowdWorkModel(population__n_workers=200, sim__days=8, seed=seed, create_agents=False).run()
    jit_s = time.perf_counter() - tj
    t0 = time.perf_counter()
    model = CrowdWorkModel(population__n_workers=n_workers, sim__days=days, seed=seed)
    t1 = time.perf_counter()
    c1 = _cpu_s()
    model.run()
    t2 = time.perf_counter()
    cpu = _cpu_s() - c1
    res = model.results()
    t3 = time.perf_counter()
    worker_hours = float(model.series["present_workers"].sum())
    return {
        "workload": f"{n_workers}x{days}d",
        "workers": n_workers,
        "days": days,
        "threads": model.threads,
        "kernels_load_s": round(jit_s, 3),
        "build_s": round(t1 - t0, 3),
        "wall_s": round(t2 - t1, 3),
        "results_s": round(t3 - t2, 3),
        "worker_hours": worker_hours,
        "worker_hours_per_s": round(worker_hours / (t2 - t1)),
        "cpu_s": round(
            cpu, 3
        ),  # CPU seconds of the run (all threads): steadier than wall on a busy machine
        "requesters": int(model.requesters.n),
        "records_in_flight_max": int(model.records.n),
        "active_worker_hours_per_s": round(float(model.series["active_workers"].sum()) / (t2 - t1)),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "phase_s": {k: round(v, 3) for k, v in model.phase_seconds.items()},
        "median_all_in_wage": res.summary["wage_median_all_in"],
    }


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


COST_SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
COST_DAYS = 14


def run_cost(out_dir: str) -> dict:
    """Cost per simulated worker-hour from 10k to 1M workers (``COST_DAYS`` days each, one
    fresh process per size, one thread): wall and CPU microseconds per worker-hour, peak memory, and what
    grows with the pool (requesters, submission records in flight); written to
    ``cost_per_worker_hour.json`` and plotted in ``cost_per_worker_hour.png`` in ``out_dir``."""
    from pathlib import Path

    rows = []
    for n in COST_SIZES:
        # one thread at every size: CPU time then counts work, not a second thread's waiting
        r = _child("run_workload", n, COST_DAYS, env={"NUMBA_NUM_THREADS": "1"})
        rows.append(
            {
                "workers": n,
                "threads": r["threads"],
                "worker_hours": r["worker_hours"],
                "wall_us_per_worker_hour": round(1e6 * r["wall_s"] / r["worker_hours"], 4),
                "cpu_us_per_worker_hour": round(1e6 * r["cpu_s"] / r["worker_hours"], 4),
                "peak_rss_mb": r["peak_rss_mb"],
                "requesters": r["requesters"],
                "records_in_flight_max": r["records_in_flight_max"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    out = Path(out_dir)
    (out / "cost_per_worker_hour.json").write_text(
        json.dumps({"days": COST_DAYS, "sizes": rows}, indent=1) + "\n"
    )
    _plot_cost(rows, out / "cost_per_worker_hour.png")
    first, last = rows[0], rows[-1]
    return {
        "workload": "cost",
        "days": COST_DAYS,
        "cpu_us_per_worker_hour": {r["workers"]: r["cpu_us_per_worker_hour"] for r in rows},
        "ratio_largest_to_smallest": round(
            last["cpu_us_per_worker_hour"] / first["cpu_us_per_worker_hour"], 2
        ),
    }


def _plot_cost(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["workers"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    ax.plot(n, [r["cpu_us_per_worker_hour"] for r in rows], "o-", label="CPU time")
    ax.plot(n, [r["wall_us_per_worker_hour"] for r in rows], "s--", label="wall time")
    for r in rows:
        ax.annotate(f"{r['peak_rss_mb'] / 1024:.1f} GB", (r["workers"], r["cpu_us_per_worker_hour"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7)  # fmt: skip
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("workers in the pool")
    ax.set_ylabel("microseconds per simulated worker-hour")
    ax.set_title(
        f"Does a worker-hour cost the same at every size? ({COST_DAYS} days, 1 thread)", fontsize=10
    )
    ax.legend(loc="lower left")
    fig.savefig(path, dpi=120)
    plt.close(fig)


SWEEP_JOBS = 40


def _sweep_wall(n_jobs: int, n_workers: int, days: int) -> tuple[float, list[float]]:
    """Wall time of one sweep command of ``n_jobs`` jobs, and each job's simulation time (the sum
    of its phase times, from its ``summary.json``)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-c", "from crowdsim.sweeps.app import main; main()", "-m",
            f"seed=range(0,{n_jobs})", f"population.n_workers={n_workers}", f"sim.days={days}",
            "hydra/launcher=cores", f"hydra.sweep.dir={tmp}/sweep",
        ]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        sims = [
            sum(json.loads(f.read_text())["phase_seconds"].values())
            for f in Path(tmp, "sweep").glob("*/summary.json")
        ]
    return wall, sims


def run_sweep(n_jobs: int = SWEEP_JOBS, n_workers: int = 10_000, days: int = 28) -> dict:
    """A sweep as a user starts it: ``crowdsim -m seed=range(0,N) ... hydra/launcher=cores`` (one
    process per core, kernels loaded once per process), timed from the command's start to its
    end, at ``N`` and at ``N/2`` jobs. Each job's simulation time is the sum of its phase times
    (``summary.json``); what is left of the cores' time, per job, is the overhead (composing the
    job's config, building the model, computing and writing its results, the launcher). The two
    sizes split the wall time into a fixed part (starting the command and its workers,
    aggregating) and a part per job (the slope); the 1,000-job projection is ``fixed + 1000 x
    slope`` (``1000 x wall / N``, which counts the fixed part once per N jobs, is given too).
    ``bench.py sweep:1000`` runs the 1,000 jobs themselves (about 10 minutes on 2 cores)."""
    import os

    cores = os.cpu_count() or 1
    wall, sims = _sweep_wall(n_jobs, n_workers, days)
    sim_mean = sum(sims) / max(len(sims), 1)
    out = {
        "workload": "sweep",
        "jobs": n_jobs,
        "jobs_ok": len(sims),
        "workers": n_workers,
        "days": days,
        "cores": cores,
        "wall_s": round(wall, 2),
        "simulation_s_per_job": round(sim_mean, 3),
        "overhead_s_per_job": round(wall * cores / n_jobs - sim_mean, 3),
    }
    if n_jobs >= 1000:
        return out
    half = max(n_jobs // 2, 1)
    wall_half, _ = _sweep_wall(half, n_workers, days)
    slope = (wall - wall_half) / (n_jobs - half)
    fixed = wall - n_jobs * slope
    return out | {
        "wall_s_at_half": round(wall_half, 2),
        "wall_s_per_job": round(slope, 3),
        "fixed_s": round(fixed, 2),
        "overhead_s_per_job_marginal": round(slope * cores - sim_mean, 3),
        "projected_1000_jobs_s": round(fixed + 1000 * slope, 1),
        "projected_1000_jobs_s_proportional": round(1000 * wall / n_jobs, 1),
    }


HOURS_DAYS = (10, 20)  # the hours profiled: days 10 to 20 (requesters and records at their level)
HOURS_REPEATS = 3


def run_hours_once(n_workers: int, d0: int, d1: int, seed: int = 1) -> dict:
    """Each hour's phase times (seconds) from day ``d0`` to ``d1`` of one run, and its active
    workers."""
    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    from crowdsim import CrowdWorkModel

    CrowdWorkModel(population__n_workers=200, sim__days=8, seed=seed, create_agents=False).run()
    model = CrowdWorkModel(
        population__n_workers=n_workers, sim__days=d1, seed=seed, create_agents=False
    )
    model.run(d0 * 24)
    times = []
    while model.running:
        before = dict(model.phase_seconds)
        model.step()
        times.append([model.phase_seconds[k] - before[k] for k in before])
    return {
        "phases": list(model.phase_seconds),
        "times": times,
        "active": model.series["active_workers"][d0 * 24 : d1 * 24].tolist(),
        "threads": model.threads,
    }


def run_hours(n_workers: int = 100_000, repeats: int = HOURS_REPEATS) -> dict:
    """Where an hour's time goes: each phase in ms per hour, and the hour's cost as a fixed part
    plus a part per active worker (least squares over the hours), for ``n_workers`` workers from
    day 10 to 20. Each hour's time is its least over ``repeats`` runs in fresh processes (the
    same seed, so the same hours: on a shared machine the least disturbed measures the model,
    not its neighbours). Hours that take over five times the median (a store doubling its
    capacity) are left out of the mean and the fit and counted in ``one_off_hours``."""
    import numpy as np

    d0, d1 = HOURS_DAYS
    runs = [_child("run_hours_once", n_workers, d0, d1) for _ in range(repeats)]
    t = np.array([r["times"] for r in runs]) * 1e3  # runs x hours x phases, ms
    best = t.min(axis=0)
    total = t.sum(axis=2).min(axis=0)
    usual = total <= 5 * np.median(total)
    active = np.asarray(runs[0]["active"], dtype=float)[usual]
    fixed, per_worker = np.linalg.lstsq(
        np.c_[np.ones(active.size), active], total[usual], rcond=None
    )[0]
    return {
        "workload": f"hours {n_workers}x days {d0}-{d1}",
        "threads": runs[0]["threads"],
        "repeats": repeats,
        "ms_per_hour": round(float(total[usual].mean()), 3),
        "phase_ms_per_hour": {
            p: round(float(best[usual, i].mean()), 3) for i, p in enumerate(runs[0]["phases"])
        },
        "fixed_ms_per_hour": round(float(fixed), 3),
        "us_per_active_worker": round(1e3 * float(per_worker), 4),
        "active_workers_mean": round(float(active.mean()), 1),
        "one_off_hours": {str(int(h)): round(float(total[h]), 1) for h in np.flatnonzero(~usual)},
    }


def run_startup(n_workers: int = 100_000) -> dict:
    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    from crowdsim import CrowdWorkModel, Worker

    t0 = time.perf_counter()
    model = CrowdWorkModel(population__n_workers=n_workers, sim__days=365, seed=1)
    dt = time.perf_counter() - t0
    return {
        "workload": "startup",
        "workers": n_workers,
        "agents": len(model.agents_by_type[Worker]),
        "build_s": round(dt, 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_checkpoint(n_workers: int, days: int = 14) -> dict:
    """Write and read a checkpoint of a market after ``days`` days: seconds, file size, and the
    peak memory the write adds over the model's own (measured as the peak RSS before and after)."""
    import logging
    import tempfile
    from pathlib import Path

    logging.getLogger("MESA").setLevel(logging.WARNING)
    from crowdsim import CrowdWorkModel, checkpoint

    model = CrowdWorkModel(
        population__n_workers=n_workers, sim__days=days + 1, seed=1, create_agents=False
    )
    model.run(days * 24)
    before = _peak_rss_mb()
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
        path = Path(tmp) / checkpoint.checkpoint_name(model.hour)
        t0 = time.perf_counter()
        checkpoint.save(model, path)
        t1 = time.perf_counter()
        after_write = _peak_rss_mb()
        size = path.stat().st_size
        cfg = model.config
        del model
        t2 = time.perf_counter()
        restored = checkpoint.restore(cfg, path)
        t3 = time.perf_counter()
        assert restored.hour == days * 24
    return {
        "workload": "checkpoint",
        "workers": n_workers,
        "days": days,
        "size_mb": round(size / 2**20, 1),
        "write_s": round(t1 - t0, 3),
        "read_s": round(t3 - t2, 3),  # includes building the model from its config
        "peak_rss_before_write_mb": round(before, 1),
        "peak_rss_after_write_mb": round(after_write, 1),
    }


def run_mesa_boltzmann(n_agents: int = 10_000, steps: int = 50) -> dict:
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

    model = BoltzmannWealth(BoltzmannScenario(n=n_agents, width=100, height=100, rng=1))
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    dt = time.perf_counter() - t0
    return {
        "workload": "mesa_boltzmann",
        "agents": n_agents,
        "steps": steps,
        "wall_s": round(dt, 3),
        "agent_steps_per_s": round(n_agents * steps / dt),
    }


def _child(kind: str, *args, env: dict | None = None) -> dict:
    import os

    code = f"import json, sys; sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r}); import bench; print(json.dumps(bench.{kind}(*{args!r})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env=None if env is None else os.environ | env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    names = argv or ["small", "medium", "startup", "mesa"]
    results = {}
    for name in names:
        if name in WORKLOADS:
            r = _child("run_workload", *WORKLOADS[name])
            r["workload"] = name
        elif name == "startup":
            r = _child("run_startup")
        elif name == "mesa":
            r = _child("run_mesa_boltzmann")
        elif name == "checkpoint" or name.startswith("checkpoint:"):
            size = name.partition(":")[2] or "100000"
            if not (size.isdigit() and int(size) >= 100):
                raise SystemExit(
                    f"bench: error: invalid number of workers {size!r} (allowed: an integer >= 100, e.g. checkpoint:1000000)"
                )
            r = _child("run_checkpoint", int(size))
        elif name == "sweep" or name.startswith("sweep:"):
            jobs = name.partition(":")[2]
            if jobs and not (jobs.isdigit() and int(jobs) >= 2):
                raise SystemExit(
                    f"bench: error: invalid number of sweep jobs {jobs!r} (allowed: an integer >= 2, e.g. sweep:1000)"
                )
            r = run_sweep(int(jobs)) if jobs else run_sweep()
        elif name == "hours" or name.startswith("hours:"):
            size = name.partition(":")[2] or "100000"
            if not (size.isdigit() and int(size) >= 100):
                raise SystemExit(
                    f"bench: error: invalid number of workers {size!r} (allowed: an integer >= 100, e.g. hours:30000)"
                )
            r = run_hours(int(size))
        elif name == "cost":
            r = run_cost(str(__file__.rsplit("/", 1)[0]))
        elif name == "scaling":
            days = 28
            big, small = _child("run_workload", 100_000, days), _child("run_workload", 10_000, days)
            r = {
                "workload": "scaling",
                "days": days,
                "wall_100k_s": big["wall_s"],
                "wall_10k_s": small["wall_s"],
                "ratio": round(big["wall_s"] / small["wall_s"], 2),
            }
        else:
            raise SystemExit(
                f"bench: error: unknown workload {name!r} (allowed: {', '.join([*WORKLOADS, 'startup', 'mesa', 'scaling', 'cost', 'sweep', 'sweep:N', 'checkpoint:N', 'hours', 'hours:N'])})"
            )
        results[name] = r
        print(json.dumps(r), flush=True)
    if "world" in results and "large" in results:
        w, big = results["world"], results["large"]
        print(
            json.dumps(
                {
                    "workload": "world_vs_large",
                    "wall_ratio": round(w["wall_s"] / big["wall_s"], 2),
                    "cpu_ratio": round(w["cpu_s"] / big["cpu_s"], 2),
                    "worker_hours_ratio": round(w["worker_hours"] / big["worker_hours"], 2),
                    "requesters_ratio": round(w["requesters"] / big["requesters"], 2),
                    "records_in_flight_ratio": round(
                        w["records_in_flight_max"] / big["records_in_flight_max"], 2
                    ),
                    "peak_rss_mb": {"large": big["peak_rss_mb"], "world": w["peak_rss_mb"]},
                }
            ),
            flush=True,
        )
    if "mesa" in results:
        ours = next((results[n] for n in ("large", "medium", "small") if n in results), None)
        if ours:
            ratio = ours["worker_hours_per_s"] / results["mesa"]["agent_steps_per_s"]
            print(
                json.dumps(
                    {
                        "workload": "comparison",
                        "crowdsim_worker_hours_per_s": ours["worker_hours_per_s"],
                        "mesa_boltzmann_agent_steps_per_s": results["mesa"]["agent_steps_per_s"],
                        "ratio": round(ratio, 1),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
