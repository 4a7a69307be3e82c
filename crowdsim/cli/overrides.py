"""Checking a command line before anything runs: every override, scenario file and composed config.

``crowdsim``, ``crowdsim-compare --set`` and the other tools that take Hydra overrides call
:func:`validate_overrides` before Hydra starts (so before any output folder exists). It raises
:class:`~crowdsim.config.ConfigError` with one line naming the option (or the file and line),
the value and what is allowed:

- the override syntax (``=0.1``), and a sweep (``a=0.1,0.2``) given without ``-m``;
- every key, with or without ``+``/``++``/``~``, must be an option of the schema or a config
  group (keys under ``hydra.`` are Hydra's own);
- configs cannot run code: ``_target_`` is allowed only for crowdsim's own callbacks
  (``hydra.callbacks``) and the shipped launchers and sweeper; logging factories, handler classes
  outside :mod:`logging`, and environment variables that load code are refused too
  (:func:`check_no_code`); ``--experimental-rerun`` (a pickle) is refused by the command;
- group files (scenario, population, experiment, also from ``--config-dir``): YAML syntax,
  the ``# @package _global_`` header, unknown keys and ``_target_`` are reported with the file
  and line;
- every combination the command asks for is composed and validated
  (:func:`crowdsim.config.to_config`), and its memory estimated before anything is allocated
  (:func:`crowdsim.resources.check_memory`).
"""

from __future__ import annotations

import re
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from crowdsim.config import ConfigError, check_key_exists, register_configs, to_config

register_configs()  # the schema `crowdsim_schema` that config.yaml builds on, for compose() anywhere

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # inside the package: a wheel works
PROG = "crowdsim"
# groups whose files set top-level options (`@package _global_`); `parameters`: the parameter
# sets of a measured grid (crowdsim.sweeps.grid.measure_grid)
GLOBAL_GROUPS = ("scenario", "experiment", "parameters")

# What may carry `_target_` (Hydra instantiates it): crowdsim's own callbacks, the launchers the
# files in crowdsim/conf/hydra/launcher/ build on, and Hydra's basic sweeper; `allowed_targets()`
# adds whatever the shipped configs themselves set.
ALLOWED_TARGETS = {
    # the second: the path before 0.4 (a shim), which configs of earlier sweeps may name
    "callbacks": (
        "crowdsim.sweeps.callback.SweepResults",
        "crowdsim.experiments.callbacks.SweepResults",
    ),
    "launcher": (
        "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
        "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
    ),
    "sweeper": ("hydra._internal.core_plugins.basic_sweeper.BasicSweeper",),
}


@cache
def allowed_targets() -> dict[str, tuple[str, ...]]:
    """:data:`ALLOWED_TARGETS` plus every ``_target_`` the shipped configs set (crowdsim/conf/:
    the sweep callback in config.yaml, crowdsim's own launchers in hydra/launcher/*.yaml), by
    the Hydra section they are under (``callbacks``, ``launcher``, ``sweeper``)."""
    import yaml

    found = {k: list(v) for k, v in ALLOWED_TARGETS.items()}
    root = Path(CONFIG_DIR)
    for path in sorted(root.rglob("*.yaml")):
        text = path.read_text()
        if "_target_" not in text:  # most files set none: not parsed (~30 ms for all of them)
            continue
        try:
            content = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue
        rel = path.relative_to(root).parts
        if rel[0] == "hydra" and len(rel) > 2:  # hydra/launcher/slurm.yaml: its keys are launcher's
            content = {"hydra": {rel[1]: content}}
        for key, value in _leaves(content):
            parts = key.split(".")
            if parts[-1] == "_target_" and parts[0] == "hydra" and len(parts) > 2:
                found.setdefault(parts[1], []).append(str(value))
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


# Environment variables a job may not set (hydra.job.env_set): they make processes load code.
# (The command line cannot set env_set at all, :data:`HYDRA_KEYS`; this guards configs that
# reach :func:`check_no_code` another way.)
_CODE_ENV = re.compile(r"^(LD_|DYLD_|PYTHON|GIT_|BASH_ENV$|ENV$|PERL5|NODE_OPTIONS$|RUBYOPT$)")


# ------------------------------------------------------------------------------- allow-lists
# Hydra's own keys a command line may set: an allow-list, not a block-list. Each is what a user
# of crowdsim legitimately sets (docs/sweeps.md, README.md); none changes the job's environment
# (hydra.job.env_set, env_copy), opens a file (hydra.job_logging, hydra.hydra_logging), names a
# class to instantiate (hydra.callbacks, _target_) or a package to import (pkg:// search paths).
HYDRA_KEYS = {
    "hydra.run.dir": "a single run's folder",
    "hydra.sweep.dir": "a sweep's folder",
    "hydra.sweep.subdir": "each job's folder in the sweep's",
    "hydra.verbose": "debug logging: true or logger names",
    "hydra.job.chdir": "run the job inside its folder: true or false",
    "hydra.sweeper.max_batch_size": "how many jobs a launcher is handed at once",
    "hydra.searchpath": "more config folders, file://DIR only (as --config-dir)",
    "hydra.callbacks.sweep_results.progress_seconds": "crowdsim's sweep progress",
    "hydra.callbacks.sweep_results.aggregate": "crowdsim's sweep table at the end",
    "hydra.callbacks.sweep_results.measure": "crowdsim's moments of each job",
}
HYDRA_GROUPS = ("hydra/launcher",)
# The documented options of each shipped launcher (crowdsim/conf/hydra/launcher/NAME.yaml and the
# plugin configs they build on): sizes, times, queue names. Left out on purpose: anything that
# runs commands or loads code (submitit's setup and additional_parameters, Ray's runtime_env),
# chooses where pickles are read from (submitit_folder, joblib's temp_folder), or a _target_.
LAUNCHER_OPTIONS = {
    "sequential": (),
    "cores": ("n_jobs", "batch_size", "pre_dispatch", "verbose", "timeout"),
    "local_submitit": (
        "timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes",
        "name", "stderr_to_stdout",
    ),
    "slurm": (
        "timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes",
        "name", "stderr_to_stdout", "partition", "qos", "comment", "constraint", "exclude", "gres",
        "cpus_per_gpu", "gpus_per_task", "mem_per_gpu", "mem_per_cpu", "account",
        "signal_delay_s", "max_num_timeout", "array_parallelism",
    ),
    "ray_cluster": (
        "ray.init.address", "ray.init.num_cpus", "ray.init.num_gpus", "ray.remote.num_cpus",
        "ray.remote.num_gpus", "ray.remote.memory", "ray.remote.max_retries",
    ),
}  # fmt: skip
# Resolvers a config may use in ``${...}``: the time (``${now:%Y-%m-%d}``) and Hydra's runtime
# (``${hydra:runtime.choices.scenario}``), besides plain references to other keys
# (``${scenario_name}``). Every other resolver is refused, in files and on the command line:
# ``oc.create`` and ``oc.decode`` make nodes (a hidden ``_target_``), ``oc.env`` reads the
# environment (a secret copied into config.yaml), and any resolver registered by a plugin is
# code crowdsim has not read.
ALLOWED_RESOLVERS = ("now", "hydra")


def resolvers_in(text: str) -> list[str]:
    """Names of the resolvers a string calls (``${oc.env:X}`` -> ``['oc.env']``), nested ones too."""
    if "${" not in text:
        return []
    from omegaconf import grammar_parser
    from omegaconf.errors import GrammarParseError
    from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser

    try:
        tree = grammar_parser.parse(text)
    except GrammarParseError:  # not an interpolation OmegaConf can read: any name-like part
        return re.findall(r"\$\{\s*([\w.\-]+)\s*:", text)
    names, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, OmegaConfGrammarParser.InterpolationResolverContext):
            names.append(node.resolverName().getText())
        stack.extend(node.getChild(i) for i in range(getattr(node, "getChildCount", int)()))
    return names


def check_interpolations(node: Any, prefix: str = "") -> None:
    """Refuse a resolver outside :data:`ALLOWED_RESOLVERS` anywhere in a value or config tree
    (its keys too); ConfigError names the key."""
    if isinstance(node, dict):
        for k, v in node.items():
            check_interpolations(str(k), f"{prefix}{k}")
            check_interpolations(v, f"{prefix}{k}.")
        return
    if isinstance(node, list | tuple):
        for i, v in enumerate(node):
            check_interpolations(v, f"{prefix}{i}.")
        return
    if not isinstance(node, str):
        return
    for name in resolvers_in(node):
        if name not in ALLOWED_RESOLVERS:
            raise ConfigError(
                prefix.rstrip(".") or "command line",
                node,
                "plain values, or ${now:...}, ${hydra:...} and ${other.option}; no resolver "
                f"'{name}' (crowdsim configs create no objects and read no environment or files)",
            )


def _launchers_chosen(overrides: list[str]) -> list[str]:
    chosen = [
        o.partition("=")[2]
        for o in overrides
        if o.lstrip("+~").partition("=")[0].split("@")[0] == "hydra/launcher"
    ]
    # none chosen here (a tool adds its --launcher later): any shipped launcher's options; the
    # composed config then refuses an option the launcher actually used does not have
    return [n for c in chosen[-1:] for n in c.split(",")] or list(LAUNCHER_OPTIONS)


def check_hydra_override(o: Any, text: str, launchers: list[str]) -> None:
    """One override of Hydra's config (``hydra.*`` or ``hydra/GROUP``) from the command line:
    only :data:`HYDRA_KEYS`, ``hydra/launcher``, and the documented options of the chosen
    launcher (:data:`LAUNCHER_OPTIONS`); raise ConfigError naming the key and what is allowed."""
    key = o.key_or_group.split("@")[0]
    value = o.value() if o.value_type is not None else None
    launcher_keys = sorted({k for n in launchers for k in LAUNCHER_OPTIONS.get(n, ())})
    allowed = (
        ", ".join([*HYDRA_KEYS, *HYDRA_GROUPS])
        + (", hydra.launcher." + ", hydra.launcher.".join(launcher_keys) if launcher_keys else "")
        + f" (launcher {', '.join(launchers)})"
    )
    deleting = text.startswith("~")
    if key in HYDRA_GROUPS:
        ok = not deleting
    elif key in HYDRA_KEYS:
        ok = not deleting and not isinstance(value, dict) or key.endswith(".measure")
        if key == "hydra.searchpath":
            entries = value if isinstance(value, list) else [value]
            ok = ok and all(isinstance(e, str) and e.startswith("file://") for e in entries)
            if not ok:
                raise ConfigError(key, text.partition("=")[2], "a list of file://DIR folders")
        if key == "hydra.sweep.subdir" and (
            str(value).startswith(("/", "~")) or ".." in Path(str(value)).parts
        ):
            raise ConfigError(key, text.partition("=")[2], "a folder inside hydra.sweep.dir")
        if key == "hydra.job.chdir" and not isinstance(value, bool):
            raise ConfigError(key, text.partition("=")[2], "true or false")
    else:
        rest = key.removeprefix("hydra.launcher.") if key.startswith("hydra.launcher.") else None
        ok = (
            rest in launcher_keys
            and not deleting
            and not isinstance(value, dict | list)
            and "_target_" not in key.split(".")
        )
    if not ok:
        raise ConfigError(
            key,
            text.partition("=")[2] if "=" in text else text,
            f"of Hydra's keys only {allowed}; crowdsim configs set no environment, log file, "
            "callback or class",
        )


# ------------------------------------------------------------------------------ config groups
def config_dirs(extra: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Where group files are looked up: crowdsim/conf/ and any ``--config-dir``."""
    return [Path(CONFIG_DIR), *(Path(d).expanduser().resolve() for d in extra)]


def config_groups(extra: list[str] | tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Config groups (``scenario``, ``population``, ``experiment``) and their options (file
    names without .yaml), over crowdsim/conf/ and the ``extra`` config dirs."""
    groups: dict[str, set[str]] = {}
    for root in config_dirs(extra):
        if not root.is_dir():
            continue
        for d in sorted(p for p in root.rglob("*") if p.is_dir()):
            rel = d.relative_to(root).as_posix()
            if rel.startswith("hydra"):
                continue
            groups.setdefault(rel, set()).update(p.stem for p in d.glob("*.yaml"))
    return {g: sorted(names) for g, names in sorted(groups.items())}


def group_file(group: str, name: str, extra: list[str] | tuple[str, ...] = ()) -> Path | None:
    for root in config_dirs(extra):
        path = root / group / f"{name}.yaml"
        if path.is_file():
            return path
    return None


def _line_of(text: str, key: str) -> int | None:
    """Line (1-based) where the last part of a dotted key is set in a YAML text, if found."""
    for name in (key, key.split(".")[-1]):  # `platform.commission: 0.1,0.2` in sweeper params
        pattern = re.compile(rf"^\s*['\"]?{re.escape(name)}['\"]?\s*:")
        for i, line in enumerate(text.splitlines(), 1):
            if pattern.match(line):
                return i
    return None


def _where(path: Path, text: str, key: str | None = None) -> str:
    line = _line_of(text, key) if key else None
    return f"{path}, line {line}" if line else str(path)


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        out = []
        for k, v in node.items():
            out.extend(_leaves(v, f"{prefix}{k}."))
        return out or ([(prefix.rstrip("."), node)] if prefix else [])
    return [(prefix.rstrip("."), node)]


# Limits on a group file, checked before Hydra reads it (Hydra's YAML reader has none: an alias
# bomb, a few lines whose aliases double at each level, hangs it; a file that includes itself
# through `defaults:` ends in a RecursionError). The shipped files use no alias, nest 4 levels
# and are under 4 KB; the limits are far above that (assumption: what a hand-written file needs).
MAX_FILE_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_DEPTH = 32
MAX_NODES = 100_000  # values once every alias is expanded (what Hydra's merge walks)


class _TooBig(Exception):
    def __init__(self, what: str, line: int | None) -> None:
        super().__init__(what)
        self.line = line


def _limited_loader(text: str):
    """A YAML safe loader that counts aliases and nesting as it composes (_TooBig beyond)."""
    import yaml

    class Loader(yaml.SafeLoader):
        aliases = 0
        depth = 0

        def compose_node(self, parent, index):  # noqa: ANN001, ANN202 - PyYAML's signature
            line = self.peek_event().start_mark.line + 1
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise _TooBig(f"more than {MAX_ALIASES} aliases (*name)", line)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels", line)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return Loader(text)


def _check_expanded_size(root: Any) -> None:
    """_TooBig when the YAML node graph ``root``, each alias expanded, has more than
    :data:`MAX_NODES` values (an alias bomb: 9 aliases of 9 aliases of ... is 9**levels), counted
    once per distinct node (linear in the file)."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a node that contains itself (a recursive alias) counts once
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        sizes[key] = total
        return total

    if size(root) > MAX_NODES:
        line = None
        if isinstance(root, yaml.MappingNode) and root.value:
            _k, big = max(root.value, key=lambda kv: size(kv[1]))
            line = _k.start_mark.line + 1
        raise _TooBig(
            f"{size(root):,} values once its aliases are expanded (more than {MAX_NODES:,})", line
        )


def load_yaml_limited(text: str, path: Path | str, option: str, name: str | None = None) -> Any:
    """A YAML text parsed within :data:`MAX_FILE_BYTES`, :data:`MAX_ALIASES` and
    :data:`MAX_DEPTH`; ConfigError naming the file (and line) otherwise. YAML syntax errors
    propagate as yaml.YAMLError."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ConfigError(
            option,
            name,
            "",
            message=f"{path}: {len(text.encode()):,} bytes (allowed: a config file of at most "
            f"{MAX_FILE_BYTES:,} bytes)",
        )
    loader = _limited_loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return loader.construct_document(node)
    except _TooBig as exc:
        where = f"{path}, line {exc.line}" if exc.line else str(path)
        raise ConfigError(
            option,
            name,
            "",
            message=f"{where}: {exc} (allowed: at most {MAX_ALIASES} aliases, {MAX_NODES:,} "
            f"values with aliases expanded and {MAX_DEPTH} levels of nesting)",
        ) from None
    finally:
        loader.dispose()


def check_group_file(
    group: str,
    name: str,
    extra: list[str] | tuple[str, ...] = (),
    _seen: tuple[tuple[str, str], ...] = (),
) -> dict:
    """Read and check one group file and every file its ``defaults:`` list includes; return its
    content. Raise ConfigError naming the file (and line): YAML syntax, size, aliases, nesting,
    ``defaults:`` cycles, ``hydra.*`` keys (an experiment file may set its sweep,
    ``hydra.sweeper.params``, only), unknown keys, resolvers and ``_target_``."""
    import yaml

    path = group_file(group, name, extra)
    if path is None:
        return {}
    if (group, name) in _seen:
        chain = " -> ".join(f"{g}/{n}" for g, n in (*_seen, (group, name)))
        raise ConfigError(
            group,
            name,
            "",
            message=f"{path}: defaults: includes itself ({chain}) (allowed: a defaults list "
            "without cycles)",
        )
    text = path.read_text()
    try:
        content = load_yaml_limited(text, path, group, name) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            group,
            name,
            "",
            message=f"{where}: YAML syntax error: {problem} (allowed: a YAML mapping)",
        ) from None
    if not isinstance(content, dict):
        raise ConfigError(
            group,
            name,
            "",
            message=f"{path}: not a YAML mapping of options (allowed: a mapping such as "
            "'platform: {commission: 0.1}')",
        )
    header = re.search(r"^#\s*@package\s+_global_\s*$", text, flags=re.M)
    if group in GLOBAL_GROUPS and header is None:
        raise ConfigError(
            group,
            name,
            "",
            message=f"{path}: no '# @package _global_' line (allowed: {group} files start with it, "
            "so that their keys are options such as platform.commission)",
        )
    _check_defaults_list(path, text, group, content.get("defaults"), extra, (*_seen, (group, name)))
    prefix = "" if group in GLOBAL_GROUPS else f"{group}."
    _check_file_hydra_keys(path, text, group, content.get("hydra"), prefix)
    try:
        check_no_code({k: v for k, v in content.items() if k != "defaults"}, prefix)
        check_interpolations({k: v for k, v in content.items() if k != "defaults"}, prefix)
    except ConfigError as exc:
        raise ConfigError(
            exc.option, exc.value, exc.allowed, f"{_where(path, text, exc.option)}: {exc}"
        ) from None
    for key, value in _leaves({k: v for k, v in content.items() if k not in ("defaults", "hydra")}):
        try:
            check_key_exists(None, prefix + key)
            check_literal(prefix + key, value)
        except ConfigError as exc:
            raise ConfigError(
                exc.option, exc.value, exc.allowed, f"{_where(path, text, key)}: {exc}"
            ) from None
    return content


def _check_file_hydra_keys(path: Path, text: str, group: str, node: Any, prefix: str) -> None:
    """A group file sets crowdsim's options only: no ``hydra`` key (it would choose where output
    goes, the job's environment, its log files or callbacks), except an experiment file's sweep
    (``hydra.sweeper.params``); ConfigError naming the file, line and key."""
    if node is None:
        return
    sweep = node.get("sweeper", {}).get("params") if isinstance(node, dict) else None
    if group == "experiment" and isinstance(sweep, dict) and node == {"sweeper": {"params": sweep}}:
        for key, value in sweep.items():
            if _is_hydra_key(str(key)):
                raise ConfigError(
                    f"hydra.sweeper.params.{key}",
                    value,
                    "",
                    message=f"{_where(path, text, str(key))}: sweeper params: invalid option "
                    f"'{key}' (allowed: crowdsim's options; Hydra's keys only on the command line)",
                )
        return
    bad = next((k for k, _ in _leaves({"hydra": node}) if not k.startswith("hydra.sweeper.params")
                or group != "experiment"), "hydra")  # fmt: skip
    allowed = "crowdsim's options" + (
        " and hydra.sweeper.params (the sweep)" if group == "experiment" else ""
    )
    raise ConfigError(
        f"{prefix}{bad}",
        None,
        "",
        message=f"{_where(path, text, bad.split('.')[-1] if '.' in bad else 'hydra')}: invalid "
        f"option '{bad}' (allowed in a {group} file: {allowed}; Hydra's keys such as "
        "hydra.run.dir only on the command line)",
    )


def _check_defaults_list(
    path: Path,
    text: str,
    group: str,
    defaults: Any,
    extra: list[str] | tuple[str, ...],
    seen: tuple[tuple[str, str], ...] = (),
) -> None:
    """Each ``group: name`` entry of a group file's defaults list names a file of that group
    (``/population: mturk``; without ``/`` the group is under the file's own), not Hydra's
    configs, and that file is checked in turn (a cycle is refused); else ConfigError naming the
    file, the line and the group's files."""
    groups = config_groups(extra)
    for entry in defaults if isinstance(defaults, list) else []:
        if isinstance(entry, str) and entry != "_self_":  # `- other`: a file of the same group
            entry = {entry.rpartition("/")[0] or ".": entry.rpartition("/")[2]}
        if not (isinstance(entry, dict) and len(entry) == 1):
            continue
        ((key, value),) = entry.items()
        name = str(key).removeprefix("override ").removeprefix("optional ").split("@")[0].strip()
        if name == ".":
            chosen = group
        else:
            chosen = name[1:] if name.startswith("/") else f"{group}/{name}"
        if _is_hydra_key(chosen):
            raise ConfigError(
                chosen,
                value,
                "",
                message=f"{_where(path, text, str(key))}: defaults: invalid option '{chosen}' "
                f"(allowed: crowdsim's groups {', '.join(groups)}; Hydra's configs are chosen "
                "on the command line)",
            )
        if value is not None and str(value) in groups.get(chosen, ()):
            check_group_file(chosen, str(value), extra, seen)
            continue
        if value is None:
            continue
        line = next(
            (i for i, ln in enumerate(text.splitlines(), 1) if re.match(
                rf"^\s*-\s*.*{re.escape(str(key))}\s*:\s*['\"]?{re.escape(str(value))}", ln)),
            None,
        )  # fmt: skip
        where = f"{path}, line {line}" if line else str(path)
        allowed = ", ".join(groups[chosen]) if chosen in groups else f"groups {', '.join(groups)}"
        raise ConfigError(
            chosen,
            value,
            allowed,
            message=f"{where}: defaults: invalid value for option '{chosen}': {value!r} "
            f"(allowed: {allowed})",
        )


def check_literal(key: str, value: Any, text: str | None = None) -> None:
    """A value typed for a true/false option must be true or false: OmegaConf would read any
    number as one (``platform.appeals=2`` is true); a mapping option is not given an empty
    mapping (``market.type_shares={}`` is merged into the defaults: nothing changes)."""
    import typing

    from crowdsim.config import describe, option_of

    option = option_of(key)
    if option is not None and option.type is bool and not isinstance(value, bool):
        raise ConfigError(key, value if text is None else text, "true or false")
    if option is not None and value == {} and typing.get_origin(option.type) is dict:
        # merged into the defaults, an empty mapping would change nothing, silently
        keys = option.meta.get("keys")
        allowed = f"a mapping with keys among {', '.join(keys)}" if keys else describe(*option[1:])
        raise ConfigError(key, text or "{}", f"{allowed}; an empty one changes nothing")


# ------------------------------------------------------------------------------- running code
def check_no_code(node: Any, prefix: str = "") -> None:
    """Refuse anything in a config tree that would make Hydra or logging import and call code.

    ``_target_`` is allowed only for the entries of :data:`ALLOWED_TARGETS` (under
    ``hydra.callbacks``, ``hydra.launcher``, ``hydra.sweeper``); logging handler classes must come
    from :mod:`logging`; ``()`` factories are refused; ``hydra.job.env_set`` may not set variables
    that load code (``LD_PRELOAD``, ``PYTHONPATH``...).
    """
    if isinstance(node, list | tuple):
        for i, v in enumerate(node):
            check_no_code(v, f"{prefix}{i}.")
        return
    if not isinstance(node, dict):
        return
    for k, v in node.items():
        key = f"{prefix}{k}"
        if k == "_target_":
            parts = key.split(".")
            section = parts[1] if len(parts) > 2 and parts[0] == "hydra" else None
            allowed = allowed_targets().get(section or "", ())
            if v not in allowed:
                what = (
                    ", ".join(allowed)
                    if allowed
                    else "no _target_ here: crowdsim configs cannot run code"
                )
                raise ConfigError(key, v, what)
        elif k == "()":
            raise ConfigError(key, v, "no '()' factories: crowdsim configs cannot run code")
        elif k == "class" and re.match(r"^hydra\.(job|hydra)_logging\.", key):
            if not (isinstance(v, str) and re.fullmatch(r"logging(\.\w+)+", v)):
                raise ConfigError(
                    key, v, "a handler class of the logging module, e.g. logging.StreamHandler"
                )
        elif prefix == "hydra.job.env_set." and _CODE_ENV.match(str(k)):
            raise ConfigError(
                key, v, "environment variables that do not load code (not LD_*, PYTHON*, GIT_*...)"
            )
        check_no_code(v, f"{key}.")


# ------------------------------------------------------------------------------- overrides
def _parse(overrides: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.append(parser.parse_override(text))
        except HydraException as exc:
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "syntax error"
            raise ConfigError(
                "command line",
                text,
                f"KEY=VALUE overrides such as platform.commission=0.1 ({detail})",
            ) from None
    return parsed


def _is_hydra_key(key: str) -> bool:
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


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


def check_keys(overrides: list[str], multirun: bool, groups: dict[str, list[str]]) -> None:
    """Syntax, keys and code of each override, before composing anything."""
    launchers = _launchers_chosen(overrides)
    for o, text in zip(_parse(overrides), overrides, strict=True):
        key = o.key_or_group
        value = text.partition("=")[2]
        if not key:
            raise ConfigError(
                "command line", text, "KEY=VALUE overrides such as platform.commission=0.1"
            )
        if key.split("@")[0] in groups and o.value_type is not None and not o.is_sweep_override():
            if not isinstance(o.value(), str):
                raise ConfigError(
                    key,
                    value,
                    f"a file of the group ({', '.join(groups[key.split('@')[0]])}); a name that "
                    f"reads as a number or true/false needs quotes: {key}=\"'{value}'\"",
                )
        if "_target_" in key.split(".") or key.endswith(".()") or key == "()":
            check_no_code(_nest(key, o.value() if o.value_type is not None else None))
        check_interpolations(value, key)
        if _is_hydra_key(key):
            check_hydra_override(o, text, launchers)
            continue
        if key.split("@")[0] not in groups:
            check_key_exists(None, key, o.value() if o.value_type is not None else None)
            if o.value_type is not None and not o.is_sweep_override():
                check_literal(key, o.value(), value)
                _check_rules_override(key, o.value())
        if o.is_sweep_override() and not multirun:
            raise ConfigError(
                key,
                value,
                "one value; to run several (a sweep), add -m: crowdsim -m " + text,
            )


RULES_KEY = "reform.rules"  # a mapping of options (crowdsim.config.ReformConfig.rules)


def _check_rules_override(key: str, value: Any) -> None:
    """Reform rules set on the command line are checked as the options they set."""
    from crowdsim.config import check_rules

    if key == RULES_KEY or key.startswith(RULES_KEY + "."):
        rest = key[len(RULES_KEY) + 1 :]
        rules = _nest(rest, value) if rest else value
        if isinstance(rules, dict):
            check_rules(rules)


def _nest(dotted: str, value: Any) -> dict:
    node: Any = value
    for part in reversed(dotted.split(".")):
        node = {part: node}
    return node


def _expand(overrides: list[str]) -> list[list[str]]:
    """Combinations to validate: all first values, then each value of each sweep in turn."""
    parsed = _parse(overrides)
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


def _searchpath(extra: list[str] | tuple[str, ...]) -> list[str]:
    if not extra:
        return []
    dirs = ",".join(f"'file://{Path(d).expanduser().resolve()}'" for d in extra)
    return [f"hydra.searchpath=[{dirs}]"]


def _searchpath_dirs(overrides: list[str]) -> list[str]:
    """The folders of ``hydra.searchpath=[file://DIR,...]`` overrides."""
    dirs = []
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key == "hydra.searchpath":
            dirs += re.findall(r"file://([^,\]'\"]+)", value)
    return dirs


def _check_not_shadowed(cfg: Any, extra: list[str]) -> None:
    """Each group file a composed config chose (``hydra.runtime.choices``) exists in one config
    folder only: Hydra takes crowdsim's own before any ``--config-dir`` or ``hydra.searchpath``
    folder, so a user's file with the name of a shipped one would be silently replaced by it."""
    from omegaconf import OmegaConf

    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None) or {}
    for group, name in choices.items():
        if name is None or _is_hydra_key(group):
            continue
        found = [p for d in config_dirs(extra) if (p := d / group / f"{name}.yaml").is_file()]
        if len(dict.fromkeys(found)) > 1:
            raise ConfigError(
                group,
                name,
                "",
                message=f"invalid value for option '{group}': {name!r} is both {found[1]} and "
                f"{found[0]}, and Hydra would use the latter (allowed: another name for yours, "
                f"e.g. {group}={name}_mine)",
            )


def chosen_files(combo: list[str], groups: dict[str, list[str]]) -> list[tuple[str, str]]:
    chosen = []
    for o in combo:
        key, _, value = o.lstrip("+~").partition("=")
        key = key.split("@")[0]
        if key in groups and value in groups[key]:
            chosen.append((key, value))
    return chosen


def validate_overrides(
    overrides: list[str], multirun: bool = True, extra_dirs: list[str] | tuple[str, ...] = ()
) -> None:
    """Check a command line: each override, each group file it chooses, and each combination it
    asks for, composed and validated; raise :class:`~crowdsim.config.ConfigError`.

    With ``+experiment=NAME``, the grid in the experiment file (``hydra.sweeper.params``) is
    validated too, value by value, as if it had been typed on the command line.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from crowdsim.resources import check_memory, check_sweep_size

    extra_dirs = [*extra_dirs, *_searchpath_dirs(overrides)]  # hydra.searchpath: as --config-dir
    groups = config_groups(extra_dirs)
    check_keys(overrides, multirun, groups)
    mine = [o for o in overrides if not _is_hydra_key(o.lstrip("+~").split("=", 1)[0])]
    validate_hydra_overrides([o for o in overrides if o not in mine])
    for o in mine:
        err = _group_error(o, groups)
        if err is not None and "," not in o:
            raise err
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=PROG):
        grid, origins = _experiment_grid(mine, extra_dirs)
        if multirun:
            check_sweep_size(*_sweep_size(grid + mine))
        combos = _expand(grid + mine)
        checked: set[tuple[str, str]] = set()
        for combo in combos:
            for o in combo:
                err = _group_error(o, groups)
                if err is not None:
                    raise err
            files = chosen_files(combo, groups)
            for gf in files:
                if gf not in checked:
                    check_group_file(*gf, extra_dirs)
                    checked.add(gf)
            try:
                cfg = compose(
                    config_name="config",
                    overrides=combo
                    + _searchpath(extra_dirs)
                    + [h for h in overrides if h not in mine],
                    return_hydra_config=True,
                )
                check_no_code(OmegaConf.to_container(cfg, resolve=False))
                check_interpolations(OmegaConf.to_container(cfg, resolve=False))
                check_no_code(resolved_container(cfg))  # what will run, interpolations resolved
                _check_not_shadowed(cfg, extra_dirs)
                job = _job_config(cfg)
            except (HydraException, OmegaConfBaseException, ConfigError, ValueError) as exc:
                err = _translate(exc, combo)
                raise _attribute(err, combo, files, extra_dirs, origins) from None
            check_memory(job)


def resolved_container(cfg: Any) -> Any:
    """A composed config as plain data with every interpolation resolved as the job will resolve
    it (``${hydra:...}`` from the composed Hydra config); a node that cannot be resolved before
    the job starts (``${hydra.runtime.output_dir}``) is left as written."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if OmegaConf.select(cfg, "hydra", default=None) is not None:
        try:
            HydraConfig.instance().set_config(cfg)
        except Exception:  # noqa: BLE001 - ${hydra:...} then stays unresolved
            pass

    def walk(node: Any) -> Any:
        try:
            return OmegaConf.to_container(node, resolve=True)
        except Exception:  # noqa: BLE001 - resolved child by child below
            pass
        if isinstance(node, DictConfig):
            out = {}
            for key in node.keys():
                child = node._get_node(key)
                out[key] = (
                    walk(child) if isinstance(child, DictConfig | ListConfig) else _leaf(child)
                )
            return out
        if isinstance(node, ListConfig):
            return [
                walk(c) if isinstance(c, DictConfig | ListConfig) else _leaf(c)
                for c in (node._get_node(i) for i in range(len(node)))
            ]
        return node

    def _leaf(node: Any) -> Any:
        try:
            return node._dereference_node()._value()
        except Exception:  # noqa: BLE001
            return node._value()

    return walk(cfg)


def _sweep_size(overrides: list[str]) -> tuple[str, int, int]:
    """The sweep option with the most values, its number of values and the number of jobs of
    the whole grid (the product), counted without listing them (``range(0,1e9)``)."""
    import math

    largest, n_largest, total = "", 1, 1
    for o in _parse(overrides):
        if not o.is_sweep_override():
            continue
        value = o.value()
        n = None
        if hasattr(value, "start") and hasattr(value, "stop"):  # RangeSweep
            step = value.step or 1
            n = max(0, math.ceil((value.stop - value.start) / step))
        elif hasattr(value, "list"):  # ChoiceSweep
            n = len(value.list)
        if n is None:  # glob(): as many as a group has files
            continue
        total *= max(n, 1)
        if n > n_largest:
            largest, n_largest = o.get_key_element(), n
    return largest, n_largest, total


def _job_config(cfg: Any) -> Any:
    """The validated CrowdSimConfig of a composed job config (its ``hydra`` node dropped)."""
    from omegaconf import OmegaConf, open_dict

    from crowdsim.config import CrowdSimConfig, validate

    with open_dict(cfg):
        cfg.pop("hydra", None)
    obj = OmegaConf.to_object(cfg)  # composed onto the schema: a CrowdSimConfig already
    if not isinstance(obj, CrowdSimConfig):
        return to_config(obj)
    validate(obj)
    return obj


def _attribute(
    err: ConfigError,
    combo: list[str],
    files: list[tuple[str, str]],
    extra: list[str] | tuple[str, ...],
    origins: dict[str, Path] | None = None,
) -> ConfigError:
    """Say which group file set the option an error names, if the command line did not: one of
    the chosen ``files``, or the experiment file whose sweep (``origins``: key -> file) it is."""
    if origins and err.option in origins:
        path = origins[err.option]
        where = _where(path, path.read_text(), err.option)
        return ConfigError(err.option, err.value, err.allowed, f"{where}: sweeper params: {err}")
    given = {o.lstrip("+~").split("=", 1)[0] for o in combo}
    if err.option in given or not files:
        return err
    import yaml

    for group, name in files:
        path = group_file(group, name, extra)
        if path is None:
            continue
        text = path.read_text()
        prefix = "" if group in GLOBAL_GROUPS else f"{group}."
        keys = {prefix + k for k, _ in _leaves(yaml.safe_load(text) or {})}
        if err.option in keys or any(k.startswith(err.option + ".") for k in keys):
            return ConfigError(
                err.option, err.value, err.allowed, f"{_where(path, text, err.option)}: {err}"
            )
    return err


def _experiment_grid(
    overrides: list[str], extra_dirs: list[str] | tuple[str, ...] = ()
) -> tuple[list[str], dict[str, Path]]:
    """The sweep of the ``+experiment=NAME`` files on the command line, as overrides, and the
    file each key comes from.

    Keys also given on the command line are left out: there, as in Hydra's basic sweeper, the
    command line wins.
    """
    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    def key(o: str) -> str:
        return o.lstrip("+~").split("=", 1)[0].split("@", 1)[0]

    chosen = [o for o in overrides if key(o) == "experiment" and "," not in o and "(" not in o]
    if not chosen:
        return [], {}
    for o in chosen:
        check_group_file("experiment", o.partition("=")[2], extra_dirs)
    try:
        cfg = compose(
            config_name="config",
            overrides=chosen + _searchpath(extra_dirs),
            return_hydra_config=True,
        )
    except (HydraException, OmegaConfBaseException) as exc:
        raise _translate(exc, chosen) from None
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    given = {key(o) for o in overrides}
    grid = {k: v for k, v in params.items() if k not in given}
    origins = {}
    for o in chosen:  # the last file that sets a key is the one Hydra uses
        path = group_file("experiment", o.partition("=")[2], extra_dirs)
        text = path.read_text() if path is not None else ""
        origins |= {k: path for k in grid if _line_of(text, k) is not None}
    return [f"{k}={v}" for k, v in grid.items()], origins


def launcher_options() -> dict[str, str | None]:
    """Launcher choices for ``hydra/launcher=``: name -> the plugin config it builds on.

    The files in crowdsim/conf/hydra/launcher/ (documented settings; :data:`LAUNCHER_OPTIONS`),
    each mapped to None when the plugin it builds on is installed (its config registered with a
    launcher crowdsim allows), else to the missing plugin's name.
    """
    import yaml
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # importing the plugins registers their configs
    cs, allowed = ConfigStore.instance(), allowed_targets().get("launcher", ())
    stored = set()
    for n in cs.list("hydra/launcher"):  # only the launchers crowdsim allows (e.g. not ray_aws)
        node = cs.load(f"hydra/launcher/{n}").node
        if node.get("_target_") in allowed:
            stored.add(n.removesuffix(".yaml"))
    # only crowdsim's own launcher files (the allow-list LAUNCHER_OPTIONS): the plugins' configs
    # they build on are not choices of their own
    options: dict[str, str | None] = {}
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
        if key.split("@")[0] == "hydra/launcher" and value:
            check_launcher(value)


def check_launcher(value: str, option: str = "hydra/launcher") -> None:
    """A launcher name (``hydra/launcher=NAME``, or a tool's ``--launcher NAME``: ``option``)
    that exists and whose plugin is installed; raise ConfigError naming ``option``."""
    options = launcher_options()
    if value not in options:
        raise ConfigError(option, value, ", ".join(options))
    missing = options[value]
    if missing is not None:
        raise ConfigError(
            option,
            value,
            ", ".join(n for n, m in options.items() if m is None),
            message=f"invalid value for option '{option}': {value!r} needs the '{missing}' "
            "launcher plugin, which is not installed (install it with: pip install -e '.[cluster]')",
        )


def check_tool_launcher(launcher: str | None, hydra_sets: list[str]) -> None:
    """A tool's ``--launcher NAME`` (named so in the error) and its ``--set hydra.*`` options,
    composed with that launcher; raise ConfigError."""
    if launcher is not None:
        check_launcher(launcher, "--launcher")
    if launcher is not None or hydra_sets:
        chosen = [f"hydra/launcher={launcher}"] if launcher else []
        validate_overrides(chosen + list(hydra_sets), multirun=True)


def _translate(exc: Exception, combo: list[str]) -> ConfigError:
    """One ConfigError from a Hydra or OmegaConf error, naming the option it is about."""
    if isinstance(exc, ConfigError):
        return exc
    from crowdsim.config import translate_omegaconf_error

    msg = str(exc)
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    chain, e = [], exc
    while e is not None:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = "\n".join(str(c) for c in chain)
    values = {o.lstrip("+~").partition("=")[0]: o.partition("=")[2] for o in combo}
    if "not in struct" in text:  # a new key under a mapping option, without '+'
        for o in combo:
            key, _, value = o.partition("=")
            if key == RULES_KEY or key.startswith(RULES_KEY + "."):
                return ConfigError(
                    key, value, f"rules the reform does not set yet are added with '+': +{o}"
                )
    for c in chain:  # OmegaConf names the option: trust it over the text of the message
        key = getattr(c, "full_key", None)
        if key:
            if key in values:
                return translate_omegaconf_error(c, values[key])
            return translate_omegaconf_error(c)
    for o in combo:
        key, _, value = o.lstrip("+~").partition("=")
        if key.split("@")[0] in config_groups() or _is_hydra_key(key):
            continue
        if key and (key in msg or f"Key '{key.split('.')[-1]}'" in msg):
            try:
                check_key_exists(None, key)
            except ConfigError as ce:
                return ce
            m = re.search(r"could not be converted to (\w+)", text)
            if m:
                return ConfigError(key, value, f"a value of type {m.group(1).lower()}")
            m = re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]", text)
            if m:
                return ConfigError(key, value, m.group(2))
            return ConfigError(key, value, first)
    return ConfigError("command line", " ".join(combo), first)
