"""Every command's --help reads as plain text (no reStructuredText markup) and shows the default
of every option that has one."""

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from test_misuse import TOOLS as _ALL  # every command pyproject.toml installs

TOOLS = {k: v for k, v in _ALL.items() if k != "crowdsim"}  # crowdsim's --help is Hydra's


class _Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


def _parser(module: str, monkeypatch) -> argparse.ArgumentParser:
    def capture(self, args=None, namespace=None):
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parsed) as caught:
        importlib.import_module(module).main([])
    return caught.value.parser


@pytest.mark.parametrize("tool", [*TOOLS, "crowdsim"])
def test_help_is_plain_text(tool):
    script = Path(sys.executable).with_name(tool)
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for markup in ("`", ":func:", ":class:", ":mod:", "::"):
        assert markup not in out.stdout, f"{tool} --help shows {markup!r}"


@pytest.mark.parametrize("tool", TOOLS)
def test_every_default_is_shown(tool, monkeypatch):
    parser = _parser(TOOLS[tool], monkeypatch)
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.help == argparse.SUPPRESS:
            continue
        if action.default in (None, argparse.SUPPRESS, [], "") or action.required:
            continue
        assert "default" in (action.help or "").lower(), (
            f"{tool} {action.option_strings[0]}: default {action.default!r} not shown in its help"
        )


def test_app_help_states_the_apps_own_defaults():
    from crowdsim.viz import launch

    out = subprocess.run(
        [str(Path(sys.executable).with_name("crowdsim-app")), "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    text = " ".join(out.stdout.split())
    assert (
        f"default {launch.DEFAULT_WORKERS:,}" in text and f"default {launch.DEFAULT_DAYS})" in text
    )
    from crowdsim.viz import app

    assert (
        app.DEFAULT_N_WORKERS == launch.DEFAULT_WORKERS and app.DEFAULT_DAYS == launch.DEFAULT_DAYS
    )
