"""Every notebook runs, with the small settings of its ``parameters`` cell, and stores no outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))

# Small settings per notebook: the values replace the ``parameters`` cell.
SMALL = {
    "01_weight_decay_is_a_gaussian_prior.ipynb": {"train_steps": 300, "adam_steps": 200},
    "02_l1_against_l2.ipynb": {"subgradient_steps": 200, "num_samples": 60, "num_warmup": 60},
    "03_full_posteriors.ipynb": {"num_samples": 100, "num_warmup": 100, "num_chains": 2, "svi_steps": 1500},
    "04_choosing_lambda.ipynb": {"num_samples": 100, "num_warmup": 100, "num_chains": 2},
    "05_scikit_learn.ipynb": {"num_samples": 100, "num_warmup": 100, "num_chains": 2},
    "06_larger_than_memory.ipynb": {"parts": 6, "rows_per_part": 2000, "features": 8, "n_workers": 2,
                                    "num_samples": 100, "num_warmup": 100},
    "07_weight_decay_in_a_classifier.ipynb": {"sgd_steps": 1000, "num_samples": 200, "num_chains": 2,
                                              "num_warmup": 150},
}


def test_notebooks_exist():
    assert [nb.name for nb in NOTEBOOKS] == sorted(SMALL)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_stored_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} stores outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "each notebook has exactly one cell tagged 'parameters'"
    params[0].source = "\n".join(f"{k} = {v!r}" for k, v in SMALL[path.name].items())
    nb.cells.insert(0, nbformat.v4.new_code_cell("import matplotlib\nmatplotlib.use('Agg')"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
