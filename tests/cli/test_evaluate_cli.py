import os
from pathlib import Path

import pytest
import typer
from flow_image_fixtures import write_flow_set, write_fold_weights
from typer.testing import CliRunner

import microexpr.models.off_apexnet  # noqa: F401
import microexpr.models.ststnet  # noqa: F401
from microexpr.cli.evaluate import evaluate
from microexpr.models import create_model

MEGC = os.environ.get("MICROEXPR_MEGC2019")
FOLDS = ["006", "s01", "sub01"]

app = typer.Typer()
app.command("evaluate")(evaluate)


@app.command("noop")
def _noop() -> None:
    """Second command so that Typer keeps the 'evaluate' sub-command name."""


runner = CliRunner()


@pytest.fixture
def flow_root(tmp_path):
    return write_flow_set(tmp_path / "megc")


def test_evaluate_cli_prints_and_writes(flow_root, tmp_path):
    weights = write_fold_weights(tmp_path / "w", FOLDS, create_model("ststnet"))
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["evaluate", "--weights", str(weights), "--data", str(flow_root), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "UF1 " in result.output and "UAR " in result.output
    assert "| all (pooled) |" in result.output
    assert (out / "predictions.csv").is_file() and (out / "metrics.json").is_file()


def test_evaluate_cli_reads_data_from_env(flow_root, tmp_path):
    weights = write_fold_weights(tmp_path / "w", FOLDS, create_model("ststnet"))
    result = runner.invoke(
        app, ["evaluate", "--weights", str(weights)], env={"MICROEXPR_MEGC2019": str(flow_root)}
    )
    assert result.exit_code == 0, result.output


def test_evaluate_cli_other_architecture_exit_2(flow_root, tmp_path):
    weights = write_fold_weights(tmp_path / "w", FOLDS, create_model("off_apexnet"))
    result = runner.invoke(app, ["evaluate", "--weights", str(weights), "--data", str(flow_root)])
    assert result.exit_code == 2
    assert "006.pth is not for model 'ststnet'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_evaluate_cli_missing_fold_weights_exit_2(flow_root, tmp_path):
    weights = write_fold_weights(tmp_path / "w", ["006", "s01"], create_model("ststnet"))
    result = runner.invoke(app, ["evaluate", "--weights", str(weights), "--data", str(flow_root)])
    assert result.exit_code == 2
    assert "sub01 has no matching weights file" in result.output


def test_evaluate_cli_wrong_image_size_exit_2(flow_root, tmp_path):
    import cv2
    import numpy as np

    weights = write_fold_weights(tmp_path / "w", FOLDS, create_model("ststnet"))
    bad = next((flow_root / "loso_test" / "006" / "2").iterdir())
    cv2.imwrite(str(bad), np.zeros((28, 28), np.uint8))
    result = runner.invoke(app, ["evaluate", "--weights", str(weights), "--data", str(flow_root)])
    assert result.exit_code == 2
    assert f"{bad.name}: has 1 channel(s), expected 3" in result.output


def test_evaluate_cli_without_data_exit_2(tmp_path):
    result = runner.invoke(
        app, ["evaluate", "--weights", str(tmp_path)], env={"MICROEXPR_MEGC2019": ""}
    )
    assert result.exit_code == 2
    assert "MICROEXPR_MEGC2019" in result.output


@pytest.mark.skipif(not MEGC, reason="set MICROEXPR_MEGC2019 to the MEGC2019 flow set")
def test_evaluate_cli_reproduces_official_ststnet(tmp_path):
    weights = Path(MEGC) / "ststnet_weights"
    result = runner.invoke(
        app,
        ["evaluate", "--model", "ststnet", "--weights", str(weights), "--out", str(tmp_path)],
        env={"MICROEXPR_MEGC2019": MEGC},
    )
    assert result.exit_code == 0, result.output
    assert "UF1 0.7209  UAR 0.7250" in result.output
