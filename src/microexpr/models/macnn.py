"""MACNN: residual VGG blocks and atrous convolutions on optical flow.

Lai, Chen, Chen and Zhang, "Real-time micro-expression recognition based on
ResNet and atrous convolutions", Journal of Ambient Intelligence and
Humanized Computing (2020), doi:10.1007/s12652-020-01779-5.

Four residual VGG blocks (two 3x3 conv + ReLU, plus a 1x1 projection
shortcut, then max-pool 2) take the 3x112x112 input (u, v, strain) to
256x7x7; two 3x3 atrous convolutions (dilation 4 then 2, ReLU) enlarge the
receptive field without pooling; FC 4096 -> FC 4096 -> classes with dropout
0.5.

Choices where the paper leaves details open (documented here): the input is
the u, v, strain stack at 112x112 and the block widths 32-64-128-256, as in
the re-implementation the ATSCNN comparison relies on (Off-TANet, PRICAI
2021, which reports 70.57 M parameters for it, as this layout gives); the
shortcut is added before pooling; no BatchNorm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from microexpr.models._blocks import mlp_head
from microexpr.models._registry import check_option_min, check_options, register_model

__all__ = ["MACNN", "ResidualVGGBlock"]

PAPER = (
    "Lai, Chen, Chen, Zhang. Real-time micro-expression recognition based on ResNet and "
    "atrous convolutions. J. Ambient Intell. Humaniz. Comput. (2020)"
)


class ResidualVGGBlock(nn.Module):
    """Two 3x3 conv + ReLU with a 1x1 projection shortcut, then max-pool 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.ReLU(),
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, H, W) to (N, C_out, H / 2, W / 2)."""
        return self.pool(self.body(x) + self.shortcut(x))


class MACNN(nn.Module):
    """Residual VGG + atrous CNN.

    Parameters
    ----------
    in_channels : int
        Input channels (3: u, v, strain).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square input (112).
    widths : sequence of int
        Output channels of the residual blocks.
    hidden : int
        Width of the two hidden FC layers.
    dropout : float
        Dropout after each hidden FC layer.

    Notes
    -----
    Input shape (N, 3, 112, 112).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        input_size: int = 112,
        widths: Sequence[int] = (32, 64, 128, 256),
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            widths=widths,
            hidden=hidden,
            dropout=dropout,
        )
        blocks: list[nn.Module] = []
        c = in_channels
        for w in widths:
            blocks.append(ResidualVGGBlock(c, w))
            c = w
        self.features = nn.Sequential(*blocks)
        self.atrous = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=4, dilation=4),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2),
            nn.ReLU(),
        )
        side = input_size // 2 ** len(widths)
        self.head = mlp_head(c * side * side, (hidden, hidden), num_classes, dropout=dropout)

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options)
        check_option_min("input_size", o["input_size"], 2 ** len(o["widths"]))
        size = o["input_size"]
        return {
            "inputs": "uvs",
            "input_size": (o["in_channels"], size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes) from (N, 3, H, W)."""
        return self.head(self.atrous(self.features(x)).flatten(1))


@register_model(cfg=MACNN.model_cfg)
def macnn(**kwargs: Any) -> MACNN:
    """MACNN: u, v, strain at 112x112, residual VGG + atrous convs, FC 4096-4096."""
    return MACNN(**kwargs)
