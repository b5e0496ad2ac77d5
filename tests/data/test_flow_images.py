import cv2
import numpy as np
import pytest
from flow_image_fixtures import write_flow_set

from microexpr.data.flow_images import (
    FlowImageError,
    megc2019_folds,
    read_flow_image,
    read_flow_image_set,
    read_megc2019_fold,
    read_megc2019_whole,
    select_inputs,
)
from microexpr.errors import DatasetNotFoundError


@pytest.fixture
def flow_root(tmp_path):
    return write_flow_set(tmp_path / "megc")


def test_read_megc2019_whole_shapes_and_identity(flow_root):
    data = read_megc2019_whole(flow_root)
    assert data.images.shape == (8, 3, 28, 28)
    assert data.images.dtype == np.float32
    assert data.labels.tolist() == [0, 0, 2, 1, 2, 0, 1, 1]
    # SAMM's zero-padded subject must stay a string
    assert data.subjects[0] == "006"
    assert data.datasets.tolist()[:3] == ["samm"] * 3
    assert data.clips[0] == "006_0"
    assert len(data) == 8


def test_read_megc2019_whole_keeps_stored_channel_order(flow_root):
    data = read_megc2019_whole(flow_root)
    raw = cv2.imread(str(data.files[0]), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(data.images[0], np.transpose(raw, (2, 0, 1)).astype(np.float32))
    assert 0.0 <= data.images.min() and data.images.max() <= 255.0


def test_megc2019_folds_lists_subjects(flow_root):
    assert megc2019_folds(flow_root) == ["006", "s01", "sub01"]


def test_read_megc2019_fold_labels_from_folders(flow_root):
    fold = read_megc2019_fold(flow_root, "006")
    assert fold.labels.tolist() == [0, 0, 2]
    assert fold.subjects.tolist() == ["006"] * 3
    assert fold.datasets.tolist() == ["samm"] * 3
    assert sorted(fold.clips.tolist()) == ["006_0", "006_1", "006_2"]


def test_read_megc2019_fold_unknown_fold(flow_root):
    with pytest.raises(DatasetNotFoundError, match="fold folder .*nope"):
        read_megc2019_fold(flow_root, "nope")


def test_read_megc2019_whole_missing_root(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="MICROEXPR_MEGC2019"):
        read_megc2019_whole(tmp_path / "absent")


def test_wrong_size_names_the_file(flow_root):
    bad = flow_root / "whole" / "006_006_1.png"
    cv2.imwrite(str(bad), np.zeros((32, 28, 3), np.uint8))
    with pytest.raises(FlowImageError, match=r"006_006_1\.png: is 32x28 \(HxW\), expected 28x28"):
        read_megc2019_whole(flow_root)


def test_wrong_channel_count_names_the_file(flow_root):
    bad = flow_root / "loso_test" / "s01" / "1" / "s01_s01_0.png"
    cv2.imwrite(str(bad), np.zeros((28, 28), np.uint8))
    with pytest.raises(FlowImageError, match=r"s01_s01_0\.png: has 1 channel\(s\), expected 3"):
        read_megc2019_fold(flow_root, "s01")


def test_explicit_size_is_enforced(flow_root):
    with pytest.raises(FlowImageError, match="expected 128x128"):
        read_megc2019_whole(flow_root, size=(128, 128))


def test_unreadable_image(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"not a png")
    with pytest.raises(FlowImageError, match="x.png: cannot be read as an image"):
        read_flow_image(p)


def test_generic_layout_with_npy(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "flows").mkdir()
    for i in range(3):
        np.save(tmp_path / "flows" / f"c{i}.npy", rng.normal(size=(3, 8, 8)).astype(np.float32))
    (tmp_path / "labels.csv").write_text(
        "image,label,subject\nc0.npy,0,a\nc1.npy,2,a\nc2.npy,1,b\n"
    )
    data = read_flow_image_set(tmp_path / "labels.csv", tmp_path / "flows")
    assert data.images.shape == (3, 3, 8, 8)
    assert data.labels.tolist() == [0, 2, 1]
    assert data.clips.tolist() == ["c0", "c1", "c2"]
    assert data.datasets.tolist() == ["", "", ""]
    np.testing.assert_array_equal(data.images[1], np.load(tmp_path / "flows" / "c1.npy"))


def test_generic_layout_npy_wrong_shape(tmp_path):
    np.save(tmp_path / "c0.npy", np.zeros((2, 3, 8, 8), np.float32))
    (tmp_path / "labels.csv").write_text("image,label,subject\nc0.npy,0,a\n")
    with pytest.raises(FlowImageError, match=r"c0\.npy: a \.npy flow must have shape \(C, H, W\)"):
        read_flow_image_set(tmp_path / "labels.csv")


def test_generic_layout_missing_column(tmp_path):
    (tmp_path / "labels.csv").write_text("image,label\nc0.npy,0\n")
    with pytest.raises(FlowImageError, match=r"missing column\(s\) \['subject'\]"):
        read_flow_image_set(tmp_path / "labels.csv")


def test_generic_layout_listed_file_missing(tmp_path):
    (tmp_path / "labels.csv").write_text("image,label,subject\ngone.png,0,a\n")
    with pytest.raises(DatasetNotFoundError, match="gone.png: flow image listed but not found"):
        read_flow_image_set(tmp_path / "labels.csv")


def test_select_inputs_reorders_megc_channels():
    images = np.stack([np.full((2, 2), v, np.float32) for v in (10, 20, 30)])[None]
    # stored (strain, v, u)
    assert select_inputs(images, "uvs")[0, :, 0, 0].tolist() == [30, 20, 10]
    assert select_inputs(images, "uv")[0, :, 0, 0].tolist() == [30, 20]
    assert select_inputs(images, "flow_image") is images
    with pytest.raises(FlowImageError, match="inputs must be one of"):
        select_inputs(images, "apex")
