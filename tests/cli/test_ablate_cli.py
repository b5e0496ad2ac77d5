import json

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from microexpr import experiment
from microexpr.ablation import PAPER_TABLE4
from microexpr.cli.ablate import ablate
from microexpr.data.records import ClipRecord
from microexpr.preprocess.pipeline import FeatureSet

runner = CliRunner()
app = typer.Typer()
app.command()(ablate)


def _fake_features(config, *, progress=True):
    """3 subjects x 4 clips of random 32x32 features: no face detection, no flow."""
    rng = np.random.default_rng(0)
    records, features = [], []
    for s in range(3):
        for c in range(4):
            label = (s + c) % 3
            records.append(ClipRecord("synthetic", f"s{s}", f"c{c}", 0, 5, 9, "x", label))
            features.append(
                {k: rng.normal(size=(32, 32)).astype(np.float32) for k in ("u", "v", "strain")}
                | {k: rng.integers(0, 255, (32, 32)).astype(np.float32) for k in ("onset", "apex")}
            )
    return FeatureSet(records, features, [])


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "load_features", _fake_features)
    path = tmp_path / "ablation.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "tiny-ablation",
                "data": {"dataset": "synthetic", "root": str(tmp_path / "none")},
                "model": {"name": "atscnn", "options": {"input_size": 32, "head": [16]}},
                "training": {"epochs": 1, "batch_size": 4, "lr": 1e-3},
            }
        )
    )
    return path


def test_ablate_writes_table_and_plot(config_file, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["--config", str(config_file), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("ablation.csv", "ablation.md", "ablation.json", "ablation.png", "metrics.json"):
        assert (out / name).is_file(), name
    rows = json.loads((out / "ablation.json").read_text())
    assert [r["variant"] for r in rows] == ["atscnn", *PAPER_TABLE4]
    apex = rows[-1]
    assert apex["paper_d_uar"] == pytest.approx(0.1430)
    assert apex["d_uar"] == pytest.approx(rows[0]["uar"] - apex["uar"])
    assert "grayscale apex image instead of flow" in (out / "ablation.md").read_text()
    assert "atscnn_relu: UAR" in result.output
    # 7 variants x 3 folds, each saved for resume
    assert len(list((out / "folds").glob("**/*.json"))) == 21

    again = runner.invoke(app, ["--config", str(config_file), "--out", str(out), "--quiet"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "ablation.json").read_text()) == rows


def test_ablate_other_config_in_folder_exit_2(config_file, tmp_path):
    out = tmp_path / "run"
    assert (
        runner.invoke(app, ["--config", str(config_file), "--out", str(out), "-q"]).exit_code == 0
    )
    result = runner.invoke(
        app, ["--config", str(config_file), "--out", str(out), "-q", "--epochs", "2"]
    )
    assert result.exit_code == 2
    assert "holds results of another configuration" in result.output
    assert "Traceback" not in result.output


def test_ablate_unknown_executor_exit_2(config_file, tmp_path):
    result = runner.invoke(
        app, ["--config", str(config_file), "--out", str(tmp_path / "r"), "--executor", "mpi"]
    )
    assert result.exit_code == 2
    assert "executor must be one of ['local', 'ray', 'serial'], got 'mpi'" in result.output


def test_ablate_unreachable_ray_address_exit_2(config_file, tmp_path):
    result = runner.invoke(
        app,
        [
            "--config",
            str(config_file),
            "--out",
            str(tmp_path / "r"),
            "-q",
            "--executor",
            "ray",
            "--address",
            "127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2
    assert "cannot reach the Ray cluster at '127.0.0.1:9'" in result.output


def test_ablate_needs_atscnn(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": "atscnn_relu"}}))
    result = runner.invoke(app, ["--config", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert (
        "model.name must be 'atscnn' for the Table 4 ablation, got 'atscnn_relu'" in result.output
    )


def test_ablate_cuda_without_gpu_exit_2(config_file, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    result = runner.invoke(
        app, ["--config", str(config_file), "--out", str(tmp_path / "r"), "-q", "--device", "cuda"]
    )
    assert result.exit_code == 2
    assert "training.device == 'cuda', but torch sees no CUDA device" in result.output
