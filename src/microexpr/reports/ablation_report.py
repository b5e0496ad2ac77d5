"""The Table 4 ablation table and its bar plot.

Files written to the run folder: ``ablation.csv`` and ``ablation.json`` (one
row per variant: pooled UAR and UF1, the full model's score minus the
variant's, and the paper's difference beside it), ``ablation.md`` (the
table as Markdown) and ``ablation.png`` (measured against the paper's
differences, one bar pair per variant).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from microexpr._io import atomic_write_text  # noqa: E402
from microexpr.reports.markdown import markdown_table  # noqa: E402

__all__ = ["ablation_table", "plot_ablation", "render_ablation_markdown", "write_ablation_report"]


def ablation_table(
    metrics: Mapping[str, Any],
    *,
    full: str,
    paper: Mapping[str, tuple[str, float, float]],
) -> pd.DataFrame:
    """One row per variant, the full model first.

    Parameters
    ----------
    metrics : mapping
        ``summarize`` output: ``metrics["variants"][name]["pooled"]`` holds
        the pooled ``uar`` and ``uf1`` (mean over seeds).
    full : str
        Name of the full model.
    paper : mapping
        Variant name to (description, paper's UAR difference, paper's UF1
        difference), differences being full model minus variant.

    Returns
    -------
    DataFrame
        Columns variant, description, uar, uf1, d_uar, d_uf1, paper_d_uar,
        paper_d_uf1, seeds (differences empty for the full model).
    """
    variants = metrics["variants"]
    if full not in variants:
        raise KeyError(f"full model {full!r} not among the results {sorted(variants)}")
    base = variants[full]["pooled"]
    rows = [
        {
            "variant": full,
            "description": "full ATSCNN (u, v, strain; CBAM; SELU)",
            "uar": base["uar"],
            "uf1": base["uf1"],
            "d_uar": np.nan,
            "d_uf1": np.nan,
            "paper_d_uar": np.nan,
            "paper_d_uf1": np.nan,
            "seeds": variants[full]["n_seeds"],
        }
    ]
    for name, (description, paper_uar, paper_uf1) in paper.items():
        if name not in variants:
            continue
        v = variants[name]["pooled"]
        rows.append(
            {
                "variant": name,
                "description": description,
                "uar": v["uar"],
                "uf1": v["uf1"],
                "d_uar": base["uar"] - v["uar"],
                "d_uf1": base["uf1"] - v["uf1"],
                "paper_d_uar": paper_uar,
                "paper_d_uf1": paper_uf1,
                "seeds": variants[name]["n_seeds"],
            }
        )
    return pd.DataFrame(rows)


def _fmt(value: float, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def render_ablation_markdown(table: pd.DataFrame, *, title: str, note: str = "") -> str:
    """The ablation table as Markdown."""
    lines = [f"# {title}", ""]
    if note:
        lines += [note, ""]
    shown = pd.DataFrame(
        {
            "variant": table["variant"],
            "change": table["description"],
            "UAR": [_fmt(v) for v in table["uar"]],
            "UF1": [_fmt(v) for v in table["uf1"]],
            "ΔUAR": [_fmt(v, True) for v in table["d_uar"]],
            "ΔUF1": [_fmt(v, True) for v in table["d_uf1"]],
            "paper ΔUAR": [_fmt(v, True) for v in table["paper_d_uar"]],
            "paper ΔUF1": [_fmt(v, True) for v in table["paper_d_uf1"]],
        }
    )
    lines += [
        "UAR and UF1 pooled over all LOSO folds (MEGC2019 rule). Δ = full model minus "
        "variant (positive: the variant is worse), measured here and as Table 4 of the paper "
        "gives it.",
        "",
        markdown_table(shown),
        "![ablation](ablation.png)",
        "",
    ]
    return "\n".join(lines)


def plot_ablation(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Bar plot of ΔUAR and ΔUF1 per variant, measured next to the paper's."""
    rows = table.dropna(subset=["d_uar"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120, sharey=False)
    x = np.arange(len(rows))
    for ax, metric in zip(axes, ("uar", "uf1"), strict=True):
        ax.bar(x - 0.2, rows[f"d_{metric}"], 0.4, label="measured")
        ax.bar(x + 0.2, rows[f"paper_d_{metric}"], 0.4, label="paper (Table 4)")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(
            x, [v.removeprefix("atscnn_") for v in rows["variant"]], rotation=30, ha="right"
        )
        ax.set_ylabel(f"full model minus variant ({metric.upper()})")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        title or "ATSCNN ablations: drop in score when a component is changed", fontsize=10
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_ablation_report(
    out: str | Path,
    metrics: Mapping[str, Any],
    *,
    full: str,
    paper: Mapping[str, tuple[str, float, float]],
    title: str = "Table 4: ablations of ATSCNN",
    note: str = "",
) -> pd.DataFrame:
    """Write ablation.csv, ablation.json, ablation.md and ablation.png; return the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = ablation_table(metrics, full=full, paper=paper)
    atomic_write_text(out / "ablation.csv", table.to_csv(index=False, float_format="%.6f"))
    records = json.loads(table.to_json(orient="records"))
    atomic_write_text(out / "ablation.json", json.dumps(records, indent=2))
    plot_ablation(table, out / "ablation.png")
    atomic_write_text(out / "ablation.md", render_ablation_markdown(table, title=title, note=note))
    return table
