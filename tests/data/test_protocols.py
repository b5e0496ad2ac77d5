import pytest

from microexpr.data.loso import loso_folds


def test_fold_never_sees_its_test_subject():
    groups = ["a/1", "a/1", "b/1", "a/2", "b/1", "c/9"]
    folds = loso_folds(groups)
    assert [f.test_subject for f in folds] == ["a/1", "a/2", "b/1", "c/9"]
    for fold in folds:
        assert all(groups[i] == fold.test_subject for i in fold.test_indices)
        assert all(groups[i] != fold.test_subject for i in fold.train_indices)
        assert set(fold.train_indices) | set(fold.test_indices) == set(range(len(groups)))
        assert not set(fold.train_indices) & set(fold.test_indices)
    tested = sorted(i for f in folds for i in f.test_indices)
    assert tested == list(range(len(groups)))


def test_same_subject_name_in_two_datasets_is_two_subjects():
    folds = loso_folds(["casme/sub01", "casme2/sub01"])
    assert len(folds) == 2


@pytest.mark.parametrize("n", [1, 3])
def test_fold_count_equals_subjects(n):
    assert len(loso_folds([f"s{i}" for i in range(n)] * 2)) == n
