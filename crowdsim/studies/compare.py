"""``crowdsim-compare``: run named scenarios x seeds and write a comparison report into one folder.

Every scenario runs with the same seeds (0, 1, ... N-1), so scenarios that share a population
start from the same workers and requesters (common random numbers; their paths diverge once the
rules make agents act differently). Differences from the baseline scenario are therefore taken
seed by seed (paired differences).

Two horizons, both measured over ``--days`` days after a warm-up of ``--warmup-days`` days
(default 42: with the calibrated defaults the status quo's exits balance its entries from about
week 6, docs/calibration.md):

- **long run**: each scenario from day 0, measured after its own warm-up (where its market
  settles; the report flags runs whose measured window still drifts);
- **short run**: the baseline (status quo) market for the warm-up, then the scenario's rules from
  the first measured day on (``reform=to_<scenario>`` at ``sim.reform_day`` = the warm-up,
  crowdsim/conf/reform/): what happens in the first ``--days`` days after the rule changes.
  Scenarios without a ``to_<scenario>`` reform file have no short run.

Output folder::

    runs/<scenario>/seed_<k>/    one folder per run (summary.json, workers.parquet, ... DONE.json)
    runs_short/to_<scenario>/seed_<k>/   the short-run runs (baseline, then the rule)
    comparison.parquet, .csv     tidy: scenario, seed, country ('all' or ISO code), metric, value
    scenarios.json               each scenario's description, rules and population
    failures.json                runs that failed (scenario, seed, error), if any
    comparison_summary.parquet, .csv   scenario x metric: mean, ci_low, ci_high (95% interval over
                                 seeds), diff, diff_ci_low, diff_ci_high (paired, from the baseline)
    comparison_by_country.parquet      the same by country
    comparison_short_run.parquet, comparison_short_run_summary.parquet, .csv   the same for the
                                 short run (the baseline's rows are its long-run runs: same config)
    report.html                  self-contained (plots embedded); report.md beside the *.png plots
    r_stata/                     every table above as CSV with names valid in R and Stata, and
                                 names.csv mapping them (crowdsim-export FOLDER --format dta: .dta)
    compare.log                  what the runs printed; the terminal shows one progress line

Runs that finished are kept on disk as they finish: a failed or interrupted comparison loses
nothing, and running the same command again reuses every run whose configuration is unchanged.

Example::

    crowdsim-compare --scenarios status_quo,min_pay,fairwork --seeds 5 --workers 3000 --days 28 --out results/cmp
"""

from __future__ import annotations

import argparse
import numbers
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdsim.cli.arguments import Parser
from crowdsim.config import ConfigError
from crowdsim.report.layout import (
    RUN_SUBDIR,
    RUNS_DIR,
    SHORT_RUN_SUBDIR,
    SHORT_RUNS_DIR,
    reform_name,
    run_dir,
    short_run_dir,
)
from crowdsim.studies.options import StudyOptions, add_study_options, split_sets

if TYPE_CHECKING:
    import pandas as pd

# pandas, numpy and the report are imported where they are used, so that `--help` and
# `--version` answer without loading them

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
# warm-up before the measured window: with the calibrated defaults the status quo's monthly exit
# hazard settles on its target from about week 6 (the exit rule first bites after 21 bad days);
# the calibration measured its moments after the same 42 days (docs/calibration.md)
WARMUP_DAYS = 42
MEASURED_DAYS = 28
HORIZONS = ("both", "long")
TIDY_COLUMNS = ["scenario", "seed", "country", "metric", "value"]


# ---------------------------------------------------------------------------------------- input
def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Run scenarios x seeds (same seeds for every scenario) and write a comparison report.",
    )
    p.add_argument(
        "--scenarios",
        default="main",
        help="comma-separated scenario names (crowdsim/conf/scenario/), or a set: main, seed_platforms, all (default: main)",
    )
    add_study_options(
        p,
        ComparisonSettings(),
        helps={
            "seeds": "seeds per scenario (default 5)",
            "seed_start": "first seed (default 0)",
            "workers": "population.n_workers for every scenario (default: each scenario's own)",
            "days": f"days measured after the warm-up (default {MEASURED_DAYS}); sim.days = "
            "warm-up + days",
            "warmup_days": f"days simulated before the measured window, not counted (default "
            f"{WARMUP_DAYS}: the status quo settles)",
            "jobs": "parallel processes (default: min(2, CPUs, runs))",
            "launcher": "Hydra launcher for the runs: sequential, cores, local_submitit, slurm, "
            "ray_cluster (default: cores with --jobs processes); options with --set "
            "hydra.launcher.KEY=VALUE",
            "sets": "a Hydra override applied to every scenario, e.g. --set "
            "platform.listing=pay (repeatable)",
            "out": "output folder (default results/compare)",
        },
        minimum={"workers": 1, "days": 1, "warmup_days": 0},
    )  # fmt: skip
    p.add_argument(
        "--horizon",
        choices=HORIZONS,
        default="both",
        help="long: each scenario from day 0, measured after the warm-up; both (default): also "
        "the short run, the baseline market for the warm-up then the scenario's rules (needs "
        f"--warmup-days >= 1 and --baseline {BASELINE}; otherwise only the long run)",
    )
    p.add_argument(
        "--baseline",
        default=BASELINE,
        help=f"scenario the others are compared with (default {BASELINE})",
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
    from crowdsim.cli.overrides import config_groups

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
    scenario: str,
    seed: int,
    workers: int | None,
    days: int | None,
    extra: list[str],
    warmup: int = 0,
) -> list[str]:
    """The Hydra overrides of one (long-run) run: ``days`` measured after ``warmup`` days."""
    out = [f"scenario={scenario}", f"seed={seed}"]
    if workers is not None:
        out.append(f"population.n_workers={workers}")
    if days is not None or warmup:
        out.append(f"sim.days={warmup + (days or MEASURED_DAYS)}")
    if warmup:
        out.append(f"sim.warmup_days={warmup}")
    return out + list(extra)


def short_run_scenarios(scenarios: list[str], baseline: str) -> list[str]:
    """The scenarios with a short run: a reform file ``to_<scenario>`` exists."""
    from crowdsim.cli.overrides import config_groups

    reforms = set(config_groups().get("reform", []))
    return [s for s in scenarios if s != baseline and reform_name(s) in reforms]


def short_run_overrides(
    baseline: str, scenario: str, seed: int, workers: int | None, days: int, extra: list[str],
    warmup: int,
) -> list[str]:  # fmt: skip
    """The overrides of one short run: the baseline for ``warmup`` days, then ``scenario``'s
    rules from the first measured day (the summary covers the ``days`` days after the reform)."""
    return scenario_overrides(baseline, seed, workers, days, extra, warmup) + [
        f"reform={reform_name(scenario)}",
        f"sim.reform_day={warmup}",
    ]


def compose_config(overrides: list[str]):
    """Compose the primary config with ``overrides`` (Hydra's compose API, no output folder)."""
    from hydra import compose, initialize_config_dir

    from crowdsim.cli.overrides import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=PROG):
        return compose(config_name="config", overrides=overrides)


# ---------------------------------------------------------------------------------------- runs
def read_run(path: Path) -> dict:
    """``{summary}`` of a finished run folder, or ``{error}`` for one that failed or never finished."""
    import pandas as pd

    from crowdsim.files import read_json
    from crowdsim.sweeps.job import FAILED_FILE, job_state

    state = job_state(path)
    if state == "ok":
        summary = read_json(path / "summary.json") or {}
        # pay earned (accrual basis: work submitted counts with the pay it will receive), next to
        # the cash received by the end (worker_earnings_usd), which lags with slow payment rules
        accrued = pd.read_parquet(path / "workers.parquet", columns=["earnings_accrued_usd"])
        summary["worker_earnings_accrued_usd"] = float(accrued["earnings_accrued_usd"].sum())
        return {"summary": summary}
    if state == "failed":
        failed = read_json(path / FAILED_FILE) or {}
        error = f"{failed.get('error_type', 'Error')}: {failed.get('error', '')}".splitlines()[0]
        return {"error": error, "traceback": failed.get("traceback")}
    return {"error": f"did not finish (no DONE.json in {path})"}


def tidy_summary(scenario: str, seed: int, summary: dict) -> list[dict]:
    """Rows (scenario, seed, country, metric, value) for every numeric entry of a run summary."""
    rows = []

    def add(country: str, metric: str, value: Any) -> None:
        if isinstance(value, bool):
            value = float(value)
        if value is None:
            value = float("nan")
        if isinstance(value, numbers.Real):  # numpy's numbers too
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
        if key in ("scenario", "seed", "by_country", "phase_seconds", "welfare"):
            continue
        add("all", key, value)
    for code, stats in (summary.get("by_country") or {}).items():
        for key, value in stats.items():
            add(code, key, value)
    from crowdsim.report.tables import welfare_rows

    for code, key, value in welfare_rows(summary):  # the welfare ledger, when runs have one
        add(code, key, value)
    return rows


@dataclass
class ComparisonSettings(StudyOptions):
    """A comparison's settings: the shared study options (:class:`StudyOptions`) and its own.

    Attributes:
        scenarios: the scenarios compared (names, the baseline among them).
        baseline: the scenario the others are compared with.
        short: the scenarios also run in the short run (a reform file ``to_<scenario>``).
        rerun: simulate again runs already complete for the same configuration.
        progress: show the grid's progress lines.
    """

    seeds: int = 5
    seed_start: int = 0
    workers: int | None = None
    days: int = MEASURED_DAYS  # measured after the warm-up
    warmup_days: int = WARMUP_DAYS
    jobs: int | None = None
    out: str = "results/compare"
    scenarios: list[str] = field(default_factory=lambda: list(MAIN_SCENARIOS))
    baseline: str = BASELINE
    short: list[str] = field(default_factory=list)
    rerun: bool = False
    progress: bool = True


def run_comparison(s: ComparisonSettings) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """Run every scenario x seed as one ``crowdsim -m`` grid into ``out/runs`` (the shared job
    runner, :mod:`crowdsim.sweeps.grid`, on the chosen Hydra launcher; default: ``jobs``
    local processes), reuse runs already complete for the same config, and return the tidy frame
    and the failures read from the job folders. With ``short`` (scenarios), also run their short
    runs (``baseline`` for ``warmup`` days, then the scenario's reform) into ``out/runs_short``
    and return their tidy frame third (empty without; the baseline's rows are its long-run
    runs, the same configuration)."""
    from crowdsim.sweeps.grid import launcher_overrides, run_grid

    scenarios, seeds, out, short, warmup = (
        s.scenarios,
        s.seed_list(),
        Path(s.out),
        s.short,
        s.warmup_days,
    )
    extra, launcher_options = split_sets(s.sets)
    if short and not warmup:
        raise ConfigError("--warmup-days", warmup, "at least 1 for a short run")
    n_runs = (len(scenarios) + len(short)) * len(seeds)
    n_jobs = max(1, min(s.jobs or min(2, os.cpu_count() or 1), n_runs))
    if s.rerun:  # forget completed runs: every run is simulated again
        for k in seeds:
            for name in scenarios:
                (run_dir(out, name, k) / "DONE.json").unlink(missing_ok=True)
            for name in short:
                (short_run_dir(out, name, k) / "DONE.json").unlink(missing_ok=True)
    seed_list = ",".join(map(str, seeds))
    options = list(launcher_options)
    if not s.progress:
        options.append("hydra.callbacks.sweep_results.progress_seconds=0")
    launch = launcher_overrides(s.launcher, n_jobs, options)
    fixed = scenario_overrides(scenarios[0], seeds[0], s.workers, s.days, extra, warmup)
    # every long run may start from a warm-up of its own market (sim.share_warmup), whether or
    # not this comparison has short runs: the same jobs, so a later comparison reuses them
    long_grid = [f"scenario={','.join(scenarios)}", f"seed={seed_list}", *fixed[2:]]
    long_grid.append("sim.share_warmup=true")
    if short:  # the baseline's runs with each reform at the end of the warm-up
        # Each seed's warm-up is simulated once and shared (sim.share_warmup): the short runs
        # of a seed start from the same market at the reform day, with the same results as
        # replaying it. Seeds vary fastest, so the first jobs warm up different seeds. They run
        # first, so that the baseline's long run of each seed starts from that warm-up too (it
        # is the same market: the other scenarios find no warm-up of theirs and start at day 0).
        run_grid(
            [f"scenario={s.baseline}", *fixed[2:], f"reform={','.join(map(reform_name, short))}",
             f"sim.reform_day={warmup}", "sim.share_warmup=true", f"seed={seed_list}"],
            Path(out) / SHORT_RUNS_DIR,
            launch,
            subdir=SHORT_RUN_SUBDIR,
        )  # fmt: skip
        _share_warmups(Path(out) / SHORT_RUNS_DIR, Path(out) / RUNS_DIR)
    run_grid(long_grid, Path(out) / RUNS_DIR, launch, subdir=RUN_SUBDIR)
    import pandas as pd

    failures: list[dict] = []
    tidy = read_runs(out, run_dir, scenarios, seeds, failures)
    if not short:
        return tidy, failures, pd.DataFrame(columns=TIDY_COLUMNS)
    # the baseline's short run is its long run (the same configuration)
    shorts = read_runs(out, short_run_dir, short, seeds, failures, {"horizon": "short"})
    return (
        tidy,
        failures,
        pd.concat([tidy[tidy["scenario"] == s.baseline], shorts], ignore_index=True),
    )


def _share_warmups(source: Path, target: Path) -> None:
    """Hard links (copies where links fail) in ``target``'s ``warmups/`` to the warm-ups the
    sweep ``source`` saved, for a sweep of ``target`` with ``sim.share_warmup``."""
    import shutil

    from crowdsim.files import atomic_write
    from crowdsim.folders import claim
    from crowdsim.sweeps.job import WARMUP_DIR

    found = [
        p
        for p in sorted((source / WARMUP_DIR).glob("warmup_*.npz"))
        if p.is_file() and not p.is_symlink()
    ]
    if not found:
        return
    # the sweep's folder is claimed as its own before anything is written into it (the sweep's
    # claim, in this process, then finds it held: crowdsim.folders)
    folder = claim(target, "sweep") / WARMUP_DIR
    folder.mkdir(exist_ok=True)
    for path in found:
        if (folder / path.name).exists():
            continue
        try:
            os.link(path, folder / path.name)
        except OSError:  # another file system, or links not allowed
            atomic_write(folder / path.name, lambda tmp, p=path: shutil.copyfile(p, tmp))


def read_runs(
    out: Path, dir_of, scenarios: list[str], seeds: list[int], failures: list[dict],
    tag: dict | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The tidy rows of the runs ``dir_of(out, scenario, seed)``; runs that failed or never
    finished are appended to ``failures`` (with ``tag``)."""
    import pandas as pd

    rows = []
    for s in scenarios:
        for k in seeds:
            r = read_run(dir_of(out, s, k))
            if "summary" in r:
                rows.extend(tidy_summary(s, k, r["summary"]))
            else:
                failures.append({"scenario": s, "seed": k} | dict(tag or {}) | r)
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


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

    from crowdsim.cli.overrides import CONFIG_DIR

    path = Path(CONFIG_DIR) / "scenario" / f"{scenario}.yaml"
    try:
        n = OmegaConf.select(OmegaConf.load(path), "population.n_workers")
    except (OSError, ValueError):
        return None
    return int(n) if isinstance(n, int) and n > 0 else None


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crowdsim-compare``; returns 0 when every run succeeded, 1 otherwise
    (also when the outputs cannot be written: one line), and exits with 2 on bad input (one
    line naming the option, the value and what is allowed)."""
    from crowdsim.cli.arguments import io_failure

    try:
        return _main(argv)
    except OSError as exc:  # a full disk, a folder gone read-only while running
        print(f"{PROG}: {io_failure(exc)}", file=sys.stderr)
        return 1
    finally:
        from crowdsim.folders import release_kind

        release_kind("compare")  # the --out folder's lock, taken in _main


def checked_settings(args: argparse.Namespace) -> ComparisonSettings:
    """The comparison a parsed command line asks for, every run of it composed and validated
    first (the scenarios resolved, the short runs chosen); raises ConfigError (one line)."""
    from crowdsim.cli.overrides import (
        check_keys,
        check_launcher,
        config_groups,
        validate_hydra_overrides,
        validate_overrides,
    )
    from crowdsim.resources import check_sweep_size, check_writable

    scenarios = resolve_scenarios(args.scenarios)
    if args.baseline not in scenarios:
        raise ConfigError(
            "--baseline",
            args.baseline,
            f"one of the scenarios compared: {', '.join(scenarios)}",
        )
    model_sets, hydra_sets = split_sets(args.sets)
    if args.launcher is not None:
        check_launcher(args.launcher, "--launcher")
    warmup = args.warmup_days
    short = []  # the reform files start from the status quo's rules
    if args.horizon == "both" and warmup >= 1 and args.baseline == BASELINE:
        short = short_run_scenarios(scenarios, args.baseline)
    check_writable("--out", args.out)
    check_sweep_size("--seeds", args.seeds, len(scenarios) * args.seeds)
    if args.seed_start + args.seeds - 1 > 2**63 - 1:
        raise ConfigError("--seeds", args.seeds, "seeds up to 2**63 - 1 (a 64-bit integer)")
    # Hydra's own options (launcher settings): no code, a launcher that exists
    check_keys(hydra_sets, multirun=True, groups=config_groups())
    validate_hydra_overrides(hydra_sets)
    # where config files are found: the scenarios are composed from the same folders
    search = [o for o in hydra_sets if o.lstrip("+~").startswith("hydra.searchpath=")]
    for s in scenarios:  # compose and validate every run with the options given
        validate_overrides(
            scenario_overrides(
                s, args.seed_start, args.workers, args.days, model_sets, warmup
            ) + search,
            multirun=False,
        )  # fmt: skip
    for s in short:
        validate_overrides(
            short_run_overrides(
                args.baseline, s, args.seed_start, args.workers, args.days, model_sets, warmup,
            ) + search,
            multirun=False,
        )  # fmt: skip
    return ComparisonSettings.from_args(
        args, scenarios=scenarios, out=str(Path(args.out).resolve()), short=short, progress=False
    )


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)  # --help and --version end here, before the imports

    import crowdsim
    from crowdsim.report.build import write_outputs
    from crowdsim.run import git_revision

    try:
        settings = checked_settings(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    scenarios, short, warmup = settings.scenarios, settings.short, settings.warmup_days
    model_sets = split_sets(settings.sets)[0]

    out = Path(args.out).resolve()
    try:  # the folder is this comparison's alone while it runs (crowdsim.folders: a lock)
        from crowdsim.folders import FolderRefused, claim

        claim(out, "compare")
    except FolderRefused as exc:
        print(f"{PROG}: error: invalid value for option '--out': {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    seeds = settings.seed_list()
    t0 = time.perf_counter()
    print(f"{PROG}: {len(scenarios)} scenarios x {len(seeds)} seeds -> {out}", file=sys.stderr)
    from crowdsim.sweeps.joblog import LOG_FILE, runs_logged

    dirs = [run_dir(out, s, k) for s in scenarios for k in seeds]
    dirs += [short_run_dir(out, s, k) for s in short for k in seeds]
    print(f"{PROG}: each run's details -> {out / LOG_FILE}", file=sys.stderr)
    with runs_logged(out / LOG_FILE, dirs, PROG):  # one progress line; details in the log
        tidy, failures, short_tidy = run_comparison(settings)
    info = scenario_info(
        scenarios,
        lambda s: scenario_overrides(
            s, args.seed_start, args.workers, args.days, model_sets, warmup
        ),
    )
    meta = {
        "scenarios": scenarios,
        "seeds": seeds,
        "workers": args.workers,
        "days": args.days,
        "warmup_days": warmup,
        "horizon": args.horizon,
        "short_run_scenarios": short,
        "overrides": model_sets,
        "baseline": args.baseline,
        "wall_seconds_runs": round(time.perf_counter() - t0, 1),
        "command": " ".join([PROG, *(sys.argv[1:] if argv is None else argv)]),
        "crowdsim_version": crowdsim.__version__,
        "git_revision": git_revision(),
    }
    paths = write_outputs(
        out, tidy, failures, info, meta, plots=not args.no_plots, short_tidy=short_tidy
    )
    from crowdsim.export import export_folder  # the tables again, for R and Stata

    export_folder(out, ("csv",), tables=sorted(Path(out).glob("*.parquet")))
    elapsed = time.perf_counter() - t0
    n_runs = (len(scenarios) + len(short)) * len(seeds)
    print(
        f"{PROG}: {n_runs - len(failures)} of {n_runs} runs succeeded, done in "
        f"{meta['wall_seconds_runs']:.0f} s (as the report's footer says); report written in "
        f"{elapsed - meta['wall_seconds_runs']:.0f} s",
        file=sys.stderr,
    )
    for f in failures:
        horizon = " (short run)" if f.get("horizon") == "short" else ""
        print(
            f"{PROG}: run failed: {f['scenario']}{horizon} seed {f['seed']}: {f['error']}",
            file=sys.stderr,
        )
    print(f"report: {paths['report.html']}")
    print(f"        {paths['report.md']}")
    return 0 if not failures else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
