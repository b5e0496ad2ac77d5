from pathlib import Path

import pytest
from dataset_fixtures import make_casme2, write_xlsx

from microexpr.data.casme2 import Casme2, normalise_subject
from microexpr.data.mappings import official_clips
from microexpr.data.registry import load_dataset
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError


def _reasons(dataset):
    return {i.key: i.reason for i in dataset.issues}


def test_casme2_raw_reads_good_clips(tmp_path):
    ds = Casme2(make_casme2(tmp_path))
    assert [r.clip for r in ds] == ["EP02_01f", "EP19_05f", "EP01_11f", "EP09_05f"]
    first = ds[0]
    assert (first.dataset, first.subject, first.group) == ("casme2", "sub01", "casme2/sub01")
    assert (first.onset, first.apex, first.offset, first.emotion) == (46, 59, 86, "happiness")
    assert first.class_name == "positive"
    assert first.frame_path(46).name == "img46.jpg"
    assert [r.class_name for r in ds] == ["positive", "negative", "negative", "surprise"]
    assert ds.frames_dir == tmp_path / "CASME2_RAW_selected"
    assert ds.excluded == ["casme2/sub02/EP03_02"]


def test_casme2_reports_each_bad_row(tmp_path):
    reasons = _reasons(Casme2(make_casme2(tmp_path)))
    assert reasons["casme2/sub04/EP12_01f"].endswith("row 6: apex '/' is not a frame number")
    assert "apex 90 outside onset..offset 100..120" in reasons["casme2/sub05/EP10_01"]
    assert "unknown emotion 'happyness'" in reasons["casme2/sub06/EP01_01"]
    assert reasons["casme2/sub07/EP15_01"] == "frame folder missing"
    assert reasons["casme2/sub07/EP16_02"] == "apex frame 20 not on disk (frames 10..30)"
    assert len(reasons) == 5


def test_casme2_apex_outside_keep(tmp_path):
    make_casme2(tmp_path, drop={})
    ds = Casme2(tmp_path, apex_outside="keep")
    assert "casme2/sub05/EP10_01" in {r.key for r in ds}
    assert "kept (apex_outside='keep')" in _reasons(ds)["casme2/sub05/EP10_01"]


def test_casme2_apex_outside_bad_choice(tmp_path):
    make_casme2(tmp_path)
    with pytest.raises(ConfigError, match=r"apex_outside must be one of \['skip', 'keep'\]"):
        Casme2(tmp_path, apex_outside="clamp")


def test_casme2_cropped_release(tmp_path):
    ds = Casme2(make_casme2(tmp_path, release="cropped"))
    assert ds.frames_dir == tmp_path / "Cropped"
    assert ds[0].frame_path(59).name == "reg_img59.jpg"
    assert len(ds) == 4


def test_casme2_release_auto_prefers_raw_and_can_be_chosen(tmp_path):
    make_casme2(tmp_path, release="raw")
    make_casme2(tmp_path, release="cropped")
    assert Casme2(tmp_path).frames_dir.name == "CASME2_RAW_selected"
    assert Casme2(tmp_path, release="cropped")[0].frame_path(46).name == "reg_img46.jpg"


def test_casme2_nested_release_folder(tmp_path):
    ds = Casme2(make_casme2(tmp_path, nested=True))
    assert ds.frames_dir == tmp_path / "CASME2_RAW_selected" / "CASME2_RAW_selected"
    assert len(ds) == 4


def test_casme2_release_found_under_unknown_name(tmp_path):
    make_casme2(tmp_path, release="cropped")
    (tmp_path / "Cropped").rename(tmp_path / "my_frames")
    ds = Casme2(tmp_path)
    assert ds[0].frame_path(46).name == "reg_img46.jpg"


def test_casme2_2014_sheet_with_numeric_subjects(tmp_path):
    ds = Casme2(make_casme2(tmp_path, version="2014"))
    assert ds.sheet.name == "CASME2-coding-20140508.xlsx"
    assert [r.subject for r in ds] == ["sub01", "sub01", "sub02", "sub05"]


def test_casme2_explicit_sheet(tmp_path):
    make_casme2(tmp_path / "copy")
    sheet = (tmp_path / "copy" / "CASME2-coding-20190701.xlsx").rename(tmp_path / "mine.xlsx")
    assert len(Casme2(tmp_path / "copy", sheet=sheet)) == 4
    with pytest.raises(DatasetNotFoundError, match=r"CASME II coding sheet '.*nope.xlsx' does not"):
        Casme2(tmp_path / "copy", sheet=tmp_path / "nope.xlsx")


def test_casme2_official_selection(tmp_path):
    clips = official_clips("casme2")
    ds = Casme2(make_casme2(tmp_path), clips=clips)
    assert [r.key for r in ds] == [
        "casme2/sub01/EP02_01f",
        "casme2/sub01/EP19_05f",
        "casme2/sub02/EP01_11f",
        "casme2/sub06/EP01_01",
    ]
    # sub06/EP01_01 is listed: its misspelt emotion is reported, the list's label used
    assert ds[3].class_name == "positive"
    reasons = _reasons(ds)
    assert reasons["casme2/sub06/EP01_01"].endswith(
        "unknown emotion 'happyness' (known: disgust, fear, happiness, others, repression, "
        "sadness, surprise); the official label is used"
    )
    assert "not in the official clip list; excluded" in reasons["casme2/sub05/EP09_05f"]
    assert reasons["casme2/sub03/EP01_2"] == "in the official clip list but not in the coding sheet"


def test_casme2_root_is_not_the_dataset(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"does not look like a CASME II copy: expected "
        r"its coding sheet \(CASME2-coding-\*.xlsx",
    ):
        Casme2(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"CASME II root '.*missing' does not exist"):
        Casme2(tmp_path / "missing")


def test_casme2_sheet_without_frames(tmp_path):
    make_casme2(tmp_path)
    for folder in (tmp_path / "CASME2_RAW_selected").iterdir():
        folder.rename(tmp_path / "CASME2_RAW_selected" / f"x{folder.name}")
    with pytest.raises(
        DatasetNotFoundError,
        match=r"no folder under it holds the subject "
        r"folders of its sheet \(sub01, sub02, sub04, \.\.\.\)",
    ):
        Casme2(tmp_path)


def test_casme2_sheet_with_unknown_columns(tmp_path):
    write_xlsx(
        tmp_path / "CASME2-coding-20190701.xlsx",
        [
            (
                "Sheet1",
                [["Subj", "File", "Start", "Peak", "End", "Feeling"], ["01", "EP01", 1, 2, 3, "x"]],
            )
        ],
    )
    with pytest.raises(
        AnnotationError,
        match=r"CASME2-coding-20190701.xlsx: expected a header row "
        r"with the columns 'Subject', 'Filename', 'OnsetFrame', 'ApexFrame', "
        r"'OffsetFrame', 'Estimated Emotion'.*first non-empty row holds 'Subj'",
    ):
        Casme2(tmp_path)


def test_casme2_unreadable_sheet(tmp_path):
    (tmp_path / "CASME2-coding-20190701.xlsx").write_text("not a spreadsheet")
    with pytest.raises(
        AnnotationError, match=r"CASME2-coding-20190701.xlsx: not a readable spreadsheet"
    ):
        Casme2(tmp_path)


def test_casme2_custom_mapping(tmp_path):
    ds = Casme2(make_casme2(tmp_path), mapping={"Happiness": "positive", "disgust": "negative"})
    assert [r.clip for r in ds] == ["EP02_01f", "EP19_05f"]
    joy = Casme2(tmp_path, mapping={"happiness": "joy", "disgust": None})
    assert joy.class_names == ("joy",)
    assert [r.class_name for r in joy] == ["joy"]


def test_casme2_normalise_subject():
    assert [normalise_subject(v) for v in ("01", 1, 1.0, "sub1", "sub01", "x")] == [
        "sub01",
        "sub01",
        "sub01",
        "sub01",
        "sub01",
        "x",
    ]


def test_casme2_through_registry(tmp_path):
    records, issues = load_dataset("casme2", make_casme2(tmp_path), release=None)
    assert len(records) == 4 and len(issues) == 5
    assert isinstance(records[0].frames[46], Path)
