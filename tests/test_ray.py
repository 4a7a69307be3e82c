"""Sweeps on Ray, as shipped: a local instance and a running head (``ray start --head``).

Slow (Ray starts in tens of seconds here) and needs the ``cluster`` extra:
``pip install -e '.[cluster]'`` then ``pytest -m slow tests/test_ray.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sweeps import GRID, SMALL, crowdsim, reproducible

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def joblib_rows(tmp_path_factory):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="needs the cluster extra")
    root = tmp_path_factory.mktemp("joblib")
    crowdsim("-m", *SMALL, *GRID, "hydra/launcher=cores", f"hydra.sweep.dir={root / 's'}", cwd=root)
    return reproducible(pd.read_parquet(root / "s" / "sweep.parquet"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_ray_instance_has_the_rows_of_joblib(joblib_rows, tmp_path):
    sweep_dir = tmp_path / "ray"
    crowdsim(
        "-m",
        *SMALL,
        *GRID,
        "hydra/launcher=ray_cluster",
        "hydra.launcher.ray.init.address=null",
        "+hydra.launcher.ray.init.num_cpus=2",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=900,
    )
    df = reproducible(pd.read_parquet(sweep_dir / "sweep.parquet"))
    pd.testing.assert_frame_equal(df, joblib_rows, check_exact=True)


def test_running_head_as_shipped_has_the_rows_of_joblib(joblib_rows, tmp_path):
    """`ray start --head`, then the shipped ray_cluster config connecting to it."""
    port = _free_port()
    ray = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [
            str(ray),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        sweep_dir = tmp_path / "ray"
        crowdsim(
            "-m",
            *SMALL,
            *GRID,
            "hydra/launcher=ray_cluster",
            f"hydra.launcher.ray.init.address=127.0.0.1:{port}",
            f"hydra.sweep.dir={sweep_dir}",
            cwd=tmp_path,
            timeout=900,
        )
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
    df = reproducible(pd.read_parquet(sweep_dir / "sweep.parquet"))
    pd.testing.assert_frame_equal(df, joblib_rows, check_exact=True)


def test_calibration_on_a_local_ray_instance_equals_the_one_in_this_process(tmp_path):
    """crowdsim-calibrate --launcher ray_cluster (a local instance): its trials are those of the
    same calibration run here, and its runs went through Ray."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="needs the cluster extra")
    import json

    from conftest import calibration_on_launcher

    ray_out, (on_ray, in_process), _ = calibration_on_launcher(
        tmp_path, "ray_cluster",
        ["--set=hydra.launcher.ray.init.address=null", "--set=+hydra.launcher.ray.init.num_cpus=2"],
        timeout=900,
    )  # fmt: skip
    pd.testing.assert_frame_equal(on_ray, in_process)
    prov = json.loads((ray_out / "runs/trial_0001/seed_1001/provenance.json").read_text())
    assert prov["launcher"] == "RayLauncher"
