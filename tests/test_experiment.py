import json

import pandas as pd
import pytest
from sklearn.metrics import f1_score, recall_score

from microexpr.config import ExperimentConfig
from microexpr.experiment import run_loso
from microexpr.synthetic import SyntheticSettings, generate_synthetic_dataset


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    settings = SyntheticSettings(
        n_subjects=3, clips_per_subject=3, n_frames=16, image_size=160, seed=1
    )
    generate_synthetic_dataset(root, settings, progress=False)
    return root


def _config(root, cache, **training):
    return ExperimentConfig.from_dict(
        {
            "name": "tiny",
            "data": {"dataset": "synthetic", "root": str(root)},
            "preprocess": {"size": 64},
            "model": {"name": "atscnn", "options": {"input_size": 64, "head": [32]}},
            "training": {"epochs": 2, "batch_size": 4, "lr": 1e-3, **training},
            "cache_dir": str(cache),
        }
    )


def test_loso_end_to_end_writes_consistent_files(tiny_dataset, tmp_path, capsys):
    run = run_loso(_config(tiny_dataset, tmp_path / "cache"), tmp_path / "run", progress=True)
    out = tmp_path / "run"
    for name in (
        "predictions.csv",
        "metrics.json",
        "report.md",
        "config.yaml",
        "confusion_matrix.png",
        "training_curve.png",
    ):
        assert (out / name).is_file(), name
    err = capsys.readouterr().err
    assert err.count("fold synthetic/s0") == 3  # one progress line per fold
    table = pd.read_csv(out / "predictions.csv")
    assert len(table) == run.metrics["n_clips"] == 9
    assert set(table.columns) >= {
        "subject",
        "clip",
        "true",
        "predicted",
        "p_negative",
        "p_positive",
        "p_surprise",
    }
    metrics = json.loads((out / "metrics.json").read_text())
    labels = ["negative", "positive", "surprise"]
    # pooled scores equal scikit-learn's macro scores over all folds' predictions
    assert metrics["variants"]["atscnn"]["uf1"] == pytest.approx(
        f1_score(table["true"], table["predicted"], average="macro", labels=labels, zero_division=0)
    )
    assert metrics["variants"]["atscnn"]["uar"] == pytest.approx(
        recall_score(
            table["true"], table["predicted"], average="macro", labels=labels, zero_division=0
        )
    )
    assert "per_fold_mean" in metrics["variants"]["atscnn"]["seeds"]["0"]
    assert "pooled over all folds" in (out / "report.md").read_text()


def test_loso_reports_and_skips_a_bad_clip(tiny_dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    annotations = pd.read_csv(data / "annotations.csv")
    victim = annotations.iloc[0]
    (data / victim["subject"] / victim["clip"] / f"img{victim['apex']}.png").unlink()
    run = run_loso(_config(data, tmp_path / "cache"), tmp_path / "run", progress=False)
    assert run.metrics["n_clips"] == 8
    skipped = run.metrics["skipped"]
    assert len(skipped) == 1 and victim["clip"] in skipped[0]["clip"]
    assert "apex frame" in skipped[0]["reason"]
    assert "Skipped clips (1)" in (tmp_path / "run" / "report.md").read_text()


def test_rerun_reuses_finished_folds(tiny_dataset, tmp_path):
    config = _config(tiny_dataset, tmp_path / "cache")
    first = run_loso(config, tmp_path / "run", progress=False)
    second = run_loso(config, tmp_path / "run", progress=False)
    assert [r.y_pred for r in first.results] == [r.y_pred for r in second.results]
    assert [r.seconds for r in first.results] == [r.seconds for r in second.results]
