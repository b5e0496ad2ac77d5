"""The Markdown table writer of the reports: :func:`microexpr._markdown.markdown_table`.

It lives below every layer so that the dataset check writes its tables with
it too; this module keeps the reports' import path.
"""

from __future__ import annotations

from microexpr._markdown import markdown_table

__all__ = ["markdown_table"]
