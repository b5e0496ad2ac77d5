"""Flow-image sets as datasets: model-declared inputs, loso_test folds, bad layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from flow_image_fixtures import write_flow_set

from microexpr.data.flow_images import FlowImageError
from microexpr.errors import ConfigError, DatasetNotFoundError
from microexpr.models import create_model
from microexpr.preprocess.flow_image_inputs import (
    FlowImageRepresentation,
    flow_image_from_flow,
    flow_images_for_model,
    load_flow_image_features,
    model_input_from_flow,
)


def _images(n: int = 2, size: int = 28) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(n, 3, size, size)).astype(np.float32)


def test_ststnet_gets_the_image_as_stored():
    x = _images()
    out = flow_images_for_model(x, create_model("ststnet").default_cfg)
    np.testing.assert_array_equal(out, x)  # raw 0..255, cv2 channel order (strain, v, u)


def test_uvs_models_get_u_v_strain_over_255_at_native_size():
    x = _images()
    out = flow_images_for_model(x, create_model("atscnn", input_size=28).default_cfg)
    np.testing.assert_allclose(out, x[:, [2, 1, 0]] / 255, rtol=1e-6)
    uv = flow_images_for_model(x, create_model("off_apexnet").default_cfg)
    np.testing.assert_allclose(uv, x[:, [2, 1]] / 255, rtol=1e-6)


def test_atscnn_default_gets_the_flows_resized_to_128():
    x = _images()
    out = flow_images_for_model(x, create_model("atscnn").default_cfg)
    assert out.shape == (2, 3, 128, 128)
    assert 0 <= out.min() and out.max() <= 1.0
    # a bilinear upsampling keeps the mean (up to the borders)
    np.testing.assert_allclose(
        out.mean(axis=(2, 3)), x[:, [2, 1, 0]].mean(axis=(2, 3)) / 255, atol=0.01
    )


def test_a_frame_model_cannot_take_flow_images():
    with pytest.raises(FlowImageError, match="'atscnn_apex' takes 'apex' inputs"):
        flow_images_for_model(
            _images(), create_model("atscnn_apex").default_cfg, model="atscnn_apex"
        )


def test_flow_image_from_flow_is_per_clip_min_max_in_strain_v_u_order():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(2, 128, 128)).astype(np.float32)
    strain = np.abs(rng.normal(size=(128, 128))).astype(np.float32)
    img = flow_image_from_flow(u, v, strain)
    assert img.shape == (3, 28, 28)
    for c in range(3):
        assert img[c].min() == 0 and img[c].max() == 255
    np.testing.assert_array_equal(img, np.rint(img))
    # the u channel (index 2) follows u: scaling u leaves it unchanged, negating flips it
    np.testing.assert_array_equal(flow_image_from_flow(3 * u, v, strain)[2], img[2])
    np.testing.assert_allclose(flow_image_from_flow(-u, v, strain)[2], 255 - img[2], atol=1)
    x = model_input_from_flow(u, v, strain, create_model("ststnet").default_cfg)
    np.testing.assert_array_equal(x, img)


def test_representation_round_trip_and_unknown():
    rep = FlowImageRepresentation()
    assert FlowImageRepresentation.from_dict(rep.to_dict()) == rep
    with pytest.raises(ConfigError, match="unknown input representation"):
        FlowImageRepresentation.from_dict({"name": "other"})


def test_whole_and_loso_test_folds(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    whole = load_flow_image_features(root)
    assert len(whole.records) == 8 and whole.test_images is None
    assert whole.groups[0] == "samm/006"
    cfg = create_model("ststnet").default_cfg
    inputs, labels, folds = whole.engine_arrays({"ststnet": cfg})
    assert inputs["flow_image"].shape == (8, 3, 28, 28) and len(folds) == 3

    # make the fold copy of one clip differ: loso_test must read it from there
    target = next((root / "loso_test" / "s01").rglob("*.png"))
    cv2.imwrite(str(target), np.full((28, 28, 3), 7, np.uint8))
    fold = load_flow_image_features(root, images="loso_test")
    inputs, labels, folds = fold.engine_arrays({"ststnet": cfg})
    assert inputs["flow_image"].shape == (16, 3, 28, 28)
    s01 = next(f for f in folds if f.test_subject == "smic/s01")
    assert all(i >= 8 for i in s01.test_indices) and all(i < 8 for i in s01.train_indices)
    row = [r.clip for r in fold.records].index(target.stem.split("_", 1)[1])
    assert (inputs["flow_image"][8 + row] == 7).all()
    assert not (inputs["flow_image"][row] == 7).all()  # training rows keep whole/
    assert fold.clip_index(8 + row) == row and fold.clip_index(row) == row
    np.testing.assert_array_equal(labels[:8], labels[8:])


def test_inputs_by_kind_at_native_size(tmp_path):
    feats = load_flow_image_features(write_flow_set(tmp_path / "flows"))
    assert feats.inputs("uv").shape == (8, 2, 28, 28)
    np.testing.assert_array_equal(feats.inputs("flow_image"), feats.images)
    with pytest.raises(FlowImageError, match="takes 'apex' inputs"):
        feats.inputs("apex")


def test_variants_of_one_kind_at_two_sizes_refused(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    feats = load_flow_image_features(root)
    cfgs = {
        "a": create_model("atscnn", input_size=28).default_cfg,
        "b": create_model("atscnn").default_cfg,
    }
    with pytest.raises(ConfigError, match="both take 'uvs' flow images but at sizes"):
        feats.engine_arrays(cfgs)


def test_another_layout_one_line(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    shutil.rmtree(root / "whole")
    with pytest.raises(DatasetNotFoundError, match="not a flow-image set in the MEGC2019 layout"):
        load_flow_image_features(root)


def test_missing_fold_folder_one_line(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    shutil.rmtree(root / "loso_test" / "sub01")
    load_flow_image_features(root)  # whole/ alone does not need the folds
    with pytest.raises(DatasetNotFoundError, match=r"fold folder .*sub01.* does not exist"):
        load_flow_image_features(root, images="loso_test")


def test_fold_missing_a_listed_clip(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    next((root / "loso_test" / "006").rglob("*.png")).unlink()
    with pytest.raises(FlowImageError, match="is not in its fold folder"):
        load_flow_image_features(root, images="loso_test")


def test_labels_csv_missing_columns(tmp_path):
    root = write_flow_set(tmp_path / "flows")
    (root / "labels.csv").write_text("dataset,clip,image\ncasme2,a,a.png\n")
    with pytest.raises(FlowImageError, match=r"missing column\(s\) \['label', 'subject'\]"):
        load_flow_image_features(root)


def test_unset_environment_variable_and_bad_choice(tmp_path, monkeypatch):
    monkeypatch.delenv("MICROEXPR_TEST_UNSET", raising=False)
    with pytest.raises(DatasetNotFoundError, match="environment variable not set"):
        load_flow_image_features("$MICROEXPR_TEST_UNSET")
    with pytest.raises(ConfigError, match="data.options.images == 'per_fold'"):
        load_flow_image_features(tmp_path, images="per_fold")


@pytest.fixture(scope="module")
def megc2019_root() -> Path:
    import os

    root = os.environ.get("MICROEXPR_MEGC2019")
    if not root or not Path(root, "labels.csv").is_file():
        pytest.skip("set MICROEXPR_MEGC2019 to the MEGC2019 flow set to run this test")
    return Path(root)


def test_megc2019_loso_test_images_equal_whole(megc2019_root):
    feats = load_flow_image_features(megc2019_root, images="loso_test")
    assert len(feats.records) == 442 and len(set(feats.groups)) == 68
    # each image is normalised on its own: the per-fold copies are pixel-identical
    np.testing.assert_array_equal(feats.test_images, feats.images)
    per_image = feats.images.reshape(442, 3, -1)
    assert (per_image.min(axis=2) == 0).all() and (per_image.max(axis=2) == 255).all()


def test_megc2019_channel_order_is_strain_v_u(megc2019_root):
    images = load_flow_image_features(megc2019_root).images

    def mirror(c: int) -> float:
        x = images[:, c] - np.median(images[:, c], axis=(1, 2), keepdims=True)
        m = x[:, :, ::-1]
        num = (x * m).sum(axis=(1, 2))
        den = np.sqrt((x**2).sum(axis=(1, 2)) * (m**2).sum(axis=(1, 2)))
        return float(np.median(num / den))

    # vertical flow of a symmetric face movement is mirror-symmetric, horizontal flow antisymmetric
    assert mirror(1) > 0.5 and mirror(2) < -0.1 and mirror(0) > 0.3
    assert np.median(images[:, 0]) < 30 < np.median(images[:, 1])  # channel 0 is a magnitude
