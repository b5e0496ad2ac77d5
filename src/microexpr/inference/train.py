"""Train the model used for prediction: all usable clips, fixed epochs.

Unlike the leave-one-subject-out evaluation, nothing is held out: the final
model sees every usable clip of the configured dataset or protocol, for the
configured number of epochs, and the model after the last epoch is saved
(there is no held-out set to pick an epoch on, and picking one would be the
error the LOSO protocol avoids). The figures to quote for it are the LOSO
results of the same configuration.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from microexpr import __version__
from microexpr.config import ExperimentConfig
from microexpr.errors import MicroexprError
from microexpr.experiment import load_features
from microexpr.inference.checkpoint import save_checkpoint
from microexpr.preprocess.flow_image_inputs import FlowImageFeatures
from microexpr.reports.panels import plot_training_curve
from microexpr.training.trainer import fit, seed_everything

__all__ = ["TrainResult", "train_final_model"]


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_final_model`.

    Attributes
    ----------
    out : Path
        Model folder.
    checkpoint : Path
        ``checkpoint.pt``.
    n_clips : int
        Clips trained on.
    n_skipped : int
        Clips left out (with reasons in ``skipped.json``).
    class_counts : dict of str to int
    losses : list of float
        Training loss per epoch.
    seconds : float
    """

    out: Path
    checkpoint: Path
    n_clips: int
    n_skipped: int
    class_counts: dict[str, int]
    losses: list[float]
    seconds: float


def train_final_model(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``config.model`` on all usable clips and save a checkpoint.

    Parameters
    ----------
    config : ExperimentConfig
        Data, preprocessing, model and training settings; the first seed of
        ``config.evaluation.seeds`` seeds the training.
    out_dir : str or Path
        Model folder: ``checkpoint.pt``, ``model.json``,
        ``training_curve.png``, ``skipped.json``.
    device : str, optional
        Overrides ``config.training.device``.
    progress : bool
        Progress bars for preprocessing and epochs.

    Returns
    -------
    TrainResult

    Raises
    ------
    MicroexprError
        If the dataset has no usable clip.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    features = load_features(config, progress=progress)
    if not features.records:
        raise MicroexprError("no usable clips to train on")
    settings = config.training
    if device is not None:
        settings = replace(settings, device=device)
    seed = config.evaluation.seeds[0]
    seed_everything(seed)
    model = config.model.build()
    kind = str(model.default_cfg["inputs"])
    representation = None
    if isinstance(features, FlowImageFeatures):
        # a flow-image set: inputs as the model declares; predict rebuilds the representation
        inputs = torch.from_numpy(features.model_inputs(model.default_cfg, model=config.model.name))
        representation = features.representation().to_dict()
    else:
        inputs = torch.from_numpy(features.inputs(kind))
    labels = torch.from_numpy(features.labels)
    class_names = tuple(features.records[0].class_names)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(class_names)}

    bar = tqdm(total=settings.epochs, desc="train", unit="epoch", disable=not progress)

    def on_epoch(epoch: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    try:
        losses = fit(model, inputs, labels, settings, seed=seed, on_epoch=on_epoch)
    finally:
        bar.close()
    model.cpu()
    seconds = time.perf_counter() - start
    extra = {
        "config_name": config.name,
        "data": asdict(config.data),
        "training": asdict(settings),
        "seed": seed,
        "n_clips": len(features.records),
        "class_counts": counts,
        "clips": [r.key for r in features.records],
        "final_loss": losses[-1],
        "losses": losses,
        "seconds": round(seconds, 2),
    }
    if representation is not None:
        extra["input_representation"] = representation
    checkpoint = save_checkpoint(
        out,
        model,
        model_name=config.model.name,
        model_options=config.model.options,
        preprocess=config.preprocess,
        class_names=class_names,
        extra=extra,
    )
    plot_training_curve(
        losses,
        out / "training_curve.png",
        title=f"{config.model.name} on {len(features.records)} clips (microexpr {__version__})",
    )
    skipped = (
        [{"clip": i.key, "reason": i.reason} for i in features.issues] if features.issues else []
    )
    (out / "skipped.json").write_text(json.dumps(skipped, indent=2) + "\n")
    return TrainResult(
        out=out,
        checkpoint=checkpoint,
        n_clips=len(features.records),
        n_skipped=len(features.issues),
        class_counts=counts,
        losses=losses,
        seconds=seconds,
    )
