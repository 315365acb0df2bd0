"""Every teaching notebook executes top to bottom at --quick size, in a temporary copy."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))

#: Notebooks executed at once: each is mostly one busy kernel, so on two cores two at a time halve the wall time
#: (measured from a clean clone: 154 s one after the other).
AT_ONCE = 2


@pytest.fixture(scope="module")
def executed():
    """Each notebook run by ``python -m bayes_zoo.notebooks --quick`` in its own process, :data:`AT_ONCE` at a time
    (longest first): ``{path: (CompletedProcess, the executed copy or None, the committed bytes before)}``."""
    before = {path: path.read_bytes() for path in NOTEBOOKS}

    def run(path):
        return subprocess.run([sys.executable, "-m", "bayes_zoo.notebooks", "--quick", str(path)], capture_output=True,
                              text=True, timeout=900)

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        done = dict(zip(NOTEBOOKS[::-1], pool.map(run, NOTEBOOKS[::-1])))  # 07 (the longest) first
    out = {}
    for path, proc in done.items():
        copy = next((Path(line.split(" -> ", 1)[1]) for line in proc.stdout.splitlines()
                     if line.startswith("executed ") and " -> " in line), None)
        out[path] = (proc, copy, before[path])
    return out


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_at_quick_size_without_errors(path, executed):
    proc, copy, before = executed[path]
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = nbformat.read(copy, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count")) == sum(
        1 for c in nb.cells if c.cell_type == "code" and c.source.strip())  # every cell ran
    assert path.read_bytes() == before  # the committed notebook (with full-size outputs) is untouched


def test_committed_notebooks_carry_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has no outputs"
