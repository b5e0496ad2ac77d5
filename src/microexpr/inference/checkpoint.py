"""Self-describing model checkpoints for prediction.

A model folder holds ``checkpoint.pt`` (``torch.save`` of a plain dict: the
weights plus everything needed to rebuild the model and its inputs) and
``model.json``, the same description without the weights, for people. The
description: checkpoint format, microexpr version, model name and options,
the input kind, the preprocessing settings, the class names and free-form
``extra`` (training settings, clip count, losses).

Compatibility rule: a checkpoint is read by a microexpr of the same major
version (the same minor version while the major version is 0, as semantic
versioning allows 0.x releases to break), with the same checkpoint format and
preprocessing pipeline version. Anything else is refused with a
:class:`~microexpr.errors.WeightsError` that says what differs and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from microexpr import __version__
from microexpr._io import atomic_torch_save, atomic_write_json
from microexpr.errors import ConfigError, WeightsError
from microexpr.preprocess.alignment import AlignmentSettings
from microexpr.preprocess.flow import FlowSettings
from microexpr.preprocess.pipeline import PIPELINE_VERSION, PreprocessSettings

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "DESCRIPTION_FILE",
    "CheckpointInfo",
    "load_checkpoint",
    "save_checkpoint",
]

#: Version of the checkpoint layout; bumped when the dict's keys change.
CHECKPOINT_FORMAT = 1
CHECKPOINT_FILE = "checkpoint.pt"
DESCRIPTION_FILE = "model.json"


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about its model.

    Attributes
    ----------
    path : Path
        The ``checkpoint.pt`` file.
    model_name : str
        Registry name of the model.
    model_options : dict
        Options it was created with.
    inputs : str
        Feature kind the model takes (``uvs``...).
    preprocess : PreprocessSettings
        Settings the training features were computed with.
    class_names : tuple of str
        Class of each output, in order.
    version : str
        microexpr version that wrote it.
    extra : dict
        Training details (settings, number of clips, losses...).
    """

    path: Path
    model_name: str
    model_options: dict[str, Any]
    inputs: str
    preprocess: PreprocessSettings
    class_names: tuple[str, ...]
    version: str
    extra: dict[str, Any]


def _jsonable(value: Any) -> Any:
    return json.loads(
        json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
    )


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    model_name: str,
    model_options: dict[str, Any],
    preprocess: PreprocessSettings,
    class_names: tuple[str, ...] | list[str],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``checkpoint.pt`` and ``model.json`` into the folder ``path``.

    Parameters
    ----------
    path : str or Path
        Model folder (created if needed).
    model : nn.Module
        Trained model; its ``default_cfg['inputs']`` names its input kind.
    model_name : str
        Registry name, so that :func:`load_checkpoint` can rebuild it.
    model_options : dict
        Options passed to :func:`~microexpr.models.create_model`.
    preprocess : PreprocessSettings
        Settings the training features were computed with.
    class_names : sequence of str
        Class of each model output.
    extra : dict, optional
        JSON-serialisable training details.

    Returns
    -------
    Path
        The ``checkpoint.pt`` file.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = getattr(model, "default_cfg", {})
    description = {
        "format": CHECKPOINT_FORMAT,
        "microexpr_version": __version__,
        "model_name": model_name,
        "model_options": _jsonable(dict(model_options)),
        "inputs": str(cfg.get("inputs", "uvs")),
        "preprocess": _jsonable(preprocess.as_dict()),
        "class_names": list(class_names),
        "extra": _jsonable(extra or {}),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint = folder / CHECKPOINT_FILE
    atomic_torch_save(checkpoint, {**description, "state_dict": state})
    atomic_write_json(folder / DESCRIPTION_FILE, description)
    return checkpoint


def _compatible(version: str) -> bool:
    def parts(v: str) -> tuple[int, int]:
        major, minor, *_ = (v.split("+")[0].split(".") + ["0", "0"])[:3]
        return int(major), int("".join(c for c in minor if c.isdigit()) or 0)

    mine, theirs = parts(__version__), parts(version)
    return mine == theirs if mine[0] == 0 else mine[0] == theirs[0]


def _preprocess_from_dict(raw: dict[str, Any]) -> PreprocessSettings:
    raw = dict(raw)
    raw.pop("version", None)
    return PreprocessSettings(
        size=int(raw["size"]),
        alignment=AlignmentSettings(**raw["alignment"]),
        flow=FlowSettings(**raw["flow"]),
        upsample=int(raw["upsample"]),
        face_detection=str(raw.get("face_detection", "detect")),
    )


def load_checkpoint(path: str | Path, *, device: str = "cpu") -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild a model from a model folder (or its ``checkpoint.pt``).

    Parameters
    ----------
    path : str or Path
        Model folder written by :func:`save_checkpoint`, or the ``.pt`` file.
    device : str
        Where to put the model.

    Returns
    -------
    model : nn.Module
        In eval mode.
    info : CheckpointInfo

    Raises
    ------
    WeightsError
        If the file is missing, not a microexpr checkpoint, written by an
        incompatible microexpr version, or its weights do not fit the model.
    """
    from microexpr.models import create_model

    p = Path(path)
    file = p / CHECKPOINT_FILE if p.is_dir() else p
    if not file.is_file():
        raise WeightsError(
            f"no model at {str(p)!r}: expected a folder holding {CHECKPOINT_FILE} "
            "(train one with `microexpr train --config FILE --out FOLDER`)"
        )
    try:
        raw = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise WeightsError(
            f"{file}: not a readable microexpr checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})"
        ) from None
    if not isinstance(raw, dict) or "state_dict" not in raw or "format" not in raw:
        raise WeightsError(f"{file}: not a microexpr checkpoint (no format and weights entries)")
    version = str(raw.get("microexpr_version", "unknown"))
    if raw["format"] != CHECKPOINT_FORMAT:
        raise WeightsError(
            f"{file}: checkpoint format {raw['format']} (written by microexpr {version}); "
            f"this microexpr {__version__} reads format {CHECKPOINT_FORMAT}: retrain the model "
            "with this version"
        )
    if version == "unknown" or not _compatible(version):
        series = (
            __version__.rsplit(".", 1)[0]
            if __version__.startswith("0.")
            else __version__.split(".")[0]
        )
        raise WeightsError(
            f"{file}: written by microexpr {version}; this is microexpr {__version__}, which "
            f"reads checkpoints of {series}.x only: retrain with `microexpr train` or install "
            f"microexpr {version}"
        )
    pre = raw.get("preprocess", {})
    if pre.get("version") != PIPELINE_VERSION:
        raise WeightsError(
            f"{file}: made with preprocessing pipeline version {pre.get('version')}, this "
            f"microexpr uses version {PIPELINE_VERSION}: retrain the model"
        )
    try:
        preprocess = _preprocess_from_dict(pre)
        model = create_model(str(raw["model_name"]), **dict(raw["model_options"]))
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(
            f"{file}: cannot rebuild model {raw.get('model_name')!r}: {exc}"
        ) from None
    try:
        model.load_state_dict(raw["state_dict"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise WeightsError(
            f"{file}: weights do not fit model {raw['model_name']!r} "
            f"with options {raw['model_options']}: {detail[:300]}"
        ) from None
    model.to(device).eval()
    info = CheckpointInfo(
        path=file,
        model_name=str(raw["model_name"]),
        model_options=dict(raw["model_options"]),
        inputs=str(raw.get("inputs", "uvs")),
        preprocess=preprocess,
        class_names=tuple(raw["class_names"]),
        version=version,
        extra=dict(raw.get("extra", {})),
    )
    return model, info
