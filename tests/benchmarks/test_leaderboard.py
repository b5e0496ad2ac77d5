"""benchmarks/leaderboard.py on a tiny synthetic flow set in the MEGC2019 layout, 2 epochs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
from flow_image_fixtures import write_flow_set

from microexpr.config import load_config
from microexpr.errors import MicroexprError
from microexpr.evaluation.inflation import TEST_PICKED_LABEL
from microexpr.models import get_model_cfg, is_model, list_models

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
    assert "`atscnn_apex`: takes 'apex' inputs, which a flow-image set does not hold" in md
    assert "## Not run here (too slow or too large for this machine)\n\nNone." in md


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
    assert leaderboard.main(["--data", str(root), "--models", "atscnn_128@atscnn_apex"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "atscnn_apex takes 'apex' inputs" in err
    assert leaderboard.main(["--data", str(root), "--max-hours", "0"]) == 2
    assert "--max-hours == 0.0, must be > 0" in capsys.readouterr().err


# Every configured entry, and every registered model: a new model without a config fails here.
_CHANNELS = {"uvs": 3, "uv": 2, "flow_image": 3}


@pytest.mark.parametrize("entry", sorted(leaderboard.discover_entries()))
def test_every_flow_config_loads_and_feeds_its_model_its_declared_input(entry):
    path = leaderboard.CONFIGS / f"megc2019_flows_{entry}.yaml"
    config = load_config(path)
    assert is_model(config.model.name)
    cfg = get_model_cfg(config.model.name, **config.model.options)
    assert config.model.cfg() == cfg
    assert cfg["inputs"] in leaderboard.FLOW_INPUTS
    assert cfg["input_size"][0] == _CHANNELS[cfg["inputs"]]
    described = leaderboard.input_description(config)
    assert described.startswith(f"{cfg['inputs']} {'x'.join(map(str, cfg['input_size']))}")
    assert ("resized" in described) == (cfg["input_size"][-1] != 28)
    assert config.data.dataset == "flow_images" and config.data.options["images"] == "whole"
    # the protocol and where it comes from, stated in the header comment
    source = leaderboard.protocol_source(path)
    assert source != "not stated in the config"
    assert "source" in source.lower() or "paper" in source.lower()
    if cfg["input_size"][-1] != 28:
        assert "RESIZED" in path.read_text()
    assert len(config.evaluation.seeds) >= 3


@pytest.mark.parametrize("model", list_models())
def test_every_registered_model_has_a_leaderboard_entry(model):
    runs = leaderboard.entry_models()
    if model in runs:
        for entry in runs[model]:
            config, _ = leaderboard.entry_config(entry)
            assert config.model.name == model
            assert entry in leaderboard.expand_models("all,ablations")
    else:  # only a model whose input the flow images do not hold may be left out, said why
        assert get_model_cfg(model)["inputs"] not in leaderboard.FLOW_INPUTS
        assert "does not hold" in leaderboard.not_run_models()[model]


def test_models_all_ablations_and_variants():
    assert leaderboard.expand_models("all") == list(leaderboard.discover_entries())
    assert {"macnn", "micro_attention", "off_tanet", "mini_aorcnn"} <= set(
        leaderboard.expand_models("all")
    )
    ablations = leaderboard.expand_models("ablations")
    assert "atscnn_128@atscnn_relu" in ablations and "atscnn_128@atscnn_uv" in ablations
    assert not any("atscnn_apex" in a for a in ablations)
    assert leaderboard.expand_models("ststnet,all")[0] == "ststnet"  # order kept, no repeats
    config, path = leaderboard.entry_config("atscnn_28@atscnn_no_attention")
    assert config.model.name == "atscnn_no_attention" and config.model.options == {"input_size": 28}
    assert path.name == "megc2019_flows_atscnn_28.yaml" and config.training.epochs == 200
    with pytest.raises(MicroexprError, match="'atscnn_nope' is not a registered ATSCNN variant"):
        leaderboard.entry_config("atscnn_128@atscnn_nope")
    with pytest.raises(MicroexprError, match="atscnn_relu is not a variant of ststnet"):
        leaderboard.entry_config("ststnet@atscnn_relu")


def test_published_protocols_with_schedules_and_sgd():
    off_tanet, _ = leaderboard.entry_config("off_tanet")
    t = off_tanet.training
    assert (t.epochs, t.batch_size, t.lr, t.lr_step, t.lr_gamma) == (201, 64, 1e-3, 60, 0.3)
    micro, _ = leaderboard.entry_config("micro_attention")
    t = micro.training
    assert (t.optimizer, t.momentum, t.weight_decay, t.batch_size, t.epochs) == (
        "sgd", 0.9, 5e-4, 10, 51
    )  # fmt: skip
    assert leaderboard.training_description(t) == (
        "SGD lr 0.001, momentum 0.9, weight decay 0.0005, lr x0.1 every 10 epochs"
    )


def test_too_slow_or_too_large_entries_are_one_line_each_and_the_rest_run(
    tmp_path, capsys, monkeypatch
):
    root = write_flow_set(tmp_path / "flows")
    common = [
        "--data", str(root), "--seeds", "1", "--epochs", "1", "--out", str(tmp_path / "runs"),
        "--results", str(tmp_path / "results"), "--executor", "serial", "--quiet",
    ]  # fmt: skip
    assert leaderboard.main([*common, "--models", "ststnet", "--max-hours", "1e-12"]) == 0
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if "too slow here" in x]
    assert len(line) == 1 and "projected" in line[0] and "s per fold-epoch" in line[0]
    assert "Traceback" not in err and not (tmp_path / "runs" / "ststnet-whole-e1-seed0").exists()
    md = (tmp_path / "results" / "leaderboard.md").read_text()
    assert "- `ststnet`: too slow here: projected" in md
    # memory: an entry that cannot fit is skipped with its estimate, the next one runs
    from microexpr.training import batched

    real = batched.available_memory
    monkeypatch.setattr(batched, "available_memory", lambda: 1)
    assert leaderboard.main([*common, "--models", "off_apexnet"]) == 0
    assert "off_apexnet: too large here: about" in capsys.readouterr().err
    monkeypatch.setattr(batched, "available_memory", real)
    assert leaderboard.main([*common, "--models", "ststnet", "--max-hours", "1000"]) == 0
    runs = pd.read_csv(tmp_path / "results" / "leaderboard.csv")
    assert list(runs["run"]) == ["ststnet-whole-e1-seed0"]


def test_project_measures_folds_and_keeps_other_entries(tmp_path, capsys):
    root = write_flow_set(tmp_path / "flows")
    args = ["--data", str(root), "--results", str(tmp_path), "--project", "2", "--epochs", "2"]
    assert leaderboard.main([*args, "--models", "off_apexnet"]) == 0
    table = pd.read_csv(tmp_path / "leaderboard_projection.csv")
    assert list(table["entry"]) == ["ststnet", "off_apexnet"]  # the baseline first
    row = table.set_index("entry").loc["off_apexnet"]
    assert row["folds x epochs measured"] == "2 x 2" and row["s per fold-epoch"] > 0
    expected = row["s per fold-epoch"] * 3 * 3000 * 3 / leaderboard.workers() / 3600
    assert row["projected hours"] == pytest.approx(expected, abs=0.06)
    assert "x ststnet (same command)" in table
    assert leaderboard.main([*args, "--models", "dual_inception"]) == 0
    table = pd.read_csv(tmp_path / "leaderboard_projection.csv")
    assert sorted(table["entry"]) == ["dual_inception", "off_apexnet", "ststnet", "ststnet"]
    md = (tmp_path / "leaderboard_projection.md").read_text()
    assert "1. `MICROEXPR_MEGC2019" not in md and "--project 2" in md
