"""crowdsim as a model of the EMA Workbench (exploratory modelling and analysis under deep
uncertainty; Kwakkel 2017, *Environmental Modelling & Software* 96: 239-250).

Install the extra: ``pip install -e '.[workbench]'`` (the ``ema-workbench`` package).

:func:`workbench_model` returns an ``ema_workbench.Model`` whose

Parameters carry the options' names with ``_`` for dots (:func:`workbench_name`), as the
Workbench wants Python identifiers: ``workers_search_minutes``, ``platform_commission``.

- **uncertainties** are behavioural parameters (how workers search, choose and leave, how
  requesters respond to costs, how scarce work is), with the ranges of
  ``crowdsim/calibration/sensitivity_space.yaml`` (the same space crowdsim-sensitivity samples);
- **levers** are the platform's rules from the same file (commission, a minimum pay floor on the
  requester's estimate, the auto-approval deadline, the share of tasks behind a qualification
  gate);
- **outcomes** are headline metrics of the run's summary, measured after a warm-up and averaged
  over common seeds, and, with ``versus_baseline=True`` (the default), each rule set's change
  from the same market under the scenario's own rules: ``<metric>_change`` (difference) and
  ``tasks_submitted_ratio``, the question of scenario discovery ("when does a floor raise the
  wage without cutting the work by more than half?").

Experiments run with the Workbench's own evaluators (``SequentialEvaluator``,
``MultiprocessingEvaluator``: the model's function is a picklable object) or with
:class:`LauncherEvaluator`, which hands all of them at once to crowdsim's job runner, so that
they run on any of crowdsim's Hydra launchers (``cores``, ``slurm``, ``ray_cluster``...) and a
repeated evaluation reuses the runs already on disk.

Example::

    from ema_workbench import perform_experiments
    from crowdsim.studies.workbench import workbench_model
    model = workbench_model(workers=1500, days=28, warmup_days=14, seeds=[0, 1])
    experiments, outcomes = perform_experiments(model, scenarios=32, policies=4)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from crowdsim.config import ConfigError

OUTCOMES = (
    "wage_median_all_in",
    "wage_median_paid_only",
    "share_above_7_25",
    "unpaid_time_share",
    "tasks_submitted",
    "worker_exit_rate",
    "platform_revenue_usd",
)
RATIO = "tasks_submitted"  # its change is a ratio (work kept), the others' a difference


def workbench_name(option: str) -> str:
    """The Workbench's name of an option: a Python identifier, as the Workbench requires
    (``platform.min_pay_usd_per_hour`` -> ``platform_min_pay_usd_per_hour``)."""
    return option.replace(".", "_")


def _space(path: str | Path | None):
    from crowdsim.studies.sensitivity import DEFAULT_SPACE, load_problem

    return load_problem(DEFAULT_SPACE if path is None else path)


def _integer_options(names: Iterable[str]) -> set[str]:
    from crowdsim.config import CrowdSimConfig

    defaults = CrowdSimConfig()
    out = set()
    for name in names:
        section, option = name.split(".", 1)
        if type(getattr(getattr(defaults, section), option)) is int:
            out.add(name)
    return out


class CrowdsimRuns:
    """The Workbench model's function: simulate one rule set under one set of behavioural
    parameters, over common seeds, and return the outcomes (a picklable object, so that the
    Workbench's multiprocessing evaluator can send it to its workers).

    Args:
        scenario: the scenario file the runs start from (``crowdsim/conf/scenario/``).
        workers, days, warmup_days: population size, run length and the days left out of the
            summary (``sim.warmup_days``).
        seeds: common seeds; outcomes are their means.
        fixed: options set in every run (e.g. ``platform.min_pay_mode: estimated``).
        baseline: the values of the levers and fixed options in the reference market (the
            scenario's own rules); with
            ``versus_baseline`` each experiment also runs it (cached per behavioural parameters
            and seed) and reports the changes.
        outcomes: summary metrics to report.
    """

    def __init__(
        self,
        scenario: str = "status_quo",
        workers: int = 1500,
        days: int = 28,
        warmup_days: int = 14,
        seeds: Iterable[int] = (0,),
        fixed: dict[str, Any] | None = None,
        baseline: dict[str, Any] | None = None,
        versus_baseline: bool = True,
        outcomes: Iterable[str] = OUTCOMES,
        integer: Iterable[str] = (),
    ):
        self.scenario = scenario
        self.workers, self.days, self.warmup_days = int(workers), int(days), int(warmup_days)
        self.seeds = [int(s) for s in seeds]
        self.fixed = dict(fixed or {})
        self.baseline = dict(baseline or {})
        self.versus_baseline = versus_baseline
        self.outcomes = list(outcomes)
        self.integer = set(integer)
        self.dotted: dict[str, str] = {}  # the Workbench's names (identifiers) -> options
        self._cache: dict[tuple, dict[str, float]] = {}

    # --- what one experiment is ---------------------------------------------------------------
    def options(self, params: dict[str, Any]) -> dict[str, Any]:
        """The dotted options of one run: fixed ones, then the experiment's parameters."""
        out = dict(self.fixed)
        for name, value in params.items():
            name = self.dotted.get(name, name)
            if "." not in name:
                continue  # the Workbench's own keys (names of scenarios and policies)
            out[name] = int(round(value)) if name in self.integer else _plain(value)
        return out

    def baseline_options(self, params: dict[str, Any]) -> dict[str, Any]:
        """The same market under the reference rules: the levers at their baseline values."""
        return self.options(params) | self.baseline

    def base_config(self) -> dict:
        """The scenario's composed config with the size, length and warm-up of these runs."""
        import copy

        from crowdsim.scenarios import composed

        cfg = copy.deepcopy(composed(self.scenario))
        cfg["population"]["n_workers"] = self.workers
        cfg["sim"]["days"] = self.days
        cfg["sim"]["warmup_days"] = self.warmup_days
        return cfg

    def summarize(self, per_seed: list[dict], base: list[dict] | None) -> dict[str, float]:
        """Means over seeds of the outcomes and, against ``base``, their changes."""
        out = {k: _mean([s.get(k) for s in per_seed]) for k in self.outcomes}
        if base is not None:
            ref = {k: _mean([s.get(k) for s in base]) for k in self.outcomes}
            for k in self.outcomes:
                if k == RATIO:
                    out[f"{k}_ratio"] = out[k] / ref[k] if ref[k] else float("nan")
                else:
                    out[f"{k}_change"] = out[k] - ref[k]
        return out

    def output_names(self) -> list[str]:
        names = list(self.outcomes)
        if self.versus_baseline:
            names += [f"{k}_ratio" if k == RATIO else f"{k}_change" for k in self.outcomes]
        return names

    # --- in this process ----------------------------------------------------------------------
    def run_one(self, options: dict[str, Any], seed: int) -> dict[str, float]:
        from crowdsim import run

        key = (tuple(sorted(options.items())), seed)
        if key not in self._cache:
            overrides = {k.replace(".", "__"): v for k, v in options.items()}
            summary = run(self.base_config(), seed=seed, **overrides).summary
            self._cache[key] = {k: _number(summary.get(k)) for k in self.outcomes}
        return self._cache[key]

    def __call__(self, **params: Any) -> dict[str, float]:
        per_seed = [self.run_one(self.options(params), s) for s in self.seeds]
        base = (
            [self.run_one(self.baseline_options(params), s) for s in self.seeds]
            if self.versus_baseline
            else None
        )
        return self.summarize(per_seed, base)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _mean(values: list) -> float:
    arr = np.array([_number(v) for v in values], dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def workbench_model(
    scenario: str = "status_quo",
    workers: int = 1500,
    days: int = 28,
    warmup_days: int = 14,
    seeds: Iterable[int] = (0,),
    space: str | Path | None = None,
    uncertainties: Iterable[str] | None = None,
    levers: Iterable[str] | None = None,
    versus_baseline: bool = True,
    outcomes: Iterable[str] = OUTCOMES,
    name: str = "crowdsim",
):
    """An ``ema_workbench.Model`` of crowdsim (see the module's docstring).

    Args:
        scenario: the scenario file the runs start from (its rules are the baseline).
        workers, days, warmup_days, seeds: size, length, warm-up and common seeds of each run.
        space: a parameter-space YAML as crowdsim-sensitivity reads it (default:
            ``crowdsim/calibration/sensitivity_space.yaml``): ``platform.*`` entries become
            levers, the others uncertainties, ``fixed`` entries constants.
        uncertainties, levers: keep only these names of the space (default: all).
        versus_baseline: also run each market under the scenario's own rules and report the
            changes (``<metric>_change``, ``tasks_submitted_ratio``).
        outcomes: summary metrics.
        name: the Workbench model's name (a Python identifier).

    Raises:
        ConfigError: a name that is not in the space, or a bad size.
    """
    from ema_workbench import Constant, IntegerParameter, Model, RealParameter, ScalarOutcome

    problem = _space(space)
    by_name = {p.name: p for p in problem.parameters}
    for label, chosen in (("uncertainties", uncertainties), ("levers", levers)):
        for n in chosen or []:
            if n not in by_name:
                raise ConfigError(label, n, ", ".join(by_name))
    is_lever = {n: n.startswith("platform.") for n in by_name}
    unc = [n for n in by_name if not is_lever[n] and (uncertainties is None or n in uncertainties)]
    lev = [n for n in by_name if is_lever[n] and (levers is None or n in levers)]
    if int(workers) < 1 or int(days) < 1 or not 0 <= int(warmup_days) < int(days):
        raise ConfigError(
            "workers/days/warmup_days",
            (workers, days, warmup_days),
            "workers >= 1, days >= 1, 0 <= warmup_days < days",
        )
    integer = _integer_options(by_name)
    from crowdsim.scenarios import composed

    scenario_cfg = composed(scenario)  # raises ConfigError for an unknown scenario
    fixed = dict(problem.fixed)
    baseline = {}  # the scenario's own values of the levers and of the space's fixed options
    for n in [*lev, *fixed]:
        section, option = n.split(".", 1)
        baseline[n] = scenario_cfg[section][option]
    function = CrowdsimRuns(
        scenario, workers, days, warmup_days, seeds, fixed,
        baseline=baseline if versus_baseline else None,
        versus_baseline=versus_baseline, outcomes=outcomes, integer=integer,
    )  # fmt: skip
    model = Model(name, function=function)

    def parameter(n: str):
        p = by_name[n]
        if n in integer:
            return IntegerParameter(workbench_name(n), int(round(p.low)), int(round(p.high)))
        return RealParameter(workbench_name(n), float(p.low), float(p.high))

    function.dotted = {workbench_name(n): n for n in [*by_name, *fixed]}
    model.uncertainties = [parameter(n) for n in unc]
    model.levers = [parameter(n) for n in lev]
    model.constants = [Constant(workbench_name(k), v) for k, v in fixed.items()]
    model.outcomes = [ScalarOutcome(o) for o in function.output_names()]
    return model


class LauncherEvaluator:
    """A Workbench evaluator that runs all experiments as one crowdsim sweep on a Hydra launcher.

    Use it as the Workbench's own: ``with LauncherEvaluator(model, out, launcher="cores",
    jobs=2) as ev: experiments, outcomes = ev.perform_experiments(scenarios=32, policies=4)``.
    Runs land in ``out/<set>/seed_<k>`` (a set per distinct market: experiments that share the
    baseline share its runs) and are reused when the evaluation is repeated.
    """

    def __new__(cls, *args, **kwargs):
        from ema_workbench.em_framework.evaluators import BaseEvaluator

        class _Evaluator(_LauncherEvaluator, BaseEvaluator):
            pass

        obj = BaseEvaluator.__new__(_Evaluator)
        obj.__init__(*args, **kwargs)
        return obj


class _LauncherEvaluator:
    def __init__(
        self, model, out: str | Path, launcher: str | None = None, jobs: int = 1, options=()
    ):
        from ema_workbench.em_framework.evaluators import BaseEvaluator

        BaseEvaluator.__init__(self, model)
        self.out = Path(out)
        self.launcher, self.jobs, self.launcher_options = launcher, jobs, list(options)

    def initialize(self) -> None:
        pass

    def finalize(self) -> None:
        pass

    def evaluate_experiments(self, experiments, callback: Callable, **kwargs) -> None:
        experiments = list(experiments)
        if not experiments:
            return
        by_name = {m.name: m for m in self._msis}
        sets: dict[tuple, str] = {}
        wanted = []
        for exp in experiments:
            model = by_name[exp.model_name]
            fn: CrowdsimRuns = model.function
            params = (
                dict(exp.scenario) | dict(exp.policy) | {c.name: c.value for c in model.constants}
            )
            own = fn.options(params)
            base = fn.baseline_options(params) if fn.versus_baseline else None
            for opts in (own, base):
                if opts is not None:
                    sets.setdefault(tuple(sorted(opts.items())), f"set_{len(sets):04d}")
            wanted.append((exp, model, own, base))
        first = wanted[0][1].function
        runs = self._run_sets(first, {v: dict(k) for k, v in sets.items()})
        for exp, model, own, base in wanted:
            fn = model.function
            per_seed = [runs[(sets[tuple(sorted(own.items()))], s)] for s in fn.seeds]
            ref = (
                [runs[(sets[tuple(sorted(base.items()))], s)] for s in fn.seeds]
                if base is not None
                else None
            )
            model.outcomes_output = fn.summarize(per_seed, ref)
            outcomes = dict(model.outcomes_output)
            model.reset_model()
            callback(exp, outcomes)

    def _run_sets(self, fn: CrowdsimRuns, sets: dict[str, dict]) -> dict[tuple, dict]:
        """Every set x seed through crowdsim's job runner; the outcomes of each run."""
        import json

        from crowdsim.sweeps.grid import (
            MEASURED_SUBDIR,
            PARAMETER_GROUP,
            launcher_overrides,
            run_grid,
            write_parameter_sets,
        )
        from crowdsim.sweeps.job import job_state

        sweep_dir = self.out.resolve()
        conf = write_parameter_sets(sweep_dir, sets)
        grid = [
            f"scenario={fn.scenario}",
            f"+{PARAMETER_GROUP}={','.join(sets)}",
            f"seed={','.join(map(str, fn.seeds))}",
            f"population.n_workers={fn.workers}",
            f"sim.days={fn.days}",
            f"sim.warmup_days={fn.warmup_days}",
            "hydra.callbacks.sweep_results.progress_seconds=0",
            "hydra.callbacks.sweep_results.aggregate=false",
        ]
        launcher = launcher_overrides(self.launcher, self.jobs, self.launcher_options)
        run_grid(grid, sweep_dir, launcher, subdir=MEASURED_SUBDIR, config_dirs=[conf],
                 compose_check=False)  # fmt: skip
        out, failed = {}, []
        for name in sets:
            for seed in fn.seeds:
                folder = sweep_dir / name / f"seed_{seed}"
                if job_state(folder) != "ok":
                    failed.append(str(folder))
                    continue
                summary = json.loads((folder / "summary.json").read_text())
                out[(name, seed)] = {k: _number(summary.get(k)) for k in fn.outcomes}
        if failed:
            from crowdsim.sweeps.grid import RunsFailed

            raise RunsFailed(
                f"{len(failed)} runs did not finish, e.g. {failed[0]} (see its FAILED.json; "
                "evaluate again to retry them)"
            )
        return out
