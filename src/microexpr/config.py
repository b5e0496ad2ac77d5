"""Experiment configuration: plain typed dataclasses loaded from YAML.

One YAML file per experiment, versioned in ``configs/``::

    name: atscnn-synthetic
    data:
      dataset: synthetic          # a dataset name, or `protocol: atscnn | megc2019`
      root: runs/synthetic-data   # dataset root (or `roots: {casme2: ..., samm: ...}`)
      options: {}                 # reader options
    preprocess: {size: 128}
    model: {name: atscnn, options: {}}
    variants: {}                  # optional: extra named ModelSpecs (ablations)
    training: {epochs: 200, batch_size: 64, lr: 1.0e-4, device: cpu}
    evaluation: {average: pooled, seeds: [0]}
    cache_dir: .cache/microexpr
    nested: {}                    # optional: nested LOSO selection (grid, inner_groups)

Unknown keys are errors (a typo must not silently fall back to a default),
and each model's options are checked against the model registry when the
file loads (:class:`~microexpr.models.ModelSpec`), before any preprocessing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from microexpr._validation import check_choice
from microexpr.errors import ConfigError
from microexpr.models import ModelSpec
from microexpr.preprocess.alignment import AlignmentSettings
from microexpr.preprocess.flow import FlowSettings
from microexpr.preprocess.pipeline import PreprocessSettings
from microexpr.training.trainer import TrainSettings

__all__ = ["DataConfig", "EvaluationConfig", "ExperimentConfig", "ModelSpec", "load_config"]


@dataclass(frozen=True)
class DataConfig:
    """Which clips to use.

    Attributes
    ----------
    dataset : str, optional
        A dataset name (``synthetic``, ``casme2``, ``samm``, ...).
    protocol : str, optional
        A composite protocol (``atscnn``, ``megc2019``) instead of ``dataset``.
    root : str, optional
        Root folder of ``dataset``.
    roots : dict, optional
        Root folder of each dataset of ``protocol``.
    options : dict
        Reader options.
    """

    dataset: str | None = "synthetic"
    protocol: str | None = None
    root: str | None = None
    roots: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.protocol is not None and self.dataset not in (None, "synthetic"):
            raise ConfigError("data: give either `dataset` or `protocol`, not both")
        if self.protocol is not None:
            object.__setattr__(self, "dataset", None)


@dataclass(frozen=True)
class EvaluationConfig:
    """How results are scored.

    Attributes
    ----------
    average : str
        ``pooled`` (MEGC2019 rule, default) or ``per_fold`` (labelled as such).
    seeds : list of int
        Seeds; each fold is trained once per seed.
    """

    average: str = "pooled"
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        check_choice(self.average, "evaluation.average", ["pooled", "per_fold"])
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds:
            raise ConfigError("evaluation.seeds is empty, give at least one seed")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment.

    Attributes
    ----------
    name : str
    data : DataConfig
    preprocess : PreprocessSettings
    model : ModelSpec
        The main model.
    variants : dict of str to ModelSpec
        Further variants run over the same folds (ablations); the main model
        is always the variant named ``model.name``.
    training : TrainSettings
    evaluation : EvaluationConfig
    cache_dir : str
        Feature cache folder.
    """

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    preprocess: PreprocessSettings = field(default_factory=PreprocessSettings)
    model: ModelSpec = field(default_factory=lambda: ModelSpec("atscnn"))
    variants: dict[str, ModelSpec] = field(default_factory=dict)
    training: TrainSettings = field(default_factory=TrainSettings)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    cache_dir: str = ".cache/microexpr"
    nested: dict[str, Any] = field(default_factory=dict)

    def all_variants(self) -> dict[str, ModelSpec]:
        """The main model first, then the extra variants."""
        return {self.model.name: self.model, **self.variants}

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (what ``config.yaml`` of a run holds)."""
        return _to_plain(dataclasses.asdict(self))

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with top-level fields replaced."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> ExperimentConfig:
        """Build from a plain dict, raising ConfigError naming bad keys."""
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
            )
        _check_keys(raw, {f.name for f in dataclasses.fields(cls)}, source)
        try:
            pre = dict(raw.get("preprocess") or {})
            _check_keys(
                pre,
                {f.name for f in dataclasses.fields(PreprocessSettings)},
                f"{source}: preprocess",
            )
            if "alignment" in pre:
                pre["alignment"] = _build(
                    AlignmentSettings, pre["alignment"], f"{source}: preprocess.alignment"
                )
            if "flow" in pre:
                pre["flow"] = _build(FlowSettings, pre["flow"], f"{source}: preprocess.flow")
            raw_variants = raw.get("variants") or {}
            if not isinstance(raw_variants, dict):
                raise ConfigError(
                    f"{source}: variants: expected a mapping of name to model, got {raw_variants!r}"
                )
            variants = {
                str(k): _model_spec(v, f"{source}: variants.{k}") for k, v in raw_variants.items()
            }
            return cls(
                name=str(raw.get("name", "experiment")),
                data=_build(DataConfig, raw.get("data") or {}, f"{source}: data"),
                preprocess=PreprocessSettings(**pre),
                model=_model_spec(raw.get("model") or {"name": "atscnn"}, f"{source}: model"),
                variants=variants,
                training=_build(TrainSettings, raw.get("training") or {}, f"{source}: training"),
                evaluation=_build(
                    EvaluationConfig, raw.get("evaluation") or {}, f"{source}: evaluation"
                ),
                cache_dir=str(raw.get("cache_dir", ".cache/microexpr")),
                nested=_nested(raw.get("nested"), f"{source}: nested"),
            )
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExperimentConfig:
        """Load a YAML experiment file."""
        return load_config(path)


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _check_keys(raw: dict[str, Any], allowed: set[str], source: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}; allowed: {sorted(allowed)}")


def _build(cls: type, raw: Any, source: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping, got {raw!r}")
    _check_keys(raw, {f.name for f in dataclasses.fields(cls)}, source)
    try:
        return cls(**raw)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _nested(raw: Any, source: str) -> dict[str, Any]:
    """The ``nested`` section (nested LOSO selection, see microexpr.training.nested)."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping, got {raw!r}")
    _check_keys(raw, {"grid", "inner_groups", "subjects"}, source)
    if not isinstance(raw.get("grid"), dict) or not raw["grid"]:
        raise ConfigError(f"{source}: give `grid`, a mapping of setting to list of values")
    return dict(raw)


def _model_spec(raw: Any, source: str) -> ModelSpec:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(
            f"{source}: expected a model name or {{name: ..., options: {{...}}}}, got {raw!r}"
        )
    _check_keys(raw, {"name", "options"}, source)
    try:
        return ModelSpec(str(raw["name"]), raw.get("options") or {})
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an :class:`ExperimentConfig` from a YAML file.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or holds unknown keys or bad values.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{str(p)!r} is a folder, not a config file")
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    return ExperimentConfig.from_dict(raw or {}, source=str(p))
