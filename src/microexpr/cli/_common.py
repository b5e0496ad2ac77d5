"""Shared pieces of the command line: one error handler for every command.

Errors are classified by their type, never by their text:

- microexpr's own errors (:class:`~microexpr.errors.MicroexprError`: a bad
  config, a missing dataset, weights of another model...) and the operating
  system's (:class:`OSError`: a path that cannot be created, read or
  written) are the user's input: one line ``error: ...`` and exit code 2;
- Ctrl-C: one line, exit code 130 (finished folds are kept);
- anything else is a bug in microexpr: one line naming the exception type
  and its message, where to report it, exit code 1. ``MICROEXPR_DEBUG=1``
  shows the full traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer
from typer.core import TyperGroup

from microexpr.errors import MicroexprError

if TYPE_CHECKING:
    from microexpr.config import ExperimentConfig

__all__ = [
    "DEBUG_ENV",
    "GuardedGroup",
    "REPORT_TO",
    "error_exit_code",
    "handle_errors",
    "override_training",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Set to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "MICROEXPR_DEBUG"
#: Where the one line of an unexpected error asks to report it.
REPORT_TO = "the issue tracker of the microexpr repository"


def _os_message(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    where = f": {exc.filename}" if exc.filename else ""
    other = f" -> {exc.filename2}" if exc.filename2 else ""
    return f"{what}{where}{other}"


def error_exit_code(exc: BaseException) -> int | None:
    """Print the one line for ``exc`` and return the exit code (None: not handled).

    Click's own exceptions (usage errors, ``typer.Exit``) are not handled
    here: Click prints and exits for them.
    """
    if isinstance(exc, (typer.Exit, click.exceptions.Exit, click.ClickException, click.Abort)):
        return None
    if isinstance(exc, BrokenPipeError):
        # the reader went away (`microexpr models | head`): nothing to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if isinstance(exc, MicroexprError):
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, KeyboardInterrupt):
        print("interrupted; finished folds are kept in the run folder", file=sys.stderr)
        return 130
    if isinstance(exc, OSError):
        print(f"error: {_os_message(exc)}", file=sys.stderr)
        return 2
    if isinstance(exc, Exception):
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            return None
        message = str(exc).splitlines()[0] if str(exc) else "(no message)"
        print(
            f"error: unexpected {type(exc).__name__}: {message} -- a bug in microexpr: "
            f"please report it, with the command you ran, on {REPORT_TO} "
            f"({DEBUG_ENV}=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    return None


def handle_errors(fn: F) -> F:
    """Decorate a command so that its errors print one line (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            code = error_exit_code(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


class GuardedGroup(TyperGroup):
    """A Typer command group whose every command's errors print one line (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning its errors into one line and an exit code."""
        try:
            return super().invoke(ctx)
        except BaseException as exc:
            code = error_exit_code(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None


def override_training(
    config: ExperimentConfig, *, device: str | None = None, epochs: int | None = None
) -> ExperimentConfig:
    """``config`` with ``--device`` and ``--epochs`` applied (checked as the config's values)."""
    from dataclasses import replace

    from microexpr.errors import ConfigError

    changes: dict[str, Any] = {}
    if device is not None:
        changes["device"] = device
    if epochs is not None:
        changes["epochs"] = epochs
    if not changes:
        return config
    try:
        return config.replace(training=replace(config.training, **changes))
    except MicroexprError as exc:
        raise ConfigError(f"command-line override: {exc}") from None
