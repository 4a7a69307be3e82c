"""The `crowdsim` command: writes its outputs; refuses bad input with one line and no files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from crowdsim.sweeps.app import main; main()"]


def _run(args, cwd):
    env = dict(os.environ, HYDRA_FULL_ERROR="0")
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_run_writes_summary_frames_config_and_provenance(tmp_path):
    out = tmp_path / "OUT"
    p = _run(
        [
            "scenario=status_quo",
            "population.n_workers=200",
            "sim.days=2",
            "seed=7",
            f"hydra.run.dir={out}",
        ],
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    s = json.loads((out / "summary.json").read_text())
    for key in (
        "wage_median_all_in",
        "wage_mean_all_in",
        "wage_median_paid_only",
        "share_above_7_25",
        "share_above_local_min_wage",
        "unpaid_time_share",
        "rejection_rate",
        "unjustified_rejection_rate",
        "payment_delay_days_mean",
        "value_never_paid_share",
        "earnings_cv_weekly_median",
        "gini_earnings",
        "platform_revenue_usd",
        "active_workers_mean",
        "worker_exit_rate",
        "ledger_requester_spent_usd",
        "ledger_worker_paid_usd",
        "ledger_worker_pending_usd",
        "ledger_platform_fees_usd",
        "ledger_escrow_usd",
        "ledger_refunded_usd",
        "ledger_imbalance_usd",
        "by_country",
    ):
        assert key in s, key
    assert s["ledger_imbalance_usd"] == 0 and s["seed"] == 7
    assert set(s["by_country"]) == {"US", "IN", "PH", "BD", "PK", "KE", "VE", "FR", "GB"}
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 48 and {
        "active_workers",
        "tasks_open",
        "tasks_done",
        "worker_paid_usd",
        "platform_fees_usd",
    } <= set(ts.columns)
    wf = pd.read_parquet(out / "workers.parquet")
    assert {
        "country",
        "hours_paid",
        "hours_search",
        "earnings_usd",
        "wage_all_in",
        "approval_rate",
        "joined_hour",
        "left_hour",
    } <= set(wf.columns)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 7 and prov["crowdsim_version"]
    # the libraries results depend on, with their installed versions
    import numpy

    libs = prov["libraries"]
    assert libs["numpy"] == numpy.__version__ and libs["python"].count(".") == 2
    assert all(libs[k] for k in ("numba", "mesa", "hydra-core", "omegaconf", "pandas", "scipy"))
    assert (out / "config.yaml").exists() and (out / "DONE.json").exists()
    # the tables again for R and Stata
    csv = pd.read_csv(out / "r_stata" / "workers.csv")
    assert len(csv) == len(wf) and "hours_paid" in csv.columns
    assert len(pd.read_csv(out / "r_stata" / "timeseries.csv")) == 48


@pytest.mark.parametrize(
    ("arg", "fragment"),
    [
        ("scenario=nope", "'scenario'"),
        ("platform.commission=1.5", "platform.commission"),
        ("population.n_workers=-5", "population.n_workers"),
        ("population.countries=[US,XX]", "population.countries"),
        ("platform.comission=0.1", "platform.commission"),
        ("population.n_workers=abc", "population.n_workers"),
    ],
)
def test_bad_input_one_line_no_traceback_no_output(tmp_path, arg, fragment):
    out = tmp_path / "BAD"
    p = _run([arg, f"hydra.run.dir={out}"], tmp_path)
    assert p.returncode != 0
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert fragment in lines[0] and "Traceback" not in p.stderr
    assert not out.exists()
    assert not any(Path(tmp_path).rglob("summary.json"))
