"""``bayes-zoo --help`` and ``bayes-zoo list`` answer without the heavy libraries (issue 15, item 5).

Each runs in a fresh interpreter (the test process has imported everything already) through the console
entry, :func:`bayes_zoo.__main__.main`, and prints which of the heavy libraries ended up in ``sys.modules``.
Time is not asserted (it is measured and reported in the issue); what would make it slow is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries that parsing, ``--help`` and ``list`` must not import: each costs 0.1-1 s to import.
HEAVY = ("scipy", "pandas", "pymc", "arviz", "pytensor", "xarray", "matplotlib", "numba", "sklearn", "nutpie")

_PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["bayes-zoo", *args]
from bayes_zoo.__main__ import main
try:
    status = main()
except SystemExit as stop:  # argparse's --help exits
    status = stop.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & watched)
print("\\nPROBE " + json.dumps({"status": status, "heavy": heavy}))
"""


def _probe(args: list[str], watched=HEAVY) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(watched)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("PROBE ")][-1]
    return json.loads(line.removeprefix("PROBE "))


@pytest.mark.parametrize("args", [["--help"], ["list"], ["compare", "--help"], ["compare", "spike-slab", "--help"],
                                  ["active-learn", "--help"], ["sbc", "--help"]], ids=" ".join)
def test_help_and_list_import_no_heavy_library(args):
    found = _probe(args)
    assert found["status"] in (0, None), found
    assert found["heavy"] == [], f"bayes-zoo {' '.join(args)} imported {found['heavy']}"


@pytest.mark.parametrize("args", [["--help"], ["list"]], ids=" ".join)
def test_help_and_list_import_no_numpy(args):
    found = _probe(args, ("numpy",))
    assert found["status"] in (0, None), found
    assert found["heavy"] == []
