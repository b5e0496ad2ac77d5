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


def test_complexity_unknown_model_exit_2_one_line():
    result = runner.invoke(app, ["complexity", "atscn"])
    assert result.exit_code == 2
    assert "unknown model 'atscn'" in result.output
    assert "Traceback" not in result.output


def test_loso_missing_config_exit_2(tmp_path):
    result = runner.invoke(
        app, ["loso", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_loso_malformed_config_exit_2(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("training: {epochs: -3}\n")
    result = runner.invoke(app, ["loso", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "training.epochs == -3" in result.output


def test_loso_nonexistent_dataset_root_exit_2(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(f"data: {{dataset: synthetic, root: {tmp_path / 'missing'}}}\n")
    result = runner.invoke(app, ["loso", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
