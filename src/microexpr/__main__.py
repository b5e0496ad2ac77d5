"""Run the command line as ``python -m microexpr``."""

from microexpr.cli import app

app()
