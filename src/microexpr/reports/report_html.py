"""report.html: one self-contained page of a prediction.

The page holds the motion-over-time plot, a table of the candidates (frames,
times, class, probabilities), each candidate's panel, the problems met and
the notes. The PNG figures are embedded as base64 ``data:`` URIs and the
style is inline, so the file can be mailed or opened anywhere on its own.
It takes the plain dict that ``result.json`` holds, so it depends on no
inference code.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["render_report_html", "write_report_html"]

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
.partial { background: #fff3cd; } .bad { color: #a00; } .note { color: #555; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def _img(folder: Path, name: str, alt: str) -> str:
    path = folder / name
    if not name or not path.is_file():
        return f'<p class="bad">figure {html.escape(name)} is missing</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt_time(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f} s"


def render_report_html(result: Mapping[str, Any], folder: str | Path) -> str:
    """The page for ``result`` (the dict of ``result.json``) with the figures of ``folder``.

    Parameters
    ----------
    result : mapping
        What ``result.json`` holds.
    folder : str or Path
        Output folder with ``motion.png`` and the candidate panels.

    Returns
    -------
    str
        HTML text.
    """
    folder = Path(folder)
    esc = html.escape
    name = str(result.get("name") or Path(str(result.get("input", ""))).name)
    cands = list(result.get("candidates") or [])
    classes: list[str] = []
    for c in cands:
        for k in c.get("probabilities", {}):
            if k not in classes:
                classes.append(k)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>microexpr: {esc(name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Micro-expressions in {esc(name)}</h1>",
        '<p class="note">'
        f"{result.get('frames_read', 0)} frames at {float(result.get('fps', 0)):.2f} fps, "
        f"{result.get('frames_with_face', 0)} with a face; "
        f"{len(cands)} candidate{'s' if len(cands) != 1 else ''}; "
        f"model {esc(str(result.get('model', '')))}; "
        f"{float(result.get('frames_per_second', 0)):.1f} frames/s; "
        f"microexpr {esc(str(result.get('microexpr_version', '')))}</p>",
    ]
    if not result.get("complete", True):
        parts.append(
            '<p class="bad"><b>Partial result</b>: part of the input could not be used.</p>'
        )
    if result.get("spotted", True):
        parts += ["<h2>Motion over time</h2>", _img(folder, "motion.png", "motion over time")]
    parts.append("<h2>Candidates</h2>")
    if cands:
        head = "".join(f"<th>p({esc(k)})</th>" for k in classes)
        parts.append(
            "<table><tr><th>#</th><th>onset</th><th>apex</th><th>offset</th>"
            f'<th class="l">class</th>{head}<th>peak motion (px)</th>'
            '<th class="l">note</th></tr>'
        )
        for c in cands:
            probs = c.get("probabilities", {})
            cells = "".join(f"<td>{float(probs.get(k, 0.0)):.3f}</td>" for k in classes)
            offset = (
                "unknown"
                if c.get("offset") is None
                else f"{c['offset']} ({_fmt_time(c.get('offset_time'))})"
            )
            peak = c.get("peak_motion")
            css = ' class="partial"' if c.get("partial") else ""
            parts.append(
                f"<tr{css}><td>{c['number']}</td>"
                f"<td>{c['onset']} ({_fmt_time(c.get('onset_time'))})</td>"
                f"<td>{c['apex']} ({_fmt_time(c.get('apex_time'))})</td>"
                f'<td>{offset}</td><td class="l">{esc(str(c.get("label", "")))}</td>{cells}'
                f"<td>{'' if peak is None else f'{float(peak):.2f}'}</td>"
                f'<td class="l">{esc(str(c.get("note", "")))}</td></tr>'
            )
        parts.append("</table>")
        for c in cands:
            parts.append(f"<h2>Candidate {c['number']}: {esc(str(c.get('label', '')))}</h2>")
            parts.append(_img(folder, str(c.get("panel", "")), f"candidate {c['number']} panel"))
    else:
        parts.append("<p>No candidate was spotted.</p>")
    for title, key, css in (("Problems", "issues", "bad"), ("Notes", "notes", "note")):
        items = result.get(key) or []
        if items:
            parts.append(f"<h2>{title}</h2><ul>")
            parts += [f'<li class="{css}">{esc(str(i))}</li>' for i in items]
            parts.append("</ul>")
    face = result.get("face") or {}
    if face:
        rows = "".join(
            f'<tr><td class="l">{esc(str(k))}</td><td class="l">{esc(str(v))}</td></tr>'
            for k, v in face.items()
        )
        parts.append(f"<h2>Face</h2><table>{rows}</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report_html(path: str | Path, result: Mapping[str, Any], folder: str | Path) -> Path:
    """Write :func:`render_report_html` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(render_report_html(result, folder), encoding="utf-8")
    return path
