"""Model registry (after timm's ``_registry.py`` and ``_factory.py``).

Each model file registers short entry-point functions with
:func:`register_model`, together with a function that gives the model's
configuration for a set of options *without building it*:
:func:`get_model_cfg` reads ``inputs`` (which features the model takes:
``uvs``, ``uv``, ``apex``, ``onset_apex`` or ``flow_image``), ``input_size``
(C, H, W), ``num_classes`` and ``paper`` (the reference) for a name and
options, and checks the options on the way: an unknown option or a bad value
raises :class:`~microexpr.errors.ConfigError` naming the model and the option.
:func:`create_model` builds one by name; the built model carries the same
dict as its ``default_cfg``.

A :class:`ModelSpec` (registry name plus options) is what an experiment
configuration holds for each model variant; it is checked when created.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from torch import nn

from microexpr.errors import ConfigError, MicroexprWarning

__all__ = [
    "ModelSpec",
    "bind_options",
    "check_option_choice",
    "check_option_min",
    "check_options",
    "create_model",
    "get_model_cfg",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
]

F = TypeVar("F", bound=Callable[..., nn.Module])

_model_entrypoints: dict[str, Callable[..., nn.Module]] = {}
_model_cfgs: dict[str, Callable[..., dict[str, Any]]] = {}
_model_modules: dict[str, str] = {}

#: keys every model configuration holds
REQUIRED_CFG_KEYS = ("inputs", "input_size", "num_classes", "paper")


@overload
def register_model(fn: F) -> F: ...


@overload
def register_model(
    fn: None = None, *, cfg: Callable[..., dict[str, Any]] | None = None
) -> Callable[[F], F]: ...


def register_model(
    fn: F | None = None, *, cfg: Callable[..., dict[str, Any]] | None = None
) -> F | Callable[[F], F]:
    """Register an entry point under its function name, with its configuration.

    Use as ``@register_model(cfg=ATSCNN.model_cfg)``: ``cfg(**options)``
    returns the configuration of the model the entry point builds with
    ``options`` (see :func:`get_model_cfg`) without building it, and raises
    :class:`~microexpr.errors.ConfigError` on a bad option. Without ``cfg``
    the model is built once to read its ``default_cfg`` (slow for big models).

    Parameters
    ----------
    fn : callable, optional
        The entry point (when used as a bare ``@register_model``).
    cfg : callable, optional
        Configuration function of the entry point.
    """

    def decorate(entry: F) -> F:
        name = entry.__name__
        if name in _model_entrypoints:
            warnings.warn(
                f"model {name!r} registered twice; the later one wins",
                MicroexprWarning,
                stacklevel=3,
            )
        _model_entrypoints[name] = entry
        _model_cfgs[name] = cfg if cfg is not None else _built_cfg(entry)
        _model_modules[name] = entry.__module__.rsplit(".", 1)[-1]
        return entry

    return decorate(fn) if fn is not None else decorate


def _built_cfg(entry: Callable[..., nn.Module]) -> Callable[..., dict[str, Any]]:
    def cfg(**options: Any) -> dict[str, Any]:
        return dict(entry(**options).default_cfg)

    return cfg


def list_models(pattern: str = "*") -> list[str]:
    """Names of registered models matching the shell-style ``pattern``, sorted."""
    return sorted(n for n in _model_entrypoints if fnmatch.fnmatch(n, pattern))


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model."""
    return name in _model_entrypoints


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """Return the entry point of ``name``, or raise listing close matches."""
    if name not in _model_entrypoints:
        close = difflib.get_close_matches(name, list(_model_entrypoints), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (registered: {', '.join(list_models())})")
    return _model_entrypoints[name]


def _drop_none(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def get_model_cfg(name: str, **options: Any) -> dict[str, Any]:
    """Configuration of model ``name`` built with ``options``, without building it.

    Parameters
    ----------
    name : str
        Registered model name.
    **options
        Model options (None values are dropped, as by :func:`create_model`).

    Returns
    -------
    dict
        At least ``inputs``, ``input_size`` (C, H, W), ``num_classes`` and ``paper``.

    Raises
    ------
    ConfigError
        Unknown model, unknown option or bad option value (the message names
        the model and the option).
    """
    model_entrypoint(name)
    try:
        return dict(_model_cfgs[name](**_drop_none(options)))
    except ConfigError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model {name!r}: bad options {_drop_none(options)}: {exc}") from exc


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``.

    Keyword arguments that are None are dropped, so unset command-line options
    never override a model's defaults. The options are checked first
    (:func:`get_model_cfg`); an error while building is a ConfigError too.

    Raises
    ------
    ConfigError
        Unknown model, unknown option or bad option value.
    """
    options = _drop_none(kwargs)
    get_model_cfg(name, **options)
    try:
        return model_entrypoint(name)(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model {name!r}: bad options {options}: {exc}") from exc


# ------------------------------------------------------------- option checking


def _type_ok(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and all(
            _type_ok(v, default[0]) for v in value if default
        )
    return True


def _type_name(default: Any) -> str:
    if isinstance(default, (tuple, list)):
        inner = type(default[0]).__name__ if default else "value"
        return f"a list of {inner}"
    return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}[
        type(default).__name__
    ]


def bind_options(cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``options`` against the signature of ``cls`` and fill in the defaults.

    Parameters
    ----------
    cls : type
        A model class; its ``__init__`` keyword arguments are the options.
    options : mapping
        Options given.

    Returns
    -------
    dict
        Every argument of ``cls``, given or default.

    Raises
    ------
    ConfigError
        An option ``cls`` does not take, or a value whose type differs from
        the default's (an integer where the default is an integer, a list
        where it is a tuple...).
    """
    params = {
        n: p
        for n, p in inspect.signature(cls).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConfigError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"options: {', '.join(params)}"
        )
    bound: dict[str, Any] = {}
    for n, p in params.items():
        default = p.default
        if n not in options:
            bound[n] = default
            continue
        value = options[n]
        if default is not inspect.Parameter.empty and not _type_ok(value, default):
            raise ConfigError(f"option {n}={value!r} must be {_type_name(default)}")
        bound[n] = tuple(value) if isinstance(value, list) else value
    return bound


def check_option_choice(name: str, value: Any, allowed: Mapping[str, Any] | list[str]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ConfigError naming the option."""
    if value not in allowed:
        raise ConfigError(f"option {name}={value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def check_option_min(name: str, value: int, minimum: int) -> int:
    """Return ``value`` if it is at least ``minimum``, else raise ConfigError naming the option."""
    if value < minimum:
        raise ConfigError(f"option {name}={value!r} must be >= {minimum}")
    return value


def check_options(
    cls: type, options: Mapping[str, Any], *, min_size: int = 1, size_multiple: int = 1
) -> dict[str, Any]:
    """Bind ``options`` to ``cls`` (:func:`bind_options`) and check the usual ranges.

    Every integer option (and every entry of an integer list) must be >= 1,
    ``dropout`` in [0, 1), and ``input_size`` at least ``min_size`` and a
    multiple of ``size_multiple``.

    Returns
    -------
    dict
        Every argument of ``cls``, given or default.

    Raises
    ------
    ConfigError
        Naming the first bad option.
    """
    o = bind_options(cls, options)
    lengths = _fixed_tuple_lengths(cls)
    for name, value in o.items():
        if name in lengths and isinstance(value, tuple) and len(value) != lengths[name]:
            raise ConfigError(f"option {name}={list(value)!r} must have {lengths[name]} entries")
        if isinstance(value, int) and not isinstance(value, bool):
            check_option_min(name, value, 1)
        elif isinstance(value, tuple) and all(isinstance(v, int) for v in value):
            if not value:
                raise ConfigError(f"option {name} is empty")
            for v in value:
                check_option_min(name, v, 1)
    if "dropout" in o and not 0 <= o["dropout"] < 1:
        raise ConfigError(f"option dropout={o['dropout']!r} must be in [0, 1)")
    if "input_size" in o:
        check_option_min("input_size", o["input_size"], min_size)
        if o["input_size"] % size_multiple:
            raise ConfigError(
                f"option input_size={o['input_size']} must be a multiple of {size_multiple}"
            )
    return o


def _fixed_tuple_lengths(cls: type) -> dict[str, int]:
    """Options annotated as fixed-length tuples (``tuple[int, int]``): name -> length."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to check
        return {}
    out = {}
    for name, hint in hints.items():
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple and args and Ellipsis not in args:
            out[name] = len(args)
    return out


# ------------------------------------------------------------------ ModelSpec


@dataclass(frozen=True)
class ModelSpec:
    """A model variant of an experiment: registry name plus options.

    The name and options are checked when the spec is created (no model is
    built), so a bad option in a configuration fails when it loads.

    Attributes
    ----------
    name : str
        Registered model name.
    options : dict
        Keyword options of the model's entry point.

    Raises
    ------
    ConfigError
        Unknown model, unknown option or bad option value.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping):
            raise ConfigError(
                f"model {self.name!r}: options must be a mapping, got {self.options!r}"
            )
        object.__setattr__(self, "options", dict(self.options))
        get_model_cfg(self.name, **self.options)

    def build(self) -> nn.Module:
        """Create the model from the registry."""
        return create_model(self.name, **self.options)

    def cfg(self) -> dict[str, Any]:
        """The model's configuration (inputs, input size...), without building it."""
        return get_model_cfg(self.name, **self.options)

    def input_kind(self) -> str:
        """The feature kind the model takes (its configuration's ``inputs``)."""
        return str(self.cfg()["inputs"])
