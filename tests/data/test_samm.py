import pytest
from dataset_fixtures import SAMM_ROWS, make_samm, write_xlsx

from microexpr.data.registry import load_dataset
from microexpr.data.samm import Samm, normalise_subject
from microexpr.errors import AnnotationError, DatasetNotFoundError


def test_samm_v2_sheet_with_preamble(tmp_path):
    ds = Samm(make_samm(tmp_path))
    assert [r.clip for r in ds] == ["006_1_2", "006_1_3", "011_2_1", "033_1_1"]
    first = ds[0]
    assert (first.subject, first.onset, first.apex, first.offset) == ("006", 5562, 5588, 5632)
    assert first.emotion == "anger" and first.class_name == "negative"
    assert first.frame_path(5562).name == "006_05562.jpg"
    assert [r.class_name for r in ds] == ["negative", "positive", "surprise", "negative"]
    assert ds.excluded == ["samm/007/007_3_1"]
    assert ds.sheet.name == "SAMM_Micro_FACS_Codes_v2.xlsx"


def test_samm_reports_apex_outside_with_sheet_row(tmp_path):
    issues = {i.key: i.reason for i in Samm(make_samm(tmp_path)).issues}
    assert issues == {
        "samm/028/028_4_1": "SAMM_Micro_FACS_Codes_v2.xlsx row 19: apex 1143 outside "
        "onset..offset 1071..1134",
        "samm/032/032_3_1": "SAMM_Micro_FACS_Codes_v2.xlsx row 20: apex 1930 outside "
        "onset..offset 4896..4970",
    }


def test_samm_apex_outside_keep(tmp_path):
    ds = Samm(make_samm(tmp_path), apex_outside="keep")
    assert len(ds) == 6
    assert all("kept" in i.reason for i in ds.issues)


def test_samm_one_header_variant_and_four_digit_frames(tmp_path):
    ds = Samm(make_samm(tmp_path, preamble=False, digits=4, under_samm=False))
    assert ds.sheet.name == "SAMM_Micro_FACS_Codes.xlsx"
    assert ds.frames_dir == tmp_path
    assert ds[0].frame_path(5562).name == "006_5562.jpg"
    assert len(ds) == 4


def test_samm_numeric_subjects(tmp_path):
    rows = [(6, "006_1_2", 10, 12, 14, "Happiness")]
    make_samm(tmp_path, [("006", *r[1:]) for r in rows])
    write_xlsx(
        tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx",
        [
            (
                "MICRO_ONLY",
                [
                    [
                        "Subject",
                        "Filename",
                        "Onset Frame",
                        "Apex Frame",
                        "Offset Frame",
                        "Estimated Emotion",
                    ],
                    [6, "006_1_2", 10, 12, 14, "Happiness"],
                ],
            )
        ],
    )
    assert [r.key for r in Samm(tmp_path)] == ["samm/006/006_1_2"]
    assert normalise_subject(6.0) == "006"


def test_samm_missing_frames(tmp_path):
    ds = Samm(make_samm(tmp_path, missing=["006_1_3"], drop={"011_2_1": {2000}}))
    issues = {i.key: i for i in ds.issues}
    assert issues["samm/006/006_1_3"].reason == "frame folder missing"
    assert issues["samm/006/006_1_3"].stage == "frames"
    assert issues["samm/011/011_2_1"].reason == "onset frame 2000 not on disk (frames 2010..2030)"


def test_samm_root_is_not_the_dataset(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"does not look like a SAMM copy: expected its "
        r"coding sheet \(SAMM_Micro_FACS_Codes\*.xlsx",
    ):
        Samm(tmp_path)


def test_samm_sheet_without_subject_folders(tmp_path):
    make_samm(tmp_path, SAMM_ROWS[:1])
    (tmp_path / "SAMM" / "006").rename(tmp_path / "SAMM" / "six")
    with pytest.raises(
        DatasetNotFoundError,
        match=r"SAMM copy: no folder under it holds the "
        r"subject folders of its sheet \(006\); expected frames such as "
        r"SAMM/006/006_1_2/006_05562.jpg",
    ):
        Samm(tmp_path)


def test_samm_sheet_with_unknown_columns(tmp_path):
    write_xlsx(
        tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx",
        [("MICRO_ONLY", [["Subject", "Filename", "Onset", "Peak", "Offset", "Emotion"]])],
    )
    with pytest.raises(
        AnnotationError,
        match=r"SAMM_Micro_FACS_Codes_v2.xlsx: expected a header "
        r"row with the columns 'Subject', 'Filename', 'Onset Frame', 'Apex Frame', "
        r"'Offset Frame', 'Estimated Emotion'",
    ):
        Samm(tmp_path)


def test_samm_through_registry(tmp_path):
    records, issues = load_dataset("samm", make_samm(tmp_path), apex_outside="keep")
    assert len(records) == 6 and len(issues) == 2
