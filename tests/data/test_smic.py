import pytest
from dataset_fixtures import make_smic

from microexpr.data.registry import load_dataset
from microexpr.data.smic import Smic, normalise_clip, normalise_subject, read_spotted_apex
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError


def test_smic_middle_apex_and_padded_ids(tmp_path):
    ds = Smic(make_smic(tmp_path))
    assert [r.key for r in ds] == [
        "smic/s01/s01_ne_01",
        "smic/s01/s01_po_01",
        "smic/s02/s02_sur_01",
    ]
    first = ds[0]
    assert (first.onset, first.apex, first.offset) == (1000, 1002, 1004)
    assert first.frame_path(1002).name == "reg_image001002.bmp"
    # four frames: the lower of the two middle ones
    assert (ds[1].onset, ds[1].apex, ds[1].offset) == (2000, 2001, 2003)
    assert [r.class_name for r in ds] == ["negative", "positive", "surprise"]
    assert ds.frames_dir == tmp_path / "HS"


def test_smic_empty_clip_folder_reported(tmp_path):
    (issue,) = Smic(make_smic(tmp_path)).issues
    assert issue.key == "smic/s03/s03_ne_02"
    assert issue.reason == "negative/s3_ne_02: no frames in folder"


def test_smic_root_can_be_the_hs_folder(tmp_path):
    make_smic(tmp_path)
    assert len(Smic(tmp_path / "HS")) == 3


def test_smic_spotted_apex_from_csv(tmp_path):
    make_smic(tmp_path)
    spotted = tmp_path / "apex.csv"
    spotted.write_text("subject,clip,apex\ns1,s1_ne_01,1003\ns01,s01_po_01,2000\n")
    ds = Smic(tmp_path, apex="spotted", spotted=spotted)
    assert [(r.clip, r.apex) for r in ds] == [("s01_ne_01", 1003), ("s01_po_01", 2000)]
    reasons = {i.key: i.reason for i in ds.issues}
    assert (
        reasons["smic/s02/s02_sur_01"] == "surprise/s2_sur_01: no spotted apex given for this clip"
    )


def test_smic_spotted_apex_mapping_out_of_clip(tmp_path):
    make_smic(tmp_path)
    ds = Smic(tmp_path, apex="spotted", spotted={("s1", "s1_ne_01"): 1999})
    assert "apex 1999 outside onset..offset 1000..1004" in ds.issues[0].reason


def test_smic_apex_choices(tmp_path):
    make_smic(tmp_path)
    with pytest.raises(
        ConfigError, match=r"apex must be one of \['middle', 'spotted'\], got 'peak'"
    ):
        Smic(tmp_path, apex="peak")
    with pytest.raises(ConfigError, match=r"apex='spotted' needs spotted=PATH"):
        Smic(tmp_path, apex="spotted")


def test_smic_spotted_file_errors(tmp_path):
    bad = tmp_path / "apex.csv"
    bad.write_text("subject,clip,frame\n")
    with pytest.raises(
        AnnotationError,
        match=r"apex.csv: expected the columns 'subject', 'clip', "
        r"'apex'; found \['subject', 'clip', 'frame'\]",
    ):
        read_spotted_apex(bad)
    bad.write_text("subject,clip,apex\ns1,s1_ne_01,/\n")
    with pytest.raises(AnnotationError, match=r"apex.csv row 2: apex '/' is not a frame number"):
        read_spotted_apex(bad)
    with pytest.raises(
        DatasetNotFoundError, match=r"spotted apex file '.*none.csv' does not exist"
    ):
        read_spotted_apex(tmp_path / "none.csv")


def test_smic_unknown_class_folder(tmp_path):
    make_smic(tmp_path, [("s4", "anger", "s4_an_01", 1, 3)])
    (issue,) = Smic(tmp_path).issues
    assert issue.reason.startswith("anger/s4_an_01: unknown emotion 'anger'")


def test_smic_root_is_not_the_dataset(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"does not look like a SMIC-HS copy: expected "
        r"clip folders such as HS/s1/micro/negative/s1_ne_01",
    ):
        Smic(tmp_path)


def test_smic_normalise():
    assert normalise_subject("s1") == "s01" and normalise_subject("s12") == "s12"
    assert normalise_clip("s1_ne_01") == "s01_ne_01" and normalise_clip("s20_sur_3") == "s20_sur_3"


def test_smic_through_registry(tmp_path):
    records, issues = load_dataset("smic", make_smic(tmp_path), apex="middle", spotted=None)
    assert len(records) == 3 and len(issues) == 1
