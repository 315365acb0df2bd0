"""A static web site of the teaching notebooks and the reports: ``make docs``.

The notebooks are rendered with their committed outputs by nbconvert (JupyterLab's look; an exercise's solution
cell, tagged ``solution``, folded into a ``<details>``), every ``report.md`` under the report folders given is
rendered by :func:`bayes_zoo.html_report.render` (figures embedded), and an index page links them all, with
each notebook's learning goals.  Open ``OUT/index.html`` in a browser: no server and no network are needed (the
notebooks' formulae are typeset by MathJax 2.7, copied into ``OUT/_static/mathjax`` from the
``jupyter-server-mathjax`` package, which ``pip install 'bayes-zoo[docs]'`` brings).

The site is built in a temporary folder beside ``OUT`` and moved into place when complete; an existing ``OUT``
is replaced only if it is a site this module built (it holds :data:`MARKER`).

Usage::

    python -m bayes_zoo.site --out docs/_site --notebooks notebooks/*.ipynb --reports results/demo
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARKER", "Page", "build_site", "main"]

#: The file that marks a folder as a site built here (so ``--out`` never deletes anything else).
MARKER = ".bayes-zoo-site"


@dataclass(frozen=True)
class Page:
    """One page of the site, as the index lists it."""

    title: str
    """The notebook's or report's first heading."""
    href: str
    """Its path relative to the site's root, with ``/`` separators."""
    source: str
    """The file it was rendered from, as given."""
    goals: tuple = ()
    """A notebook's learning goals (the bullets under ``## What you will learn``)."""
    exercises: int = 0
    """A notebook's number of ``### Exercise N`` headings."""


def _heading(markdown: str, level: int = 1) -> str | None:
    found = re.search(rf"^{'#' * level}\s+(.+?)\s*#*\s*$", markdown, flags=re.MULTILINE)
    return found.group(1) if found else None


def _plain(markdown: str) -> str:
    """Inline Markdown as plain text (code marks, emphasis and link targets dropped), ``$...$`` maths kept whole
    for MathJax."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    parts = re.split(r"(\$[^$]+\$)", text)
    return "".join(part if part.startswith("$") else re.sub(r"[`*_]", "", part) for part in parts).strip()


def _list_items(markdown: str) -> tuple:
    """The items of the first Markdown list in ``markdown`` (bullets or numbers; indented lines continue an
    item), as plain text."""
    items = []
    for line in markdown.splitlines():
        start = re.match(r"^(?:[-*]|\d+\.)\s+(.+)$", line)
        if start:
            items.append(start.group(1))
        elif items and line.startswith(" ") and line.strip():
            items[-1] += " " + line.strip()
        elif items:
            break
    return tuple(_plain(item) for item in items)


_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def _embed_local_images(html: str, notebook: Path) -> str:
    """A Markdown cell's image given by a path relative to the notebook (``![x](../docs/results/a.png)``) embedded as
    a data URI, so the page shows it wherever the site lies; URLs and data URIs are left alone.

    Raises
    ------
    FileNotFoundError
        Naming the notebook and the path, if the image is not there (the page would show a broken image).
    """
    import base64
    from html import unescape

    def embed(match):
        src = unescape(match.group(2))
        if re.match(r"^[a-z][a-z0-9+.-]*:", src):
            return match.group(0)
        path = (notebook.parent / src).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{notebook}: image {src!r} not found ({path})")
        kind = _IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:{kind};base64,{data}{match.group(3)}"

    return _IMG_SRC.sub(embed, html)


def _notebook_page(path: Path, site: Path, exporter) -> Page:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    title = next((h for h in map(_heading, markdown) if h), path.stem)
    goals = ()
    for text in markdown:
        if re.search(r"^##\s+What you will learn", text, flags=re.MULTILINE):
            goals = _list_items(re.split(r"^##\s+What you will learn.*$", text, flags=re.MULTILINE)[1])
            break
    exercises = sum(len(re.findall(r"^###\s+Exercise\s+\d+", t, flags=re.MULTILINE)) for t in markdown)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _plain(title)}})
    body = _embed_local_images(body, path)
    target = site / "notebooks" / f"{path.stem}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return Page(_plain(title), f"notebooks/{path.stem}.html", str(path), goals, exercises)


def _report_pages(root: Path, site: Path) -> list[Page]:
    """Every ``report.md`` under ``root`` (hidden folders, e.g. a run's temporary ones, skipped), rendered, each
    page linking back to the site's index (a relative link, so the site can be moved)."""
    from bayes_zoo.html_report import render

    pages = []
    sources = sorted((p for p in root.rglob("report.md")
                      if not any(part.startswith(".") for part in p.relative_to(root).parts)),
                     key=lambda p: (len(p.relative_to(root).parts), str(p)))  # an index before the pages it links
    for source in sources:
        relative = Path("reports") / root.name / source.parent.relative_to(root) / "report.html"
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        markdown = source.read_text(encoding="utf-8")
        home = "/".join([".."] * (len(relative.parts) - 1)) + "/index.html"
        target.write_text(render(markdown, source.parent, home=home), encoding="utf-8")
        pages.append(Page(_plain(_heading(markdown) or source.parent.name), relative.as_posix(), str(source)))
    return pages


def _copy_mathjax(site: Path) -> str:
    """Copy MathJax 2.7 (``jupyter_server_mathjax``'s copy) into ``site/_static/mathjax``; its URL from the site's
    root."""
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(source, site / "_static" / "mathjax")
    return "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def _check(out: Path, notebooks: list[Path], reports: list[Path]) -> None:
    for path in notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"--notebooks: {path} is not an existing .ipynb file")
    names = [r.name for r in reports]
    for root in reports:
        if not root.is_dir():
            raise ValueError(f"--reports: {root} is not a folder")
        if not any(root.rglob("report.md")):
            raise ValueError(f"--reports: {root} holds no report.md (run the command that writes it first, e.g. "
                             f"`make demo`)")
        if names.count(root.name) > 1:
            raise ValueError(f"--reports: two folders are called {root.name!r}; their pages would collide")
    if not notebooks and not reports:
        raise ValueError("--notebooks, --reports: nothing to build a site of")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(f"--out: {out} holds files that are not a bayes-zoo site; it is not replaced (remove it or "
                         f"choose another --out)")


def build_site(out, *, notebooks=(), reports=(), title: str = "bayes-zoo: notebooks and reports") -> list[Page]:
    """Build the site into ``out`` (replacing a site built before), whole or not at all.

    Parameters
    ----------
    out : str or pathlib.Path
        The site's folder; ``out/index.html`` is its front page.
    notebooks : sequence of path
        ``.ipynb`` files, rendered with their saved outputs (none is executed) to ``out/notebooks/STEM.html``.
    reports : sequence of path
        Folders (e.g. ``results/demo``); each ``report.md`` under one, at any depth, becomes
        ``out/reports/FOLDER/<relative>/report.html``, links between reports kept.
    title : str
        The index page's heading.

    Returns
    -------
    list of Page
        The notebooks' pages, then the reports', in the index's order.

    Raises
    ------
    ValueError
        Before any work, naming the argument: a notebook that is not an existing ``.ipynb``; a report folder that
        is missing, holds no ``report.md``, or shares its name with another; nothing given; ``out`` a file, or a
        folder with content that this function did not build.
    FileNotFoundError
        If a report shows an image that is not beside it (:func:`bayes_zoo.html_report.render`).
    """
    import jinja2
    from nbconvert import HTMLExporter

    out = Path(out)
    notebooks, reports = [Path(p) for p in notebooks], [Path(p) for p in reports]
    _check(out, notebooks, reports)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        templates = Path(__file__).parent / "templates"
        mathjax = _copy_mathjax(staging)  # the notebooks' formulae and the index's goals, typeset offline
        exporter = HTMLExporter(template_name="bayes_zoo_notebook", extra_template_basedirs=[str(templates / "nbconvert")],
                                extra_template_paths=[str(templates)], mathjax_url=f"../{mathjax}")
        notebook_pages = [_notebook_page(p, staging, exporter) for p in notebooks]
        report_pages = [page for root in reports for page in _report_pages(root, staging)]
        env = jinja2.Environment(loader=jinja2.PackageLoader("bayes_zoo", "templates"),
                                 autoescape=jinja2.select_autoescape(["html", "j2"]))
        summary = f"{len(notebook_pages)} notebooks, {len(report_pages)} reports"
        intro = ("Each classic problem written twice, by hand from the equations and declaratively in PyMC, and "
                 "cross-validated with ArviZ. The notebooks teach the inference; the reports are the verdicts.")
        (staging / "index.html").write_text(
            env.get_template("site_index.html.j2").render(title=title, intro=intro, notebooks=notebook_pages,
                                                          reports=report_pages, built=summary, mathjax_url=mathjax),
            encoding="utf-8")
        (staging / MARKER).write_text("built by python -m bayes_zoo.site; replaced whole by the next build\n")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
            os.rename(out, old)
        os.rename(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return notebook_pages + report_pages


def main(argv=None) -> int:
    """``python -m bayes_zoo.site``: exit 0 when built, 2 on bad arguments (the message names the argument)."""
    parser = argparse.ArgumentParser(prog="python -m bayes_zoo.site", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("--out", required=True, help="the site's folder (OUT/index.html is its front page)")
    parser.add_argument("--notebooks", nargs="*", default=[], metavar="IPYNB", help="notebooks, rendered as saved")
    parser.add_argument("--reports", nargs="*", default=[], metavar="FOLDER",
                        help="folders whose report.md files (at any depth) become pages")
    args = parser.parse_args(argv)
    try:
        pages = build_site(args.out, notebooks=args.notebooks, reports=args.reports)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"site: {Path(args.out) / 'index.html'} ({sum(p.href.startswith('notebooks/') for p in pages)} notebooks, "
          f"{sum(p.href.startswith('reports/') for p in pages)} reports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
