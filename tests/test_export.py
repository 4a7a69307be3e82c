"""Tables for R and Stata: portable column names, CSV and .dta written and read back."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from crowdsim.export import MAX_LENGTH, export_folder, portable_name, portable_names, write_table


@pytest.mark.parametrize(
    ("name", "portable"),
    [
        ("platform.commission", "platform_commission"),
        ("by_country/IN/x", "by_country_IN_x"),
        ("phase_seconds/search", "phase_seconds_search"),
        ("wage_median_all_in", "wage_median_all_in"),
        ("1st", "v_1st"),
        ("_n", "n"),
        ("if", "if_"),
        ("int", "int_"),
        ("str12", "str12_"),
        ("", "v"),
    ],
)
def test_portable_name(name, portable):
    assert portable_name(name) == portable


def test_names_are_valid_in_r_and_stata_unique_and_at_most_32_characters():
    cols = [
        "a.b", "a/b", "a b",
        "by_country/VE/wage_relative_to_local_min_median",
        "by_country/VE/wage_relative_to_local_min_mean",
        "steady_state_drift/wage_median_all_in/relative_trend",
    ]  # fmt: skip
    names = portable_names(cols)
    values = list(names.values())
    assert len({v.lower() for v in values}) == len(cols)
    for v in values:
        assert len(v) <= MAX_LENGTH and v[0].isalpha() and v.replace("_", "").isalnum(), v
    assert values[:3] == ["a_b", "a_b_2", "a_b_3"]
    # two long names cut to 32 characters stay apart (a hash of the original at the end)
    assert values[3] != values[4] and values[3].startswith("by_country_VE_wage_relat")


def test_csv_and_dta_written_and_read_back(tmp_path):
    df = pd.DataFrame(
        {
            "platform.commission": [0.1, 0.2, np.nan],
            "by_country/IN/wage_median_all_in": [1.5, 2.25, 3.0],
            "seed": [0, 1, 2],
            "steady_state": [True, False, True],
            "scenario": ["status_quo", None, "min_pay"],
        }
    )
    out = write_table(df, tmp_path / "t", ["csv", "dta"])
    assert [p.name for p in out["paths"]] == ["t.csv", "t.dta"]
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns) == [
        "platform_commission", "by_country_IN_wage_median_all_in", "seed", "steady_state",
        "scenario",
    ]  # fmt: skip
    np.testing.assert_allclose(csv["platform_commission"], df["platform.commission"])
    assert csv["seed"].tolist() == [0, 1, 2] and csv["steady_state"].tolist() == [True, False, True]
    reader = pd.io.stata.StataReader(tmp_path / "t.dta")
    with reader:
        dta = reader.read()
        labels = reader.variable_labels()
    assert list(dta.columns) == list(csv.columns)
    np.testing.assert_allclose(dta["by_country_IN_wage_median_all_in"], [1.5, 2.25, 3.0])
    assert np.isnan(dta["platform_commission"].iloc[2])
    assert dta["steady_state"].tolist() == [1, 0, 1]
    assert dta["scenario"].tolist() == ["status_quo", "", "min_pay"]
    # the original names kept as Stata variable labels
    assert labels["platform_commission"] == "platform.commission"


def test_export_folder_maps_every_column(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    pd.DataFrame({"x.y": [1], "z": [2]}).to_parquet(tmp_path / "runs" / "a" / "workers.parquet")
    pd.DataFrame({"by_country/US/n": [3]}).to_parquet(tmp_path / "sweep.parquet")
    export_folder(tmp_path, ["csv"])
    assert pd.read_csv(tmp_path / "r_stata" / "runs" / "a" / "workers.csv").columns.tolist() == [
        "x_y",
        "z",
    ]
    names = pd.read_csv(tmp_path / "r_stata" / "names.csv")
    assert set(zip(names["table"], names["name"], names["original"], strict=True)) == {
        ("runs/a/workers", "x_y", "x.y"),
        ("runs/a/workers", "z", "z"),
        ("sweep", "by_country_US_n", "by_country/US/n"),
    }
    # run again: the copies are not taken for tables of their own
    export_folder(tmp_path, ["csv"])
    assert len(pd.read_csv(tmp_path / "r_stata" / "names.csv")) == 3


def test_aggregate_format_dta_writes_the_sweep_for_stata(tmp_path):
    sweep = tmp_path / "sweep"
    common = [sys.executable, "-m"]
    run = subprocess.run(
        [*common, "crowdsim.sweeps.app", "-m", "population.n_workers=40", "sim.days=1", "seed=1,2",
         "platform.commission=0.1", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    agg = subprocess.run(
        [*common, "crowdsim.sweeps.aggregate", str(sweep), "--format", "csv,dta"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert agg.returncode == 0, agg.stderr
    table = pd.read_parquet(sweep / "sweep.parquet")
    dta = pd.read_stata(sweep / "r_stata" / "sweep.dta")
    csv = pd.read_csv(sweep / "r_stata" / "sweep.csv")
    assert len(dta) == len(csv) == len(table) == 2
    names = portable_names(table.columns)
    assert set(dta.columns) == set(csv.columns) == set(names.values())
    for old in ("platform.commission", "wage_median_all_in", "by_country/IN/wage_median_all_in"):
        np.testing.assert_allclose(dta[names[old]], table[old].astype(float))
    assert (sweep / "r_stata" / "sweep_summary.dta").is_file()
    assert not list(sweep.glob("*/r_stata"))  # a sweep's jobs: no copies (crowdsim-export)
    bad = subprocess.run(
        [*common, "crowdsim.sweeps.aggregate", str(sweep), "--format", "xlsx"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'--format'" in bad.stderr
