from typer.testing import CliRunner

from microexpr import __version__
from microexpr.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "demo",
        "loso",
        "ablate",
        "evaluate",
        "complexity",
        "models",
        "datasets",
        "train",
        "predict",
    ):
        assert command in result.output


def test_complexity_atscnn_matches_paper():
    result = runner.invoke(app, ["complexity", "atscnn"])
    assert result.exit_code == 0, result.output
    assert "4,214,163 (4.21 M)" in result.output
    assert "(19.01 M)" in result.output
    assert "20.50 MB" in result.output


def test_models_lists_every_model_without_building_one(monkeypatch):
    import torch

    from microexpr.models import list_models

    def no_build(self, *args, **kwargs):
        raise AssertionError(f"`microexpr models` built a {type(self).__name__}")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_build)
    result = runner.invoke(app, ["models", "--papers"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[::2]] == list_models()
    assert "macnn" in result.output and "inputs=uvs" in result.output


# bad input to every command (missing config, bad sizes, unknown models...) is
# tested in one place: tests/cli/test_bad_inputs.py
