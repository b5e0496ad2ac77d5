from dataset_fixtures import make_casme2, make_megc_casme2, make_partial_casme2

from microexpr.data.check import check_dataset, summarise_issues
from microexpr.data.mappings import official_clips
from microexpr.data.records import ClipIssue


def test_check_of_a_partial_copy_states_the_sheet_and_groups_the_problems(tmp_path):
    check = check_dataset("casme2", make_partial_casme2(tmp_path), read_frames=False)
    (row,) = check.rows
    assert (row.read, row.clips, row.skipped, row.excluded) == (148, 12, 134, 2)
    assert row.skip_causes == (("frame folder missing", 134),)
    text = check.format()
    assert (
        "  casme2 sheet: 148 clips; 2 excluded by the emotion mapping; "
        "134 skipped: frame folder missing; 12 usable"
    ) in text.splitlines()
    assert "  frame folder missing [frames]: 134 problem(s), 134 clip(s) skipped" in text
    assert "      ... and 131 more" in text
    # three examples instead of one line per missing folder
    assert sum("frame folder missing (" in line for line in text.splitlines()) == 3
    assert len(text.splitlines()) < 15
    assert sum("frame folder missing (" in line for line in check.format(examples=None)
               .splitlines()) == 134  # fmt: skip


def test_check_sheet_line_with_several_causes(tmp_path):
    (row,) = check_dataset("casme2", make_casme2(tmp_path)).rows
    assert row.read == 10 == row.clips + row.skipped + row.excluded
    assert row.sheet_line() == (
        "casme2 sheet: 10 clips; 1 excluded by the emotion mapping; 5 skipped: "
        "1 frame folder missing, 1 frame not on disk, 1 apex outside onset..offset, "
        "1 not a frame number, 1 unknown emotion; 4 usable"
    )


def test_check_with_the_official_list_counts_unlisted_clips_apart(tmp_path):
    root = make_megc_casme2(tmp_path)
    (tmp_path / "CASME2_RAW_selected" / "sub01").rename(tmp_path / "elsewhere")
    listed = official_clips("casme2")
    clips = dict(list(listed.items())[1:])  # the first listed clip becomes excluded
    clips[("sub99", "EP99_99")] = 0  # listed, not in the sheet: not a sheet clip
    check = check_dataset("casme2", root, options={"clips": clips}, read_frames=False)
    (row,) = check.rows
    sub01 = sum(1 for subject, _ in clips if subject == "sub01")
    assert row.excluded_by == "the official clip list"
    assert row.clips == 144 - sub01
    assert row.read == row.clips + row.skipped - 1 + row.excluded == 148
    assert "excluded by the official clip list" in row.sheet_line()
    assert "1 not in the coding sheet" not in row.sheet_line()
    kinds = {g.kind: g.count for g in check.groups()}
    assert kinds["not in the coding sheet"] == 1
    assert kinds["frame folder missing"] == sub01


def test_summarise_issues_orders_by_kind_and_counts_stopped_clips():
    issues = [
        ClipIssue("d/s/a", "x", kind="unknown emotion"),
        ClipIssue("d/s/b", "offset past", stage="frames", kind="offset past the last frame"),
        ClipIssue("d/s/c", "folder", stage="frames", kind="frame folder missing"),
        ClipIssue("d/s/d", "no face", stage="face"),
        ClipIssue("d/s/e", "folder", stage="frames", kind="frame folder missing"),
    ]
    groups = summarise_issues(issues, skipped={"d/s/a", "d/s/c", "d/s/e", "d/s/d"})
    assert [(g.kind, g.count, g.skipped) for g in groups] == [
        ("frame folder missing", 2, 2),
        ("offset past the last frame", 1, 0),
        ("unknown emotion", 1, 1),
        ("face", 1, 1),
    ]
