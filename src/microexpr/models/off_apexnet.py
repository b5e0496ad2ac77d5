"""OFF-ApexNet: two CNN streams on the horizontal and vertical onset-apex flow.

Gan, Liong, Yau, Huang and Tan, "OFF-ApexNet on micro-expression recognition
system", Signal Processing: Image Communication 74 (2019) 129-139.

Each of the two flow components (u, v; 1x28x28) goes through its own stream:
conv 5x5 (6 filters, padding 2) -> max-pool 2 -> conv 5x5 (16 filters) ->
max-pool 2, giving 16x7x7. The two flattened maps (2 x 784) are concatenated
and classified by FC 1024 -> FC 1024 -> classes, with dropout 0.5.

Choices where the paper leaves details open (documented here): ReLU after
each convolution and each hidden FC layer; dropout 0.5 after each hidden FC
layer (as in the re-implementation the ATSCNN authors' group published with
Off-TANet, whose complexity figures, 2.66 M parameters, this layout matches).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from microexpr.models._blocks import mlp_head
from microexpr.models._registry import check_options, register_model

__all__ = ["OffApexNet", "OffApexStream"]

PAPER = (
    "Gan, Liong, Yau, Huang, Tan. OFF-ApexNet on micro-expression recognition system. "
    "Signal Processing: Image Communication 74 (2019) 129-139"
)


class OffApexStream(nn.Module):
    """One stream: two conv 5x5 + ReLU + max-pool 2 blocks, 1 -> 6 -> 16 channels."""

    def __init__(self, channels: tuple[int, int] = (6, 16)) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, 1, H, W) to (N, 16, H / 4, W / 4)."""
        return self.features(x)


class OffApexNet(nn.Module):
    """Two-stream CNN on u and v.

    Parameters
    ----------
    num_classes : int
        Output classes.
    input_size : int
        Side of the square flow maps (28 in the paper).
    hidden : int
        Width of the two hidden FC layers.
    dropout : float
        Dropout after each hidden FC layer.

    Notes
    -----
    Input shape (N, 2, H, W): channel 0 is u, channel 1 is v.
    """

    def __init__(
        self,
        num_classes: int = 3,
        input_size: int = 28,
        hidden: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            num_classes=num_classes,
            input_size=input_size,
            hidden=hidden,
            dropout=dropout,
        )
        self.stream_u = OffApexStream()
        self.stream_v = OffApexStream()
        side = input_size // 4
        width = 2 * 16 * side * side
        self.head = mlp_head(width, (hidden, hidden), num_classes, dropout=dropout)

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options, min_size=4)
        size = o["input_size"]
        return {
            "inputs": "uv",
            "input_size": (2, size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes) from (N, 2, H, W)."""
        u = self.stream_u(x[:, 0:1]).flatten(1)
        v = self.stream_v(x[:, 1:2]).flatten(1)
        return self.head(torch.cat([u, v], dim=1))


@register_model(cfg=OffApexNet.model_cfg)
def off_apexnet(**kwargs: Any) -> OffApexNet:
    """OFF-ApexNet: u and v streams at 28x28, FC 1024-1024."""
    return OffApexNet(**kwargs)
