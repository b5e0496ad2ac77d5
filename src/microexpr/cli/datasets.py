"""``microexpr datasets``: check a copy of a dataset or of a protocol's datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from microexpr.cli._common import GuardedGroup, handle_errors
from microexpr.data import check_dataset, list_datasets, list_protocols
from microexpr.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(
    help="Check the micro-expression datasets you own.",
    no_args_is_help=True,
    add_completion=False,
    cls=GuardedGroup,
)


@app.callback()
def _main() -> None:
    """Check the micro-expression datasets you own."""


def _parse_roots(values: list[str]) -> dict[str, str]:
    roots = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--root {value!r}: with --protocol, write --root NAME=PATH")
        roots[name.strip()] = path
    return roots


@app.command("list")
def list_command() -> None:
    """List the dataset readers and the composite protocols."""
    typer.echo("datasets: " + ", ".join(list_datasets()))
    typer.echo("protocols: " + ", ".join(list_protocols()))


@app.command()
@handle_errors
def check(
    dataset: Annotated[
        Optional[str],  # noqa: UP045 (typer needs Optional on Python 3.10)
        typer.Option(help=f"Dataset to check: {', '.join(list_datasets())}."),
    ] = None,
    protocol: Annotated[
        Optional[str],  # noqa: UP045 (typer needs Optional on Python 3.10)
        typer.Option(help=f"Protocol to check instead: {', '.join(list_protocols())}."),
    ] = None,
    root: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            metavar="PATH | NAME=PATH",
            help="With --dataset: the dataset's folder (--root PATH). With --protocol: one "
            "per dataset, repeated (--root casme2=PATH --root samm=PATH ...).",
        ),
    ] = None,
    sheet: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="With --dataset: its coding sheet, when not found in the root."),
    ] = None,
    release: Annotated[
        Optional[str],  # noqa: UP045 (typer needs Optional on Python 3.10)
        typer.Option(help="With --dataset casme/casme2: auto, raw or cropped frames."),
    ] = None,
    selection: Annotated[
        str,
        typer.Option(
            help="With --protocol: select clips by the official MEGC2019 list ('official') "
            "or by mapping the sheet's emotions ('mapping')."
        ),
    ] = "official",
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table.")] = False,
    read_frames: Annotated[bool, typer.Option(help="Decode every onset and apex frame.")] = True,
) -> None:
    """Validate a copy and print clips, subjects and class counts, then every problem.

    Problems (missing folder or frame, apex outside onset..offset, unreadable
    frame, unknown emotion) are listed and the clips skipped; the exit code is
    0 whenever the copy could be read, 2 when it cannot (not the dataset, sheet
    with unknown columns, bad options).

    One dataset: ``--dataset casme2 --root /data/CASME2``. A protocol:
    ``--protocol megc2019 --root casme2=/data/CASME2 --root samm=/data/SAMM
    --root smic=/data/SMIC``.
    """
    roots = list(root or [])
    options: dict[str, Any] = {}
    if protocol is not None:
        if sheet is not None or release is not None:
            raise ConfigError("--sheet and --release apply to --dataset, not --protocol")
        result = check_dataset(
            protocol=protocol,
            roots=_parse_roots(roots),
            selection=selection,
            read_frames=read_frames,
        )
    else:
        if len(roots) != 1:
            raise ConfigError("--dataset needs exactly one --root PATH")
        if sheet is not None:
            options["sheet"] = sheet
        if release is not None:
            options["release"] = release
        result = check_dataset(dataset, roots[0], options=options, read_frames=read_frames)
    typer.echo(result.format(markdown=markdown))
