"""The ``microexpr`` command line (Typer). Each command calls one library function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexpr import __version__
from microexpr.cli._common import handle_errors
from microexpr.cli.ablate import ablate
from microexpr.cli.datasets import app as datasets_app
from microexpr.cli.evaluate import evaluate
from microexpr.cli.predict import predict, train

__all__ = ["app"]

app = typer.Typer(
    name="microexpr",
    help="Facial micro-expression recognition: ATSCNN and baselines, LOSO evaluation, prediction.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"microexpr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Facial micro-expression recognition with ATSCNN and its baselines."""


@app.command()
@handle_errors
def demo(
    out: Annotated[Path, typer.Option(help="Run folder: data, cache, report files.")] = Path(
        "runs/demo"
    ),
    paper: Annotated[
        bool,
        typer.Option(help="The paper's protocol: 200 epochs, batch 64, lr 1e-4 (hours on CPU)."),
    ] = False,
    subjects: Annotated[int | None, typer.Option(help="Synthetic subjects (default 12).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run ATSCNN end to end on the built-in synthetic dataset.

    Renders the synthetic micro-expression clips, finds and aligns faces with
    dlib, computes TV-L1 flow and optical strain (cached), trains and
    evaluates ATSCNN leave-one-subject-out and writes predictions.csv,
    metrics.json, report.md and PNG plots to --out. The default is a reduced
    setting (25 epochs, batch 16, lr 1e-3) that runs in a few minutes on 2 cores.
    """
    from microexpr.experiment import run_demo

    run = run_demo(
        out,
        paper=paper,
        n_subjects=subjects,
        epochs=epochs,
        seed=seed,
        device=device,
        progress=not quiet,
    )
    main_variant = run.metrics["main_variant"]
    m = run.metrics["variants"][main_variant]
    typer.echo(
        f"{main_variant}: UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f} "
        f"(pooled over {run.metrics['n_subjects']} LOSO folds, {run.metrics['n_clips']} clips, "
        f"{len(run.metrics['skipped'])} skipped); report: {run.out / 'report.md'}"
    )


@app.command()
@handle_errors
def loso(
    config: Annotated[Path, typer.Option(help="Experiment YAML (see configs/).")],
    out: Annotated[Path, typer.Option(help="Run folder for results (resumable).")] = Path(
        "runs/loso"
    ),
    executor: Annotated[str, typer.Option(help="serial, local or ray.")] = "serial",
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (local) or tasks (ray).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address to join.")] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="Torch threads per fold job (default 1: identical results on every executor)."
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Override training.device (cpu, cuda).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Override training.epochs.")] = None,
    fresh: Annotated[
        bool, typer.Option(help="Discard results of another config in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Leave-one-subject-out training and evaluation of an experiment config.

    Trains each fold for the configured epochs and evaluates the model of the
    last epoch (never an epoch picked on the test subject). Finished folds are
    saved in --out; rerunning the same command resumes.
    """
    from dataclasses import replace

    from microexpr.config import load_config
    from microexpr.experiment import run_loso

    cfg = load_config(config)
    if device is not None or epochs is not None:
        cfg = cfg.replace(
            training=replace(
                cfg.training,
                device=device or cfg.training.device,
                epochs=epochs or cfg.training.epochs,
            )
        )
    options = {"workers": workers, "address": address, "threads": threads}
    run = run_loso(
        cfg, out, executor=executor, executor_options=options, fresh=fresh, progress=not quiet
    )
    for name, m in run.metrics["variants"].items():
        typer.echo(f"{name}: UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f} (pooled)")
    typer.echo(f"report: {run.out / 'report.md'}")


@app.command()
@handle_errors
def complexity(
    model: Annotated[str | None, typer.Argument(help="Registered model name.")] = None,
    all_models: Annotated[
        bool, typer.Option("--all", help="Every registered model, as one table.")
    ] = False,
    input_size: Annotated[
        str | None, typer.Option(help="Input size C,H,W (default: the model's).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for complexity.md / .csv (with --all).")
    ] = None,
    paper: Annotated[
        bool,
        typer.Option(
            "--paper",
            help="With --all: the ATSCNN paper's Table 3 (its models at 128x128) beside the "
            "published figures, every mismatch explained (complexity_paper.md / .csv).",
        ),
    ] = False,
) -> None:
    """Parameters, multiply-adds, FLOPs and memory read+write (torchstat's conventions)."""
    from microexpr.errors import ConfigError
    from microexpr.models import create_model
    from microexpr.models.complexity import profile_model

    if paper:
        if not all_models:
            raise ConfigError("--paper profiles the paper's whole Table 3: give --all with it")
        from microexpr.reports.complexity_table import (
            markdown_table,
            paper_complexity_table,
            write_paper_complexity_table,
        )

        table = paper_complexity_table()
        typer.echo(markdown_table(table, floatfmt=".2f"))
        if out is not None:
            write_paper_complexity_table(table, out)
        return
    if all_models:
        from microexpr.reports.complexity_table import (
            complexity_table,
            markdown_table,
            write_complexity_table,
        )

        table = complexity_table(None)
        typer.echo(markdown_table(table))
        if out is not None:
            write_complexity_table(table, out)
        return
    if model is None:
        raise ConfigError("give a MODEL name or --all")
    net = create_model(model)
    size = (
        tuple(int(v) for v in input_size.split(","))
        if input_size
        else tuple(net.default_cfg["input_size"])
    )
    c = profile_model(net, size)
    typer.echo(f"model: {model}  input: {size}")
    typer.echo(f"parameters:        {c.params:,} ({c.params / 1e6:.2f} M)")
    typer.echo(
        f"FLOPs (MACs):      {c.flops:,} ({c.flops / 1e6:.2f} M)"
        "  [torchstat 'Flops'; the papers' MFLOPs]"
    )
    typer.echo(
        f"MAdd:              {c.madd:,} ({c.madd / 1e6:.2f} M)"
        "  [torchstat 'MAdd': mul and add counted apart]"
    )
    typer.echo(
        f"memory read+write: {c.memory_mb:.2f} MB "
        f"(read {c.memory_read_mb:.2f}, write {c.memory_write_mb:.2f})"
    )


@app.command("models")
def models_(pattern: Annotated[str, typer.Argument(help="Shell-style pattern.")] = "*") -> None:
    """List registered models."""
    from microexpr.models import create_model, list_models

    for name in list_models(pattern):
        cfg = create_model(name).default_cfg
        typer.echo(f"{name:28s} inputs={cfg['inputs']:<10s} size={tuple(cfg['input_size'])}")


# commands whose code lives in their own modules, listed after the ones above
app.command()(ablate)
app.command("evaluate")(evaluate)
app.command()(train)
app.command()(predict)
app.add_typer(datasets_app, name="datasets", help="Check and summarise the datasets on disk.")
