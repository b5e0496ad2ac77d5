"""``microexpr ablate``: the Table 4 ablation grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from microexpr.cli._common import handle_errors

__all__ = ["ablate"]


@handle_errors
def ablate(
    config: Annotated[Path, typer.Option(help="Experiment YAML with model atscnn (see configs/).")],
    out: Annotated[Path, typer.Option(help="Run folder for results (resumable).")] = Path(
        "runs/ablation"
    ),
    executor: Annotated[
        str, typer.Option(help="auto (every core on a CPU), serial, local or ray.")
    ] = "auto",
    workers: Annotated[
        Optional[int], typer.Option(help="Worker processes (local) or tasks at once (ray).")  # noqa: UP045
    ] = None,
    threads: Annotated[
        Optional[int], typer.Option(help="Torch threads per fold job (default 1).")  # noqa: UP045
    ] = None,
    address: Annotated[
        Optional[str], typer.Option(help="Ray cluster to join (host:port); default: a local one.")  # noqa: UP045
    ] = None,
    device: Annotated[
        Optional[str], typer.Option(help="Override training.device (cpu, cuda).")  # noqa: UP045
    ] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,  # noqa: UP045
    fresh: Annotated[
        bool, typer.Option(help="Discard results of another config in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Table 4: the full ATSCNN and six ablated variants over the same LOSO folds.

    Runs one grid of (variant, fold, seed) jobs: no attention, channel
    attention only, spatial attention only, ReLU instead of SELU, no strain
    stream, grayscale apex instead of flow. Writes ablation.md / .csv /
    .json (pooled UAR and UF1, difference from the full model beside the
    paper's) and ablation.png to --out, with the LOSO report of every
    variant. Finished folds are saved; rerunning the command resumes.
    """
    from microexpr.ablation import run_ablation
    from microexpr.cli._common import override_training
    from microexpr.config import load_config

    cfg = override_training(load_config(config), device=device, epochs=epochs)
    options = {"workers": workers, "threads": threads, "address": address}
    run = run_ablation(
        cfg, out, executor=executor, executor_options=options, fresh=fresh, progress=not quiet
    )
    for row in run.table.itertuples(index=False):
        diff = (
            ""
            if row.variant == "atscnn"
            else (
                f"  full minus variant: UAR {row.d_uar:+.4f} (paper {row.paper_d_uar:+.4f}), "
                f"UF1 {row.d_uf1:+.4f} (paper {row.paper_d_uf1:+.4f})"
            )
        )
        typer.echo(f"{row.variant}: UAR {row.uar:.4f}  UF1 {row.uf1:.4f}{diff}")
    typer.echo(f"table: {run.out / 'ablation.md'}")
