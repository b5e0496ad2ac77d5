"""Dual-Inception: two Inception streams on the horizontal and vertical flow.

Zhou, Mao, Xue and Liu, "Dual-Inception Network for Cross-Database
Micro-Expression Recognition", IEEE FG 2019 (MEGC2019). Authors' Keras code:
https://github.com/xly135846/MEGC2019.

Each flow component (u, v; 28x28) feeds its own stream of two Inception
blocks. A block has four branches - 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max-pool
(stride 1) -> 1x1 - each with ReLU and the same number of filters (6 in the
first block, 16 in the second), concatenated (24 / 64 channels) and max-pooled
2x2. The two 64x7x7 maps are flattened, concatenated (6272) and classified by
FC 1024 (ReLU) -> classes.

Choices where the paper leaves details open: the published code's "same"
padding, ReLU on every branch, no dropout and no BatchNorm. This layout has
6.45 M parameters, as the Off-TANet authors report for their
re-implementation (PRICAI 2021).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from microexpr.models._blocks import mlp_head
from microexpr.models._registry import check_options, register_model

__all__ = ["DualInception", "InceptionBlock"]

PAPER = (
    "Zhou, Mao, Xue, Liu. Dual-Inception Network for Cross-Database Micro-Expression "
    "Recognition. IEEE FG 2019"
)


def _conv_relu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU())


class InceptionBlock(nn.Module):
    """Four-branch Inception block followed by max-pool 2.

    Parameters
    ----------
    in_channels : int
        Input channels.
    width : int
        Filters per branch; the output has ``4 * width`` channels.
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.branch1 = _conv_relu(in_channels, width, 1)
        self.branch3 = nn.Sequential(_conv_relu(in_channels, width, 1), _conv_relu(width, width, 3))
        self.branch5 = nn.Sequential(_conv_relu(in_channels, width, 1), _conv_relu(width, width, 5))
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, width, 1)
        )
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C, H, W) to (N, 4 * width, H / 2, W / 2)."""
        y = torch.cat(
            [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1
        )
        return self.pool(y)


class DualInception(nn.Module):
    """Two Inception streams (u, v) and a one-hidden-layer head.

    Parameters
    ----------
    num_classes : int
        Output classes.
    input_size : int
        Side of the square flow maps (28 in the paper).
    widths : tuple of int
        Filters per branch in the two blocks.
    hidden : int
        Width of the hidden FC layer.

    Notes
    -----
    Input shape (N, 2, H, W): channel 0 is u, channel 1 is v.
    """

    def __init__(
        self,
        num_classes: int = 3,
        input_size: int = 28,
        widths: tuple[int, int] = (6, 16),
        hidden: int = 1024,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            num_classes=num_classes,
            input_size=input_size,
            widths=widths,
            hidden=hidden,
        )
        w1, w2 = widths

        def stream() -> nn.Sequential:
            return nn.Sequential(InceptionBlock(1, w1), InceptionBlock(4 * w1, w2))

        self.stream_u = stream()
        self.stream_v = stream()
        side = input_size // 4
        self.head = mlp_head(2 * 4 * w2 * side * side, (hidden,), num_classes)

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


@register_model(cfg=DualInception.model_cfg)
def dual_inception(**kwargs: Any) -> DualInception:
    """Dual-Inception: u and v Inception streams at 28x28, FC 1024."""
    return DualInception(**kwargs)
