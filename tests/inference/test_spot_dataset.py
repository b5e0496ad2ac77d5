"""The MEGC spotting protocol end to end on a tiny synthetic CAS(ME)^2 copy.

Two videos rendered from a real face photo (video_fixtures): the first has one
injected micro-expression (positions 24-35, i.e. frames img25-img36), the
second is quiet. The sheet annotates that micro-expression, two micro- and one
macro-expression where nothing moves, and a micro one in the quiet video.
By hand, if the spotter finds the one movement and nothing else:
micro: 4 annotated (3 + 1), 1 spotted, TP 1 -> precision 1, recall 1/4, F1 2/5;
macro: 1 annotated, 0 spotted -> recall 0, F1 0, precision undefined;
overall: TP 1, 5 annotated, 1 spotted -> precision 1, recall 1/5, F1 2/6;
first video alone, micro: 3 annotated, TP 1, 1 spotted -> F1 2/4.
"""

import json

import cv2
import pandas as pd
import pytest
from long_video_fixtures import make_casme_sq, make_samm_lv
from typer.testing import CliRunner
from video_fixtures import motion_frames

from microexpr.cli import app
from microexpr.errors import ConfigError
from microexpr.inference.spot_dataset import spot_long_videos

ROWS = [
    (1, "disgust1_1", 25, 30, 36, "6+12", "happy", "micro-expression", "h"),
    (1, "disgust1_2", 2, 4, 8, "4", "disgust", "micro-expression", "d"),
    (1, "disgust1_3", 44, 0, 58, "4", "disgust", "macro-expression", "d"),
    (1, "disgust1_4", 40, 41, 0, "4", "disgust", "micro-expression", "d"),  # offset 0 -> 41
    (1, "anger1_1", 10, 12, 15, "4", "anger", "micro-expression", "a"),
    (1, "anger1_2", 10, 12, 15, "4", "anger", "surprise", "a"),  # not a type: skipped
]


@pytest.fixture(scope="module")
def casme_sq_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("casme_sq")
    moving = motion_frames(n_frames=60, onset=24, apex=29, offset=35, amplitude=2.5)
    quiet = motion_frames(n_frames=40, amplitude=0.0, seed=3)
    make_casme_sq(
        root,
        rows=ROWS,
        videos={"s15/15_0101disgustingteeth": 60},
        frames=lambda i: cv2.cvtColor(moving[i], cv2.COLOR_BGR2GRAY),
    )
    make_casme_sq(
        root,
        rows=ROWS,
        videos={"s15/15_0401girlcrashing": 40},
        frames=lambda i: cv2.cvtColor(quiet[i], cv2.COLOR_BGR2GRAY),
    )
    return root


def test_spot_command_report_matches_a_hand_computation(casme_sq_root, tmp_path):
    out = tmp_path / "spot"
    result = CliRunner().invoke(
        app,
        ["spot", "--dataset", "casme_sq", "--root", str(casme_sq_root), "--out", str(out), "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "micro F1 0.400 (1/4 hit, 1 spotted)" in result.output
    assert "overall F1 0.333 (1/5 hit, 1 spotted)" in result.output

    intervals = pd.read_csv(out / "intervals.csv")
    pred = intervals[intervals.side == "pred"]
    assert len(pred) == 1  # the one injected movement, nothing on the quiet face
    onset, offset = int(pred.onset.iloc[0]), int(pred.offset.iloc[0])
    # by hand: inclusive frames shared with 25..36 over the frames of either
    inter = min(offset, 36) - max(onset, 25) + 1
    union = (36 - 25 + 1) + (offset - onset + 1) - inter
    assert inter / union >= 0.5
    assert pred.iou.iloc[0] == pytest.approx(inter / union, abs=1e-4)
    assert bool(pred.hit.iloc[0]) and pred.kind.iloc[0] == "micro"

    metrics = json.loads((out / "metrics.json").read_text())
    micro, macro, overall = (metrics["pooled"][k] for k in ("micro", "macro", "overall"))
    assert (micro["tp"], micro["fp"], micro["fn"]) == (1, 0, 3)
    assert micro["precision"] == 1.0 and micro["recall"] == pytest.approx(1 / 4)
    assert micro["f1"] == pytest.approx(2 / 5)
    assert (macro["tp"], macro["n_true"], macro["n_pred"]) == (0, 1, 0)
    assert macro["precision"] is None and macro["recall"] == 0.0 and macro["f1"] == 0.0
    assert overall["f1"] == pytest.approx(2 / 6) and overall["recall"] == pytest.approx(1 / 5)
    assert [v["video"] for v in metrics["videos"]] == [
        "15_0101disgustingteeth",
        "15_0401girlcrashing",
    ]
    assert metrics["complete"] is True
    assert [i["kind"] for i in metrics["sheet_issues"]] == [
        "offset missing",
        "unknown expression type",
    ]

    per_video = pd.read_csv(out / "per_video.csv")
    first = per_video[(per_video.video == "15_0101disgustingteeth") & (per_video.kind == "micro")]
    assert first[["n_true", "n_pred", "tp"]].values.tolist() == [[3, 1, 1]]
    assert first.f1.iloc[0] == pytest.approx(2 / 4)
    quiet = per_video[(per_video.video == "15_0401girlcrashing") & (per_video.kind == "micro")]
    assert quiet[["n_true", "n_pred", "tp", "f1"]].values.tolist() == [[1, 0, 0, 0.0]]

    report = (out / "report.md").read_text()
    assert "| micro | 4 | 1 | 1 | 0 | 3 | 1.000 | 0.250 | 0.400 |" in report
    assert "| macro | 1 | 0 | 0 | 0 | 1 |  | 0.000 | 0.000 |" in report
    assert "| overall | 5 | 1 | 1 | 0 | 4 | 1.000 | 0.200 | 0.333 |" in report
    assert "type 'surprise' is neither a micro- nor a macro-expression" in report


def test_spot_selects_videos_and_reports_a_bad_pattern(casme_sq_root, tmp_path):
    run = spot_long_videos(
        "casme_sq", casme_sq_root, tmp_path / "a", videos="s15/15_04*", progress=False
    )
    assert [v.video.video for v in run.videos] == ["15_0401girlcrashing"]
    assert run.pooled("micro").n_true == 1
    result = CliRunner().invoke(
        app,
        [
            "spot",
            "--dataset",
            "casme_sq",
            "--root",
            str(casme_sq_root),
            "--out",
            str(tmp_path / "c"),
            "--videos",
            "s15/15_04*",
            "-q",
        ],
    )
    assert "macro F1 undefined (0/0 hit, 0 spotted)" in result.output
    with pytest.raises(ConfigError, match="matches none of the 2 videos of CAS\\(ME\\)\\^2"):
        spot_long_videos("casme_sq", casme_sq_root, tmp_path / "b", videos="s99/*")


def test_spot_command_bad_inputs_are_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["spot", "--dataset", "casme_sq", "--root", str(tmp_path), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "does not look like a CAS(ME)^2 copy" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["spot", "--dataset", "casme2", "--root", str(tmp_path)])
    assert result.exit_code == 2 and "unknown long-video dataset 'casme2'" in result.output


def test_spot_samm_lv_without_faces_reports_each_video(tmp_path):
    # the fixture's frames are 8x8 grey squares: no face anywhere, no crash
    root = make_samm_lv(tmp_path / "samm")
    run = spot_long_videos("samm_lv", root, tmp_path / "out", progress=False)
    assert [v.video.video for v in run.videos] == ["006_1", "007_2"]
    assert [v.issues for v in run.videos] == [
        ["frames 1-120: no face found"],
        ["frames 1-60: no face found"],
    ]
    assert run.pooled("overall").n_true == 4 and run.pooled("overall").n_pred == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["complete"] is False and metrics["videos_spotted"] == 2
    assert (
        "- 006/006_1: frames 1-120: no face found" in (tmp_path / "out" / "report.md").read_text()
    )


def test_spot_interrupted_keeps_the_videos_done(tmp_path, monkeypatch):
    import microexpr.inference.spot_dataset as module

    root = make_samm_lv(tmp_path / "samm")
    real = module.spot_video
    calls = []

    def stop_on_second(video, **options):
        calls.append(video.video)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(video, **options)

    monkeypatch.setattr(module, "spot_video", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        spot_long_videos("samm_lv", root, tmp_path / "out", progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (metrics["videos_spotted"], metrics["videos_selected"]) == (1, 2)
    assert (
        "**Partial: 1 of 2 videos spotted so far.**" in (tmp_path / "out" / "report.md").read_text()
    )


def test_spot_check_lists_the_copy_without_spotting(tmp_path):
    root = make_samm_lv(tmp_path / "samm")
    result = CliRunner().invoke(
        app,
        [
            "spot",
            "--dataset",
            "samm_lv",
            "--root",
            str(root),
            "--out",
            str(tmp_path / "o"),
            "--check",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].endswith(
        "2 videos with frames, 3 micro and 1 macro intervals usable; "
        "5 sheet rows skipped, 1 kept with a remark"
    )
    assert lines[0].startswith("[offset missing] samm_lv/006/006_1/006_1_3:")
    assert len(lines) == 7 and not (tmp_path / "o").exists()
