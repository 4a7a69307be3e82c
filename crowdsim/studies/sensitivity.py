"""``crowdsim-sensitivity``: global sensitivity analysis with SALib (Morris screening, Sobol indices).

Parameters (policy levers and behavioural parameters) and their ranges are read from
``crowdsim/calibration/sensitivity_space.yaml``; the base model is a scenario (``status_quo``) with
the calibrated parameters applied (``--base-params``). For every sampled parameter set the model
runs over ``--seeds`` seeds, the same for every set (common random numbers), and each output is
averaged over seeds before the analysis:

- ``wage_median_all_in``: median all-in hourly wage (USD/h), over the measurement window;
- ``share_above_local_min_wage``: share of workers whose all-in wage reaches their country's
  minimum wage;
- ``unpaid_time_share``: share of working time unpaid;
- ``platform_revenue_usd``: the platform's fee revenue over the run (USD, for the run's pool size).

**Morris** (elementary effects; ``SALib.sample.morris`` / ``SALib.analyze.morris``) screens with
``--trajectories`` x (D + 1) parameter sets: mu* (mean absolute effect), sigma (interactions or
non-linearity) and a bootstrap interval of mu*. **Sobol** (Saltelli's scheme,
``SALib.sample.sobol`` / ``SALib.analyze.sobol``, first-order and total indices) needs N x (D + 2)
sets for a base sample N (a power of 2); S1 and ST come with bootstrap intervals (``*_conf``:
half-width of the 95% interval). Log-scaled parameters are sampled uniformly in their logarithm.
Runs go through crowdsim's job runner (:func:`crowdsim.sweeps.grid.measure_grid`) on the
launcher chosen with ``--launcher`` (``cores`` with ``--jobs`` processes by default;
``local_submitit``, ``slurm``, ``ray_cluster``), in job folders
``runs/<scenario>/<method>_<row>/seed_<k>``; a sensitivity analysis run again reuses every
complete run.

**Difference mode** (``--versus status_quo``): every parameter set and seed is run under the
reference scenario and under each scenario of ``--scenario`` (comma-separated), on the same seed
(common random numbers); the analysed output is the seed-averaged difference scenario minus
reference (``diff_<output>``). The space's ``platform.*`` parameters and fixed options are left
out, since they are the rules the scenarios set. Besides mu*, sigma (and S1, ST), each row gives
the share of the space where the difference is negative (``share_negative``) and that share over
the lower and upper halves of the parameter's range (``share_negative_low`` / ``_high``): a
parameter decides the sign of a scenario's effect where these two differ. The runs of the
reference scenario are shared by all scenarios.

Writes (atomically) in ``--out``: ``morris.csv``, ``sobol.csv`` and ``sobol.parquet`` (one row
per output x parameter; per scenario x output x parameter in difference mode, with
``sign_summary.csv``: mean difference and share negative per scenario and output),
``samples_<method>.parquet`` (every parameter set with its seed-averaged outputs),
``morris.png``, ``sobol.png`` and ``sensitivity.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from crowdsim.cli.arguments import int_at_least
from crowdsim.config import ConfigError, flatten
from crowdsim.files import (
    atomic_write_csv,
    atomic_write_figure,
    atomic_write_parquet,
    atomic_write_text,
)
from crowdsim.studies.calibrate import (
    Parameter,
)
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

DEFAULT_SPACE = CALIBRATION_DIR / "sensitivity_space.yaml"
DEFAULT_BASE = CALIBRATION_DIR / "calibrated.yaml"
OUTPUTS = (
    "wage_median_all_in",
    "share_above_local_min_wage",
    "unpaid_time_share",
    "platform_revenue_usd",
)
METHODS = ("morris", "sobol", "both")


# ----------------------------------------------------------------------------- problem definition
@dataclass
class Problem:
    """A SALib problem over named parameters (log-scaled ones are sampled in their logarithm)."""

    parameters: list[Parameter]
    fixed: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def salib(self) -> dict:
        bounds = [
            [np.log(p.low), np.log(p.high)] if p.log else [p.low, p.high] for p in self.parameters
        ]
        return {"num_vars": len(self.parameters), "names": self.names, "bounds": bounds}

    def to_values(self, X: np.ndarray) -> np.ndarray:
        """Sampled (possibly log) coordinates -> parameter values."""
        X = np.array(X, dtype=float, copy=True)
        for j, p in enumerate(self.parameters):
            if p.log:
                X[:, j] = np.exp(X[:, j])
        return X


def load_problem(path: str | Path = DEFAULT_SPACE, only: list[str] | None = None) -> Problem:
    from crowdsim.config import check_key_exists
    from crowdsim.studies.calibrate import load_space

    params = load_space(path, only)
    raw = yaml.safe_load(Path(path).read_text()) or {}
    fixed = flatten(raw.get("fixed") or {})
    for k in fixed:
        check_key_exists(None, k)
    if len(params) < 2:
        raise ConfigError("--params", ",".join(p.name for p in params), "at least two parameters")
    return Problem(params, fixed)


# ----------------------------------------------------------------------------- SALib wrappers
def sobol_sample(problem: dict, n: int, seed: int = 0) -> np.ndarray:
    """Saltelli's sample for first-order and total indices: n x (D + 2) rows (n a power of 2)."""
    from SALib.sample import sobol

    if n < 2 or n & (n - 1):
        raise ConfigError(
            "--n", n, "a power of 2 >= 2 (Sobol' sequences balance only at powers of 2)"
        )
    return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


def sobol_indices(
    problem: dict, Y: np.ndarray, resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """First-order and total Sobol indices with bootstrap 95% intervals (``*_conf`` = half-width)."""
    from SALib.analyze import sobol

    Y = np.asarray(Y, dtype=float)
    if not np.all(np.isfinite(Y)):
        Y = np.where(np.isfinite(Y), Y, np.nanmean(Y))
    res = sobol.analyze(
        problem,
        Y,
        calc_second_order=False,
        num_resamples=resamples,
        conf_level=0.95,
        seed=seed,
        print_to_console=False,
    )
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "S1": res["S1"],
            "S1_conf": res["S1_conf"],
            "ST": res["ST"],
            "ST_conf": res["ST_conf"],
        }
    )


def morris_sample(problem: dict, trajectories: int, levels: int = 4, seed: int = 0) -> np.ndarray:
    from SALib.sample import morris

    return morris.sample(problem, trajectories, num_levels=levels, seed=seed)


def morris_indices(
    problem: dict,
    X: np.ndarray,
    Y: np.ndarray,
    levels: int = 4,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    from SALib.analyze import morris

    Y = np.asarray(Y, dtype=float)
    if not np.all(np.isfinite(Y)):
        Y = np.where(np.isfinite(Y), Y, np.nanmean(Y))
    res = morris.analyze(
        problem,
        X,
        Y,
        num_levels=levels,
        num_resamples=resamples,
        conf_level=0.95,
        seed=seed,
        print_to_console=False,
    )
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "mu": res["mu"],
            "mu_star": res["mu_star"],
            "mu_star_conf": res["mu_star_conf"],
            "sigma": res["sigma"],
        }
    )


# ----------------------------------------------------------------------------- evaluation
def parameter_sets(values: np.ndarray, problem: Problem) -> list[dict]:
    """One override dict per sampled row (integer options, e.g. ``workers.exit_days``, rounded)."""
    from crowdsim.config import to_config

    defaults = to_config({})
    integer = {
        n
        for n in problem.names
        if type(getattr(getattr(defaults, n.split(".")[0]), n.split(".")[1])) is int
    }
    return [
        problem.fixed
        | {
            n: round(v) if n in integer else float(v)
            for n, v in zip(problem.names, row, strict=True)
        }
        for row in values
    ]


def measure_sets(
    psets: list[dict],
    scenarios: list[str],
    seeds: list[int],
    workers: int,
    days: int,
    warmup_days: float,
    outputs: list[str],
    jobs: int,
    sets: list[str] | None = None,
    base_params: dict | None = None,
    sweep_dir: str | Path = "results/sensitivity/runs",
    prefix: str = "set",
    launcher: str | None = None,
) -> pd.DataFrame:
    """Every parameter set x seed x scenario through the job runner
    (:func:`crowdsim.sweeps.grid.measure_grid`, job folders
    ``SWEEP_DIR/<scenario>/<prefix>_<row>/seed_<k>``, complete ones reused); one row per run:
    scenario, row (index in ``psets``), seed and the outputs."""
    from crowdsim.sweeps.grid import launcher_overrides, measure_grid

    model_sets, hydra_sets = split_sets(list(sets or []))
    named = {f"{prefix}_{i:04d}": dict(base_params or {}) | ps for i, ps in enumerate(psets)}
    fixed = grid_overrides(scenarios[0], workers, days, model_sets)[1:]  # scenario: swept
    moments = measure_grid(
        named,
        seeds,
        fixed,
        warmup_days,
        outputs,
        sweep_dir,
        launcher_overrides(launcher, jobs, hydra_sets),
        scenarios=scenarios,
    )
    rows = []
    for sc in scenarios:
        for i, name in enumerate(named):
            for seed in seeds:
                rows.append({"scenario": sc, "row": i, "seed": seed} | moments[(sc, name, seed)])
    return pd.DataFrame(rows)


def evaluate_samples(
    values: np.ndarray,
    problem: Problem,
    scenario: str,
    seeds: list[int],
    workers: int,
    days: int,
    warmup_days: float,
    outputs: list[str],
    jobs: int,
    **runs: Any,
) -> pd.DataFrame:
    """Run every parameter set over every seed in ``scenario``; return one row per set with
    seed-averaged outputs. ``runs``: the options of :func:`measure_sets` after ``jobs``."""
    names = problem.names
    psets = parameter_sets(values, problem)
    per_seed = measure_sets(
        psets, [scenario], seeds, workers, days, warmup_days, outputs, jobs, **runs
    )
    means = per_seed.groupby("row")[outputs].mean().sort_index()
    frame = pd.DataFrame([{n: ps[n] for n in names} for ps in psets])
    for o in outputs:
        frame[o] = means[o].to_numpy()
        frame[f"{o}_seed_sd"] = (
            per_seed.groupby("row")[o].std(ddof=1).sort_index().to_numpy()
            if len(seeds) > 1
            else np.nan
        )
    return frame


@dataclass
class SensitivitySettings(StudyOptions):
    """A sensitivity analysis's settings: the shared study options (:class:`StudyOptions`) and
    its own."""

    seeds: int = 2
    seed_start: int = 2000
    workers: int = 800
    days: int = 56  # 14 measured days after the calibration's 42-day warm-up
    warmup_days: float = 42.0
    jobs: int = 2
    out: str = "results/sensitivity"
    method: str = "both"
    n: int = 32
    trajectories: int = 10
    levels: int = 4
    resamples: int = 1000
    sampler_seed: int = 0
    scenario: str = "status_quo"
    versus: str | None = None  # reference scenario of the difference mode
    space: str = str(DEFAULT_SPACE)
    params: list[str] = field(default_factory=list)
    base_params: str | None = str(DEFAULT_BASE)
    outputs: list[str] = field(default_factory=lambda: list(OUTPUTS))


def _check(s: SensitivitySettings) -> None:
    from crowdsim.moments import MOMENTS

    if s.method not in METHODS:
        raise ConfigError("--method", s.method, ", ".join(METHODS))
    for o in s.outputs:
        if o not in MOMENTS:
            raise ConfigError("--outputs", o, ", ".join(MOMENTS))
    if not 0 <= s.warmup_days < s.days:
        raise ConfigError(
            "--warmup-days", s.warmup_days, f"a number >= 0 and below --days ({s.days})"
        )
    if s.method in ("sobol", "both") and (s.n < 2 or s.n & (s.n - 1)):
        raise ConfigError(
            "--n", s.n, "a power of 2 >= 2 (Sobol' sequences balance only at powers of 2)"
        )
    if s.levels < 2 or s.levels % 2:
        raise ConfigError("--levels", s.levels, "an even integer >= 2")
    names = scenario_list(s.scenario)
    if not names:
        raise ConfigError(
            "--scenario", s.scenario, "one scenario (several, comma-separated, with --versus)"
        )
    if s.versus is None and len(names) > 1:
        raise ConfigError("--scenario", s.scenario, "one scenario unless --versus is given")
    if s.versus is not None:
        from crowdsim.cli.overrides import config_groups

        known = config_groups().get("scenario", [])
        if s.versus not in known:
            raise ConfigError("--versus", s.versus, ", ".join(known))
        if s.versus in names:
            raise ConfigError("--versus", s.versus, "a scenario other than those of --scenario")


def scenario_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


# ----------------------------------------------------------------------------- difference mode
def policy_free(problem: Problem) -> Problem:
    """The problem without the ``platform.*`` parameters and fixed options (a scenario's rules)."""
    keep = [p for p in problem.parameters if not p.name.startswith("platform.")]
    if len(keep) < 2:
        raise ConfigError(
            "--space",
            ",".join(problem.names),
            "at least two behavioural (not platform.*) parameters",
        )
    fixed = {k: v for k, v in problem.fixed.items() if not k.startswith("platform.")}
    return Problem(keep, fixed)


def evaluate_differences(
    values: np.ndarray,
    problem: Problem,
    scenarios: list[str],
    versus: str,
    seeds: list[int],
    workers: int,
    days: int,
    warmup_days: float,
    outputs: list[str],
    jobs: int,
    **runs: Any,
) -> dict[str, pd.DataFrame]:
    """Run every parameter set and seed under each of ``scenarios`` (``versus`` among them);
    per scenario other than ``versus``, one row per set with the seed-averaged levels and the
    seed-averaged differences from ``versus`` on the same seed (``diff_<output>``).
    ``runs``: the options of :func:`measure_sets` after ``jobs``."""
    names = problem.names
    psets = parameter_sets(values, problem)
    per_run = measure_sets(
        psets, list(scenarios), seeds, workers, days, warmup_days, outputs, jobs, **runs
    )
    ref = per_run[per_run["scenario"] == versus].set_index(["row", "seed"])[outputs]
    frames = {}
    for sc in scenarios:
        if sc == versus:
            continue
        own = per_run[per_run["scenario"] == sc].set_index(["row", "seed"])[outputs]
        diff = (own - ref.loc[own.index]).add_prefix("diff_")
        both = pd.concat([own, diff], axis=1).groupby(level="row").mean().sort_index()
        frame = pd.DataFrame([{n: ps[n] for n in names} for ps in psets])
        frame.insert(0, "scenario", sc)
        for c in both.columns:
            frame[c] = both[c].to_numpy()
        for o in outputs:
            frame[f"{versus}_{o}"] = ref[o].groupby(level="row").mean().sort_index().to_numpy()
        frames[sc] = frame
    return frames


def sign_shares(frame: pd.DataFrame, problem: Problem, column: str) -> pd.DataFrame:
    """Share of parameter sets where ``column`` < 0, overall and in each half of each range."""
    y = frame[column].to_numpy()
    rows = []
    for p in problem.parameters:
        x = frame[p.name].to_numpy()
        mid = np.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2
        low, high = y[x < mid], y[x >= mid]
        rows.append(
            {
                "parameter": p.name,
                "share_negative": float(np.mean(y < 0)),
                "share_negative_low": float(np.mean(low < 0)) if len(low) else np.nan,
                "share_negative_high": float(np.mean(high < 0)) if len(high) else np.nan,
            }
        )
    t = pd.DataFrame(rows)
    t["sign_swing"] = (t["share_negative_high"] - t["share_negative_low"]).abs()
    return t


def run_sensitivity(s: SensitivitySettings) -> dict[str, pd.DataFrame]:
    """Run Morris and/or Sobol over the configured space; write tables and plots; return the tables."""
    _check(s)
    t0 = time.perf_counter()
    problem = load_problem(s.space, s.params or None)
    if s.versus is not None:
        problem = policy_free(problem)
    scenarios = scenario_list(s.scenario)
    names = scenarios if s.versus is None else [s.versus, *scenarios]
    base_params = {}
    if s.base_params:
        from crowdsim.studies.validate import load_params

        base_params = load_params(s.base_params, "--base-params")
    model_sets = [o for o in s.sets if not o.lstrip("+~").startswith("hydra")]
    for sc in names:  # each scenario composes and validates with the options given
        check_run_size(base_config(sc, model_sets), s.workers, s.days)
    from crowdsim.cli.overrides import check_tool_launcher

    check_tool_launcher(s.launcher, [o for o in s.sets if o not in model_sets])
    seeds = s.seed_list()
    sp = problem.salib()
    out = Path(s.out)
    tables: dict[str, pd.DataFrame] = {}
    runs = 0
    methods = {
        "morris": (
            lambda: morris_sample(sp, s.trajectories, s.levels, s.sampler_seed),
            lambda X, y: morris_indices(sp, X, y, s.levels, s.resamples, s.sampler_seed),
        ),
        "sobol": (
            lambda: sobol_sample(sp, s.n, s.sampler_seed),
            lambda X, y: sobol_indices(sp, y, s.resamples, s.sampler_seed),
        ),
    }
    signs = []
    for method, (sample, analyse) in methods.items():
        if s.method not in (method, "both"):
            continue
        X = sample()
        args = (seeds, s.workers, s.days, s.warmup_days, s.outputs, s.jobs)
        options = dict(
            sets=s.sets,
            base_params=base_params,
            sweep_dir=out / "runs",
            prefix=method,
            launcher=s.launcher,
        )
        if s.versus is None:
            frames = {
                scenarios[0]: evaluate_samples(
                    problem.to_values(X), problem, scenarios[0], *args, **options
                )
            }
            columns = list(s.outputs)
        else:
            frames = evaluate_differences(
                problem.to_values(X), problem, names, s.versus, *args, **options
            )
            columns = [f"diff_{o}" for o in s.outputs]
        runs += len(X) * len(seeds) * len(names)
        atomic_write_parquet(
            out / f"samples_{method}.parquet", pd.concat(frames.values(), ignore_index=True)
        )
        rows = []
        for sc, frame in frames.items():
            for o, c in zip(s.outputs, columns, strict=True):
                t = analyse(X, frame[c].to_numpy())
                if s.versus is not None:
                    t = t.merge(sign_shares(frame, problem, c), on="parameter")
                    t.insert(0, "scenario", sc)
                    if method == "morris":
                        signs.append(
                            {
                                "scenario": sc,
                                "versus": s.versus,
                                "output": o,
                                "mean_diff": float(frame[c].mean()),
                                "min_diff": float(frame[c].min()),
                                "max_diff": float(frame[c].max()),
                                "share_negative": float(np.mean(frame[c] < 0)),
                                "sets": len(frame),
                            }
                        )
                t.insert(1 if s.versus is not None else 0, "output", c)
                rows.append(t)
        tables[method] = pd.concat(rows, ignore_index=True)
        atomic_write_csv(out / f"{method}.csv", tables[method])
        if method == "sobol":
            atomic_write_parquet(out / "sobol.parquet", tables["sobol"])
        plot = morris_plot if method == "morris" else sobol_plot
        plot(_plottable(tables[method]), out / f"{method}.png")
    if signs:
        tables["signs"] = pd.DataFrame(signs)
        atomic_write_csv(out / "sign_summary.csv", tables["signs"])
    meta = {
        "settings": s.__dict__,
        "base_params": base_params,
        "fixed": problem.fixed,
        "parameters": problem.names,
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
        "evaluation": "crowdsim's job runner on "
        + (s.launcher or ("cores" if s.jobs > 1 else "sequential"))
        + " (job folders in runs/); seed-averaged outputs with common random numbers",
    }
    atomic_write_text(out / "sensitivity.json", json.dumps(meta, indent=2, default=str))
    return tables


def _plottable(table: pd.DataFrame) -> pd.DataFrame:
    """One panel per output (per scenario and output in difference mode)."""
    if "scenario" not in table:
        return table
    return table.assign(output=table["scenario"] + ": " + table["output"])


def top_parameters(
    sobol: pd.DataFrame, output: str = "wage_median_all_in", k: int = 5
) -> pd.DataFrame:
    """The ``k`` parameters with the largest total Sobol index for ``output``."""
    t = sobol[sobol["output"] == output].sort_values("ST", ascending=False)
    return t.head(k).reset_index(drop=True)


# ----------------------------------------------------------------------------- plots
def _short(name: str) -> str:
    return name.split(".", 1)[-1]


def sobol_plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(
        1, len(outputs), figsize=(4.2 * len(outputs), 4.2), sharey=True, squeeze=False
    )
    for ax, o in zip(axes[0], outputs, strict=True):
        t = table[table["output"] == o]
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total (ST)", color="C0", capsize=2)
        ax.barh(
            y + 0.2,
            t["S1"],
            0.4,
            xerr=t["S1_conf"],
            label="first order (S1)",
            color="C1",
            capsize=2,
        )
        ax.set_yticks(y, [_short(p) for p in t["parameter"]])
        ax.axvline(0, color="k", lw=0.5)
        ax.set_title(o, fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Sobol indices with bootstrap 95% intervals")
    atomic_write_figure(path, fig)
    plt.close(fig)


def morris_plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.2 * len(outputs), 4), squeeze=False)
    for ax, o in zip(axes[0], outputs, strict=True):
        t = table[table["output"] == o]
        ax.errorbar(t["mu_star"], t["sigma"], xerr=t["mu_star_conf"], fmt="o", ms=4, capsize=2)
        for _, r in t.iterrows():
            ax.annotate(_short(r["parameter"]), (r["mu_star"], r["sigma"]), fontsize=7)
        ax.set_xlabel("mu* (mean |elementary effect|)")
        ax.set_ylabel("sigma")
        ax.set_title(o, fontsize=9)
    fig.suptitle("Morris screening")
    atomic_write_figure(path, fig)
    plt.close(fig)


# ----------------------------------------------------------------------------- command line
def _build(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = SensitivitySettings()
    p.add_argument("--method", default=d.method, help="morris, sobol or both (default %(default)s)")
    p.add_argument(
        "--n",
        type=int_at_least(2),
        default=d.n,
        help="Sobol base sample, a power of 2 (runs: n x (D+2) x seeds; default %(default)s)",
    )
    p.add_argument(
        "--trajectories",
        type=int_at_least(2),
        default=d.trajectories,
        help="Morris trajectories (runs: r x (D+1) x seeds; default %(default)s)",
    )
    p.add_argument(
        "--levels",
        type=int_at_least(2),
        default=d.levels,
        help="Morris grid levels, even (default %(default)s)",
    )
    add_study_options(
        p,
        d,
        helps={
            "seeds": "seeds per parameter set (default %(default)s)",
            "jobs": "parallel processes (default %(default)s)",
        },
    )
    p.add_argument(
        "--resamples",
        type=int_at_least(10),
        default=d.resamples,
        help="bootstrap resamples (default %(default)s)",
    )
    p.add_argument(
        "--sampler-seed",
        type=int_at_least(0),
        default=d.sampler_seed,
        help="seed of the samplers and bootstrap (default %(default)s)",
    )
    p.add_argument(
        "--scenario",
        default=d.scenario,
        help="scenario (default %(default)s); with --versus, one or more, comma-separated",
    )
    p.add_argument(
        "--versus",
        default=None,
        help="reference scenario: analyse each scenario's difference from it on common seeds",
    )
    p.add_argument(
        "--space",
        default=d.space,
        help="parameter space YAML (default crowdsim/calibration/sensitivity_space.yaml)",
    )
    p.add_argument(
        "--params",
        type=lambda t: [x for x in t.split(",") if x],
        default=[],
        help="comma-separated subset of the space's parameters",
    )
    p.add_argument(
        "--base-params",
        default=d.base_params,
        help="calibrated parameters applied first ('none' to skip; default "
        "crowdsim/calibration/calibrated.yaml)",
    )
    p.add_argument(
        "--outputs",
        type=lambda t: [x for x in t.split(",") if x],
        default=list(OUTPUTS),
        help="comma-separated moments (default: the four headline outputs)",
    )
    return p


def _act(args: argparse.Namespace) -> None:
    kw = vars(args)
    if kw["base_params"] in ("none", "", None):
        kw["base_params"] = None
    s = SensitivitySettings(**kw)
    tables = run_sensitivity(s)
    print(f"sensitivity tables in {s.out}")
    if "sobol" in tables:
        print("Top parameters by total Sobol index, median all-in wage:")
        t = top_parameters(
            tables["sobol"],
            "wage_median_all_in" if "wage_median_all_in" in s.outputs else s.outputs[0],
        )
        print(markdown_table(t, floatfmt=".3f"))
    if "signs" in tables:
        print(f"Differences from {s.versus} (share of the space where negative):")
        print(markdown_table(tables["signs"], floatfmt=".3g"))
        m = tables["morris"]
        first = m[m["output"] == f"diff_{s.outputs[0]}"]
        cols = [
            "scenario",
            "parameter",
            "mu_star",
            "sigma",
            "share_negative_low",
            "share_negative_high",
        ]
        print(f"Morris mu* of diff_{s.outputs[0]}, three largest per scenario:")
        top = first.sort_values("mu_star", ascending=False).groupby("scenario", sort=False).head(3)
        print(
            markdown_table(
                top[cols].sort_values(["scenario", "mu_star"], ascending=[True, False]),
                floatfmt=".3g",
            )
        )
    elif "morris" in tables:
        print("Morris mu* (first output):")
        m = tables["morris"]
        print(
            markdown_table(
                m[m["output"] == s.outputs[0]].sort_values("mu_star", ascending=False),
                floatfmt=".3g",
            )
        )


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_study("crowdsim-sensitivity", _build, _act, argv))


if __name__ == "__main__":
    main()
