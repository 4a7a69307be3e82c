"""A built wheel works on its own: installed into a fresh virtual environment outside the
checkout, ``crowdsim`` runs a short simulation and ``crowdsim-compare`` a tiny comparison.

The wheel is built from this checkout (``pip wheel --no-deps``); the new environment takes the
dependencies from the test's own environment (a path entry, not its ``.pth`` hooks, so the
checkout's editable install stays out of reach) and gets only the wheel installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert out.returncode == 0, f"{cmd[:3]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp), str(ROOT)],
        cwd=tmp,
    )
    (wheel,) = tmp.glob("crowdsim-*.whl")
    env_dir = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    py = env_dir / "bin" / "python"
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet",
         str(wheel)],
        cwd=tmp,
    )  # fmt: skip
    return env_dir, tmp


def test_wheel_carries_the_configs(installed):
    env_dir, tmp = installed
    out = _run(
        [str(env_dir / "bin" / "python"), "-c",
         "import crowdsim, crowdsim.cli.overrides as c, pathlib; "
         "print(crowdsim.__file__); print(sorted(p.name for p in pathlib.Path(c.CONFIG_DIR).iterdir()))"],
        cwd=tmp,
    )  # fmt: skip
    location, listing = out.stdout.strip().splitlines()
    assert str(env_dir) in location and str(ROOT) not in location
    for name in ("config.yaml", "scenario", "population", "hydra", "experiment"):
        assert name in listing


def test_installed_commands_run(installed):
    env_dir, tmp = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run_dir = tmp / "one_run"
    out = _run(
        [str(env_dir / "bin" / "crowdsim"), "population.n_workers=120", "sim.days=1", "seed=2",
         f"hydra.run.dir={run_dir}"],
        cwd=tmp, env=env,
    )  # fmt: skip
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["seed"] == 2 and (run_dir / "DONE.json").exists(), out.stdout
    cmp_dir = tmp / "compare"
    _run(
        [str(env_dir / "bin" / "crowdsim-compare"), "--scenarios", "status_quo,min_pay",
         "--seeds", "1", "--workers", "120", "--days", "1", "--warmup-days", "1", "--out", str(cmp_dir)],
        cwd=tmp, env=env,
    )  # fmt: skip
    assert (cmp_dir / "comparison.parquet").exists() and (cmp_dir / "report.md").exists()


def test_wheel_carries_every_package(installed):
    """Every package of the checkout is in the wheel, the shim of the callback's old path too
    (configs of earlier sweeps name it), and imports from the installed copy."""
    env_dir, tmp = installed
    packages = sorted(
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "crowdsim").rglob("__init__.py")
        if "__pycache__" not in p.parts
    )
    assert {"crowdsim.cli", "crowdsim.sweeps", "crowdsim.studies", "crowdsim.report"} <= set(
        packages
    )
    code = (
        "import importlib, sys; "
        f"mods = {packages!r} + ['crowdsim.experiments.callbacks', 'crowdsim.sweeps.app', "
        "'crowdsim.studies.compare', 'crowdsim.report.build']; "
        "print('\\n'.join(importlib.import_module(m).__file__ for m in mods))"
    )
    out = _run([str(env_dir / "bin" / "python"), "-c", code], cwd=tmp)
    files = out.stdout.strip().splitlines()
    assert len(files) == len(packages) + 4
    assert all(str(env_dir) in f and str(ROOT) not in f for f in files)
