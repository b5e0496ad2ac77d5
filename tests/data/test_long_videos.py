"""Readers of the long-video spotting datasets: CAS(ME)^2 and SAMM Long Videos, quirks included."""

import pandas as pd
import pytest
from long_video_fixtures import CASME_SQ_ROWS, SAMM_LV_ROWS, make_casme_sq, make_samm_lv

from microexpr.data import list_long_video_datasets, load_long_videos
from microexpr.data._build import expression_kind
from microexpr.data.casme_sq import CasmeSq
from microexpr.data.samm_lv import SammLongVideos, video_of
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError


def _intervals(ds):
    return {v.video: [(i.kind, i.onset, i.apex, i.offset) for i in v.intervals] for v in ds.videos}


def test_casme_sq_reads_every_quirk(tmp_path):
    ds = CasmeSq(make_casme_sq(tmp_path))
    assert _intervals(ds) == {
        "15_0101disgustingteeth": [
            ("micro", 10, 15, 20),
            ("macro", 30, None, 50),  # apex 0: not annotated
            ("macro", 55, 58, 60),  # offset 70 cut at the last frame
        ],
        "15_0401girlcrashing": [("micro", 5, 8, 8)],  # offset 0: the apex
        "16_0101disgustingteeth": [("micro", 3, 4, 6)],  # " Disgust1_1 "
        "16_0502funnyerrors": [],  # on disk, never annotated: still spotted over
    }
    assert [v.subject for v in ds.videos] == ["s15", "s15", "s16", "s16"]
    assert ds.fps == 30.0
    assert ds.counts() == {"videos": 4, "micro": 3, "macro": 2}
    assert ds.videos[0].frames[1].name == "img1.jpg"


def test_casme_sq_lists_each_bad_row_with_its_reason(tmp_path):
    issues = CasmeSq(make_casme_sq(tmp_path)).issues
    by_row = {int(i.reason.split(" row ")[1].split(":")[0]): i for i in issues}
    assert {row: i.kind for row, i in by_row.items()} == {
        3: "offset missing",
        4: "not a frame number",
        6: "unknown name",
        7: "unknown name",
        8: "onset after offset",
        9: "interval past the last frame",
        10: "unknown expression type",
    }
    assert "participant '3' is not in the subject naming sheet" in by_row[6].reason
    assert "video name 'happy9'" in by_row[7].reason
    assert "type 'others'" in by_row[10].reason
    # every fixture row is either an interval or an issue, never dropped silently
    kept = sum(len(v.intervals) for v in CasmeSq(make_casme_sq(tmp_path / "b")).videos)
    skipped = sum(1 for i in issues if i.reason.endswith("skipped"))
    assert kept + skipped == len(CASME_SQ_ROWS)


def test_casme_sq_header_row_and_code_as_number(tmp_path):
    rows = [("Participant", "Name", "Onset", "Apex", "Offset", "AU", "Emotion", "Type", "SR")]
    rows.append((1, "anger1_1", 2, 3, 4, "4", "anger", "micro-expression", "a"))
    ds = CasmeSq(make_casme_sq(tmp_path, rows=rows))
    assert _intervals(ds)["15_0401girlcrashing"] == [("micro", 2, 3, 4)]
    assert ds.issues == []


def test_casme_sq_without_naming_sheets(tmp_path):
    root = make_casme_sq(tmp_path)
    with pd.ExcelWriter(root / "CAS(ME)^2code_final.xlsx") as writer:
        pd.DataFrame([r for r, _ in CASME_SQ_ROWS]).to_excel(writer, header=False, index=False)
    with pytest.raises(AnnotationError, match="lacks the subject naming sheet .* and the video"):
        CasmeSq(root)


def test_casme_sq_not_a_copy(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not look like a CAS\\(ME\\)\\^2 copy"):
        CasmeSq(tmp_path)
    root = make_casme_sq(tmp_path / "c", videos={})
    with pytest.raises(DatasetNotFoundError, match="no folder under it holds the subject folders"):
        CasmeSq(root)


def test_samm_lv_reads_every_quirk(tmp_path):
    ds = SammLongVideos(make_samm_lv(tmp_path))
    assert _intervals(ds) == {
        "006_1": [("micro", 10, 20, 30), ("macro", 40, None, 90), ("micro", 100, 105, 105)],
        "007_2": [("micro", 5, 6, 9)],
    }
    assert [v.subject for v in ds.videos] == ["006", "007"]
    assert ds.fps == 200.0
    assert ds.videos[0].frames[1].name == "006_1_0001.jpg"
    assert ds.videos[0].intervals[0].source == "SAMM_LongVideos_V3_Release.xlsx row 11"
    kinds = [i.kind for i in ds.issues]
    assert kinds == [
        "offset missing",
        "unknown name",
        "onset after offset",
        "video not on disk",
        "not a frame number",
        "unknown expression type",
    ]
    skipped = sum(1 for i in ds.issues if i.reason.endswith("skipped"))
    assert sum(len(v.intervals) for v in ds.videos) + skipped == len(SAMM_LV_ROWS)


@pytest.mark.parametrize("notes", [0, 4, 20])
def test_samm_lv_header_found_after_any_number_of_notes(tmp_path, notes):
    ds = SammLongVideos(make_samm_lv(tmp_path, notes=notes))
    assert ds.counts() == {"videos": 2, "micro": 3, "macro": 1}


def test_samm_lv_header_worded_otherwise_is_read_by_position(tmp_path):
    root = make_samm_lv(tmp_path)
    sheet = root / "SAMM_LongVideos_V3_Release.xlsx"
    cells = pd.read_excel(sheet, header=None, dtype=object)
    cells.iloc[9] = ["Subj", "File", "Code", "On", "Peak", "Off", "Dur", "Kind", "AU", "Note"]
    cells.to_excel(sheet, header=False, index=False)
    ds = SammLongVideos(root)
    assert _intervals(ds)["006_1"] == [
        ("micro", 10, 20, 30),
        ("macro", 40, None, 90),
        ("micro", 100, 105, 105),
    ]
    assert ds.videos[0].intervals[0].source == "SAMM_LongVideos_V3_Release.xlsx row 11"


def test_samm_lv_sheet_without_the_table(tmp_path):
    root = make_samm_lv(tmp_path)
    pd.DataFrame([["a", "b"], [1, 2]]).to_excel(
        root / "SAMM_LongVideos_V3_Release.xlsx", header=False, index=False
    )
    with pytest.raises(AnnotationError, match="expected a header row with the columns 'Subject'"):
        SammLongVideos(root)


def test_samm_lv_video_names():
    assert video_of("006_1_2") == ("006", "006_1")
    assert video_of(" 6_1_2 ") == ("006", "006_1")
    assert video_of("006_1") == ("006", "006_1")
    assert video_of("006-1-2") is None


def test_expression_kind_spellings():
    assert [
        expression_kind(t)
        for t in ("micro-expression", "Micro - 1/2", "MICRO", "macro-expression", "Macro", "")
    ] == ["micro", "micro", "micro", "macro", "macro", None]


def test_long_video_registry(tmp_path):
    assert list_long_video_datasets() == ["casme_sq", "samm_lv"]
    assert len(load_long_videos("samm_lv", make_samm_lv(tmp_path), sheet=None)) == 2
    with pytest.raises(ConfigError, match="did you mean samm_lv"):
        load_long_videos("sammlv", tmp_path)
    with pytest.raises(ConfigError, match="unknown options \\['fps'\\]"):
        load_long_videos("samm_lv", tmp_path, fps=30)
