import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from microexpr.evaluation.metrics import (
    confusion_counts,
    per_fold_mean_scores,
    pooled_scores,
    uar_score,
    uf1_score,
)


def test_uf1_uar_hand_worked_case():
    # classes 0,1,2; truth 0 0 0 1 1 2, predictions 0 0 1 1 2 2
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    # class 0: TP2 FP0 FN1 -> F1 4/5, recall 2/3
    # class 1: TP1 FP1 FN1 -> F1 2/4, recall 1/2
    # class 2: TP1 FP1 FN0 -> F1 2/3, recall 1
    assert uf1_score(y_true, y_pred) == pytest.approx((4 / 5 + 1 / 2 + 2 / 3) / 3)
    assert uar_score(y_true, y_pred) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


@pytest.mark.parametrize("seed", range(5))
def test_pooled_scores_equal_sklearn_macro(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 3, 200))
    s = pooled_scores(y_true, y_pred, labels=[0, 1, 2])
    assert s["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2]))
    assert s["uar"] == pytest.approx(
        recall_score(y_true, y_pred, average="macro", labels=[0, 1, 2])
    )


def test_pooled_is_not_per_fold_mean():
    # two folds; pooling counts first gives another figure than averaging fold scores
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 2, 0])
    folds = np.array(["a", "a", "a", "b", "b", "b"])
    pooled = pooled_scores(y_true, y_pred, labels=[0, 1, 2])
    mean = per_fold_mean_scores(y_true, y_pred, folds, labels=[0, 1, 2])
    fold_a = f1_score(y_true[:3], y_pred[:3], average="macro", labels=[0, 1])
    fold_b = f1_score(y_true[3:], y_pred[3:], average="macro", labels=[0, 2])
    assert mean["uf1"] == pytest.approx((fold_a + fold_b) / 2)
    assert pooled["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert pooled["uf1"] != pytest.approx(mean["uf1"])


def test_absent_class_counts_zero_when_named():
    assert uar_score([0, 0], [0, 0], labels=[0, 1]) == pytest.approx(0.5)
    assert uar_score([0, 0], [0, 0]) == pytest.approx(1.0)


def test_confusion_counts_and_length_mismatch():
    c = confusion_counts([0, 1, 1], [1, 1, 0], labels=[0, 1])
    assert c["tp"].tolist() == [0, 1]
    assert c["fp"].tolist() == [1, 1]
    assert c["fn"].tolist() == [1, 1]
    with pytest.raises(ValueError, match="same length"):
        uf1_score([0, 1], [0])
