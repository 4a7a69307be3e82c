"""The notebooks in experiments/notebooks/ are stored without outputs and run top to bottom.

They run small (CROWDSIM_NB_SMALL=1 makes their "parameters" cell choose a few hundred workers and
a few days), in a Jupyter kernel of this interpreter: a kernel spec written for the test points at
``sys.executable``, so a fresh virtual environment needs no kernel registered by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "experiments" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "crowdsim-test"


def test_the_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    for topic in ("quickstart", "policy_comparison", "sweep", "country_lens", "scenario_discovery"):
        assert any(topic in n for n in names), f"no notebook about {topic} in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has stored outputs"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", []), (
        f"{path.name}: first code cell is not tagged 'parameters'"
    )
    assert "CROWDSIM_NB_SMALL" in first_code.source


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A Jupyter data folder with a kernel spec that runs this interpreter."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "crowdsim (tests)",
                "language": "python",
            }
        )
    )
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_top_to_bottom(path, kernel_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("CROWDSIM_NB_SMALL", "1")
    monkeypatch.setenv("CROWDSIM_NB_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("CROWDSIM_SWEEP_DIR", raising=False)
    monkeypatch.delenv(
        "MPLBACKEND", raising=False
    )  # the kernel draws inline figures (conftest sets Agg)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and traceback
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    # every notebook draws at least one figure
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert images, f"{path.name} drew no figure"
