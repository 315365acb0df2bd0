"""Every teaching notebook executes top to bottom at --quick size, in a temporary copy."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from bayes_zoo.notebooks import execute_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_at_quick_size_without_errors(path, tmp_path):
    before = path.read_bytes()
    executed = execute_notebook(path, quick=True)
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert path.read_bytes() == before  # the committed notebook (with full-size outputs) is untouched


def test_committed_notebooks_carry_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has no outputs"
