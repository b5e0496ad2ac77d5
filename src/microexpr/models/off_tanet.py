"""Off-TANet: a lightweight residual CNN with integrated (triple) attention.

Zhang, Liu and Qi, "Off-TANet: A Lightweight Neural Micro-expression
Recognizer with Optical Flow Features and Integrated Attention Mechanism",
PRICAI 2021, LNCS 13031, 266-279. Authors' code:
https://github.com/ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet.

Input: u, v and optical strain at 112x112. A 7x7 stride-2 convolution
(8 filters, ReLU, BatchNorm) gives 8x56x56; two residual blocks (two 3x3
conv/BN/ReLU plus a 1x1 projection shortcut, max-pool 2) give 18x28x28 and
28x14x14; an "enhanced" residual block applies channel attention, spatial
attention and 4-head positional self-attention between its two convolutions
and gives 8x7x7 (392); FC 64 -> FC 64 -> classes, ReLU and dropout 0.5.

The self-attention follows the authors' formulation, which differs from the
usual dot-product attention: per channel, the row-affinity ``q kᵀ`` (H x H)
plus ``q Pᵀ`` against a fixed sinusoidal code ``P`` is soft-maxed over all
its entries and multiplies ``v`` element-wise (so the map must be square).

Choices where the paper leaves details open (documented here): the channel
and spatial attention are this package's CBAM halves (channel MLP with one
hidden unit, as the authors' reduction ratio equal to the channel count;
3x3 spatial kernel); their MLP carries biases, which the authors' 1x1
convolutions do not (a few parameters more).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from microexpr.models._attention import ChannelAttention, SpatialAttention
from microexpr.models._blocks import mlp_head
from microexpr.models._registry import check_options, register_model

__all__ = [
    "EnhancedResidualBlock",
    "MultiHeadPositionalSelfAttention",
    "OffTANet",
    "PositionalSelfAttention",
    "ResidualBlock",
    "sinusoidal_position_code",
]

PAPER = (
    "Zhang, Liu, Qi. Off-TANet: A Lightweight Neural Micro-expression Recognizer with "
    "Optical Flow Features and Integrated Attention Mechanism. PRICAI 2021, LNCS 13031"
)


def sinusoidal_position_code(size: int) -> torch.Tensor:
    """Return the fixed (size, size) position code ``p + pᵀ``.

    ``p_i = sin(10000^(-(i // 2) / size))`` for even ``i``, the cosine for odd ``i``.
    """
    p = torch.tensor(
        [
            (math.sin if i % 2 == 0 else math.cos)(1.0 / 10000 ** ((i // 2) / size))
            for i in range(size)
        ],
        dtype=torch.float32,
    )[None, :]
    return p + p.t()


class PositionalSelfAttention(nn.Module):
    """One head of the authors' positional self-attention on a square map.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out (1x1 query, key and value projections).
    size : int
        Side of the square feature map.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(in_channels, out_channels, 1)
        self.key = nn.Conv2d(in_channels, out_channels, 1)
        self.value = nn.Conv2d(in_channels, out_channels, 1)
        self.register_buffer("position", sinusoidal_position_code(size)[None, None], False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, S, S) to (N, C_out, S, S)."""
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = q @ k.transpose(-1, -2) + q @ self.position.transpose(-1, -2)
        n, c, h, w = scores.shape
        weights = torch.softmax(scores.reshape(n, c, h * w), dim=2).reshape(n, c, h, w)
        return weights * v


class MultiHeadPositionalSelfAttention(nn.Module):
    """Several :class:`PositionalSelfAttention` heads, outputs concatenated."""

    def __init__(self, in_channels: int, head_channels: int, heads: int, size: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            PositionalSelfAttention(in_channels, head_channels, size) for _ in range(heads)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, S, S) to (N, heads * head_channels, S, S)."""
        return torch.cat([h(x) for h in self.heads], dim=1)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class ResidualBlock(nn.Module):
    """Two 3x3 conv/BN/ReLU plus a 1x1 projection shortcut, then max-pool 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn_relu(in_channels, out_channels), _conv_bn_relu(out_channels, out_channels)
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, H, W) to (N, C_out, H / 2, W / 2)."""
        return self.pool(self.body(x) + self.shortcut(x))


class EnhancedResidualBlock(nn.Module):
    """Residual block with channel, spatial and self-attention between its convs.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    size : int
        Side of the (square) input map, for the position code.
    heads : int
        Self-attention heads, each with ``in_channels // heads`` channels.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, heads: int = 4) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, in_channels)
        self.channel_attention = ChannelAttention(in_channels, reduction=in_channels)
        self.spatial_attention = SpatialAttention(3)
        self.self_attention = MultiHeadPositionalSelfAttention(
            in_channels, in_channels // heads, heads, size
        )
        self.conv2 = _conv_bn_relu(heads * (in_channels // heads), out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, S, S) to (N, C_out, S / 2, S / 2)."""
        y = self.conv1(x)
        y = self.spatial_attention(self.channel_attention(y))
        y = self.conv2(self.self_attention(y))
        return self.pool(y + self.shortcut(x))


class OffTANet(nn.Module):
    """Off-TANet.

    Parameters
    ----------
    in_channels : int
        Input channels (3: u, v, strain).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square input (112); must be divisible by 16.
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
        hidden: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            hidden=hidden,
            dropout=dropout,
        )
        # ReLU before BatchNorm in the stem, as in the authors' code.
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 8, 7, stride=2, padding=3), nn.ReLU(), nn.BatchNorm2d(8)
        )
        self.res1 = ResidualBlock(8, 18)
        self.res2 = ResidualBlock(18, 28)
        self.enhanced = EnhancedResidualBlock(28, 8, size=input_size // 8)
        side = input_size // 16
        self.head = mlp_head(8 * side * side, (hidden, hidden), num_classes, dropout=dropout)

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options, min_size=16, size_multiple=16)
        size = o["input_size"]
        return {
            "inputs": "uvs",
            "input_size": (o["in_channels"], size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes) from (N, 3, H, W)."""
        x = self.enhanced(self.res2(self.res1(self.stem(x))))
        return self.head(x.flatten(1))


@register_model(cfg=OffTANet.model_cfg)
def off_tanet(**kwargs: Any) -> OffTANet:
    """Off-TANet: u, v, strain at 112x112, triple attention, FC 64-64."""
    return OffTANet(**kwargs)
