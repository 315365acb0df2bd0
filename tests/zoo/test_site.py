"""bayes_zoo.site: the static site of the notebooks (committed outputs) and the reports, built at quick size."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from bayes_zoo.site import MARKER, build_site, main

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COMMITTED_REPORT = ROOT / "docs" / "results" / "active-learning-pinsler2019"


class _Links(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.hrefs, self.images, self.scripts, self.details = [], [], [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "details":
            self.details.append(attrs.get("class", ""))


def _local(href: str) -> bool:
    return not href.startswith(("http:", "https:", "mailto:", "#", "data:"))


@pytest.fixture(scope="module")
def site(tmp_path_factory, quick_compare):
    """The site of every committed notebook, normal-gamma's quick report and the committed protocol report."""
    _, pair = quick_compare("normal-gamma", 3)  # the registry-wide test's run: no extra sampling
    out = tmp_path_factory.mktemp("site") / "_site"
    pages = build_site(out, notebooks=NOTEBOOKS, reports=[pair, COMMITTED_REPORT])
    return out, pages


def test_the_index_links_every_notebook_and_report_and_every_link_resolves(site):
    out, pages = site
    index = _Links((out / "index.html").read_text(encoding="utf-8"))
    assert sorted(index.hrefs) == sorted(p.href for p in pages)
    assert {f"notebooks/{p.stem}.html" for p in NOTEBOOKS} <= set(index.hrefs)
    assert any(h.startswith("reports/normal-gamma/") for h in index.hrefs)
    assert any(h.startswith("reports/active-learning-pinsler2019/") for h in index.hrefs)
    for page in out.rglob("*.html"):
        if "_static" in page.parts:
            continue
        links = _Links(page.read_text(encoding="utf-8"))
        for href in filter(_local, links.hrefs + links.scripts):
            assert (page.parent / href.split("?")[0].split("#")[0]).is_file(), f"{page}: {href} does not resolve"


def test_notebook_pages_carry_their_committed_figures_and_markdown_images_embedded(site):
    out, _ = site
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        pictured = sum(c.source.count("![") for c in nb.cells if c.cell_type == "markdown")
        images = _Links((out / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")).images
        assert all(src.startswith("data:image/") for src in images), path.name  # none depends on where the site is
        assert len(images) == pngs + pictured, path.name


def test_a_markdown_image_missing_beside_the_notebook_is_an_error_naming_it(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T\n\n![curves](../gone.png)")])
    path = tmp_path / "nb" / "t.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    with pytest.raises(FileNotFoundError, match="'../gone.png'"):
        build_site(tmp_path / "_site", notebooks=[path])
    assert not (tmp_path / "_site").exists()


def test_solutions_are_folded_away_and_mathjax_is_served_from_the_site_with_the_fonts_it_holds(site):
    out, _ = site
    for page in [out / "index.html"] + [out / "notebooks" / f"{p.stem}.html" for p in NOTEBOOKS]:
        text = page.read_text(encoding="utf-8")
        assert any(s.split("?")[0].endswith("_static/mathjax/MathJax.js") for s in _Links(text).scripts), page.name
        # the copy holds only the STIX-Web fonts: MathJax must not look for its TeX fonts first (primes fail)
        assert 'preferredFont: "STIX-Web"' in text and "imageFont: null" in text, page.name
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        solutions = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
        links = _Links((out / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8"))
        assert links.details.count("bayes-zoo-solution") == solutions, path.name


def test_a_learning_goal_keeps_its_maths_for_mathjax_and_loses_its_markdown_marks():
    from bayes_zoo.site import _plain

    assert _plain("pick **$v_0$** from a `threshold` and [read](x.md) $\\sum_n w_n L_n$") == (
        "pick $v_0$ from a threshold and read $\\sum_n w_n L_n$")


def test_the_index_lists_each_notebooks_learning_goals(site):
    _, pages = site
    for page in pages:
        if page.href.startswith("notebooks/"):
            nb = nbformat.read(page.source, as_version=4)
            has_goals = any("## What you will learn" in c.source for c in nb.cells if c.cell_type == "markdown")
            assert bool(page.goals) == has_goals, page.source


def test_a_rebuild_replaces_the_site_whole(tmp_path):
    out = tmp_path / "_site"
    build_site(out, reports=[COMMITTED_REPORT])
    (out / "stale.html").write_text("from an older build")
    build_site(out, reports=[COMMITTED_REPORT])
    assert not (out / "stale.html").exists() and (out / MARKER).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["_site"]  # no temporary folder left


@pytest.mark.parametrize("kwargs, named", [
    ({"notebooks": ["missing.ipynb"]}, "--notebooks"),
    ({"reports": ["."]}, "--reports"),  # a folder holding no report.md (made below)
    ({}, "--notebooks, --reports"),
])
def test_bad_input_is_refused_naming_the_argument_before_any_work(tmp_path, kwargs, named, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"^{named}"):
        build_site(tmp_path / "_site", **kwargs)
    assert not (tmp_path / "_site").exists()


def test_a_folder_that_is_not_a_site_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="^--out: .* not a bayes-zoo site"):
        build_site(out, reports=[COMMITTED_REPORT])
    assert (out / "thesis.tex").read_text() == "years of work"


def test_the_command_exits_2_naming_the_argument(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "s"), "--notebooks", str(tmp_path / "none.ipynb")]) == 2
    assert capsys.readouterr().err.startswith("error: --notebooks:")
