import json
import os
from pathlib import Path

import pytest
import torch
from flow_image_fixtures import write_flow_set, write_fold_weights

import microexpr.models.off_apexnet  # noqa: F401
import microexpr.models.ststnet  # noqa: F401
from microexpr.data.flow_images import FlowImageError
from microexpr.errors import WeightsError
from microexpr.evaluation.metrics import pooled_scores
from microexpr.evaluation.pretrained import evaluate_fold_weights, load_weights
from microexpr.models import create_model

MEGC = os.environ.get("MICROEXPR_MEGC2019")
FOLDS = ["006", "s01", "sub01"]


@pytest.fixture
def flow_root(tmp_path):
    return write_flow_set(tmp_path / "megc")


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    return write_fold_weights(tmp_path / "w", FOLDS, create_model("ststnet"))


@pytest.mark.skipif(not MEGC, reason="set MICROEXPR_MEGC2019 to the MEGC2019 flow set")
def test_official_ststnet_weights_reproduce_published_scores(tmp_path):
    root = Path(MEGC)
    result = evaluate_fold_weights("ststnet", root / "ststnet_weights", root, out_dir=tmp_path)
    assert round(result.pooled["uf1"], 4) == 0.7209
    assert round(result.pooled["uar"], 4) == 0.7250
    assert result.pooled["n"] == 442
    assert result.predictions["fold"].nunique() == 68
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["variants"]["ststnet"]["seeds"][
            "weights"
        ]["pooled"]["n"]
        == 442
    )


def test_evaluate_fold_weights_pools_all_folds(flow_root, weights, tmp_path):
    result = evaluate_fold_weights("ststnet", weights, flow_root, out_dir=tmp_path / "out")
    pred = result.predictions
    assert len(pred) == 8
    assert sorted(pred["fold"].unique()) == FOLDS
    assert set(pred.columns) >= {"fold", "dataset", "subject", "clip", "label", "prediction"}
    expected = pooled_scores(pred["label"], pred["prediction"], labels=[0, 1, 2])
    assert result.pooled == expected
    assert set(result.per_dataset) == {"samm", "smic", "casme2"}
    assert (tmp_path / "out" / "predictions.csv").is_file()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["variants"][result.model]["seeds"]["weights"]["pooled"]["uf1"] == pytest.approx(
        expected["uf1"]
    )
    assert list(result.table()["subset"])[0] == "all (pooled)"


def test_evaluate_fold_weights_is_deterministic(flow_root, weights):
    a = evaluate_fold_weights("ststnet", weights, flow_root)
    b = evaluate_fold_weights("ststnet", weights, flow_root)
    assert a.predictions.equals(b.predictions)


def test_fold_without_weights_names_the_fold(flow_root, weights):
    (weights / "s01.pth").unlink()
    with pytest.raises(
        WeightsError, match=r"fold folder .*s01 has no matching weights file .*s01\.pth"
    ):
        evaluate_fold_weights("ststnet", weights, flow_root)


def test_weights_of_another_architecture_name_the_file(flow_root, tmp_path):
    other = write_fold_weights(tmp_path / "other", FOLDS, create_model("off_apexnet"))
    with pytest.raises(
        WeightsError, match=r"006\.pth is not for model 'ststnet' \(missing keys conv1"
    ):
        evaluate_fold_weights("ststnet", other, flow_root)


def test_weights_with_wrong_shapes(tmp_path):
    torch.save(create_model("ststnet", num_classes=5).state_dict(), tmp_path / "a.pth")
    with pytest.raises(
        WeightsError, match=r"a\.pth is not for model .*fc\.weight \(5, 400\) vs \(3, 400\)"
    ):
        load_weights(create_model("ststnet"), tmp_path / "a.pth", model_name="ststnet")


def test_unreadable_weights_file(tmp_path):
    (tmp_path / "a.pth").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match=r"a\.pth cannot be read by torch\.load"):
        load_weights(create_model("ststnet"), tmp_path / "a.pth")


def test_checkpoint_dict_is_unwrapped(tmp_path):
    model = create_model("ststnet")
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "c.pth")
    fresh = load_weights(create_model("ststnet"), tmp_path / "c.pth")
    assert torch.equal(fresh.fc.weight, model.fc.weight)


def test_wrong_image_size_names_the_file(flow_root, weights):
    import cv2
    import numpy as np

    bad = next((flow_root / "loso_test" / "sub01" / "1").iterdir())
    cv2.imwrite(str(bad), np.zeros((30, 30, 3), np.uint8))
    with pytest.raises(FlowImageError, match=rf"{bad.name}: is 30x30 \(HxW\), expected 28x28"):
        evaluate_fold_weights("ststnet", weights, flow_root)
