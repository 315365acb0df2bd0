"""Markdown tables for the reports: every table a report writes goes through :func:`markdown_table`.

A ``|`` inside a header or a cell (``max |gradient|``, ``p(model | y)``) ends the cell in a Markdown pipe table, so
the row has more cells than the header and the whole table is printed as a paragraph of ``| ... |`` text.  Escaped
as ``\\|`` it is one character of the cell (GitHub's tables and markdown-it-py's, also inside a code span).
"""

from __future__ import annotations

import re

__all__ = ["escape_pipes", "markdown_table"]

_PIPE = re.compile(r"(?<!\\)\|")


def escape_pipes(value):
    """``value`` with each unescaped ``|`` written ``\\|`` when it is text; anything else unchanged."""
    return _PIPE.sub(r"\\|", value) if isinstance(value, str) else value


def _isna(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def markdown_table(frame: "pd.DataFrame", *, missing: str | None = None, **kwargs) -> str:
    """``frame.to_markdown(**kwargs)`` with the pipes of its headers, text cells and index escaped.

    Numbers stay numbers (``floatfmt`` still applies to them); only text is touched.  ``missing``, when given, is
    printed for a missing cell (NaN, None) instead of ``nan``: the caller says why a cell has no value.
    """
    import pandas as pd  # here: the pairs import this module, and `bayes-zoo --help` imports no pandas

    shown = frame.copy()
    if missing is not None:
        shown = shown.astype(object)
        for i in range(shown.shape[1]):  # None, which tabulate prints as missingval (a NaN it prints "nan")
            shown.isetitem(i, pd.Series([None if _isna(v) else v for v in shown.iloc[:, i]], index=shown.index,
                                        dtype=object))
        kwargs["missingval"] = escape_pipes(missing)
    shown.columns = [escape_pipes(c) if isinstance(c, str) else c for c in shown.columns]
    for i in range(shown.shape[1]):
        column = shown.iloc[:, i]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            shown.isetitem(i, pd.Series([escape_pipes(v) for v in column], index=shown.index, dtype=object))
    if kwargs.get("index", True):
        shown.index = shown.index.map(escape_pipes)
        if isinstance(shown.index.name, str):
            shown.index.name = escape_pipes(shown.index.name)
    return shown.to_markdown(**kwargs)
