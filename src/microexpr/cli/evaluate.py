"""``microexpr evaluate``: score published per-fold weights on per-fold test data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from microexpr.data.flow_images import MEGC2019_ENV
from microexpr.errors import MicroexprError

__all__ = ["evaluate"]


def evaluate(
    model: Annotated[str, typer.Option("--model", help="Registered model name.")] = "ststnet",
    weights: Annotated[
        Path,
        typer.Option("--weights", help="Folder with one <fold>.pth per fold folder."),
    ] = Path("ststnet_weights"),
    data: Annotated[
        Optional[Path],  # noqa: UP045 (typer needs Optional on Python 3.10)
        typer.Option(
            "--data",
            envvar=MEGC2019_ENV,
            help="Flow set in the MEGC2019 layout (labels.csv, loso_test/).",
        ),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Folder for predictions.csv and metrics.json."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="Torch device.")] = "cpu",
) -> None:
    """Evaluate per-fold weights on per-fold test data; print pooled UF1/UAR.

    Each fold folder ``<data>/loso_test/<fold>`` is predicted with
    ``<weights>/<fold>.pth``; UF1 and UAR count TP, FP and FN over all folds
    together (the MEGC2019 rule), overall and per source dataset.
    """
    from microexpr.evaluation.pretrained import evaluate_fold_weights
    from microexpr.reports.complexity_table import markdown_table

    if data is None:
        typer.echo(f"error: no data folder: pass --data or set {MEGC2019_ENV}", err=True)
        raise typer.Exit(code=2)
    try:
        result = evaluate_fold_weights(model, weights, data, out_dir=out, device=device)
    except MicroexprError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{model}: {len(result.predictions)} clips, {result.per_fold_mean['n_folds']} folds")
    typer.echo(markdown_table(result.table(), floatfmt=".4f"), nl=False)
    typer.echo(f"UF1 {result.pooled['uf1']:.4f}  UAR {result.pooled['uar']:.4f}")
    for name, path in result.files.items():
        typer.echo(f"wrote {name}: {path}")
