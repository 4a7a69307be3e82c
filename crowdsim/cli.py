"""The ``crowdsim`` command: a Hydra app that runs one configuration (or a sweep with ``-m``).

Before Hydra starts (and creates any output folder), the command line is checked: an unknown
scenario, a misspelt option or a value out of range ends the command with one line naming the
option, the value and what is allowed, and exit status 2.
"""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from crowdsim.config import ConfigError, register_configs, to_config

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")  # inside the package: a wheel works
PROG = "crowdsim"

register_configs()

_FLAGS_WITH_VALUE = {
    "-cn",
    "--config-name",
    "-cp",
    "--config-path",
    "-cd",
    "--config-dir",
    "--experimental-rerun",
}
_INFO_FLAGS = {
    "-h",
    "--help",
    "--hydra-help",
    "-i",
    "--info",
    "-c",
    "--cfg",
    "--resolve",
    "--shell-completion",
    "-sc",
    "--version",
}


def config_groups() -> dict[str, list[str]]:
    """Config groups under ``crowdsim/conf/`` and their options (file names without .yaml)."""
    root = Path(CONFIG_DIR)
    groups: dict[str, list[str]] = {}
    for d in sorted(p for p in root.rglob("*") if p.is_dir()):
        rel = d.relative_to(root).as_posix()
        if rel.startswith("hydra"):
            continue
        groups[rel] = sorted(p.stem for p in d.glob("*.yaml"))
    return groups


def _split_args(argv: list[str]) -> tuple[list[str], bool, bool]:
    overrides, multirun, info = [], False, False
    it = iter(argv)
    for a in it:
        if a in ("-m", "--multirun"):
            multirun = True
        elif a in _FLAGS_WITH_VALUE:
            next(it, None)
        elif a.split("=")[0] in _INFO_FLAGS or a in _INFO_FLAGS:
            info = True
        elif a.startswith("-"):
            continue
        else:
            overrides.append(a)
    return overrides, multirun, info


def _is_hydra_override(o: str) -> bool:
    key = o.lstrip("+~").split("=", 1)[0]
    return key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/")


def _expand(overrides: list[str]) -> list[list[str]]:
    """Combinations to validate: all first values, then each value of each sweep in turn."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    firsts, options = [], []
    for o, text in zip(parsed, overrides, strict=True):
        key = o.get_key_element()
        if o.is_sweep_override():
            try:
                values = list(islice(o.sweep_string_iterator(), 200))
            except Exception:  # glob() and other sweeps Hydra resolves itself
                values = []
            if not values:
                firsts.append(None)
                options.append([])
                continue
            firsts.append(f"{key}={values[0]}")
            options.append([f"{key}={v}" for v in values])
        else:
            firsts.append(text)
            options.append([])
    base = [f for f in firsts if f is not None]
    combos = [base]
    for i, vals in enumerate(options):
        for v in vals[1:]:
            combo = [v if j == i else f for j, f in enumerate(firsts) if f is not None]
            combos.append(combo)
    return combos


def _group_error(override: str, groups: dict[str, list[str]]) -> ConfigError | None:
    key, _, value = override.lstrip("+~").partition("=")
    key = key.split("@")[0]
    if (
        key in groups
        and value
        and value not in groups[key]
        and not value.startswith(("glob(", "choice("))
    ):
        return ConfigError(key, value, ", ".join(groups[key]) or "(no options)")
    return None


def validate_overrides(overrides: list[str]) -> None:
    """Compose each combination the command line asks for and validate it; raise ConfigError.

    With ``+experiment=NAME``, the grid in the experiment file (``hydra.sweeper.params``) is
    validated too, value by value, as if it had been typed on the command line.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    mine = [o for o in overrides if not _is_hydra_override(o)]
    validate_hydra_overrides([o for o in overrides if _is_hydra_override(o)])
    groups = config_groups()
    for o in mine:
        # `+experiment=NAME` and other group choices: the value must be a file in the group
        err = _group_error(o, groups)
        if err is not None and "," not in o:
            raise err
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=PROG):
        try:
            combos = _expand(_experiment_grid(mine) + mine)
        except HydraException as exc:
            raise ConfigError(
                "command line",
                " ".join(mine),
                f"Hydra override syntax ({str(exc).splitlines()[0]})",
            ) from None
        for combo in combos:
            for o in combo:
                err = _group_error(o, groups)
                if err is not None:
                    raise err
            try:
                cfg = compose(config_name="config", overrides=combo)
            except (HydraException, OmegaConfBaseException) as exc:
                raise _translate(exc, combo) from None
            to_config(cfg)


def _experiment_grid(overrides: list[str]) -> list[str]:
    """The sweep of the ``+experiment=NAME`` files on the command line, as overrides.

    Keys also given on the command line are left out: there, as in Hydra's basic sweeper, the
    command line wins.
    """
    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    def key(o: str) -> str:
        return o.lstrip("+~").split("=", 1)[0].split("@", 1)[0]

    chosen = [o for o in overrides if key(o) == "experiment" and "," not in o and "(" not in o]
    if not chosen:
        return []
    try:
        cfg = compose(config_name="config", overrides=chosen, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise _translate(exc, chosen) from None
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    given = {key(o) for o in overrides}
    return [f"{k}={v}" for k, v in params.items() if k not in given]


def launcher_options() -> dict[str, str | None]:
    """Launcher choices for ``hydra/launcher=``: name -> the plugin config it builds on.

    The files in crowdsim/conf/hydra/launcher/ (documented settings) plus the configs installed plugins
    register (``basic``, ``joblib``, ``submitit_local``, ``submitit_slurm``, ``ray``...). A file
    whose plugin is not installed maps to the missing plugin's name.
    """
    import yaml
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # importing the plugins registers their configs
    stored = {n.removesuffix(".yaml") for n in ConfigStore.instance().list("hydra/launcher")}
    options: dict[str, str | None] = dict.fromkeys(sorted(stored))
    for path in sorted((Path(CONFIG_DIR) / "hydra" / "launcher").glob("*.yaml")):
        base = None
        try:
            defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults", [])
        except yaml.YAMLError:
            defaults = []
        for d in defaults:
            if isinstance(d, str) and d != "_self_":
                base = d
        options[path.stem] = base
    return {
        name: (None if base is None or base in stored else base) for name, base in options.items()
    }


def validate_hydra_overrides(overrides: list[str]) -> None:
    """Check the launcher choice (``hydra/launcher=NAME``) before Hydra starts; raise ConfigError."""
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key.split("@")[0] != "hydra/launcher" or not value:
            continue
        options = launcher_options()
        if value not in options:
            raise ConfigError("hydra/launcher", value, ", ".join(options))
        missing = options[value]
        if missing is not None:
            raise ConfigError(
                "hydra/launcher",
                value,
                ", ".join(n for n, m in options.items() if m is None),
                message=f"invalid value for option 'hydra/launcher': {value!r} needs the '{missing}' launcher "
                f"plugin, which is not installed (install it with: pip install -e '.[cluster]')",
            )


def _translate(exc: Exception, combo: list[str]) -> ConfigError:
    from crowdsim.config import _check_key_exists

    msg = str(exc)
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    for o in combo:
        key, _, value = o.lstrip("+~").partition("=")
        if key and (key in msg or f"Key '{key.split('.')[-1]}'" in msg):
            try:
                _check_key_exists(None, key)
            except ConfigError as ce:
                return ce
            import re

            chain, e = [], exc
            while e is not None:
                chain.append(str(e))
                e = e.__cause__ or e.__context__
            text = "\n".join(chain)
            m = re.search(r"could not be converted to (\w+)", text)
            if m:
                return ConfigError(key, value, f"a value of type {m.group(1).lower()}")
            m = re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]", text)
            if m:
                return ConfigError(key, value, m.group(2))
            return ConfigError(key, value, first)
    return ConfigError("command line", " ".join(combo), first)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def hydra_main(cfg: DictConfig):
    """Run one configuration and write its results into Hydra's output folder.

    The job itself is :func:`crowdsim.experiments.jobs.run_job`: resume from DONE.json for the
    same config and version, FAILED.json for any failure (in a multirun the sweep goes on).
    """
    from crowdsim.experiments.jobs import run_job

    return run_job(cfg)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides, multirun, info = _split_args(argv)
    shows = {"-c", "--cfg", "-i", "--info", "-sc", "--shell-completion"}
    if multirun and any(a.split("=")[0] in shows for a in argv):
        print(
            f"{PROG}: error: -m/--multirun cannot be combined with --cfg or --info "
            "(drop -m to see the configuration of the first job)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if not info:
        try:
            validate_overrides(overrides)
        except ConfigError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    from crowdsim.experiments import callbacks

    callbacks.LAST_SWEEP = None
    sys.argv = [sys.argv[0], *argv]
    hydra_main()
    outcome = callbacks.LAST_SWEEP
    if multirun and outcome and (outcome.get("failed") or outcome.get("missing")):
        parts = [f"{outcome[k]} {k}" for k in ("failed", "missing") if outcome.get(k)]
        print(
            f"{PROG}: {' and '.join(parts)} of {outcome['n_jobs']} jobs; their rows in "
            f"{outcome['sweep_dir']}/sweep.parquet (status, error) and FAILED.json files say why "
            "(run the same command again to retry them)",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
