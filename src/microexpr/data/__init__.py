"""Datasets: clip records, annotation sheets, the dataset registry, protocols and LOSO folds.

Modules, in the order data flows: :mod:`~microexpr.data.records` (the clip
record and issue), ``_parsing`` (coding sheets), ``_locate`` (a copy on disk),
``_build`` (sheet rows to validated records), ``_base`` (the reader base
class), one module per dataset reader (``casme``, ``casme2``, ``samm``,
``smic``, ``casme3``, ``manifest``; the long videos of the spotting protocol:
``casme_sq``, ``samm_lv``), :mod:`~microexpr.data.registry`,
:mod:`~microexpr.data.protocols` (the composites),
:mod:`~microexpr.data.check` and :mod:`~microexpr.data.loso`.
"""

from microexpr.data.check import DatasetCheck, check_dataset
from microexpr.data.loso import Fold, loso_folds
from microexpr.data.manifest import read_annotation_csv, write_annotation_csv
from microexpr.data.protocols import list_protocols, load_protocol
from microexpr.data.records import (
    CLASS_NAMES,
    ClipIssue,
    ClipRecord,
    ExpressionInterval,
    LongVideo,
    discover_frames,
)
from microexpr.data.registry import (
    list_datasets,
    list_long_video_datasets,
    load_dataset,
    load_long_videos,
    register_dataset,
)

__all__ = [
    "CLASS_NAMES",
    "ClipIssue",
    "ClipRecord",
    "DatasetCheck",
    "ExpressionInterval",
    "LongVideo",
    "Fold",
    "check_dataset",
    "list_datasets",
    "list_long_video_datasets",
    "list_protocols",
    "load_dataset",
    "load_long_videos",
    "load_protocol",
    "discover_frames",
    "loso_folds",
    "read_annotation_csv",
    "register_dataset",
    "write_annotation_csv",
]
