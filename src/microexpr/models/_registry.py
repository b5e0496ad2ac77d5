"""Model registry (after timm's ``_registry.py`` and ``_factory.py``).

Each model file registers short entry-point functions with
:func:`register_model`; :func:`create_model` builds one by name. Every entry
point returns an ``nn.Module`` with a ``default_cfg`` dict giving at least
``inputs`` (which features it takes: ``uvs``, ``uv``, ``apex``, ``onset_apex``
or ``flow_image``), ``input_size`` (C, H, W), ``num_classes`` and ``paper``.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from microexpr.errors import ConfigError, MicroexprWarning

__all__ = ["create_model", "is_model", "list_models", "model_entrypoint", "register_model"]

_model_entrypoints: dict[str, Callable[..., nn.Module]] = {}
_model_modules: dict[str, str] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``fn`` as the entry point of the model named ``fn.__name__``."""
    name = fn.__name__
    if name in _model_entrypoints:
        warnings.warn(
            f"model {name!r} registered twice; the later one wins", MicroexprWarning, stacklevel=2
        )
    _model_entrypoints[name] = fn
    _model_modules[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


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


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``.

    Keyword arguments that are None are dropped, so unset command-line options
    never override a model's defaults.
    """
    options = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return model_entrypoint(name)(**options)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: bad options {sorted(options)}: {exc}") from exc
