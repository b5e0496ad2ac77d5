"""The one Markdown table writer of microexpr (no extra dependency).

Below every layer, like :mod:`microexpr._io`: the reports, the command line
and the dataset check (:mod:`microexpr.data.check`) all write their tables
with :func:`markdown_table`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["markdown_table"]


def _cell(value: object, floatfmt: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return format(value, floatfmt)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame, *, floatfmt: str = ".4g") -> str:
    """Render ``df`` as a GitHub Markdown table.

    Integers get thousands separators, floats ``floatfmt``, NaN and None an
    empty cell, and a ``|`` inside a cell is escaped. A string cell is
    written as it is, so a column pre-formatted by the caller (``0.91 ± 0.02``)
    keeps its form.

    Parameters
    ----------
    df : DataFrame
        The table; its column names are the header.
    floatfmt : str
        Format of float cells (``format`` spec).

    Returns
    -------
    str
        The table, ending with a newline.
    """
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = [
        "| " + " | ".join(_cell(v, floatfmt) for v in row) + " |"
        for row in df.itertuples(index=False, name=None)
    ]
    return "\n".join([header, rule, *body]) + "\n"
