"""bayes_zoo.html_report: every report.md as one self-contained page, read back with an HTML parser."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

from bayes_zoo.html_report import render, write_html


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, page: str):
        super().__init__()
        self.tags, self.text = [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture
def figure_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "curve.png")
    plt.close(fig)
    return tmp_path / "curve.png"


def test_an_image_beside_the_report_is_embedded_byte_for_byte(tmp_path, figure_png):
    page = _Tags(render("# R\n\n![the curve](curve.png)\n", tmp_path))
    [img] = page.all("img")
    assert img["alt"] == "the curve"
    assert base64.b64decode(img["src"].removeprefix("data:image/png;base64,")) == figure_png.read_bytes()


def test_a_missing_image_is_an_error_naming_it_not_a_broken_page(tmp_path):
    with pytest.raises(FileNotFoundError, match="'gone.png'"):
        render("![x](gone.png)\n", tmp_path)


@pytest.mark.parametrize("src", ["https://example.org/a.png", "plot.svg"])
def test_an_image_that_is_not_a_png_beside_the_report_is_refused(tmp_path, src):
    with pytest.raises(ValueError, match="not a PNG file beside the report"):
        render(f"![x]({src})\n", tmp_path)


def test_links_to_other_reports_point_to_their_pages_and_other_links_are_kept(tmp_path):
    page = _Tags(render("[gp](gp/report.md), [table](summary.csv), [site](https://example.org/report.md)\n",
                        tmp_path))
    assert [a["href"] for a in page.all("a")] == ["gp/report.html", "summary.csv", "https://example.org/report.md"]


def test_verdicts_in_tables_and_bold_text_are_coloured_by_kind_and_prose_is_not(tmp_path):
    markdown = ("**Verdict: disagree**\n\nBoth must agree to a tolerance.\n\n"
                "| comparison | verdict |\n|---|---|\n| gibbs vs nuts | agree |\n| a vs b | non-uniform |\n"
                "| c vs d | no clear difference |\n")
    page = _Tags(render(markdown, tmp_path))
    assert [s["class"] for s in page.all("span")] == ["verdict bad", "verdict good", "verdict bad", "verdict unsure"]
    assert "Both must agree to a tolerance." in "".join(page.text)  # prose stays plain text


def test_html_inside_a_report_is_shown_as_text_never_run(tmp_path):
    page = _Tags(render("| quantity |\n|---|\n| <script>alert(1)</script> |\n", tmp_path))
    assert page.all("script") == []
    assert "<script>alert(1)</script>" in "".join(page.text)


def test_the_page_title_is_the_reports_first_heading(tmp_path):
    page = render("# Normal with unknown mean\n\n## Setup\n", tmp_path)
    assert "<title>Normal with unknown mean</title>" in page


def test_a_failed_render_leaves_the_previous_page_whole_and_no_partial_file(tmp_path):
    (tmp_path / "report.md").write_text("![x](gone.png)\n")
    (tmp_path / "report.html").write_text("previous page")
    with pytest.raises(FileNotFoundError):
        write_html(tmp_path)
    assert (tmp_path / "report.html").read_text() == "previous page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_write_html_writes_the_page_of_report_md_beside_it(tmp_path, figure_png):
    (tmp_path / "report.md").write_text("# Done\n\n![c](curve.png)\n")
    path = write_html(tmp_path)
    assert path == tmp_path / "report.html"
    assert path.read_text() == render("# Done\n\n![c](curve.png)\n", tmp_path)


def test_a_page_on_a_site_links_home_and_a_page_beside_its_report_does_not(tmp_path):
    on_site = _Tags(render("# R\n", tmp_path, home="../../index.html"))
    assert [a["href"] for a in on_site.all("a")] == ["../../index.html", "../../index.html"]
    assert _Tags(render("# R\n", tmp_path)).all("a") == []
