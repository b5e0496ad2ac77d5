"""One complexity table for every registered model (the paper's Table 3 columns).

Each model is profiled at its ``default_cfg["input_size"]`` with
:func:`microexpr.models.complexity.profile_model` (torchstat's conventions:
parameters, multiply-adds, FLOPs, memory read + write). Beside our figures,
the table gives the figures a paper publishes for the same model, with the
source, where one does:

* ATSCNN: the ATSCNN paper, Table 3 (4.21e6 parameters, 19.01 MFLOPs,
  20.5 MB).
* Off-ApexNet, STSTNet, Dual-Inception, MACNN, Micro-Attention, Off-TANet:
  the Off-TANet paper (PRICAI 2021; also its code's README), torchstat on the
  authors' re-implementations. Their STSTNet (162,051 parameters) is not the
  official one (1,683 parameters, the layout the published weights load into).
* mini-AORCNN: the mini-AORCNN paper's README (39,185 parameters; the
  authors' code, which this package follows, has 39,685).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import microexpr.models  # noqa: F401  (registers the models)
from microexpr.models._registry import create_model, list_models
from microexpr.models.complexity import profile_model

__all__ = [
    "PUBLISHED_COMPLEXITY",
    "complexity_table",
    "markdown_table",
    "write_complexity_table",
]

_OFF_TANET = "Off-TANet (PRICAI 2021), torchstat on re-implementation"

#: Published complexity figures: params, MFLOPs, memory read+write MB, source.
PUBLISHED_COMPLEXITY: dict[str, dict[str, object]] = {
    "atscnn": {
        "params": 4.21e6,
        "mflops": 19.01,
        "memory_mb": 20.5,
        "source": "ATSCNN paper, Table 3",
    },
    "off_apexnet": {"params": 2.66e6, "mflops": 3.87, "memory_mb": 10.35, "source": _OFF_TANET},
    "ststnet": {"params": 162_051, "mflops": 0.52698, "memory_mb": 0.78, "source": _OFF_TANET},
    "dual_inception": {
        "params": 6.45e6,
        "mflops": 12.64,
        "memory_mb": 26.27,
        "source": _OFF_TANET,
    },
    "macnn": {"params": 70.57e6, "mflops": 793.67, "memory_mb": 297.86, "source": _OFF_TANET},
    "micro_attention": {
        "params": 53.38e6,
        "mflops": 1000.0,
        "memory_mb": 237.97,
        "source": _OFF_TANET + " (1.0 G)",
    },
    "off_tanet": {"params": 59_403, "mflops": 30.08, "memory_mb": 5.64, "source": _OFF_TANET},
    "mini_aorcnn": {
        "params": 39_185,
        "mflops": 13.55,
        "memory_mb": 3.79,
        "source": "mini-AORCNN (Computer Science 2022), authors' README",
    },
}

_COLUMNS = [
    "model",
    "inputs",
    "input_size",
    "params",
    "madd_m",
    "mflops",
    "memory_read_mb",
    "memory_write_mb",
    "memory_mb",
    "paper_params",
    "paper_mflops",
    "paper_memory_mb",
    "paper_source",
]


def complexity_table(names: Sequence[str] | None = None) -> pd.DataFrame:
    """Profile models at their default input size.

    Parameters
    ----------
    names : sequence of str, optional
        Registered model names; default every registered model.

    Returns
    -------
    DataFrame
        One row per model with columns ``model``, ``inputs``, ``input_size``
        (e.g. ``3x28x28``), ``params``, ``madd_m`` (multiply-adds, millions),
        ``mflops``, ``memory_read_mb``, ``memory_write_mb``, ``memory_mb``
        (read + write) and the published ``paper_params``, ``paper_mflops``,
        ``paper_memory_mb``, ``paper_source`` (empty where none is known).
    """
    rows = []
    for name in list(names) if names is not None else list_models():
        model = create_model(name)
        cfg = model.default_cfg
        size = tuple(int(s) for s in cfg["input_size"])
        c = profile_model(model, size)
        paper = PUBLISHED_COMPLEXITY.get(name, {})
        rows.append(
            {
                "model": name,
                "inputs": cfg["inputs"],
                "input_size": "x".join(str(s) for s in size),
                "params": c.params,
                "madd_m": c.madd / 1e6,
                "mflops": c.flops / 1e6,
                "memory_read_mb": c.memory_read_mb,
                "memory_write_mb": c.memory_write_mb,
                "memory_mb": c.memory_mb,
                "paper_params": paper.get("params", math.nan),
                "paper_mflops": paper.get("mflops", math.nan),
                "paper_memory_mb": paper.get("memory_mb", math.nan),
                "paper_source": paper.get("source", ""),
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def _cell(value: object, floatfmt: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return format(value, floatfmt)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_table(df: pd.DataFrame, *, floatfmt: str = ".4g") -> str:
    """Render ``df`` as a GitHub Markdown table (no extra dependency).

    Integers get thousands separators, floats ``floatfmt``, NaN an empty cell.
    """
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = [
        "| " + " | ".join(_cell(v, floatfmt) for v in row) + " |"
        for row in df.itertuples(index=False, name=None)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def write_complexity_table(df: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write ``df`` as Markdown and CSV.

    Parameters
    ----------
    df : DataFrame
        A table from :func:`complexity_table`.
    path : str or Path
        A folder (no suffix; created if needed), which gets ``complexity.md``
        and ``complexity.csv``; or a file name ending in ``.md`` or ``.csv``,
        whose stem names both files.

    Returns
    -------
    dict
        ``{"md": Path, "csv": Path}``.
    """
    p = Path(path).expanduser()
    if p.suffix in (".md", ".csv"):
        stem = p.with_suffix("")
    else:
        stem = p / "complexity"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, csv = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".csv")
    md.write_text(markdown_table(df))
    df.to_csv(csv, index=False)
    return {"md": md, "csv": csv}
