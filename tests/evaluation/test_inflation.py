import pytest

from microexpr.evaluation.inflation import (
    TEST_PICKED_LABEL,
    best_test_epoch,
    has_test_curves,
    picked_predictions,
    picked_scores,
)
from microexpr.evaluation.metrics import pooled_scores
from microexpr.training.engine import FoldResult


def _result(subject: str, fold: int, y_true, curve) -> FoldResult:
    return FoldResult(
        variant="m",
        fold=fold,
        test_subject=subject,
        seed=0,
        test_indices=list(range(10 * fold, 10 * fold + len(y_true))),
        y_true=list(y_true),
        y_pred=list(curve[-1]),
        proba=[[1.0, 0.0, 0.0]] * len(y_true),
        losses=[0.0] * len(curve),
        seconds=0.0,
        test_curve=[list(row) for row in curve],
    )


def test_best_test_epoch_hand_worked():
    y = [0, 1, 2]
    curve = [
        [0, 0, 0],  # 1 correct
        [0, 1, 0],  # 2 correct  <- first maximum
        [1, 1, 2],  # 2 correct  (tie: the earlier epoch wins)
        [2, 2, 2],  # 1 correct  (the last epoch, the honest one)
    ]
    assert best_test_epoch(curve, y) == 1


def test_best_test_epoch_errors():
    with pytest.raises(ValueError, match="test curve is empty"):
        best_test_epoch([], [0, 1])
    with pytest.raises(ValueError, match="must each hold 2 predictions"):
        best_test_epoch([[0, 1, 2]], [0, 1])


def test_picked_scores_hand_worked_two_folds():
    # fold a: epochs 1..3; epoch 2 gets both clips right, the last epoch one
    a = _result("a", 0, [0, 1], [[1, 1], [0, 1], [0, 0]])
    # fold b: the last epoch is already the best, and epoch 1 ties it: epoch 1 is picked
    b = _result("b", 1, [2], [[2], [0], [2]])
    rows = picked_predictions([a, b])
    assert [(r["fold"], r["epoch"], r["prediction"]) for r in rows] == [
        ("a", 2, 0),
        ("a", 2, 1),
        ("b", 1, 2),
    ]
    assert [r["test_index"] for r in rows] == [0, 1, 10]
    scores = picked_scores([a, b], labels=[0, 1, 2])
    assert scores["uf1"] == pytest.approx(1.0) and scores["accuracy"] == 1.0
    assert scores["epochs"] == {"a": 2, "b": 1}
    assert scores["label"] == TEST_PICKED_LABEL
    honest = pooled_scores([0, 1, 2], [0, 0, 2], labels=[0, 1, 2])
    # F1: class 0 = 2/3, class 1 = 0, class 2 = 1 -> UF1 5/9
    assert honest["uf1"] == pytest.approx(5 / 9)


def test_picked_predictions_without_curve_names_the_fold():
    bare = _result("x", 0, [0], [[0]])
    bare.test_curve = []
    assert not has_test_curves([bare]) and not has_test_curves([])
    with pytest.raises(ValueError, match="m seed 0 fold x: no test curve"):
        picked_predictions([bare])


def test_label_says_not_a_valid_estimate():
    assert "not a valid estimate" in TEST_PICKED_LABEL
