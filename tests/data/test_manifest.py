import pytest
from dataset_fixtures import write_frames

from microexpr.data.manifest import Manifest
from microexpr.data.registry import load_dataset
from microexpr.errors import AnnotationError, DatasetNotFoundError


def _manifest(tmp_path, text):
    (tmp_path / "manifest.csv").write_text(text)
    write_frames(tmp_path / "p01" / "take1", ["f001.png", "f005.png", "f009.png"])
    write_frames(tmp_path / "clips" / "x", ["0010.jpg", "0012.jpg"])
    return tmp_path


def test_manifest_reads_rows(tmp_path):
    ds = Manifest(
        _manifest(
            tmp_path,
            (
                "subject,clip,onset,apex,offset,label,dataset,emotion,frames_dir\n"
                "p01,take1,1,5,9,positive,,joy,\n"
                "p02,take2,10,12,12,2,lab2,,clips/x\n"
            ),
        )
    )
    assert [r.key for r in ds] == ["custom/p01/take1", "lab2/p02/take2"]
    assert ds[0].emotion == "joy" and ds[0].class_name == "positive"
    assert ds[1].emotion == "2" and ds[1].class_name == "surprise"
    assert ds[1].frame_path(12).name == "0012.jpg"


def test_manifest_bad_rows(tmp_path):
    ds = Manifest(
        _manifest(
            tmp_path,
            (
                "subject,clip,onset,apex,offset,label\n"
                "p01,take1,1,5,9,happy\n"
                "p01,take1b,1,x,9,positive\n"
                "p03,none,1,2,3,negative\n"
            ),
        )
    )
    reasons = [i.reason for i in ds.issues]
    assert reasons[0].startswith("manifest.csv row 2: unknown label 'happy' (known: 0, 1, 2")
    assert reasons[1] == "manifest.csv row 3: apex 'x' is not a frame number"
    assert reasons[2] == "frame folder missing"
    assert len(ds) == 0


def test_manifest_own_class_names(tmp_path):
    ds = Manifest(
        _manifest(tmp_path, "subject,clip,onset,apex,offset,label\np01,take1,1,5,9,up\n"),
        class_names=("down", "up"),
    )
    assert ds[0].label == 1 and ds.class_names == ("down", "up")


def test_manifest_errors(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"manifest '.*manifest.csv' does not exist: "
        r"expected a CSV with the columns subject, clip, onset, apex, offset, label",
    ):
        Manifest(tmp_path)
    (tmp_path / "m.csv").write_text("subject,clip,start,apex,offset,label\n")
    with pytest.raises(
        AnnotationError,
        match=r"m.csv: expected a header row with the columns "
        r"'subject', 'clip', 'onset', 'apex', 'offset', 'label'",
    ):
        Manifest(tmp_path / "m.csv")


def test_manifest_through_registry(tmp_path):
    _manifest(tmp_path, "subject,clip,onset,apex,offset,label\np01,take1,1,5,9,negative\n")
    records, issues = load_dataset("manifest", tmp_path / "manifest.csv", dataset="mine")
    assert [r.group for r in records] == ["mine/p01"] and issues == []
