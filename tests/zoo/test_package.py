"""bayes_zoo: one import namespace, whose modules import without side effects and whose first names are there.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent

# Every module of the package, then a check that its import changed nothing in the process.  The libraries
# bayes-zoo imports at module level are imported first: what *they* do on import (SciPy adds warning filters) is
# theirs; the test is about our own code.  joblib and threadpoolctl set OpenMP variables on import, so the
# package imports them only where used, and they are not in this list.
_PROBE = textwrap.dedent("""
    import importlib, os, pkgutil, sys, warnings
    events = []
    watched = {"subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn",
               "os.putenv", "os.unsetenv"}
    sys.addaudithook(lambda event, args: events.append(event) if event in watched else None)
    for lib in ("numpy", "scipy.linalg", "scipy.optimize", "scipy.special", "scipy.stats", "scipy.integrate",
                "pandas", "xarray", "matplotlib", "matplotlib.pyplot", "numba",
                "rich", "tabulate", "pytensor", "pymc", "arviz"):
        importlib.import_module(lib)
    baseline = (dict(os.environ), list(warnings.filters), len(events))
    import bayes_zoo
    names = {"bayes_zoo"}
    for pkg in ("bayes_zoo", "bayes_zoo.models", "bayes_zoo.inference", "bayes_zoo.active_learning"):
        names |= {m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + ".")}
    for name in sorted(names):
        importlib.import_module(name)
        print(name)
    assert dict(os.environ) == baseline[0], set(os.environ.items()) ^ set(baseline[0].items())
    assert list(warnings.filters) == baseline[1], [f for f in warnings.filters if f not in baseline[1]]
    assert len(events) == baseline[2], events[baseline[2]:]
""")


def test_importing_every_module_changes_no_environment_no_warning_filter_and_starts_no_process(tmp_path):
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                         env={k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"})
    assert run.returncode == 0, run.stderr[-3000:]
    imported = run.stdout.split()
    assert {"bayes_zoo.cli", "bayes_zoo.models.backend", "bayes_zoo.inference.crossval",
            "bayes_zoo.active_learning.loop", "bayes_zoo.pairs.gp"} <= set(imported)


def test_a_students_own_models_and_inference_files_do_not_shadow_the_package(tmp_path):
    for clash in ("models", "inference", "zoo", "active_learning"):
        (tmp_path / f"{clash}.py").write_text(f"raise SystemExit('the student\\'s {clash}.py was imported')\n")
    run = subprocess.run([sys.executable, "-c", "import bayes_zoo.cli, bayes_zoo.pairs; print('ok')"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    listed = subprocess.run([str(BIN / "bayes-zoo"), "list"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert listed.returncode == 0, listed.stderr
    assert "normal-gamma" in listed.stdout


def test_no_top_level_models_or_inference_package_is_installed(tmp_path):
    code = "import importlib.util as u; print([n for n in ('models', 'inference', 'zoo', 'active_learning') if u.find_spec(n)])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_the_first_names_a_user_needs_are_at_the_top():
    import bayes_zoo
    from bayes_zoo.inference import crossval, sbc

    assert bayes_zoo.compare is crossval.compare and bayes_zoo.identity is crossval.identity
    assert bayes_zoo.run_sbc is sbc.run_sbc and bayes_zoo.SBCProblem is sbc.SBCProblem
    assert bayes_zoo.__version__ == __import__("importlib.metadata").metadata.version("bayes-zoo")
    assert set(bayes_zoo.__all__) <= set(dir(bayes_zoo))


def test_every_argument_parser_refuses_abbreviated_options():
    # Caught: a parser made without allow_abbrev=False (`--draw 100` silently read as `--draws`, issue 13).
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [p for d in ("zoo", "models", "inference", "active_learning", "benchmarks") for p in (root / d).rglob("*.py")]
    calls = [(p.name, m.group(0)) for p in sources
             for m in re.finditer(r"(ArgumentParser|add_parser)\((?:[^()]|\([^()]*\))*\)", p.read_text())]
    assert len(calls) >= 8  # the scan sees the CLI's parsers
    assert [c for c in calls if "allow_abbrev=False" not in c[1]] == []
