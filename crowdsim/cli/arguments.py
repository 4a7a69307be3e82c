"""Argument parsing shared by the argparse commands (crowdsim-compare, -aggregate, -calibrate,
-validate, -sensitivity, -app): one line on bad input naming the option, the value and what is
allowed, exit status 2, and ``--version``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

_ARG = r"^argument (?P<opt>[^:/\s]+)(?:/[^:\s]+)?: "
_REWRITES = (
    (_ARG + r"invalid value for option (?P<rest>.*)$", "invalid value for option {rest}"),
    (_ARG + r"invalid value (?P<rest>.*)$", "invalid value for option '{opt}': {rest}"),
    (
        _ARG + r"invalid (?P<kind>int|float) value: (?P<value>.*)$",
        "invalid value for option '{opt}': {value} (allowed: {kind})",
    ),
    (
        _ARG + r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)$",
        "invalid value for option '{opt}': {value} (allowed: {choices})",
    ),
    (
        _ARG + r"expected one argument$",
        "invalid value for option '{opt}': nothing (allowed: a value after {opt})",
    ),
)
_KINDS = {"int": "an integer", "float": "a number"}


def one_line(message: str) -> str:
    """argparse's error message, said as crowdsim says every bad input."""
    for pattern, template in _REWRITES:
        m = re.match(pattern, message)
        if m:
            parts = m.groupdict()
            if "kind" in parts:
                parts["kind"] = _KINDS[parts["kind"]]
            return template.format(**parts)
    return message.replace("\n", " ")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (option, value, allowed) with exit status 2,
    and which answers ``--version`` with crowdsim's version."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from crowdsim import __version__

        self.add_argument(
            "--version", action="version", version=f"%(prog)s (crowdsim) {__version__}"
        )

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {one_line(self._named(message))}", file=sys.stderr)
        raise SystemExit(2)

    def _named(self, message: str) -> str:
        """argparse's messages that name no allowed value, with what is allowed."""
        m = re.match(r"^unrecognized arguments: (\S+)", message)
        if m:
            flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            return (
                f"invalid value for option '{m.group(1)}': not an option of {self.prog} "
                f"(allowed: {', '.join(flags)})"
            )
        m = re.match(r"^the following arguments are required: ([^,]+)", message)
        if m:
            name = m.group(1).strip()
            helps = [a.help for a in self._actions if name in (a.metavar, a.dest) and a.help]
            allowed = helps[0] if helps else f"a value for {name}"
            return f"invalid value for option '{name}': nothing (allowed: {allowed})"
        return message


def _at_least(kind: type, low: float, option: str | None):
    words = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low or (kind is float and value != value):
            shown = f"for option '{option}': " if option else ""
            raise argparse.ArgumentTypeError(
                f"invalid value {shown}{text!r} (allowed: {words} >= {low})"
            )
        return value

    return parse


def int_at_least(low: int, option: str | None = None):
    """An argparse ``type=``: an integer >= ``low``."""
    return _at_least(int, low, option)


def float_at_least(low: float, option: str | None = None):
    """An argparse ``type=``: a finite number >= ``low`` (NaN refused)."""
    return _at_least(float, low, option)


def read_yaml_option(option: str, path: str | Path, what: str) -> Any:
    """The content of the YAML file an option names; ConfigError (one line naming the option,
    the file and the line of a syntax error) when it is missing or not YAML."""
    import yaml

    from crowdsim.config import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(option, str(path), f"an existing {what}")
    try:
        return yaml.safe_load(p.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(
            option, str(path), f"{what}; this one is not YAML{where}: {problem}"
        ) from None


def io_failure(exc: OSError, kept: str = "results so far are kept") -> str:
    """One line for an I/O error met while a command runs (a full disk, a read-only folder):
    the OS error, the file, what is ``kept`` and what to do."""
    what = exc.strerror or type(exc).__name__
    where = f" writing {exc.filename}" if exc.filename else ""
    return (
        f"error: {what}{where} ({kept}; free space or fix the folder, then run the same "
        "command again)"
    )


NOTHING_KEPT = "no result of the run is kept"  # a single run removes what it wrote before failing


def exit_on_io_error(prog: str, exc: OSError, kept: str) -> NoReturn:
    """End a command that met an I/O error: one line (:func:`io_failure`) naming the file, which
    is looked up in the traceback when the error does not name it, and exit status 1."""
    if not exc.filename:
        exc.filename = _file_written(exc)
    print(f"{prog}: {io_failure(exc, kept)}", file=sys.stderr)
    raise SystemExit(1) from None


def _file_written(exc: BaseException) -> str | None:
    """The name of the open file nearest to where ``exc`` was raised (``file.write`` errors such
    as a full disk name no file)."""
    import io

    found, tb = None, exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str):
                found = value.name
        tb = tb.tb_next
    return found
