"""Every ``report.md`` as one self-contained web page, ``report.html``, beside it.

The Markdown a report writer produced is the single source: it is parsed by markdown-it-py (CommonMark plus
GitHub's tables), each image it shows is read from the report's folder and embedded as a ``data:image/png`` URI,
links to another ``report.md`` point to its ``report.html``, verdict words in tables and bold text are coloured,
and the page is laid out by a Jinja2 template with its own style sheet (``templates/report.html.j2``).  The page
needs no other file and no network: a student opens it with a click, offline.

Usage::

    from bayes_zoo.html_report import write_html
    write_html("results/demo/normal-gamma")          # reads report.md, writes report.html beside it
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

__all__ = ["VERDICT_CLASSES", "render", "write_html"]

#: Verdict words, as the zoo's verdicts spell them, and the colour class each gets in a table cell or bold text:
#: the cross-validation's (:mod:`bayes_zoo.inference.crossval`), SBC's (:func:`bayes_zoo.inference.sbc.uniformity`),
#: ``check``'s and the active-learning paired comparisons' (:func:`bayes_zoo.active_learning.loop.paired_differences`).
VERDICT_CLASSES = {
    "agree": "good", "uniform": "good", "calibrated": "good", "better": "good",
    "disagree": "bad", "non-uniform": "bad", "miscalibrated": "bad", "worse": "bad",
    "inconclusive": "unsure", "no clear difference": "unsure", "too few simulations": "unsure",
}
_VERDICT = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, VERDICT_CLASSES), key=len, reverse=True))
                      + r")(?![\w-])")

_TEMPLATE = "report.html.j2"


def _markdown():
    from markdown_it import MarkdownIt

    # html=False: any HTML inside a report's text is shown as text, never run
    return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(["table", "strikethrough"])


def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _embed_and_relink(tokens, folder: Path) -> None:
    """Images from ``folder`` become data URIs (a missing or non-PNG image raises); ``*report.md`` links become
    ``*report.html``."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "image":
                src = str(child.attrGet("src") or "")
                path = folder / src
                if re.match(r"^[a-z][a-z0-9+.-]*:", src) or not src.lower().endswith(".png"):
                    raise ValueError(f"report.md: image {src!r} is not a PNG file beside the report")
                if not path.is_file():
                    raise FileNotFoundError(f"report.md: image {src!r} not found in {folder}")
                child.attrSet("src", _png_uri(path))
            elif child.type == "link_open":
                href = str(child.attrGet("href") or "")
                if href.endswith("report.md") and not re.match(r"^[a-z][a-z0-9+.-]*:", href):
                    child.attrSet("href", href[: -len(".md")] + ".html")


def _colour_verdicts(tokens) -> None:
    """Wrap verdict words (:data:`VERDICT_CLASSES`) in table cells and bold text in ``<span class="verdict ...">``."""
    from markdown_it.common.utils import escapeHtml
    from markdown_it.token import Token

    in_cell = False
    for token in tokens:
        if token.type in ("td_open", "th_open"):
            in_cell = True
        elif token.type in ("td_close", "th_close"):
            in_cell = False
        if token.type != "inline" or not token.children:
            continue
        children, bold = [], 0
        for child in token.children:
            bold += child.type == "strong_open"
            bold -= child.type == "strong_close"
            if child.type == "text" and (in_cell or bold) and _VERDICT.search(child.content):
                html, last = [], 0
                for m in _VERDICT.finditer(child.content):
                    html.append(escapeHtml(child.content[last:m.start()]))
                    word = m.group(1)
                    kind = VERDICT_CLASSES[word]
                    html.append(f'<span class="verdict {kind}">{escapeHtml(word)}</span>')
                    last = m.end()
                html.append(escapeHtml(child.content[last:]))
                replacement = Token("html_inline", "", 0)
                replacement.content = "".join(html)
                children.append(replacement)
            else:
                children.append(child)
        token.children = children


def render(markdown: str, folder, *, home: str | None = None) -> str:
    """A report's Markdown as one self-contained HTML page.

    Parameters
    ----------
    markdown : str
        The report (its first ``# heading`` becomes the page's title).
    folder : str or pathlib.Path
        Where the report's images are (``![name](name.png)`` reads ``folder/name.png``).
    home : str, optional
        A link (relative URL) to the index of a site holding the page (:mod:`bayes_zoo.site`), shown above and
        below the report.

    Returns
    -------
    str
        The page: images embedded as base64 PNG data URIs, tables styled (wide ones scroll), verdicts coloured.

    Raises
    ------
    FileNotFoundError
        If an image the report shows is not in ``folder``.
    ValueError
        If an image is not a ``.png`` file beside the report (a URL, another format).
    """
    import jinja2

    folder = Path(folder)
    md = _markdown()
    tokens = md.parse(markdown)
    _embed_and_relink(tokens, folder)
    _colour_verdicts(tokens)
    body = md.renderer.render(tokens, md.options, {})
    body = body.replace("<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")
    title = next((tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1"),
                 folder.name)
    env = jinja2.Environment(loader=jinja2.PackageLoader("bayes_zoo", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template(_TEMPLATE).render(title=title, body=body, home=home)


def write_html(folder, *, source: str = "report.md", target: str = "report.html") -> Path:
    """Render ``folder/source`` (:func:`render`) into ``folder/target``, whole or not at all.

    The page is written to a temporary file in ``folder`` and moved into place (``os.replace``), so an
    interrupted or failed render leaves the previous ``target`` as it was.

    Parameters
    ----------
    folder : str or pathlib.Path
        A report's folder.
    source, target : str
        File names inside ``folder``.

    Returns
    -------
    pathlib.Path
        ``folder/target``.

    Raises
    ------
    FileNotFoundError
        If ``folder/source`` or an image it shows does not exist.
    ValueError
        If an image is not a PNG beside the report.
    """
    folder = Path(folder)
    text = (folder / source).read_text(encoding="utf-8")
    page = render(text, folder)
    path = folder / target
    tmp = folder / f".{target}.partial-{secrets.token_hex(4)}"
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
