"""What every experiment runner shares: output folder, clips, features, outcome.

:mod:`microexpr.experiment` (``run_loso``, ``run_demo``, ``train_final_model``)
and :mod:`microexpr.nested_experiment` (``run_nested_loso``, which ``run_loso``
calls for a nested config) both use these, so that the nested runner does not
import the module that calls it; :mod:`microexpr.experiment` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microexpr._io import check_output_folder
from microexpr.config import DataConfig, ExperimentConfig
from microexpr.data import load_dataset, load_protocol
from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.errors import ConfigError, MicroexprError
from microexpr.preprocess.flow_image_inputs import (
    FLOW_IMAGES_DATASET,
    FlowImageFeatures,
    load_flow_image_features,
)
from microexpr.preprocess.pipeline import FeatureSet, preprocess_records
from microexpr.training.engine import FoldResult

__all__ = ["LosoRun", "check_output_folder", "load_clips", "load_features"]


def load_clips(data: DataConfig) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read the clips of the configured dataset or protocol.

    Returns
    -------
    records : list of ClipRecord
        Usable clips (label >= 0).
    issues : list of ClipIssue
        Clips skipped while reading, with reasons.
    """
    if data.protocol is not None:
        return load_protocol(data.protocol, data.roots, **data.options)
    if data.dataset is None:
        raise ConfigError("data: give a `dataset` or a `protocol`")
    if data.root is None:
        raise ConfigError(f"data.root is not set for dataset {data.dataset!r}")
    return load_dataset(data.dataset, data.root, **data.options)


def load_features(
    config: ExperimentConfig, *, progress: bool = True
) -> FeatureSet | FlowImageFeatures:
    """Clips of ``config`` preprocessed (through the cache); issues of both steps merged.

    A flow-image set (``data.dataset: flow_images``) is read as it is: its
    images are the features (see :mod:`microexpr.preprocess.flow_image_inputs`).
    """
    if config.data.dataset == FLOW_IMAGES_DATASET:
        return load_flow_image_features(config.data.root, **config.data.options)
    records, issues = load_clips(config.data)
    records = [r for r in records if r.label >= 0]
    if not records:
        raise MicroexprError(
            f"no usable clips in {config.data.root or config.data.roots}; "
            f"{len(issues)} skipped" + (f", first: {issues[0]}" if issues else "")
        )
    features = preprocess_records(
        records, config.preprocess, cache_dir=config.cache_dir, progress=progress
    )
    features.issues = list(issues) + features.issues
    return features


@dataclass
class LosoRun:
    """Outcome of :func:`~microexpr.experiment.run_loso` (and of a nested run)."""

    out: Path
    metrics: dict[str, Any]
    results: list[FoldResult]
    features: FeatureSet | FlowImageFeatures
