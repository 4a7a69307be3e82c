"""What every study shares: its options, declared once, and how a study's command runs.

A study (``crowdsim-compare``, ``-calibrate``, ``-validate``, ``-sensitivity``) runs many
simulations through the sweeps' grid runner and writes its tables into one folder. Its settings
object is a :class:`StudyOptions` (seeds, first seed, workers, days, warm-up, jobs, launcher,
``--set`` and ``--out``) with the study's own fields added; :func:`add_study_options` declares
those options on the study's parser, with the study's defaults, and :func:`run_study` parses the
command line and turns refused input into one line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdsim.cli.arguments import Parser, float_at_least, int_at_least
from crowdsim.config import ConfigError
from crowdsim.text import plain_text

if TYPE_CHECKING:  # pandas and numpy are imported where used: --help answers without them
    import pandas as pd

# the studies' inputs: calibration targets, search and sensitivity spaces, the fitted values
CALIBRATION_DIR = Path(__file__).resolve().parents[1] / "calibration"

LAUNCHER_HELP = (
    "Hydra launcher of the runs: sequential, cores, local_submitit, slurm, ray_cluster "
    "(default: cores with --jobs processes, sequential with --jobs 1); its options with "
    "--set hydra.launcher.KEY=VALUE"
)
# the first seed's name in crowdsim-calibrate, -validate and -sensitivity before 0.4: an alias
SEED_ALIAS = "--seed-base"


@dataclass
class StudyOptions:
    """The options every study takes.

    Attributes:
        seeds: seeds per configuration (the same seeds for every configuration).
        seed_start: the first seed; the seeds are ``seed_start, seed_start + 1, ...``.
        workers: workers in the pool (None: each scenario's own).
        days: simulated days (``crowdsim-compare``: days measured after the warm-up).
        warmup_days: days simulated before the measured window, not counted.
        jobs: parallel processes of the default launcher (None: the study's choice).
        launcher: Hydra launcher of the runs (None: cores with ``jobs`` processes).
        sets: extra Hydra overrides (``KEY=VALUE``; ``hydra.launcher.*`` for the launcher).
        out: the study's output folder.
    """

    seeds: int = 5
    seed_start: int = 0
    workers: int | None = None
    days: int = 28
    warmup_days: float = 42.0
    jobs: int | None = 2
    launcher: str | None = None
    sets: list[str] = field(default_factory=list)
    out: str = "results"

    def seed_list(self) -> list[int]:
        """The study's seeds, from :attr:`seed_start`."""
        return list(range(self.seed_start, self.seed_start + self.seeds))

    @classmethod
    def from_args(cls, args: argparse.Namespace, **extra):
        """The settings of a parsed command line (options that are not fields are left out)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names} | extra)


# each shared option: its flags, the field it sets, and the help a study may reword
_OPTIONS = (
    (("--seeds",), "seeds", "seeds per configuration (default %(default)s)"),
    (("--seed-start", SEED_ALIAS), "seed_start", "first seed (default %(default)s)"),
    (("--workers",), "workers", "workers (default %(default)s)"),
    (("--days",), "days", "days (default %(default)s)"),
    (("--warmup-days",), "warmup_days", "warm-up days (default %(default)s)"),
    (("--jobs",), "jobs", "parallel processes (default %(default)s)"),
    (("--launcher",), "launcher", LAUNCHER_HELP),
    (("--set",), "sets", "extra Hydra override (repeatable)"),
    (("--out",), "out", "output folder (default %(default)s)"),
)
# the smallest value each numeric option takes, unless a study says otherwise; an integer
# minimum makes an integer option
_MINIMUM = {"seeds": 1, "seed_start": 0, "workers": 10, "days": 2, "warmup_days": 0.0, "jobs": 1}


def add_study_options(
    parser: argparse.ArgumentParser,
    defaults: StudyOptions,
    helps: dict[str, str] | None = None,
    minimum: dict[str, float] | None = None,
) -> argparse.ArgumentParser:
    """Declare the shared options on ``parser`` with the study's ``defaults``.

    Args:
        parser: the study's parser.
        defaults: the study's settings with their defaults.
        helps: help text by field name, where the study words an option its own way.
        minimum: the smallest value by field name, where the study's differs from the usual.
    """
    helps = helps or {}
    lowest = _MINIMUM | (minimum or {})
    for flags, name, text in _OPTIONS:
        text = helps.get(name, text)
        default = getattr(defaults, name)
        if name == "seed_start":
            text = text.rstrip(")") + f"; {SEED_ALIAS} is another name of it)"
        if name == "sets":
            parser.add_argument(
                *flags, dest="sets", action="append", default=[], metavar="KEY=VALUE", help=text
            )
        elif name in lowest:
            low = lowest[name]
            kind = int_at_least(low) if isinstance(low, int) else float_at_least(low)
            parser.add_argument(*flags, dest=name, type=kind, default=default, help=text)
        else:
            parser.add_argument(*flags, dest=name, default=default, help=text)
    return parser


def run_study(
    prog: str,
    build: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    act: Callable[[argparse.Namespace], None],
    argv: list[str] | None,
) -> int:
    """Parse, run ``act(args)`` and turn a :class:`ConfigError` into one line and exit status 2
    (a failed run: 1, the runs' folders hold the tracebacks; an I/O error: 1)."""
    doc = sys.modules[act.__module__].__doc__ or ""
    parser = build(Parser(prog=prog, description=plain_text(doc.split("\n")[0])))
    args = parser.parse_args(argv)
    from crowdsim.cli.arguments import io_failure
    from crowdsim.resources import check_writable
    from crowdsim.sweeps.grid import RunsFailed

    try:
        if getattr(args, "out", None):
            check_writable("--out", args.out)
        act(args)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except RunsFailed as exc:  # the runs' folders hold the tracebacks
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:  # a full disk, a folder gone read-only while running
        print(f"{prog}: {io_failure(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    return 0


def split_sets(sets: list[str]) -> tuple[list[str], list[str]]:
    """``--set`` options of the model, and those of the launcher (``hydra.*``)."""
    hydra = [o for o in sets if o.lstrip("+~").startswith("hydra")]
    return [o for o in sets if o not in hydra], hydra


# ----------------------------------------------------------------------------- the runs
def base_config(scenario: str = "status_quo", sets: list[str] | None = None) -> dict:
    """Compose ``crowdsim/conf/config.yaml`` with a scenario and overrides; a plain validated dict."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from crowdsim.cli.overrides import CONFIG_DIR, config_groups, validate_overrides
    from crowdsim.config import config_to_dict, to_config

    scenarios = config_groups().get("scenario", [])
    if scenario not in scenarios:
        raise ConfigError("--scenario", scenario, ", ".join(scenarios))
    overrides = [f"scenario={scenario}", *(sets or [])]
    validate_overrides(overrides, multirun=False)
    with initialize_config_dir(
        config_dir=CONFIG_DIR, version_base="1.3", job_name="crowdsim-calibrate"
    ):
        cfg = compose(config_name="config", overrides=overrides)
    return config_to_dict(to_config(OmegaConf.to_container(cfg, resolve=True)))


def check_run_size(cfg: dict, workers: int, days: int) -> None:
    """Refuse (ConfigError, one line) runs of ``workers`` x ``days`` too big for this machine's
    memory, as ``crowdsim`` does before a sweep (measured grids do not compose every job first)."""
    from crowdsim.config import to_config
    from crowdsim.resources import check_memory

    check_memory(to_config(cfg, population__n_workers=int(workers), sim__days=int(days)))


def grid_overrides(scenario: str, workers: int, days: int, sets: list[str]) -> list[str]:
    """The overrides every run of a study's measured grid shares."""
    return [
        f"scenario={scenario}",
        f"population.n_workers={int(workers)}",
        f"sim.days={int(days)}",
        *sets,
    ]


# ----------------------------------------------------------------------------- output
def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    import numpy as np

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if not np.isfinite(v) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows]) + "\n"
