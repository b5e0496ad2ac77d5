"""benchmarks/leaderboard.py on a tiny synthetic flow set in the MEGC2019 layout, 2 epochs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
from flow_image_fixtures import write_flow_set

from microexpr.evaluation.inflation import TEST_PICKED_LABEL

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "leaderboard.py"
_SPEC = importlib.util.spec_from_file_location("leaderboard", _SCRIPT)
leaderboard = importlib.util.module_from_spec(_SPEC)
sys.modules["leaderboard"] = leaderboard  # dataclasses look their module up
_SPEC.loader.exec_module(leaderboard)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board")
    root = write_flow_set(tmp / "flows")
    args = [
        "--data", str(root), "--models", "ststnet", "--seeds", "2", "--epochs", "2",
        "--images", "whole,loso_test", "--out", str(tmp / "runs"),
        "--results", str(tmp / "results"), "--executor", "serial", "--quiet",
    ]  # fmt: skip
    assert leaderboard.main(args) == 0
    return tmp, args


def test_leaderboard_rows_labels_and_copies(board):
    tmp, _ = board
    runs = pd.read_csv(tmp / "results" / "leaderboard.csv", dtype={"shortened": str})
    assert sorted(runs["run"]) == [
        "ststnet-loso_test-e2-seed0",
        "ststnet-loso_test-e2-seed1",
        "ststnet-whole-e2-seed0",
        "ststnet-whole-e2-seed1",
    ]
    assert set(runs["shortened"]) == {"SHORTENED"} and set(runs["protocol_epochs"]) == {500}
    assert runs["test_picked_uf1"].notna().all()
    assert {"casme2_uf1", "samm_uf1", "smic_uf1", "fold_job_s", "wall_s"} <= set(runs.columns)
    assert "Liong et al. FG 2019" in runs["protocol_source"].iloc[0]
    # loso_test images are pixel-identical to whole/ here: the same training, the same figures
    by = runs.set_index("run")
    for seed in (0, 1):
        a, b = by.loc[f"ststnet-whole-e2-seed{seed}"], by.loc[f"ststnet-loso_test-e2-seed{seed}"]
        assert (a["uf1"], a["test_picked_uf1"]) == (b["uf1"], b["test_picked_uf1"])
    for run in runs["run"]:
        copy = tmp / "results" / "leaderboard" / run
        assert len(pd.read_csv(copy / "predictions.csv")) == 8
        picked = pd.read_csv(copy / "test_picked_predictions.csv")
        assert len(picked) == 8 and picked["epoch"].between(1, 2).all()
    md = (tmp / "results" / "leaderboard.md").read_text()
    assert TEST_PICKED_LABEL in md and "SHORTENED: 2 of 500 epochs" in md
    assert "8 pixel-identical to the `whole/` image" in md
    assert "`mini_aorcnn`: no `configs/megc2019_flows_*.yaml`" in md


def test_leaderboard_figures_recompute_from_the_copied_predictions(board):
    tmp, _ = board
    runs = pd.read_csv(tmp / "results" / "leaderboard.csv").set_index("run")
    again = leaderboard.rescore(tmp / "results").set_index("run")
    for col in ("uf1", "uar", "test_picked_uf1", "test_picked_uar", "smic_uf1"):
        assert again[col].to_dict() == pytest.approx(runs[col].to_dict())


def test_seed_ensembles_recompute_by_hand_from_the_copied_predictions(board):
    from microexpr.evaluation.metrics import pooled_scores

    tmp, _ = board
    ens = pd.read_csv(tmp / "results" / "leaderboard_ensembles.csv")
    # two seeds on each image set; no full-protocol run (all SHORTENED), so no cross-entry row
    assert sorted(ens["ensemble"]) == [
        "ststnet x2 seeds (loso_test, 2 epochs SHORTENED)",
        "ststnet x2 seeds (whole, 2 epochs SHORTENED)",
    ]
    for _, row in ens.iterrows():
        frames = [
            pd.read_csv(tmp / "results" / "leaderboard" / run.strip() / "predictions.csv")
            for run in row["runs"].split(",")
        ]
        both = pd.concat(frames)
        proba = both.groupby(["subject", "clip"])[["p_negative", "p_positive", "p_surprise"]]
        mean = proba.mean()
        labels = both.groupby(["subject", "clip"])["label"].first().loc[mean.index]
        s = pooled_scores(labels, mean.to_numpy().argmax(1), labels=[0, 1, 2])
        assert row["UF1"] == pytest.approx(s["uf1"]) and row["UAR"] == pytest.approx(s["uar"])
    assert (
        "## Ensembles (fixed rules, nothing selected)"
        in (tmp / "results" / "leaderboard.md").read_text()
    )


def test_rows_of_runs_made_elsewhere_are_kept_and_rescored(board, tmp_path):
    tmp, _ = board
    results = tmp_path / "results"
    import shutil

    shutil.copytree(tmp / "results", results)
    # the run folders are gone (another machine made them): the table keeps every row
    kept = leaderboard.collect(tmp_path / "no-runs", results)
    before = pd.read_csv(tmp / "results" / "leaderboard.csv")
    assert sorted(kept["run"]) == sorted(before["run"])
    assert kept.set_index("run")["uf1"].to_dict() == pytest.approx(
        before.set_index("run")["uf1"].to_dict()
    )
    # a run whose predictions copy is gone is dropped, not invented
    shutil.rmtree(results / "leaderboard" / "ststnet-whole-e2-seed1")
    assert "ststnet-whole-e2-seed1" not in set(
        leaderboard.collect(tmp_path / "no-runs", results)["run"]
    )


def test_leaderboard_resumes_without_training_again(board):
    tmp, args = board
    folds = sorted((tmp / "runs").rglob("folds/**/*.json"))
    stamps = [p.stat().st_mtime_ns for p in folds]
    before = pd.read_csv(tmp / "results" / "leaderboard.csv")
    assert leaderboard.main(args) == 0
    assert [p.stat().st_mtime_ns for p in folds] == stamps
    after = pd.read_csv(tmp / "results" / "leaderboard.csv")
    assert after["wall_s"].tolist() == before["wall_s"].tolist()
    assert after["uf1"].tolist() == before["uf1"].tolist()


def test_leaderboard_bad_inputs_one_line(tmp_path, capsys):
    assert leaderboard.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    root = write_flow_set(tmp_path / "flows")
    assert leaderboard.main(["--data", str(root), "--images", "both"]) == 2
    assert "--images: ['both'] not in whole, loso_test" in capsys.readouterr().err
    assert leaderboard.main(["--data", str(root), "--models", "nope"]) == 2
    assert "unknown entry 'nope'" in capsys.readouterr().err
