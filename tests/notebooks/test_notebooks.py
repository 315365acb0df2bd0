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


#: The notebooks rewritten for a class (issue 17): learning goals first, exercises with folded solutions last.
FOR_CLASS = [p for p in NOTEBOOKS if p.name.startswith(("02_", "03_", "04_", "05_"))]


@pytest.mark.parametrize("path", FOR_CLASS, ids=[p.stem for p in FOR_CLASS])
def test_a_class_notebook_opens_with_learning_goals(path):
    nb = nbformat.read(path, as_version=4)
    opening = [c.source for c in nb.cells[:2] if c.cell_type == "markdown"]
    goals = [text.split("## What you will learn", 1)[1] for text in opening if "## What you will learn" in text]
    assert goals, f"{path.name}: no '## What you will learn' in its first two cells"
    bullets = [line for line in goals[0].splitlines() if line.lstrip().startswith(("- ", "* "))]
    assert len(bullets) >= 3, f"{path.name}: {len(bullets)} learning goals"


@pytest.mark.parametrize("path", FOR_CLASS, ids=[p.stem for p in FOR_CLASS])
def test_a_class_notebook_ends_with_exercises_each_with_a_folded_solution_that_runs(path):
    nb = nbformat.read(path, as_version=4)
    starts = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source]
    assert starts, f"{path.name}: no '## Exercises' section"
    rest = nb.cells[starts[-1]:]
    exercises = [i for i, c in enumerate(rest) if c.cell_type == "markdown" and c.source.lstrip().startswith("### Exercise")]
    assert 2 <= len(exercises) <= 3, f"{path.name}: {len(exercises)} exercises"
    for number, i in enumerate(exercises, start=1):
        assert rest[i].source.lstrip().startswith(f"### Exercise {number}:"), rest[i].source[:60]
        solution = rest[i + 1]
        assert solution.cell_type == "code" and "solution" in solution.metadata.get("tags", []), (path.name, number)
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True, (path.name, number)
        assert solution.source.startswith(f"# Solution to exercise {number}"), (path.name, number)
        assert solution.get("outputs") or solution.get("execution_count"), f"{path.name}: solution {number} never ran"
