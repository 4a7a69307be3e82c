"""docs/odd.md: the ODD+D description keeps its seven elements and its parameter table equals
what the config schema gives (regenerate with ``python -m crowdsim.parameters docs/odd.md``)."""

from pathlib import Path

import pytest

from crowdsim import parameters
from crowdsim.config import schema

ODD = Path(__file__).resolve().parents[1] / "docs" / "odd.md"


def test_parameter_table_equals_the_schema():
    text = ODD.read_text()
    assert parameters.replace_table(text) == text, (
        "docs/odd.md's parameter table differs from the config schema; regenerate it with: "
        "python -m crowdsim.parameters docs/odd.md"
    )


def test_table_has_every_option_with_a_source_and_the_calibrated_ones_marked():
    rows = {p.name: p for p in parameters.parameters()}
    assert list(rows) == [o.name for o in schema()]
    assert all(p.source for p in rows.values()), [n for n, p in rows.items() if not p.source]
    assert {n for n, p in rows.items() if p.calibrated == "yes"} == parameters.calibrated_options()
    assert (
        rows["platform.commission"].default == "0.2" and rows["platform.commission"].unit == "share"
    )
    assert rows["workers.reservation_wage_median_usd"].unit == "USD"
    assert rows["platform.min_pay_usd_per_hour"].unit == "USD/h"


def test_check_fails_when_the_schema_changes_without_regenerating(tmp_path, monkeypatch):
    doc = tmp_path / "odd.md"
    doc.write_text(ODD.read_text())
    assert parameters.main(["--check", str(doc)]) == 0
    real = parameters.parameters
    monkeypatch.setattr(
        parameters,
        "parameters",
        lambda: [
            p._replace(default="0.3") if p.name == "platform.commission" else p for p in real()
        ],
    )
    assert parameters.main(["--check", str(doc)]) == 1
    assert parameters.main([str(doc)]) == 0 and "| `platform.commission` | 0.3 |" in doc.read_text()


@pytest.mark.parametrize(
    "element",
    [
        "1. Purpose and patterns",
        "2. Entities, state variables and scales",
        "3. Process overview and scheduling",
        "4. Design concepts",
        "5. Initialization",
        "6. Input data",
        "7. Submodels",
    ],
)
def test_odd_has_its_seven_elements_each_citing_code(element):
    text = ODD.read_text()
    assert f"## {element}" in text
    section = text.split(f"## {element}", 1)[1].split("\n## ", 1)[0]
    cited = [w.strip("`(),.;:") for w in section.split() if "crowdsim/" in w]
    assert cited, f"{element} cites no file of the code"
    root = ODD.parents[1]
    for path in cited:
        path = path.split("`")[0]
        if path.endswith((".py", ".csv", ".yaml", ".md")) and "*" not in path:
            assert (root / path).exists(), f"{element} cites {path}, which does not exist"
