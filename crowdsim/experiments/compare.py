"""``crowdsim-compare``: run named scenarios x seeds and write a comparison report into one folder.

Every scenario runs with the same seeds (0, 1, ... N-1), so scenarios that share a population
start from the same workers and requesters (common random numbers; their paths diverge once the
rules make agents act differently). Differences from the baseline scenario are therefore taken
seed by seed (paired differences).

Output folder::

    runs/<scenario>/seed_<k>/    one folder per run (summary.json, workers.parquet, ... DONE.json)
    comparison.parquet, .csv     tidy: scenario, seed, country ('all' or ISO code), metric, value
    scenarios.json               each scenario's description, rules and population
    failures.json                runs that failed (scenario, seed, error), if any
    comparison_summary.parquet, .csv   scenario x metric: mean, ci_low, ci_high (95% bootstrap over
                                 seeds), diff, diff_ci_low, diff_ci_high (paired, from the baseline)
    comparison_by_country.parquet      the same by country
    report.html                  self-contained (plots embedded); report.md beside the *.png plots

Runs that finished are kept on disk as they finish: a failed or interrupted comparison loses
nothing, and running the same command again reuses every run whose configuration is unchanged.

Example::

    crowdsim-compare --scenarios status_quo,min_pay,fairwork --seeds 5 --workers 3000 --days 28 --out results/cmp
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crowdsim.config import ConfigError

PROG = "crowdsim-compare"
MAIN_SCENARIOS = (
    "status_quo",
    "mturk_2014",
    "prolific_like",
    "transparency",
    "appeals",
    "payment_guarantee",
    "min_pay",
    "commission_cap",
    "fairwork",
    "eu_platform_work_directive",
)
SEED_PLATFORMS = ("foule_factory", "survey_panel", "ai_rating_programme", "click_farm")
SCENARIO_SETS = {"main": MAIN_SCENARIOS, "seed_platforms": SEED_PLATFORMS}
BASELINE = "status_quo"
RUNS_DIR = "runs"
TIDY_COLUMNS = ["scenario", "seed", "country", "metric", "value"]


# ---------------------------------------------------------------------------------------- input
class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _int_at_least(option: str, low: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(str(ConfigError(option, text, f"an integer >= {low}")))
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Run scenarios x seeds (same seeds for every scenario) and write a comparison report.",
    )
    p.add_argument(
        "--scenarios",
        default="main",
        help="comma-separated scenario names (crowdsim/conf/scenario/), or a set: main, seed_platforms, all (default: main)",
    )
    p.add_argument(
        "--seeds", type=_int_at_least("--seeds"), default=5, help="seeds per scenario (default 5)"
    )
    p.add_argument(
        "--seed-start",
        type=_int_at_least("--seed-start", 0),
        default=0,
        help="first seed (default 0)",
    )
    p.add_argument(
        "--workers",
        type=_int_at_least("--workers"),
        default=None,
        help="population.n_workers for every scenario (default: each scenario's own)",
    )
    p.add_argument(
        "--days",
        type=_int_at_least("--days"),
        default=None,
        help="sim.days (default: the config's, 28)",
    )
    p.add_argument(
        "--jobs",
        type=_int_at_least("--jobs"),
        default=None,
        help="parallel processes (default: min(2, CPUs, runs))",
    )
    p.add_argument(
        "--baseline",
        default=BASELINE,
        help=f"scenario the others are compared with (default {BASELINE})",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override applied to every scenario, e.g. --set platform.listing=pay (repeatable)",
    )
    p.add_argument(
        "--out", default="results/compare", help="output folder (default results/compare)"
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="rerun runs already on disk with the same configuration",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return p


def resolve_scenarios(spec: str) -> list[str]:
    """Scenario names from a comma-separated list or a named set; raise ConfigError on unknown names."""
    from crowdsim.cli import config_groups

    available = config_groups().get("scenario", [])
    names: list[str] = []
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        if part == "all":
            names.extend(available)
        elif part in SCENARIO_SETS:
            names.extend(SCENARIO_SETS[part])
        elif part in available:
            names.append(part)
        else:
            allowed = ", ".join([*SCENARIO_SETS, "all", *available])
            raise ConfigError("--scenarios", part, allowed)
    if not names:
        raise ConfigError("--scenarios", spec, "one or more scenario names")
    return list(dict.fromkeys(names))  # keep order, drop repeats


def scenario_overrides(
    scenario: str, seed: int, workers: int | None, days: int | None, extra: list[str]
) -> list[str]:
    """The Hydra overrides of one run."""
    out = [f"scenario={scenario}", f"seed={seed}"]
    if workers is not None:
        out.append(f"population.n_workers={workers}")
    if days is not None:
        out.append(f"sim.days={days}")
    return out + list(extra)


def compose_config(overrides: list[str]):
    """Compose the primary config with ``overrides`` (Hydra's compose API, no output folder)."""
    from hydra import compose, initialize_config_dir

    from crowdsim.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=PROG):
        return compose(config_name="config", overrides=overrides)


# ---------------------------------------------------------------------------------------- runs
def run_dir(out: Path, scenario: str, seed: int) -> Path:
    return Path(out) / RUNS_DIR / scenario / f"seed_{seed}"


def _config_text(cfg) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)))


def _finished(path: Path, config_text: str) -> dict | None:
    """The summary of a finished run with this exact configuration, else None."""
    try:
        if (path / "DONE.json").exists() and (path / "config.yaml").read_text() == config_text:
            return json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return None


def run_one(
    scenario: str, seed: int, overrides: list[str], out_dir: str, rerun: bool = False
) -> dict:
    """Run one scenario x seed into its folder; return ``{scenario, seed, summary, reused}`` or
    ``{scenario, seed, error}``. Never raises, so one failure cannot stop the others."""
    try:
        from omegaconf import OmegaConf

        from crowdsim.run import run, write_results

        logging.getLogger("MESA").setLevel(logging.WARNING)
        cfg = compose_config(overrides)
        path = Path(out_dir)
        text = _config_text(cfg)
        summary = None if rerun else _finished(path, text)
        reused = summary is not None
        if not reused:
            res = run(cfg)
            write_results(res, path, resolved_config=OmegaConf.to_container(cfg, resolve=True))
            summary = json.loads((path / "summary.json").read_text())
        # pay earned (accrual basis: work submitted counts with the pay it will receive), next to the
        # cash received by the end (worker_earnings_usd), which lags with slow payment rules
        accrued = pd.read_parquet(path / "workers.parquet", columns=["earnings_accrued_usd"])
        summary["worker_earnings_accrued_usd"] = float(accrued["earnings_accrued_usd"].sum())
        return {"scenario": scenario, "seed": seed, "summary": summary, "reused": reused}
    except BaseException as exc:  # noqa: BLE001 - reported, not raised (KeyboardInterrupt aside)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {
            "scenario": scenario,
            "seed": seed,
            "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "traceback": traceback.format_exc(),
        }


def tidy_summary(scenario: str, seed: int, summary: dict) -> list[dict]:
    """Rows (scenario, seed, country, metric, value) for every numeric entry of a run summary."""
    rows = []

    def add(country: str, metric: str, value: Any) -> None:
        if isinstance(value, bool):
            value = float(value)
        if value is None:
            value = float("nan")
        if isinstance(value, int | float | np.integer | np.floating):
            rows.append(
                {
                    "scenario": scenario,
                    "seed": int(seed),
                    "country": country,
                    "metric": metric,
                    "value": float(value),
                }
            )

    for key, value in summary.items():
        if key in ("scenario", "seed", "by_country", "phase_seconds"):
            continue
        add("all", key, value)
    for code, stats in (summary.get("by_country") or {}).items():
        for key, value in stats.items():
            add(code, key, value)
    return rows


def run_comparison(
    scenarios: list[str],
    seeds: list[int],
    out: Path,
    workers: int | None = None,
    days: int | None = None,
    extra: list[str] | None = None,
    jobs: int | None = None,
    rerun: bool = False,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[dict]]:
    """Run every scenario x seed (in parallel when there is more than one run and more than one
    process), keep each finished run on disk, and return the tidy frame and the failures."""
    from tqdm import tqdm

    extra = list(extra or [])
    tasks = [
        (s, k, scenario_overrides(s, k, workers, days, extra), str(run_dir(out, s, k)), rerun)
        for s in scenarios
        for k in seeds
    ]
    n_jobs = jobs or min(2, os.cpu_count() or 1)
    n_jobs = max(1, min(n_jobs, len(tasks)))
    results: list[dict] = []
    bar = tqdm(
        total=len(tasks),
        desc="runs",
        unit="run",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        if n_jobs == 1:
            for t in tasks:
                results.append(run_one(*t))
                bar.set_postfix_str(f"{t[0]} seed {t[1]}")
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(run_one, *t): t for t in tasks}
                for fut in as_completed(futures):
                    t = futures[fut]
                    try:
                        results.append(fut.result())
                    except Exception as exc:  # the worker process itself died
                        results.append(
                            {
                                "scenario": t[0],
                                "seed": t[1],
                                "error": f"{type(exc).__name__}: {exc}",
                            }
                        )
                    bar.set_postfix_str(f"{t[0]} seed {t[1]}")
                    bar.update()
    finally:
        bar.close()
    order = {(s, k): i for i, (s, k, *_rest) in enumerate(tasks)}
    results.sort(key=lambda r: order[(r["scenario"], r["seed"])])
    rows = [
        row
        for r in results
        if "summary" in r
        for row in tidy_summary(r["scenario"], r["seed"], r["summary"])
    ]
    failures = [
        {k: r[k] for k in ("scenario", "seed", "error", "traceback") if k in r}
        for r in results
        if "error" in r
    ]
    tidy = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    return tidy, failures


def scenario_info(scenarios: list[str], overrides_of) -> dict[str, dict]:
    """Description, rules (the platform config) and population of each scenario, as composed."""
    from omegaconf import OmegaConf

    info = {}
    for s in scenarios:
        cfg = compose_config(overrides_of(s))
        c = OmegaConf.to_container(cfg, resolve=True)
        c.pop("hydra", None)
        pop = c.get("population", {})
        info[s] = {
            "scenario_name": c.get("scenario_name", s),
            "description": c.get("description", ""),
            "platform": c.get("platform", {}),
            "population": {
                k: pop.get(k)
                for k in (
                    "n_workers",
                    "countries",
                    "country_mix",
                    "shares",
                    "currency",
                    "usd_per_currency",
                )
            },
            "market_type_shares": c.get("market", {}).get("type_shares", {}),
            "days": c.get("sim", {}).get("days"),
            "stated_workers": stated_workers(s),
        }
    return info


def stated_workers(scenario: str) -> int | None:
    """The real platform's number of workers when the scenario file states it
    (``population.n_workers`` set in the file itself), else None."""
    from omegaconf import OmegaConf

    from crowdsim.cli import CONFIG_DIR

    path = Path(CONFIG_DIR) / "scenario" / f"{scenario}.yaml"
    try:
        n = OmegaConf.select(OmegaConf.load(path), "population.n_workers")
    except (OSError, ValueError):
        return None
    return int(n) if isinstance(n, int) and n > 0 else None


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crowdsim-compare``; returns 0 when every run succeeded, 1 otherwise,
    and exits with 2 on bad input (one line naming the option, the value and what is allowed)."""
    import crowdsim
    from crowdsim.cli import validate_overrides
    from crowdsim.experiments.report import write_outputs
    from crowdsim.run import git_revision

    args = build_parser().parse_args(argv)
    try:
        scenarios = resolve_scenarios(args.scenarios)
        if args.baseline not in scenarios:
            raise ConfigError(
                "--baseline",
                args.baseline,
                f"one of the scenarios compared: {', '.join(scenarios)}",
            )
        for s in scenarios:  # compose and validate every scenario with the options given
            validate_overrides(
                scenario_overrides(s, args.seed_start, args.workers, args.days, args.overrides)
            )
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    t0 = time.perf_counter()
    print(f"{PROG}: {len(scenarios)} scenarios x {len(seeds)} seeds -> {out}", file=sys.stderr)
    tidy, failures = run_comparison(
        scenarios,
        seeds,
        out,
        workers=args.workers,
        days=args.days,
        extra=args.overrides,
        jobs=args.jobs,
        rerun=args.rerun,
    )
    info = scenario_info(
        scenarios,
        lambda s: scenario_overrides(s, args.seed_start, args.workers, args.days, args.overrides),
    )
    meta = {
        "scenarios": scenarios,
        "seeds": seeds,
        "workers": args.workers,
        "days": args.days,
        "overrides": args.overrides,
        "baseline": args.baseline,
        "wall_seconds_runs": round(time.perf_counter() - t0, 1),
        "command": " ".join([PROG, *(sys.argv[1:] if argv is None else argv)]),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
    }
    paths = write_outputs(out, tidy, failures, info, meta, plots=not args.no_plots)
    elapsed = time.perf_counter() - t0
    n_ok = tidy[["scenario", "seed"]].drop_duplicates().shape[0] if len(tidy) else 0
    print(
        f"{PROG}: {n_ok} of {len(scenarios) * len(seeds)} runs succeeded in {elapsed:.0f} s",
        file=sys.stderr,
    )
    for f in failures:
        print(
            f"{PROG}: run failed: {f['scenario']} seed {f['seed']}: {f['error']}", file=sys.stderr
        )
    print(f"report: {paths['report.html']}")
    print(f"        {paths['report.md']}")
    return 0 if not failures else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
