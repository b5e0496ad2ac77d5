"""Building blocks shared by several model files."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["ACTIVATIONS", "make_activation", "mlp_head"]

#: Activation modules by option name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"selu": nn.SELU, "relu": nn.ReLU, "elu": nn.ELU}


def make_activation(name: str) -> nn.Module:
    """Return the activation module called ``name`` (``selu``, ``relu``, ``elu``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def mlp_head(
    in_features: int,
    hidden: Sequence[int],
    num_classes: int,
    *,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Fully connected classifier: (Linear -> activation [-> Dropout]) per hidden size, Linear.

    Dropout modules are added only when ``dropout > 0``, so module indices (and
    state-dict keys) match a hand-written ``nn.Sequential`` of the same layers.
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), make_activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
