import pytest
from dataset_fixtures import make_casme, write_xlsx

from microexpr.data.casme import Casme, normalise_subject
from microexpr.data.registry import load_dataset
from microexpr.errors import AnnotationError, DatasetNotFoundError


def test_casme_raw_release(tmp_path):
    ds = Casme(make_casme(tmp_path))
    assert [r.key for r in ds] == [
        "casme/sub01/EP01_5",
        "casme/sub01/EP02_1",
        "casme/sub02/EP03_2",
        "casme/sub03/EP05_1",
    ]
    first = ds[0]
    assert (first.onset, first.apex, first.offset) == (113, 120, 140)
    assert first.frame_path(113).name == "EP01_5-113.jpg"
    assert [r.class_name for r in ds] == ["negative", "positive", "surprise", "negative"]
    assert ds.excluded == ["casme/sub02/EP04_3"]
    assert ds.issues == []


def test_casme_cropped_release(tmp_path):
    ds = Casme(make_casme(tmp_path, release="cropped"))
    assert ds[0].frame_path(120).name == "reg_EP01_5-120.jpg"


def test_casme_cropped_release_in_unknown_folder_detected_by_prefix(tmp_path):
    ds = Casme(make_casme(tmp_path, release="cropped", folder="CASME_faces"))
    assert ds.frames_dir == tmp_path / "CASME_faces"
    assert ds[0].frame_path(113).name == "reg_EP01_5-113.jpg"


def test_casme_two_section_sheets(tmp_path):
    ds = Casme(make_casme(tmp_path, sections=True))
    assert sorted(p.name for p in ds.sheets) == ["CASME_A_Section.xlsx", "CASME_B_Section.xlsx"]
    assert len(ds) == 4


def test_casme_bad_rows(tmp_path):
    make_casme(tmp_path, [(1, "EP01_5", 113, "", 140, "disgust"), (1, "EP01_6", 5, 9, 12, "anger")])
    reasons = [i.reason for i in Casme(tmp_path).issues]
    assert reasons[0] == "CASME_coding.xlsx row 2: apex '' is not a frame number"
    assert reasons[1].startswith(
        "CASME_coding.xlsx row 3: unknown emotion 'anger' (known: amusement"
    )


def test_casme_errors(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"does not look like a CASME copy: expected its "
        r"coding sheet \(CASME_\*.xlsx",
    ):
        Casme(tmp_path)
    write_xlsx(tmp_path / "CASME_coding.xlsx", [("Sheet1", [["Subject", "Filename", "Onset"]])])
    with pytest.raises(
        AnnotationError,
        match=r"CASME_coding.xlsx: expected a header row with the "
        r"columns 'Subject', 'Filename', 'OnsetF', 'ApexF1', 'OffsetF', 'Emotion'",
    ):
        Casme(tmp_path)


def test_casme_normalise_subject():
    assert [normalise_subject(v) for v in (1, "1", "sub1", "sub19")] == [
        "sub01",
        "sub01",
        "sub01",
        "sub19",
    ]


def test_casme_through_registry(tmp_path):
    records, _ = load_dataset("casme", make_casme(tmp_path), release="raw")
    assert len(records) == 4
