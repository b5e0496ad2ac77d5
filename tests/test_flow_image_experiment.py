"""`loso`, `ablate`, `train` and `predict` on a flow-image set in the MEGC2019 layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pandas as pd
import yaml
from flow_image_fixtures import write_flow_set
from typer.testing import CliRunner
from video_fixtures import motion_frames

from microexpr.ablation import run_ablation
from microexpr.cli import app
from microexpr.config import ExperimentConfig
from microexpr.experiment import run_loso, train_final_model
from microexpr.inference.predict import predict

runner = CliRunner()


def _config(root: Path, model: dict, images: str = "whole", epochs: int = 2) -> dict:
    return {
        "name": "flows",
        "data": {"dataset": "flow_images", "root": str(root), "options": {"images": images}},
        "model": model,
        "training": {"epochs": epochs, "batch_size": 4, "lr": 1e-3},
    }


def test_loso_on_loso_test_images_reports_clips(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    config = ExperimentConfig.from_dict(_config(root, {"name": "ststnet"}, "loso_test"))
    run = run_loso(config, tmp_path / "run", progress=False)
    pred = pd.read_csv(tmp_path / "run" / "predictions.csv", dtype=str)
    assert len(pred) == 8 and set(pred["subject"]) == {"006", "s01", "sub01"}
    assert run.metrics["n_clips"] == 8
    # resume: the stored fold results (with shifted rows) are read back to the same report
    again = run_loso(config, tmp_path / "run", progress=False)
    assert again.metrics["variants"] == run.metrics["variants"]


def test_cli_loso_with_a_flow_config_and_bad_root(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(root, {"name": "atscnn", "options": {"input_size": 28}})))
    ok = runner.invoke(app, ["loso", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_config(tmp_path, {"name": "ststnet"})))
    out = runner.invoke(app, ["loso", "--config", str(bad), "--out", str(tmp_path / "o2")])
    assert out.exit_code == 2
    assert "not a flow-image set in the MEGC2019 layout" in out.output
    assert "Traceback" not in out.output


def test_ablate_on_flow_images_leaves_out_the_apex_variant(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    config = ExperimentConfig.from_dict(
        _config(root, {"name": "atscnn", "options": {"input_size": 28}}, epochs=1)
    )
    run = run_ablation(config, tmp_path / "abl", progress=False)
    assert "atscnn_apex" not in set(run.table["variant"])
    assert len(run.table) == 6
    assert "no apex frame" in (tmp_path / "abl" / "ablation.md").read_text()


def test_train_on_flow_images_then_predict_on_a_face(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    config = ExperimentConfig.from_dict(_config(root, {"name": "ststnet"}, epochs=1))
    train_final_model(config, tmp_path / "model", progress=False)
    described = json.loads((tmp_path / "model" / "model.json").read_text())
    rep = described["extra"]["input_representation"]
    assert rep["name"] == "megc2019_flow_image" and rep["size"] == 28
    assert rep["channels"] == ["strain", "v", "u"]
    frames = motion_frames()
    cv2.imwrite(str(tmp_path / "onset.png"), frames[24])
    cv2.imwrite(str(tmp_path / "apex.png"), frames[29])
    result = predict(
        [tmp_path / "onset.png", tmp_path / "apex.png"],
        tmp_path / "model",
        tmp_path / "out",
        progress=False,
    )
    assert len(result.candidates) == 1
    assert result.candidates[0].label in ("negative", "positive", "surprise")


def test_nested_recipe_section_runs_through_loso(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    raw = _config(root, {"name": "ststnet"}, "loso_test", epochs=1)
    raw["nested"] = {"grid": {"lr": [1e-3, 1e-4]}}
    run = run_loso(ExperimentConfig.from_dict(raw), tmp_path / "nested", progress=False)
    sel = pd.read_csv(tmp_path / "nested" / "selection.csv", dtype=str)
    assert list(sel["test_subject"]) == ["casme2/sub01", "samm/006", "smic/s01"]
    assert set(sel["chosen"]) <= {"lr=0.001", "lr=0.0001"}
    assert run.metrics["n_clips"] == 8
    assert len(pd.read_csv(tmp_path / "nested" / "predictions.csv")) == 8
    assert "## Nested selection" in (tmp_path / "nested" / "report.md").read_text()
    again = run_loso(ExperimentConfig.from_dict(raw), tmp_path / "nested", progress=False)
    assert again.metrics["variants"] == run.metrics["variants"]  # resumed from nested/*.json


def test_nested_section_bad_keys(tmp_path):
    import pytest

    from microexpr.errors import ConfigError

    raw = _config(tmp_path, {"name": "ststnet"})
    raw["nested"] = {"grids": {}}
    with pytest.raises(ConfigError, match="nested: unknown keys"):
        ExperimentConfig.from_dict(raw)
    raw["nested"] = {"grid": {}}
    with pytest.raises(ConfigError, match="give `grid`"):
        ExperimentConfig.from_dict(raw)
