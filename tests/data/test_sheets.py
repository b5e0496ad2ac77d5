import pytest
from dataset_fixtures import write_xlsx

from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import find_sheets
from microexpr.data._parsing import SheetLayout, cell_int, cell_text, read_sheet
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError

LAYOUT = SheetLayout(columns={"subject": ("Subject",), "clip": ("Filename",)})


def test_cells():
    assert [cell_int(v) for v in (46, 46.0, " 46 ", "46.0", "/", None, "", True, 4.5)] == [
        46,
        46,
        46,
        46,
        None,
        None,
        None,
        None,
        None,
    ]
    assert [cell_text(v) for v in (None, 46.0, " a ", 3)] == ["", "46", "a", "3"]


def test_read_sheet_finds_header_below_notes_and_skips_blank_rows(tmp_path):
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [
            ("notes", [["x"]]),
            (
                "data",
                [["title"], [], ["Subject", "Filename"], ["1", "a"], [None, None], ["2", "b"]],
            ),
        ],
    )
    rows = read_sheet(path, LAYOUT)
    assert [r.values for r in rows] == [
        {"subject": "1", "clip": "a"},
        {"subject": "2", "clip": "b"},
    ]
    assert rows[0].source == "s.xlsx sheet 'data' row 4"


def test_read_sheet_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("subject,FILENAME,other\n01,a,x\n")
    assert read_sheet(path, LAYOUT)[0].values == {"subject": "01", "clip": "a"}


def test_read_sheet_xls_needs_xlrd_or_reads(tmp_path):
    path = tmp_path / "s.xls"
    path.write_bytes(b"not an xls")
    with pytest.raises(
        AnnotationError,
        match=r"s.xls: (reading .xls sheets needs the xlrd|not a "
        r"readable spreadsheet)",
    ):
        read_sheet(path, LAYOUT)


def test_read_sheet_header_missing(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("\n\nwho,what\n")
    with pytest.raises(
        AnnotationError,
        match=r"s.csv: expected a header row with the columns "
        r"'Subject', 'Filename' within the first 30 rows of a worksheet; the first "
        r"non-empty row holds 'who', 'what'",
    ):
        read_sheet(path, LAYOUT)


def test_find_sheets_in_subfolder_newest_first(tmp_path):
    (tmp_path / "docs").mkdir()
    for name in ("docs/X-2014.xlsx", "docs/X-2019.xlsx", "~$X-2020.xlsx"):
        (tmp_path / name).write_text("")
    assert [p.name for p in find_sheets(tmp_path, ["X-*.xlsx"], title="X")] == [
        "X-2019.xlsx",
        "X-2014.xlsx",
    ]
    with pytest.raises(DatasetNotFoundError, match=r"does not look like a Y copy"):
        find_sheets(tmp_path, ["Y*.xlsx"], title="Y")


def test_build_records_mapping_class_names(tmp_path):
    raw = [RawClip("s", "c", 1, 2, 3, "joy", "row 2", tmp_path)]
    with pytest.raises(
        ConfigError,
        match=r"mapping targets \['joy'\], which are not among "
        r"class_names \('negative', 'positive', 'surprise'\)",
    ):
        build_records(
            "d", raw, mapping={"joy": "joy"}, class_names=("negative", "positive", "surprise")
        )
    assert classes_of({"a": "positive", "b": None}) == ("negative", "positive", "surprise")
    assert classes_of({"a": "up", "b": "down"}) == ("down", "up")


def test_build_records_duplicate_row(tmp_path):
    raw = [RawClip("s", "c", 1, 2, 3, "x", f"row {i}", tmp_path / "none") for i in (2, 3)]
    _, issues, _ = build_records("d", raw, mapping={"x": "negative"})
    assert [i.reason for i in issues] == [
        "frame folder missing",
        "row 3: duplicate clip, first row kept",
    ]
