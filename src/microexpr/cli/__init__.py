"""The ``microexpr`` command line (Typer). Each command calls one library function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexpr import __version__
from microexpr.cli._common import GuardedGroup, handle_errors
from microexpr.cli.ablate import ablate
from microexpr.cli.datasets import app as datasets_app
from microexpr.cli.evaluate import evaluate
from microexpr.cli.predict import predict, train
from microexpr.cli.spot import spot
from microexpr.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(
    name="microexpr",
    help="Facial micro-expression recognition: ATSCNN and baselines, LOSO evaluation, prediction.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
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
    executor: Annotated[
        str, typer.Option(help="auto (every core), serial, local or ray; same results.")
    ] = "auto",
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (local; default one per core).")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(help="Start from nothing: delete the data, cache and folds of --out first."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run ATSCNN end to end on the built-in synthetic dataset (a wiring check).

    Renders the synthetic clips, finds and aligns faces with dlib, computes
    TV-L1 flow and optical strain (cached), trains and evaluates ATSCNN
    leave-one-subject-out on every core and writes predictions.csv,
    metrics.json, report.md and PNG plots to --out. The default is a reduced
    setting (25 epochs, batch 16, lr 1e-3). The synthetic faces show that the
    pipeline works; their score says nothing about real micro-expressions.
    """
    from microexpr.experiment import run_demo

    if subjects is not None and subjects < 2:
        raise ConfigError(f"--subjects == {subjects}, must be >= 2 (leave-one-subject-out)")
    run = run_demo(
        out,
        paper=paper,
        n_subjects=subjects,
        epochs=epochs,
        seed=seed,
        device=device,
        executor=executor,
        executor_options={"workers": workers},
        fresh=fresh,
        progress=not quiet,
    )
    main_variant = run.metrics["main_variant"]
    m = run.metrics["variants"][main_variant]
    typer.echo(
        f"{main_variant}: UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f} "
        f"({_average_label(run.metrics)} over {run.metrics['n_subjects']} LOSO folds, "
        f"{run.metrics['n_clips']} clips, {len(run.metrics['skipped'])} skipped; "
        f"synthetic faces: a wiring check, not a micro-expression result); "
        f"report: {run.out / 'report.md'}"
    )


def _average_label(metrics: dict) -> str:
    return "pooled" if metrics.get("average", "pooled") == "pooled" else "per-fold mean"


@app.command()
@handle_errors
def loso(
    config: Annotated[Path, typer.Option(help="Experiment YAML (see configs/).")],
    out: Annotated[Path, typer.Option(help="Run folder for results (resumable).")] = Path(
        "runs/loso"
    ),
    executor: Annotated[
        str, typer.Option(help="auto (every core on a CPU), serial, local or ray.")
    ] = "auto",
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
    from microexpr.cli._common import override_training
    from microexpr.config import load_config
    from microexpr.experiment import run_loso

    cfg = override_training(load_config(config), device=device, epochs=epochs)
    options = {"workers": workers, "address": address, "threads": threads}
    run = run_loso(
        cfg, out, executor=executor, executor_options=options, fresh=fresh, progress=not quiet
    )
    for name, m in run.metrics["variants"].items():
        typer.echo(
            f"{name}: UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f} ({_average_label(run.metrics)})"
        )
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
    """Parameters, multiply-adds, FLOPs and memory read+write (torchstat's conventions).

    --input-size C,H,W profiles the model built for that input (square
    inputs: H == W; C must be the model's channel count).
    """
    from microexpr.models import create_model, get_model_cfg
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
        if model is not None or input_size is not None:
            raise ConfigError(
                "--all profiles every model at its own size: give no MODEL or --input-size"
            )
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
    if out is not None:
        raise ConfigError("--out applies to --all (the table); one model prints its figures")
    if model is None:
        raise ConfigError("give a MODEL name or --all")
    options = {} if input_size is None else _input_size_option(model, input_size)
    size = tuple(get_model_cfg(model, **options)["input_size"])
    net = create_model(model, **options)
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


def _input_size_option(model: str, text: str) -> dict[str, int]:
    """``--input-size C,H,W`` as the model's ``input_size`` option, checked."""
    from microexpr.models import get_model_cfg

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"--input-size {text!r}: expected three positive integers C,H,W")
    c, h, w = (int(p) for p in parts)
    if h != w:
        raise ConfigError(f"--input-size {text!r}: the models take square inputs (H == W)")
    channels = get_model_cfg(model)["input_size"][0]
    if c != channels:
        raise ConfigError(f"--input-size {text!r}: model {model!r} takes {channels} channels")
    return {"input_size": h}


@app.command("models")
def models_(
    pattern: Annotated[str, typer.Argument(help="Shell-style pattern.")] = "*",
    papers: Annotated[bool, typer.Option("--papers", help="Also print each paper.")] = False,
) -> None:
    """List registered models: the inputs and input size each takes (nothing is built)."""
    from microexpr.models import get_model_cfg, list_models

    names = list_models(pattern)
    if not names:
        raise ConfigError(f"no model matches {pattern!r} (registered: {', '.join(list_models())})")
    for name in names:
        cfg = get_model_cfg(name)
        typer.echo(f"{name:28s} inputs={cfg['inputs']:<10s} size={tuple(cfg['input_size'])}")
        if papers:
            typer.echo(f"{'':28s} {cfg['paper']}")


# commands whose code lives in their own modules, listed after the ones above
app.command()(ablate)
app.command("evaluate")(evaluate)
app.command()(train)
app.command()(predict)
app.command()(spot)
app.add_typer(datasets_app, name="datasets", help="Check and summarise the datasets on disk.")
