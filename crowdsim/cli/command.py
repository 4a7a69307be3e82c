"""The ``crowdsim`` command: a Hydra app that runs one configuration (or a sweep with ``-m``).

Before Hydra starts (and creates any output folder), the command line is checked
(:func:`crowdsim.cli.overrides.validate_overrides`): an unknown scenario, a misspelt option (with or
without ``+``), a value out of range, a ``_target_`` that would run code, a sweep without ``-m``
or a run too big for this machine's memory ends the command with one line naming the option,
the value and what is allowed, and exit status 2.

``--help``, ``--version`` and shell completion (``-sc query=bash``) are answered here without
importing Hydra or the model, so they take a fraction of a second.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from crowdsim.cli.overrides import PROG, config_groups, validate_hydra_overrides, validate_overrides

_FLAGS_WITH_VALUE = {"-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir"}
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
# flags whose next word is their value when it is one of these
_FLAG_VALUES = {
    "-c": ("job", "hydra", "all"),
    "--cfg": ("job", "hydra", "all"),
    "-i": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
    "--info": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
    "-sc": None,  # any value
    "--shell-completion": None,
    "-p": None,
    "--package": None,
}
_REFUSED_FLAGS = {
    "--experimental-rerun": "not available: it loads a pickle, which can run code "
    "(re-run a job with the overrides in its .hydra/overrides.yaml instead)",
    "-cp": "not available: crowdsim's configs are inside the package (use --config-dir DIR to add yours)",
    "--config-path": "not available: crowdsim's configs are inside the package (use --config-dir DIR to add yours)",
    "-cn": "not available: the primary config is crowdsim's config.yaml (choose scenario=NAME)",
    "--config-name": "not available: the primary config is crowdsim's config.yaml (choose scenario=NAME)",
}


def _version() -> str:
    from crowdsim import __version__

    return __version__


def _fail(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _bad(message: str):
    from crowdsim.config import ConfigError

    return ConfigError("command line", None, "", message=message)


def _split_args(argv: list[str]) -> tuple[list[str], bool, bool, list[str]]:
    """Overrides, multirun, info (a flag that only shows something) and ``--config-dir`` dirs."""
    overrides, multirun, info, dirs = [], False, False, []
    it = iter(argv)
    for a in it:
        flag = a.split("=", 1)[0]
        if a in ("-m", "--multirun"):
            multirun = True
        elif flag in _REFUSED_FLAGS:
            raise _bad(f"invalid value for option '{flag}': {_REFUSED_FLAGS[flag]}")
        elif a in _FLAGS_WITH_VALUE:
            value = next(it, None)
            if value is None:
                raise _bad(
                    f"invalid value for option '{a}': nothing (allowed: a folder of config groups)"
                )
            dirs.append(value)
        elif flag in ("--config-dir", "-cd"):
            dirs.append(a.split("=", 1)[1])
        elif flag in _INFO_FLAGS or flag in ("-p", "--package"):
            info = info or flag in _INFO_FLAGS
            if flag in _FLAG_VALUES and "=" not in a:
                allowed = _FLAG_VALUES[flag]
                if nxt := next(it, None):
                    if allowed is None or nxt in allowed:
                        continue
                    overrides.append(nxt)
        elif a.startswith("-") and not a.startswith("-="):
            raise _bad(
                f"invalid value for option '{a}': not an option of {PROG} (allowed: -m, --cfg job, "
                "--info, --help, --hydra-help, --version, --config-dir DIR, -sc ...)"
            )
        else:
            overrides.append(a)
    return overrides, multirun, info, dirs


def check_command_line(argv: list[str]) -> tuple[list[str], bool, bool, list[str]]:
    """Check a ``crowdsim`` command line as :func:`main` does before Hydra starts; return its
    overrides, multirun flag, info flag and extra config dirs, or raise ConfigError."""
    overrides, multirun, info, dirs = _split_args(argv)
    _check_config_dirs(dirs)
    shows = {"-c", "--cfg", "-i", "--info", "-sc", "--shell-completion"}
    if multirun and any(a.split("=")[0] in shows for a in argv):
        raise _bad(
            "invalid value for option '-m': not with --cfg or --info "
            "(drop -m to see the configuration of the first job)"
        )
    if info:
        # nothing runs, but Hydra still instantiates callbacks: no code in the config, nor in
        # the group files it chooses
        from crowdsim.cli.overrides import check_group_file, check_keys, chosen_files

        groups = config_groups(dirs)
        check_keys(overrides, True, groups)
        for group, name in chosen_files(overrides, groups):
            check_group_file(group, name, dirs)
    else:
        validate_overrides(overrides, multirun=multirun, extra_dirs=dirs)
        _check_output_dir(overrides, multirun)
    return overrides, multirun, info, dirs


def _check_config_dirs(dirs: list[str]) -> None:
    for d in dirs:
        if not Path(d).expanduser().is_dir():
            raise _bad(
                f"invalid value for option '--config-dir': {d!r} (allowed: an existing folder of "
                "config groups, e.g. DIR/scenario/NAME.yaml)"
            )


def _check_output_dir(overrides: list[str], multirun: bool) -> None:
    """The folder a run (or sweep) writes into can be written, before Hydra creates it."""
    from crowdsim.resources import check_writable

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = [o.partition("=")[2] for o in overrides if o.lstrip("+").partition("=")[0] == key]
    default = "multirun" if multirun else "outputs"
    # the part before any interpolation (${now:...}) is where the folder is created
    path = given[-1].split("${")[0] if given else default
    check_writable(key, path or ".")


# ------------------------------------------------------------------------------- help, completion
def help_text() -> str:
    """``crowdsim --help``: what the command does, its config groups and options."""
    from crowdsim.config import schema

    groups = config_groups()
    width = 100
    out = [
        f"{PROG} {_version()}: simulate a crowd-work (micro-task) market and write its results.",
        "",
        "usage:",
        f"  {PROG} [KEY=VALUE ...]            one run; results in outputs/<scenario>/<time>/",
        f"  {PROG} -m KEY=A,B [KEY=VALUE ...] a sweep, one job per combination; results in multirun/<time>/",
        f"  {PROG} --cfg job [KEY=VALUE ...]  print the configuration a run would use, and exit",
        "",
        "config groups (one file each, e.g. scenario=fairwork):",
    ]
    for g, names in groups.items():
        label = "+experiment" if g == "experiment" else g
        out.append(
            textwrap.fill(
                ", ".join(names), width, initial_indent=f"  {label}: ", subsequent_indent="      "
            )
        )
    out.append("  hydra/launcher: cores, local_submitit, slurm, ray_cluster (sweeps in parallel)")
    out += [
        "",
        "options (KEY=VALUE; defaults and sources: crowdsim/config.py, or crowdsim --cfg job):",
    ]
    sections: dict[str, list[str]] = {}
    for o in schema():
        section, _, name = o.name.rpartition(".")
        sections.setdefault(section, []).append(name)
    for section, names in sections.items():
        label = f"{section}.*: " if section else ""
        out.append(
            textwrap.fill(
                ", ".join(names), width, initial_indent=f"  {label}", subsequent_indent="      "
            )
        )
    out += [
        "",
        "flags:",
        "  -m, --multirun         run every combination of the values given as A,B or range(0,5)",
        "  --cfg job, --info      show the composed configuration / where configs come from",
        "  --config-dir DIR       also read config groups (e.g. DIR/scenario/mine.yaml) from DIR",
        "  --hydra-help           Hydra's own options (hydra.run.dir=..., hydra/launcher=...)",
        '  -sc install=bash       shell completion: eval "$(crowdsim -sc install=bash)"',
        "  --version              print crowdsim's version",
        "",
        "Bad input ends with one line naming the option and what is allowed (exit status 2).",
        "Docs: README.md, docs/sweeps.md.",
    ]
    return "\n".join(out)


def completions(line: str, extra_dirs: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Candidates for the word being typed at the end of ``line`` (bash completion)."""
    from crowdsim.config import schema

    words = line.split()
    word = "" if (not line or line.endswith(" ")) else words[-1]
    if word.startswith("-"):
        flags = [
            "-m",
            "--multirun",
            "--cfg",
            "--info",
            "--help",
            "--hydra-help",
            "--version",
            "--config-dir",
        ]
        return [f for f in flags if f.startswith(word)]
    sign = word[:2] if word.startswith("++") else word[:1] if word[:1] in "+~" else ""
    body = word[len(sign) :]
    groups = config_groups(extra_dirs)
    options = {o.name: o for o in schema()}
    if "=" in body:
        key, _, partial = body.partition("=")
        if key in groups:
            values = groups[key]
        elif key in options:
            o = options[key]
            values = list(o.meta.get("choices") or ())
            if o.type is bool:
                values = ["true", "false"]
        else:
            values = []
        return [f"{sign}{key}={v}" for v in values if v.startswith(partial)]
    level = body.count(".")
    found: set[str] = set()
    for name in [*groups, "hydra/launcher", *options]:
        parts = name.split(".")
        if not name.startswith(body):
            continue
        if name in groups or name == "hydra/launcher":
            found.add(name + "=")
        elif len(parts) > level + 1:
            found.add(".".join(parts[: level + 1]) + ".")
        else:
            found.add(name + "=")
    return sorted(sign + f for f in found)


def _shell_completion(argv: list[str], dirs: list[str]) -> bool:
    """Answer ``-sc query=bash`` (and zsh, which uses the same script) here; True if answered."""
    values = [
        a.split("=", 1)[1] if "=" in a else nxt
        for a, nxt in zip(argv, [*argv[1:], ""], strict=True)
        if a.split("=", 1)[0] in ("-sc", "--shell-completion")
    ]
    if not values or values[0] not in ("query=bash", "query=zsh"):
        return False
    line = os.environ.get("COMP_LINE", "")
    parts = line.split(" ", 1)
    line = parts[1] if len(parts) > 1 else ""
    word = line.split()[-1] if line and not line.endswith(" ") else ""
    if word.lstrip("+~").startswith("hydra"):
        return False  # Hydra's own keys: Hydra completes them
    print(" ".join(completions(line, dirs)))
    return True


# ------------------------------------------------------------------------------- the whole line
def answered_here(argv: list[str]) -> bool:
    """Answer ``--version``, ``--help`` and shell completion without Hydra; True if answered."""
    if argv and argv[0] in ("--version", "-V"):
        print(f"{PROG} {_version()}")
        return True
    if argv and argv[0] in ("-h", "--help"):
        try:
            print(help_text())
        except BrokenPipeError:  # `crowdsim --help | head`
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return True
    from crowdsim.config import ConfigError

    if any(a.split("=")[0] in ("-sc", "--shell-completion") for a in argv):
        try:
            if _shell_completion(argv, _split_args(argv)[3]):
                return True
        except ConfigError:
            return True  # completing a half-typed line: nothing to suggest
    return False


def checked(argv: list[str], compose_check: bool = True) -> tuple[list[str], bool]:
    """The overrides of a ``crowdsim`` command line and whether it is a multirun, once the line
    is checked (:func:`check_command_line`); a refused line ends the command with one line and
    exit status 2. ``compose_check=False`` (for grids that crowdsim's own studies build from
    options they validated) checks each override's syntax, key and code but does not compose
    every combination first: a job whose values are refused fails alone."""
    from crowdsim.config import ConfigError

    try:
        if compose_check:
            overrides, multirun, _info, _dirs = check_command_line(argv)
        else:
            from crowdsim.cli.overrides import check_keys

            overrides, multirun, _info, dirs = _split_args(argv)
            _check_config_dirs(dirs)
            check_keys(overrides, multirun, config_groups(dirs))
            validate_hydra_overrides(overrides)
    except ConfigError as exc:
        _fail(str(exc))
    return overrides, multirun
