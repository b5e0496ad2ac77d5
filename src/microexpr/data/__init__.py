"""Datasets: clip records, annotation sheets, and evaluation protocols."""

from microexpr.data.datasets import (
    check_dataset,
    list_datasets,
    list_protocols,
    load_dataset,
    load_protocol,
)
from microexpr.data.protocols import Fold, loso_folds
from microexpr.data.records import (
    CLASS_NAMES,
    ClipIssue,
    ClipRecord,
    discover_frames,
    read_annotation_csv,
    write_annotation_csv,
)

__all__ = [
    "CLASS_NAMES",
    "ClipIssue",
    "ClipRecord",
    "Fold",
    "check_dataset",
    "list_datasets",
    "list_protocols",
    "load_dataset",
    "load_protocol",
    "discover_frames",
    "loso_folds",
    "read_annotation_csv",
    "write_annotation_csv",
]
