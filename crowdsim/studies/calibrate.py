"""``crowdsim-calibrate``: fit behavioural parameters to published moments (simulated method of moments).

For a parameter set ``theta`` the model is run over several seeds; each run's moments are
computed over the measurement window (:mod:`crowdsim.moments`) and averaged over
seeds. The distance to the targets is

    J(theta) = sum_k ((mean_s m_k(theta, s) - target_k) / se_k) ** 2

over the targets whose role is ``fit`` in ``crowdsim/calibration/targets.yaml``: a diagonal
weighting by each target's uncertainty. A moment a run cannot produce (no worker measured) counts
as ``NAN_PENALTY_Z`` standard errors off.

The search is an **Optuna ask/tell loop** with a seeded TPE sampler, an equivalent of Hydra's
Optuna sweeper (whose 1.3 release pins ``optuna<3``): each batch of trials is asked from the
study and every (trial, seed) run is handed to crowdsim's job runner
(:func:`crowdsim.sweeps.grid.measure_grid`, the path of ``crowdsim -m``) on the launcher
chosen with ``--launcher`` (``cores`` by default; ``local_submitit``, ``slurm``, ``ray_cluster``),
its job folder ``runs/trial_<n>/seed_<k>``; then the results are told back. The base
configuration is composed with Hydra (``--scenario``, ``--set``) so scenario files apply. All
trials use the same seeds (common random numbers), so differences between trials are not
differences between random markets. The first trial is the starting point (the current
defaults, or ``--start``).

The study is kept in storage that survives a crash: a journal file ``study.journal`` in
``--out`` by default, or ``--storage`` (an RDB URL such as ``sqlite:///calib.db`` or
``postgresql://...``, which calibrations on several nodes can share with the same
``--study-name``). Run the same command again and the calibration resumes: complete trials are
kept, a batch cut short is asked again in its job folders (its finished runs are reused) and only
the missing trials up to ``--trials`` are evaluated. A resumed study refuses different settings
(seeds, workers, days, targets, search space...) with one line.

Because the best of many noisy evaluations is optimistic, the ``--recheck-top`` best trials are
re-run on fresh seeds and the final choice is the best of those re-runs; the fit table reports
that evaluation.

Outputs (each written atomically) in ``--out``: ``best_params.yaml`` (a Hydra ``_global_``
config), ``fit_table.csv`` / ``fit_table.md`` (target, simulated mean and 95% interval over seeds,
source), ``moments_by_seed.csv`` (the runs behind the fit table), ``trials.csv``,
``convergence.png`` and ``calibration.json`` (settings and provenance).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from crowdsim.cli.arguments import int_at_least, read_yaml_option
from crowdsim.config import ConfigError, flatten, nested
from crowdsim.files import atomic_write_csv, atomic_write_figure, atomic_write_text
from crowdsim.studies.options import (
    CALIBRATION_DIR,
    StudyOptions,
    add_study_options,
    base_config,
    check_run_size,
    grid_overrides,
    markdown_table,
    run_study,
    split_sets,
)

DEFAULT_TARGETS = CALIBRATION_DIR / "targets.yaml"
DEFAULT_SPACE = CALIBRATION_DIR / "search_space.yaml"
NAN_PENALTY_Z = 10.0
ROLES = ("fit", "validate", "input")


# ----------------------------------------------------------------------------- targets and space
@dataclass
class Target:
    name: str
    value: float
    se: float
    role: str
    source: str
    unit: str = ""
    se_basis: str = ""
    range: tuple[float, float] | None = None
    held_out_because: str = ""


def load_targets(path: str | Path = DEFAULT_TARGETS) -> dict[str, Target]:
    """Read ``targets.yaml``; every target needs value, se > 0, role and source."""
    from crowdsim.moments import MOMENTS

    raw = read_yaml_option("--targets", path, "targets YAML file") or {}
    entries = raw.get("targets") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError("--targets", str(path), "a YAML file with a non-empty 'targets:' mapping")
    out = {}
    for name, t in entries.items():
        if name not in MOMENTS:
            raise ConfigError(
                f"targets.{name}",
                name,
                "moment names of crowdsim.moments: " + ", ".join(MOMENTS),
            )
        for key in ("value", "se", "role", "source"):
            if key not in t:
                raise ConfigError(f"targets.{name}.{key}", None, f"a {key} for every target")
        if not float(t["se"]) > 0:
            raise ConfigError(f"targets.{name}.se", t["se"], "a number > 0")
        if t["role"] not in ROLES:
            raise ConfigError(f"targets.{name}.role", t["role"], ", ".join(ROLES))
        rng = t.get("range")
        out[name] = Target(
            name=name,
            value=float(t["value"]),
            se=float(t["se"]),
            role=t["role"],
            source=str(t["source"]).strip(),
            unit=str(t.get("unit", "")),
            se_basis=" ".join(str(t.get("se_basis", "")).split()),
            range=(float(rng[0]), float(rng[1])) if rng else None,
            held_out_because=" ".join(str(t.get("held_out_because", "")).split()),
        )
    return out


@dataclass
class Parameter:
    name: str  # dotted option, e.g. workers.search_minutes
    low: float
    high: float
    log: bool = False


def load_space(path: str | Path = DEFAULT_SPACE, only: list[str] | None = None) -> list[Parameter]:
    """Read a search space YAML (``parameters: {dotted.name: {low, high, log}}``); check each name."""
    from crowdsim.config import check_key_exists

    raw = read_yaml_option("--space", path, "search-space YAML file") or {}
    entries = raw.get("parameters") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(
            "--space", str(path), "a YAML file with a non-empty 'parameters:' mapping"
        )
    params = []
    for name, spec in entries.items():
        check_key_exists(None, name)
        low, high = float(spec["low"]), float(spec["high"])
        log = bool(spec.get("log", False))
        if not low < high or (log and low <= 0):
            raise ConfigError(
                f"{path.name}:{name}", f"[{low}, {high}]", "low < high (and low > 0 with log: true)"
            )
        params.append(Parameter(name, low, high, log))
    if only:
        names = [p.name for p in params]
        for n in only:
            if n not in names:
                raise ConfigError("--params", n, ", ".join(names))
        params = [p for p in params if p.name in only]
    return params


def params_to_overrides(params: dict[str, float]) -> dict[str, float]:
    return {k.replace(".", "__"): v for k, v in params.items()}


def current_values(cfg: dict, names: list[str]) -> dict[str, float]:
    vals = {}
    for n in names:
        node: Any = cfg
        for p in n.split("."):
            node = node[p]
        vals[n] = float(node)
    return vals


# ----------------------------------------------------------------------------- evaluation
def run_moments(
    cfg: dict,
    params: dict[str, float],
    seed: int,
    workers: int,
    days: int,
    warmup_days: float,
    names: list[str],
) -> dict[str, float]:
    """Simulate one (parameter set, seed) in this process and return its moments (the direct
    path; calibration, validation and sensitivity run theirs through the job runner)."""
    import logging

    from crowdsim.moments import compute_moments, simulate

    logging.getLogger("MESA").setLevel(logging.WARNING)
    overrides = params_to_overrides(params) | {
        "seed": int(seed),
        "population__n_workers": int(workers),
        "sim__days": int(days),
    }
    run = simulate(cfg, warmup_days=warmup_days, **overrides)
    return compute_moments(run, names)


def distance(means: dict[str, float], targets: dict[str, Target]) -> float:
    """Sum of squared standardised deviations over the ``fit`` targets."""
    total = 0.0
    for name, t in targets.items():
        if t.role != "fit":
            continue
        m = means.get(name, float("nan"))
        z = (m - t.value) / t.se if np.isfinite(m) else NAN_PENALTY_Z
        total += z * z
    return float(total)


def seed_means(rows: list[dict[str, float]]) -> dict[str, float]:
    df = pd.DataFrame(rows)
    with np.errstate(all="ignore"):
        return {
            c: float(np.nanmean(df[c].to_numpy(dtype=float)))
            if df[c].notna().any()
            else float("nan")
            for c in df.columns
        }


def fit_table(moments_by_seed: pd.DataFrame, targets: dict[str, Target]) -> pd.DataFrame:
    """Target, simulated mean and 95% interval over seeds, z-score and source, one row per target."""
    from crowdsim.metrics.stats import mean_ci

    rows = []
    for name, t in targets.items():
        vals = (
            moments_by_seed[name].to_numpy(dtype=float) if name in moments_by_seed else np.array([])
        )
        m, lo, hi, n = mean_ci(vals)
        in_range = (t.range[0] <= m <= t.range[1]) if (t.range and np.isfinite(m)) else None
        rows.append(
            {
                "moment": name,
                "role": t.role,
                "target": t.value,
                "se": t.se,
                "simulated_mean": m,
                "ci_low": lo,
                "ci_high": hi,
                "n_seeds": n,
                "z": (m - t.value) / t.se if np.isfinite(m) else float("nan"),
                "target_in_ci": bool(lo <= t.value <= hi) if np.isfinite(lo) else None,
                "within_published_range": in_range,
                "unit": t.unit,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


def fit_table_markdown(table: pd.DataFrame) -> str:
    show = table.copy()
    show["simulated (95% CI)"] = [
        f"{m:.4g} [{lo:.4g}, {hi:.4g}]" if np.isfinite(lo) else f"{m:.4g}"
        for m, lo, hi in zip(show["simulated_mean"], show["ci_low"], show["ci_high"], strict=True)
    ]
    cols = ["moment", "role", "target", "se", "simulated (95% CI)", "z", "unit", "source"]
    return markdown_table(show[cols], floatfmt=".3g")


# ----------------------------------------------------------------------------- the loop
@dataclass
class Settings(StudyOptions):
    """A calibration's settings: the shared study options (:class:`StudyOptions`) and its own."""

    seeds: int = 4
    seed_start: int = 1000
    workers: int = 2000
    # the calibration's protocol (docs/calibration.md): moments after the 42 days the status quo
    # needs to settle (the exit rule first bites after 21 bad days)
    days: int = 70
    warmup_days: float = 42.0
    jobs: int = 2
    out: str = "results/calibration"
    trials: int = 60
    sampler_seed: int = 0
    recheck_top: int = 4
    recheck_seeds: int = 8
    recheck_seed_base: int = 5000
    storage: str | None = (
        None  # Optuna storage: RDB URL or journal file (default OUT/study.journal)
    )
    study_name: str = "calibration"
    scenario: str = "status_quo"
    targets: str = str(DEFAULT_TARGETS)
    space: str = str(DEFAULT_SPACE)
    start: str | None = None  # YAML of starting values (dotted or nested); default: current config


@dataclass
class CalibrationResult:
    best_params: dict[str, float]
    best_objective: float
    start_objective: float
    trials: pd.DataFrame
    fit_table: pd.DataFrame
    moments_by_seed: pd.DataFrame
    out_dir: Path
    seconds: float


def load_start(path: str, space: list[Parameter]) -> dict[str, float]:
    raw = read_yaml_option("--start", path, "YAML file of parameter values") or {}
    if not isinstance(raw, dict):
        raise ConfigError("--start", path, "a YAML mapping of parameter values")
    flat = flatten(raw)
    names = {q.name: q for q in space}
    out = {}
    for k, v in flat.items():
        if k not in names:
            raise ConfigError(
                f"--start {k}", v, "parameters of the search space: " + ", ".join(names)
            )
        q = names[k]
        if not q.low <= float(v) <= q.high:
            raise ConfigError(f"--start {k}", v, f"a value in the search range [{q.low}, {q.high}]")
        out[k] = float(v)
    return out


STUDY_FILE = "study.journal"  # the Optuna study, by default (a journal file, file-locked)
RUNS_DIR = "runs"  # job folders: runs/trial_<n>/seed_<k>


def _evaluate(
    param_sets: dict[str, dict[str, float]], seeds: list[int], s: Settings, names: list[str]
) -> dict[str, list[dict[str, float]]]:
    """Moments of every (parameter set, seed), run through the job runner on ``s.launcher``;
    per set (keyed by its folder under ``runs/``), one dict per seed in the order of ``seeds``."""
    from crowdsim.sweeps.grid import launcher_overrides, measure_grid

    model_sets, hydra_sets = split_sets(s.sets)
    moments = measure_grid(
        param_sets,
        seeds,
        grid_overrides(s.scenario, s.workers, s.days, model_sets),
        s.warmup_days,
        names,
        Path(s.out) / RUNS_DIR,
        launcher_overrides(s.launcher, s.jobs, hydra_sets),
    )
    return {name: [moments[(name, seed)] for seed in seeds] for name in param_sets}


def study_storage(s: Settings):
    """The Optuna storage of a calibration: ``--storage`` as an RDB URL (``sqlite:///FILE``,
    ``postgresql://...``: shared by calibrations on several nodes), else a journal file
    (``--storage FILE``, default ``OUT/study.journal``). Both survive a crash."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if s.storage and "://" in s.storage:
        try:
            return optuna.storages.RDBStorage(s.storage)
        except Exception as exc:  # a bad URL, a missing database driver, no server
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                "--storage",
                s.storage,
                "an RDB URL SQLAlchemy can open (sqlite:///FILE, postgresql://USER@HOST/DB, "
                f"mysql+pymysql://...) or a journal file path ({first})",
            ) from None
    path = Path(s.storage) if s.storage else Path(s.out) / STUDY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise ConfigError("--storage", str(path), f"a file that can be written ({exc})") from None


def study_key(s: Settings, start: dict[str, float]) -> dict:
    """What the trials of a study depend on: a study is resumed only with the same."""
    import hashlib

    import crowdsim

    def digest(path: str) -> str:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

    return {
        "--scenario": s.scenario,
        "--set": split_sets(s.sets)[0],
        "--targets": digest(s.targets),
        "--space": digest(s.space),
        "--seeds": s.seeds,
        "--seed-base": s.seed_start,  # the key of studies started before 0.4
        "--workers": s.workers,
        "--days": s.days,
        "--warmup-days": float(s.warmup_days),
        "--start": start,
        "crowdsim version": crowdsim.__version__,
    }


def _check_study(study, key: dict, s: Settings) -> None:
    before = study.user_attrs.get("calibration")
    if before is None:
        return
    for option, value in key.items():
        if before.get(option) != value:
            where = s.storage or str(Path(s.out) / STUDY_FILE)
            raise ConfigError(
                option,
                value,
                "",
                message=f"invalid value for option '{option}': {value!r} (the study "
                f"{s.study_name!r} in {where} was run with {before.get(option)!r}; allowed: that "
                "value, to resume it, or a new --out / --study-name)",
            )


def _owner() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _orphaned(owner: str | None) -> bool:
    """A trial left running by a calibration process of this host that no longer exists."""
    import os
    import socket

    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _requeue(study, trial) -> None:
    """Mark a trial that did not finish as failed and queue its parameters again, in the same
    job folder (its finished runs are reused)."""
    from optuna.trial import TrialState

    folder = trial.user_attrs.get("folder") or f"trial_{trial.number:04d}"
    study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    study.enqueue_trial(dict(trial.params), user_attrs={"folder": folder})


def _json_number(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def calibrate(settings: Settings, progress: bool = True) -> CalibrationResult:
    """Run the calibration and write its outputs; see the module docstring."""
    import optuna
    from optuna.trial import TrialState

    s = settings
    _check_settings(s)
    t0 = time.perf_counter()
    targets = load_targets(s.targets)
    space = load_space(s.space)
    model_sets, hydra_sets = split_sets(s.sets)
    cfg = base_config(s.scenario, model_sets)
    check_run_size(cfg, s.workers, s.days)
    from crowdsim.cli.overrides import check_tool_launcher

    check_tool_launcher(s.launcher, hydra_sets)
    names = list(targets)
    defaults = current_values(cfg, [p.name for p in space])
    start = {p.name: min(max(defaults[p.name], p.low), p.high) for p in space}
    if s.start:
        start |= load_start(s.start, space)
    seeds = s.seed_list()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    batch = max(1, math.ceil(s.jobs / s.seeds))

    def sampler(seed: int):
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=True,
            constant_liar=batch > 1,
            n_startup_trials=max(5, min(15, s.trials // 5)),
        )

    storage = study_storage(s)
    study = optuna.create_study(
        storage=storage,
        study_name=s.study_name,
        direction="minimize",
        sampler=sampler(s.sampler_seed),
        load_if_exists=True,
    )
    key = study_key(s, start)
    existing = study.get_trials(deepcopy=False)
    if not existing:
        study.set_user_attr("calibration", key)
        study.enqueue_trial(start, user_attrs={"folder": "trial_0000"})
    else:
        _check_study(study, key, s)
        # a resumed study draws on from a fresh stream, not the one its first trials came from
        study.sampler = sampler(s.sampler_seed + len(existing))
        for t in existing:
            if t.state == TrialState.RUNNING and _orphaned(t.user_attrs.get("owner")):
                _requeue(study, t)
    dists = {
        p.name: optuna.distributions.FloatDistribution(p.low, p.high, log=p.log) for p in space
    }

    def n_complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    done = n_complete()
    if progress and done:
        print(f"study {s.study_name!r}: {done} trials complete already", file=sys.stderr)
    best = min((t.value for t in study.get_trials(states=(TrialState.COMPLETE,))), default=None)
    while done < s.trials:
        k = min(batch, s.trials - done)
        asked = [study.ask(dists) for _ in range(k)]
        folders = {}
        for trial in asked:
            folder = trial.user_attrs.get("folder") or f"trial_{trial.number:04d}"
            trial.set_user_attr("folder", folder)
            trial.set_user_attr("owner", _owner())
            folders[folder] = dict(trial.params)
        try:
            results = _evaluate(folders, seeds, s, names)
        except BaseException:  # a failed run, Ctrl-C: the batch is asked again on resume
            for trial in asked:
                _requeue(study, trial)
            raise
        for trial, rows in zip(asked, results.values(), strict=True):
            means = seed_means(rows)
            obj = distance(means, targets)
            trial.set_user_attr("moments", {n: _json_number(means.get(n)) for n in names})
            study.tell(trial, obj)
            best = obj if best is None else min(best, obj)
            if progress:
                print(
                    f"trial {trial.number:4d}  J={obj:10.3f}  best={best:10.3f}",
                    file=sys.stderr,
                    flush=True,
                )
        done = n_complete()

    complete = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    records = [
        {"trial": t.number, "objective": float(t.value)}
        | {f"param.{n}": t.params.get(n) for n in start}
        | {
            f"moment.{n}": np.nan if m is None else m
            for n, m in ((n, t.user_attrs.get("moments", {}).get(n)) for n in names)
        }
        | {"_folder": t.user_attrs.get("folder") or f"trial_{t.number:04d}"}
        for t in complete
    ]
    # the folder of a trial's runs: runs/trial_<n>, or that of the trial it re-asks after a crash
    trials = pd.DataFrame(
        [{"trial": r["trial"], "folder": r["_folder"]} | r for r in records]
    ).drop(columns="_folder")
    trials["best_so_far"] = trials["objective"].cummin()
    order = trials.sort_values("objective", kind="stable").index.tolist()
    # final choice: re-run the best few on fresh seeds (guards against a lucky evaluation)
    if s.recheck_top > 0 and s.recheck_seeds > 0:
        top = order[: s.recheck_top]
        fresh = [s.recheck_seed_base + i for i in range(s.recheck_seeds)]
        psets = {records[i]["_folder"]: {n: records[i][f"param.{n}"] for n in start} for i in top}
        rechecked = list(_evaluate(psets, fresh, s, names).values())
        objs = [distance(seed_means(rows), targets) for rows in rechecked]
        trials["recheck_objective"] = np.nan
        for i, o in zip(top, objs, strict=True):
            trials.loc[i, "recheck_objective"] = o
        j = int(np.argmin(objs))
        chosen, chosen_rows, chosen_seeds = top[j], rechecked[j], fresh
        best_obj = objs[j]
    else:
        chosen = order[0]
        folder = records[chosen]["_folder"]
        params = {n: records[chosen][f"param.{n}"] for n in start}
        chosen_rows = _evaluate({folder: params}, seeds, s, names)[folder]  # on disk already
        chosen_seeds = seeds
        best_obj = float(records[chosen]["objective"])
    best_params = {n: float(records[chosen][f"param.{n}"]) for n in start}
    by_seed = pd.DataFrame(chosen_rows)
    by_seed.insert(0, "seed", chosen_seeds)
    table = fit_table(by_seed, targets)
    result = CalibrationResult(
        best_params=best_params,
        best_objective=best_obj,
        start_objective=float(records[0]["objective"]),
        trials=trials,
        fit_table=table,
        moments_by_seed=by_seed,
        out_dir=Path(s.out),
        seconds=time.perf_counter() - t0,
    )
    result.chosen_trial = int(records[chosen]["trial"])  # type: ignore[attr-defined]
    write_outputs(result, s, targets, start)
    return result


def _check_settings(s: Settings) -> None:
    for opt, v, low in (
        ("--trials", s.trials, 1),
        ("--seeds", s.seeds, 1),
        ("--workers", s.workers, 10),
        ("--days", s.days, 2),
        ("--jobs", s.jobs, 1),
        ("--recheck-top", s.recheck_top, 0),
        ("--recheck-seeds", s.recheck_seeds, 0),
    ):
        if not isinstance(v, int) or v < low:
            raise ConfigError(opt, v, f"an integer >= {low}")
    if not 0 <= s.warmup_days < s.days:
        raise ConfigError(
            "--warmup-days", s.warmup_days, f"a number >= 0 and below --days ({s.days})"
        )


def params_yaml(params: dict[str, float], header: str, digits: int | None = None) -> str:
    """A Hydra ``_global_`` config setting ``params`` (full precision unless ``digits`` is given)."""
    body = yaml.safe_dump(
        nested(
            {k: float(v) if digits is None else round(float(v), digits) for k, v in params.items()}
        ),
        sort_keys=True,
    )
    return "# @package _global_\n" + header.rstrip() + "\n" + body


def write_outputs(
    r: CalibrationResult, s: Settings, targets: dict[str, Target], start: dict[str, float]
) -> None:
    import crowdsim
    from crowdsim.run import git_revision

    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    fit_names = [n for n, t in targets.items() if t.role == "fit"]
    header = (
        f"# Parameters fitted by crowdsim-calibrate (simulated method of moments) to {', '.join(fit_names)}\n"
        f"# (crowdsim/calibration/targets.yaml). Distance at the start {r.start_objective:.3f}, at the best {r.best_objective:.3f};\n"
        f"# {s.trials} trials x {s.seeds} seeds, {s.workers} workers x {s.days} days, warm-up {s.warmup_days} days.\n"
    )
    atomic_write_text(out / "best_params.yaml", params_yaml(r.best_params, header))
    atomic_write_csv(out / "fit_table.csv", r.fit_table)
    atomic_write_text(out / "fit_table.md", fit_table_markdown(r.fit_table))
    atomic_write_csv(out / "moments_by_seed.csv", r.moments_by_seed)
    atomic_write_csv(out / "trials.csv", r.trials)
    meta = {
        "settings": s.__dict__,
        "start_params": start,
        "best_params": r.best_params,
        "start_objective": r.start_objective,
        "best_objective": r.best_objective,
        "chosen_trial": getattr(r, "chosen_trial", None),
        "seconds": round(r.seconds, 1),
        "search": "optuna ask/tell loop, TPESampler (multivariate, seeded), study in "
        + (s.storage or str(Path(s.out) / STUDY_FILE))
        + "; runs through crowdsim's job runner on "
        + (s.launcher or ("cores" if s.jobs > 1 else "sequential")),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
    }
    atomic_write_text(out / "calibration.json", json.dumps(meta, indent=2, default=str))
    convergence_plot(r.trials, out / "convergence.png")


def convergence_plot(trials: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(trials["trial"], trials["objective"], s=12, alpha=0.5, label="trial")
    ax.step(trials["trial"], trials["best_so_far"], where="post", color="C3", label="best so far")
    if "recheck_objective" in trials and trials["recheck_objective"].notna().any():
        sel = trials["recheck_objective"].notna()
        ax.scatter(
            trials.loc[sel, "trial"],
            trials.loc[sel, "recheck_objective"],
            marker="x",
            color="k",
            label="re-run on fresh seeds",
        )
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("distance J (sum of squared z)")
    ax.set_title("crowdsim calibration: simulated method of moments")
    ax.legend()
    atomic_write_figure(path, fig)
    plt.close(fig)


# ----------------------------------------------------------------------------- command line
def _build(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = Settings()
    p.add_argument(
        "--trials",
        type=int_at_least(1),
        default=d.trials,
        help="Optuna trials (default %(default)s)",
    )
    add_study_options(
        p,
        d,
        helps={
            "seeds": "seeds per trial (default %(default)s)",
            "seed_start": "first simulation seed (default %(default)s)",
            "workers": "workers in the pool (default %(default)s)",
            "days": "simulated days (default %(default)s)",
            "warmup_days": "days left out of the moments (default %(default)s)",
            "jobs": "parallel worker processes (default %(default)s)",
        },
    )
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage of the study: an RDB URL (sqlite:///FILE, postgresql://...) shared "
        "by calibrations on several nodes, or a journal file (default OUT/study.journal); a "
        "calibration run again with the same storage resumes its study",
    )
    p.add_argument(
        "--study-name",
        default=d.study_name,
        help="name of the study in the storage (default %(default)s)",
    )
    p.add_argument(
        "--sampler-seed",
        type=int_at_least(0),
        default=d.sampler_seed,
        help="seed of the TPE sampler (default %(default)s)",
    )
    p.add_argument(
        "--recheck-top",
        type=int_at_least(0),
        default=d.recheck_top,
        help="re-run the best N trials on fresh seeds (default %(default)s)",
    )
    p.add_argument(
        "--recheck-seeds",
        type=int_at_least(0),
        default=d.recheck_seeds,
        help="fresh seeds for the re-run (default %(default)s)",
    )
    p.add_argument(
        "--scenario",
        default=d.scenario,
        help="scenario the parameters are fitted in (default %(default)s)",
    )
    p.add_argument(
        "--targets",
        default=d.targets,
        help="targets YAML (default crowdsim/calibration/targets.yaml)",
    )
    p.add_argument(
        "--space",
        default=d.space,
        help="search space YAML (default crowdsim/calibration/search_space.yaml)",
    )
    p.add_argument(
        "--start",
        default=None,
        help="YAML of starting parameter values (default: the scenario's current values)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _act(args: argparse.Namespace) -> None:
    s = Settings.from_args(args)
    r = calibrate(s, progress=not args.quiet)
    print(
        f"distance: start {r.start_objective:.3f} -> best {r.best_objective:.3f} ({r.seconds:.0f} s); outputs in {r.out_dir}"
    )
    print(
        fit_table_markdown(
            r.fit_table[
                [
                    "moment",
                    "role",
                    "target",
                    "se",
                    "simulated_mean",
                    "ci_low",
                    "ci_high",
                    "z",
                    "unit",
                    "source",
                ]
            ]
        )
    )


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_study("crowdsim-calibrate", _build, _act, argv))


if __name__ == "__main__":
    main()
