"""Table 4 of the paper: the full ATSCNN against six ablated variants.

:func:`run_ablation` runs the full model and the six variants of Table 4 as
one grid of the experiment engine (same LOSO folds, same seeds, any
executor, resumable), writes the usual LOSO report of every variant and an
ablation table with the paper's differences beside the measured ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from microexpr.config import ExperimentConfig, ModelSpec
from microexpr.errors import ConfigError
from microexpr.experiment import LosoRun, run_loso
from microexpr.reports.ablation_report import write_ablation_report

__all__ = ["PAPER_TABLE4", "AblationRun", "ablation_config", "run_ablation"]

#: Table 4 of the paper: variant -> (change, full minus variant UAR, full minus variant UF1).
PAPER_TABLE4: dict[str, tuple[str, float, float]] = {
    "atscnn_no_attention": ("no attention module", 0.0358, 0.0457),
    "atscnn_channel_attention": ("channel attention only", 0.0085, 0.0128),
    "atscnn_spatial_attention": ("spatial attention only", 0.0127, 0.0235),
    "atscnn_relu": ("ReLU instead of SELU", 0.0451, 0.0520),
    "atscnn_uv": ("no strain stream (u, v only)", 0.0123, 0.0239),
    "atscnn_apex": ("grayscale apex image instead of flow", 0.1430, 0.1896),
}

# options an ablation sets itself: the full model's value must not override it
_ABLATED_OPTIONS = ("attention", "activation", "inputs")


def _ablations(config: ExperimentConfig) -> dict[str, tuple[str, float, float]]:
    """Table 4's variants this dataset can run: a flow-image set holds no apex frame."""
    if config.data.dataset == "flow_images":
        return {k: v for k, v in PAPER_TABLE4.items() if k != "atscnn_apex"}
    return dict(PAPER_TABLE4)


@dataclass
class AblationRun:
    """Outcome of :func:`run_ablation`."""

    out: Path
    table: pd.DataFrame
    loso: LosoRun


def ablation_config(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` with its variants replaced by the six Table 4 ablations.

    The main model must be ``atscnn``; its options (input size, head...)
    are given to every variant, except the option each variant changes.
    """
    if config.model.name != "atscnn":
        raise ConfigError(
            f"model.name must be 'atscnn' for the Table 4 ablation, got {config.model.name!r}"
        )
    shared = {k: v for k, v in config.model.options.items() if k not in _ABLATED_OPTIONS}
    variants = {name: ModelSpec(name, dict(shared)) for name in _ablations(config)}
    return config.replace(model=ModelSpec("atscnn", dict(shared)), variants=variants)


def run_ablation(
    config: ExperimentConfig,
    out: str | Path,
    *,
    executor: str = "auto",
    executor_options: dict[str, Any] | None = None,
    fresh: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
) -> AblationRun:
    """Run the Table 4 grid and write the ablation table and plot.

    Parameters
    ----------
    config : ExperimentConfig
        Experiment with ``model.name == 'atscnn'``; its ``variants`` are
        replaced by the six ablations (see :func:`ablation_config`).
    out : str or Path
        Run folder: fold results (resumable), the LOSO report of all seven
        models, ablation.csv / .json / .md / .png.
    executor : str
        ``serial``, ``local`` or ``ray``.
    executor_options : dict, optional
        ``workers``, ``threads``, ``address``...
    fresh : bool
        Discard results of another configuration in ``out``.
    progress : bool
        Progress output.
    stream : TextIO, optional
        Where fold lines go (stderr by default).

    Returns
    -------
    AblationRun
    """
    config = ablation_config(config)
    loso = run_loso(
        config,
        out,
        executor=executor,
        executor_options=executor_options,
        fresh=fresh,
        progress=progress,
        stream=stream,
    )
    m = loso.metrics
    note = (
        f"{config.name}: {m['n_clips']} clips, {m['n_subjects']} subjects, "
        f"{config.training.epochs} epochs, seeds {list(config.evaluation.seeds)}."
    )
    paper = _ablations(config)
    if len(paper) < len(PAPER_TABLE4):
        note += " atscnn_apex left out: a flow-image set holds no apex frame."
    table = write_ablation_report(loso.out, m, full="atscnn", paper=paper, note=note)
    return AblationRun(loso.out, table, loso)
