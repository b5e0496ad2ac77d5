import pytest
from dataset_fixtures import make_casme3a

from microexpr.data.casme3 import Casme3A, normalise_subject
from microexpr.data.registry import load_dataset
from microexpr.errors import DatasetNotFoundError


def test_casme3a_reads_part_a(tmp_path):
    ds = Casme3A(make_casme3a(tmp_path))
    assert [r.key for r in ds] == [
        "casme3a/spNO.1/b_175",
        "casme3a/spNO.1/b_400",
        "casme3a/spNO.2/a_30",
    ]
    first = ds[0]
    assert (first.onset, first.apex, first.offset) == (175, 190, 210)
    assert first.frame_path(175) == tmp_path / "part_A" / "spNO.1" / "b" / "color" / "175.jpg"
    assert [r.class_name for r in ds] == ["positive", "negative", "surprise"]
    assert ds.excluded == ["casme3a/spNO.2/c_30"]
    assert ds.frames_dir == tmp_path / "part_A"


def test_casme3a_missing_recording(tmp_path):
    make_casme3a(
        tmp_path, [("spNO.1", "b", 175, 190, 210, "happy"), ("spNO.1", "z", 1, 2, 3, "sad")]
    )
    import shutil

    shutil.rmtree(tmp_path / "part_A" / "spNO.1" / "z")
    (issue,) = Casme3A(tmp_path).issues
    assert issue.key == "casme3a/spNO.1/z_1" and issue.reason == "frame folder missing"
    assert issue.path.endswith("spNO.1/z/color")


def test_casme3a_root_is_not_the_dataset(tmp_path):
    with pytest.raises(
        DatasetNotFoundError, match=r"does not look like a CAS\(ME\)\^3 part A copy"
    ):
        Casme3A(tmp_path)


def test_casme3a_normalise_subject():
    assert normalise_subject(1) == "spNO.1" and normalise_subject("spNO.12") == "spNO.12"


def test_casme3a_through_registry(tmp_path):
    records, _ = load_dataset("casme3a", make_casme3a(tmp_path), modality="color")
    assert len(records) == 3
