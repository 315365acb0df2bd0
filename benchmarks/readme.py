"""Regenerate the README's performance section from the benchmark results (``benchmarks/results/*.json``).

Every ``benchmarks/bench_*.py`` script writes, beside its Markdown results, a JSON file of the figures the README
states (``_common.Claim``: what is compared, the paired ratios of interleaved repeats, the target).  This script
reads them all and rewrites the part of ``README.md`` between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``:
one table row per claim with min / median / max over the repeats, the target and whether the median meets it,
and under the table each run's date and machine load.  No figure in that section is typed by hand.

Usage::

    .venv/bin/python benchmarks/readme.py            # rewrite README.md (``make bench`` runs it last)
    .venv/bin/python benchmarks/readme.py --check    # exit 1 if README.md is not what the results give
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
LOAD_KEY = "load average 1/5/15 min at the end (other work on the machine skews timings)"


def _number(x: float, unit: str) -> str:
    if unit == "x":
        return f"{x:.2f}x" if x < 10 else f"{x:,.1f}x" if x < 100 else f"{x:,.0f}x"
    if unit == "s":
        return f"{x:.3g} s"
    return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.3g} {unit}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def section(results: Path = RESULTS) -> str:
    """The generated Markdown between the markers (markers excluded)."""
    files = sorted(results.glob("*.json"))
    if not files:
        raise SystemExit(f"no benchmark results in {results}: run `make bench` first")
    rows = ["| figure | min | median | max | target | met |", "|:--|--:|--:|--:|:--|:--|"]
    runs = []
    for path in files:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("quick", True):
            raise SystemExit(f"{path}: written by a --quick run (or without saying): quick sizes are not "
                             "measurements; run `make bench`, or pass --out elsewhere with --quick")
        machine = payload.get("machine", {})
        runs.append(f"`{payload['script']}` ({path.stem}.md): {machine.get('date (UTC)', 'date unknown')}, "
                    f"{machine.get('CPU count (os.cpu_count)', '?')} CPUs, load average at the end "
                    f"{machine.get(LOAD_KEY, 'unknown')}")
        for c in payload["claims"]:
            unit = c.get("unit", "x")
            met = {True: "yes", False: "**no**", None: ""}[c["met"]]
            n = len(c["ratios"])
            rows.append(f"| {_cell(c['text'])} ({n} run{'s' if n != 1 else ''}) | {_number(c['min'], unit)} | "
                        f"{_number(c['median'], unit)} | {_number(c['max'], unit)} | {_cell(c['target'])} | {met} |")
    return "\n".join(["", *rows, "", "Runs (from each results file):", "", *[f"- {r}" for r in runs], ""])


def render(readme_text: str, generated: str) -> str:
    """``readme_text`` with the part between the markers replaced by ``generated``."""
    if readme_text.count(BEGIN) != 1 or readme_text.count(END) != 1:
        raise SystemExit(f"README.md must hold exactly one {BEGIN} and one {END}")
    head, rest = readme_text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--check", action="store_true", help="exit 1 if README.md differs from what the results give")
    args = p.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text, section())
    if args.check:
        if new != text:
            print("README.md's performance section is not what benchmarks/results/*.json give: "
                  "run `.venv/bin/python benchmarks/readme.py`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        tmp = README.with_suffix(".md.tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(README)
    print(f"README.md performance section: {new.count(chr(10)) - text.count(chr(10)):+d} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
