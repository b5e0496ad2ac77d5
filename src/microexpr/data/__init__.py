"""Datasets: clip records, annotation sheets, and evaluation protocols."""

from microexpr.data.records import (
    CLASS_NAMES,
    ClipIssue,
    ClipRecord,
    discover_frames,
    read_annotation_csv,
    write_annotation_csv,
)
from microexpr.data.protocols import Fold, loso_folds

__all__ = [
    "CLASS_NAMES",
    "ClipIssue",
    "ClipRecord",
    "Fold",
    "discover_frames",
    "loso_folds",
    "read_annotation_csv",
    "write_annotation_csv",
]
