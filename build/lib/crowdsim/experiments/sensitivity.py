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
Runs are spread over joblib worker processes (not a Hydra launcher).

Writes (atomically) in ``--out``: ``morris.csv``, ``sobol.csv`` and ``sobol.parquet`` (one row
per output x parameter), ``samples_<method>.parquet`` (every parameter set with its seed-averaged
outputs), ``morris.png``, ``sobol.png`` and ``sensitivity.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crowdsim.config import ConfigError
from crowdsim.experiments.calibrate import (
    CALIBRATION_DIR,
    Parameter,
    _flatten,
    base_config,
    float_at_least,
    int_at_least,
    markdown_table,
    run_cli,
    run_moments,
    write_csv_atomic,
    write_figure_atomic,
    write_parquet_atomic,
    write_text_atomic,
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
    from crowdsim.config import _check_key_exists
    from crowdsim.experiments.calibrate import load_space

    params = load_space(path, only)
    raw = yaml.safe_load(Path(path).read_text()) or {}
    fixed = _flatten(raw.get("fixed") or {})
    for k in fixed:
        _check_key_exists(None, k)
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
def evaluate_samples(
    values: np.ndarray,
    problem: Problem,
    cfg: dict,
    seeds: list[int],
    workers: int,
    days: int,
    warmup_days: float,
    outputs: list[str],
    jobs: int,
    runner: Callable | None = None,
) -> pd.DataFrame:
    """Run every parameter set over every seed; return one row per set with seed-averaged outputs."""
    from joblib import Parallel, delayed

    runner = runner or run_moments
    names = problem.names
    psets = [
        problem.fixed | {n: float(v) for n, v in zip(names, row, strict=True)} for row in values
    ]
    jobs_list = [(i, s) for i in range(len(psets)) for s in seeds]
    out = Parallel(n_jobs=jobs, backend="loky", batch_size="auto")(
        delayed(runner)(cfg, psets[i], s, workers, days, warmup_days, outputs) for i, s in jobs_list
    )
    per_seed = pd.DataFrame(out)
    per_seed["row"] = [i for i, _ in jobs_list]
    means = per_seed.groupby("row")[outputs].mean().sort_index()
    frame = pd.DataFrame(values, columns=names)
    for o in outputs:
        frame[o] = means[o].to_numpy()
        frame[f"{o}_seed_sd"] = (
            per_seed.groupby("row")[o].std(ddof=1).sort_index().to_numpy()
            if len(seeds) > 1
            else np.nan
        )
    return frame


@dataclass
class SensitivitySettings:
    method: str = "both"
    n: int = 32
    trajectories: int = 10
    levels: int = 4
    seeds: int = 2
    seed_base: int = 2000
    workers: int = 800
    days: int = 21
    warmup_days: float = 7.0
    jobs: int = 2
    resamples: int = 1000
    sampler_seed: int = 0
    scenario: str = "status_quo"
    sets: list[str] = field(default_factory=list)
    space: str = str(DEFAULT_SPACE)
    params: list[str] = field(default_factory=list)
    base_params: str | None = str(DEFAULT_BASE)
    outputs: list[str] = field(default_factory=lambda: list(OUTPUTS))
    out: str = "results/sensitivity"


def _check(s: SensitivitySettings) -> None:
    from crowdsim.experiments.moments import MOMENTS

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


def run_sensitivity(s: SensitivitySettings) -> dict[str, pd.DataFrame]:
    """Run Morris and/or Sobol over the configured space; write tables and plots; return the tables."""
    _check(s)
    t0 = time.perf_counter()
    problem = load_problem(s.space, s.params or None)
    cfg = base_config(s.scenario, s.sets)
    base_params = {}
    if s.base_params:
        from crowdsim.experiments.validate import load_params

        base_params = load_params(s.base_params)
        cfg = _apply(cfg, base_params)
    seeds = [s.seed_base + i for i in range(s.seeds)]
    sp = problem.salib()
    out = Path(s.out)
    tables: dict[str, pd.DataFrame] = {}
    runs = 0
    if s.method in ("morris", "both"):
        X = morris_sample(sp, s.trajectories, s.levels, s.sampler_seed)
        frame = evaluate_samples(
            problem.to_values(X),
            problem,
            cfg,
            seeds,
            s.workers,
            s.days,
            s.warmup_days,
            s.outputs,
            s.jobs,
        )
        runs += len(frame) * len(seeds)
        write_parquet_atomic(out / "samples_morris.parquet", frame)
        rows = []
        for o in s.outputs:
            t = morris_indices(sp, X, frame[o].to_numpy(), s.levels, s.resamples, s.sampler_seed)
            t.insert(0, "output", o)
            rows.append(t)
        tables["morris"] = pd.concat(rows, ignore_index=True)
        write_csv_atomic(out / "morris.csv", tables["morris"])
        morris_plot(tables["morris"], out / "morris.png")
    if s.method in ("sobol", "both"):
        X = sobol_sample(sp, s.n, s.sampler_seed)
        frame = evaluate_samples(
            problem.to_values(X),
            problem,
            cfg,
            seeds,
            s.workers,
            s.days,
            s.warmup_days,
            s.outputs,
            s.jobs,
        )
        runs += len(frame) * len(seeds)
        write_parquet_atomic(out / "samples_sobol.parquet", frame)
        rows = []
        for o in s.outputs:
            t = sobol_indices(sp, frame[o].to_numpy(), s.resamples, s.sampler_seed)
            t.insert(0, "output", o)
            rows.append(t)
        tables["sobol"] = pd.concat(rows, ignore_index=True)
        write_csv_atomic(out / "sobol.csv", tables["sobol"])
        write_parquet_atomic(out / "sobol.parquet", tables["sobol"])
        sobol_plot(tables["sobol"], out / "sobol.png")
    meta = {
        "settings": s.__dict__,
        "base_params": base_params,
        "fixed": problem.fixed,
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
        "evaluation": "joblib (loky) processes; seed-averaged outputs with common random numbers",
    }
    write_text_atomic(out / "sensitivity.json", json.dumps(meta, indent=2, default=str))
    return tables


def _apply(cfg: dict, params: dict) -> dict:
    from crowdsim.config import config_to_dict, to_config
    from crowdsim.experiments.calibrate import params_to_overrides

    return config_to_dict(to_config(cfg, **params_to_overrides(params)))


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
    write_figure_atomic(path, fig)
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
    write_figure_atomic(path, fig)
    plt.close(fig)


# ----------------------------------------------------------------------------- command line
def _build(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = SensitivitySettings()
    p.add_argument("--method", default=d.method, help="morris, sobol or both (default %(default)s)")
    p.add_argument(
        "--n",
        type=int_at_least(2),
        default=d.n,
        help="Sobol base sample, a power of 2 (runs: n x (D+2) x seeds)",
    )
    p.add_argument(
        "--trajectories",
        type=int_at_least(2),
        default=d.trajectories,
        help="Morris trajectories (runs: r x (D+1) x seeds)",
    )
    p.add_argument(
        "--levels",
        type=int_at_least(2),
        default=d.levels,
        help="Morris grid levels, even (default %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=int_at_least(1),
        default=d.seeds,
        help="seeds per parameter set (default %(default)s)",
    )
    p.add_argument(
        "--seed-base",
        type=int_at_least(0),
        default=d.seed_base,
        help="first seed (default %(default)s)",
    )
    p.add_argument(
        "--workers", type=int_at_least(10), default=d.workers, help="workers (default %(default)s)"
    )
    p.add_argument(
        "--days", type=int_at_least(2), default=d.days, help="days (default %(default)s)"
    )
    p.add_argument(
        "--warmup-days",
        type=float_at_least(0.0),
        default=d.warmup_days,
        help="warm-up days (default %(default)s)",
    )
    p.add_argument(
        "--jobs",
        type=int_at_least(1),
        default=d.jobs,
        help="parallel processes (default %(default)s)",
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
        help="seed of the samplers and bootstrap",
    )
    p.add_argument("--scenario", default=d.scenario, help="scenario (default %(default)s)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Hydra override (repeatable)",
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
        help="calibrated parameters applied first ('none' to skip)",
    )
    p.add_argument(
        "--outputs",
        type=lambda t: [x for x in t.split(",") if x],
        default=list(OUTPUTS),
        help="comma-separated moments (default: the four headline outputs)",
    )
    p.add_argument("--out", default=d.out, help="output folder (default %(default)s)")
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
    if "morris" in tables:
        print("Morris mu* (first output):")
        m = tables["morris"]
        print(
            markdown_table(
                m[m["output"] == s.outputs[0]].sort_values("mu_star", ascending=False),
                floatfmt=".3g",
            )
        )


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run_cli("crowdsim-sensitivity", _build, _act, argv))


if __name__ == "__main__":
    main()
