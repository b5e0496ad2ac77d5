"""MEGC spotting rule on hand-worked intervals (inclusive frame numbers)."""

import math

import pytest

from microexpr.evaluation.spotting_metrics import (
    SpottingCounts,
    check_intervals,
    interval_iou,
    match_intervals,
    pooled_spotting_counts,
    spotting_counts,
)


def test_interval_iou_counts_inclusive_frames():
    assert interval_iou((10, 19), (10, 19)) == 1.0
    # 5 shared frames (15-19) of 15 (10-24)
    assert interval_iou((10, 19), (15, 24)) == pytest.approx(5 / 15)
    # touching at one frame: 1 of 19
    assert interval_iou((0, 9), (9, 18)) == pytest.approx(1 / 19)
    assert interval_iou((0, 9), (10, 19)) == 0.0
    # a one-frame interval inside a 4-frame one
    assert interval_iou((5, 5), (4, 7)) == pytest.approx(1 / 4)


def test_iou_of_exactly_one_half_is_a_hit():
    # true 0-9 (10 frames), spotted 0-19 (20 frames): IoU 10/20 = 0.5
    assert interval_iou((0, 9), (0, 19)) == 0.5
    assert spotting_counts([(0, 9)], [(0, 19)]).tp == 1
    # one frame more: 10/21 < 0.5
    assert spotting_counts([(0, 9)], [(0, 20)]).tp == 0


def test_spotting_counts_hand_worked_video():
    true = [(10, 19), (40, 49), (100, 109)]
    # (12, 21): IoU 8/12 hit; (44, 53): IoU 6/14 miss; (200, 210): nothing
    pred = [(12, 21), (44, 53), (200, 210)]
    c = spotting_counts(true, pred, minutes=0.5)
    assert (c.tp, c.fp, c.fn) == (1, 2, 2)
    assert c.precision() == pytest.approx(1 / 3)
    assert c.recall() == pytest.approx(1 / 3)
    assert c.f1() == pytest.approx(2 * 1 / (3 + 3))
    assert c.false_alarms_per_minute() == pytest.approx(4.0)


def test_matching_is_one_to_one():
    # two predictions on one true interval: one hit, one false positive
    c = spotting_counts([(10, 19)], [(10, 19), (11, 20)])
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)
    # one prediction over two true intervals hits at most one
    c = spotting_counts([(10, 19), (12, 21)], [(11, 20)])
    assert (c.tp, c.fp, c.fn) == (1, 0, 1)


def test_matching_prefers_the_higher_iou():
    # pred 0 overlaps true 0 (IoU 0.9) and true 1 (IoU 0.6); pred 1 only true 1
    true = [(0, 9), (1, 12)]
    pred = [(0, 10), (2, 12)]
    matches = match_intervals(true, pred)
    assert [(i, j) for i, j, _ in matches] == [(0, 0), (1, 1)]
    assert matches[0][2] == pytest.approx(10 / 11)


def test_pooled_counts_are_summed_before_scoring():
    # video a: 1 of 1 hit, no false alarm; video b: 0 of 3 hit, 1 false alarm
    a = spotting_counts([(0, 9)], [(0, 9)], minutes=1.0)
    b = spotting_counts([(0, 9), (20, 29), (40, 49)], [(60, 69)], minutes=1.0)
    total = pooled_spotting_counts([a, b])
    assert (total.tp, total.n_true, total.n_pred) == (1, 4, 2)
    assert total.f1() == pytest.approx(2 / 6)  # not the mean of 1.0 and 0.0
    assert total.false_alarms_per_minute() == pytest.approx(0.5)
    assert a + b == total


def test_empty_sides_use_zero_division():
    c = spotting_counts([], [])
    assert c.f1() == 0.0 and math.isnan(c.f1(zero_division=math.nan))
    c = spotting_counts([], [(3, 8)], minutes=2.0)
    assert (c.fp, c.precision()) == (1, 0.0)
    assert math.isnan(c.recall(zero_division=math.nan))
    assert c.false_alarms_per_minute() == 0.5
    assert math.isnan(spotting_counts([(0, 1)], []).false_alarms_per_minute())


def test_bad_intervals_are_refused():
    with pytest.raises(ValueError, match=r"pred\[1\] == \(9, 3\), must have 0 <= onset <= offset"):
        spotting_counts([(0, 4)], [(0, 4), (9, 3)])
    with pytest.raises(ValueError, match=r"true\[0\] == 5, must be \(onset, offset\)"):
        check_intervals([5], "true")
    with pytest.raises(ValueError, match="whole frame numbers"):
        check_intervals([(0.5, 3)])
    with pytest.raises(ValueError, match=r"threshold == 0, must be in \(0, 1\]"):
        match_intervals([(0, 1)], [(0, 1)], threshold=0)
    with pytest.raises(ValueError, match=r"tp == 2, must be in \[0, min\(n_true, n_pred\)\]"):
        SpottingCounts(2, 1, 3)
