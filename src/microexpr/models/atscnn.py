"""ATSCNN: attention-guided three-stream convolutional neural network.

"Attention-guided three-stream convolutional neural network for
micro-expression recognition" (ATSCNN). Three identical streams take the
horizontal flow u, the vertical flow v and the optical strain magnitude
between onset and apex, each 1x128x128. A stream is four blocks of
conv 5x5 (padding 2) -> BatchNorm -> SELU -> MaxPool 2 with channels
1 -> 3 -> 5 -> 8 -> 16, then CBAM. The three 16x8x8 maps are concatenated
(3072 features) and classified by fully connected layers.

The paper gives 4.21e6 parameters and 19.01 MFLOPs without spelling out the
head; a head 3072 -> 1024 -> 1024 -> 3 (SELU between) matches both, so it is
the default. Choices where the paper is silent (documented here):
CBAM's channel MLP has hidden size 16 // 4 = 4 and uses the model's
activation; the spatial attention kernel is 3x3 as the paper states; no
dropout. The Table 4 ablations are options and registered variants:
``attention`` none/channel/spatial/cbam, ``activation`` selu/relu, and the
input (``uvs`` three streams, ``uv`` two streams, ``apex`` one stream on the
grayscale apex frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from microexpr.models._attention import CBAM
from microexpr.models._blocks import ACTIVATIONS, make_activation, mlp_head
from microexpr.models._registry import (
    check_option_choice,
    check_option_min,
    check_options,
    register_model,
)

__all__ = ["ATSCNN", "Stream", "ATTENTIONS", "INPUT_STREAMS"]

PAPER = (
    "Attention-guided three-stream convolutional neural network (ATSCNN) "
    "for micro-expression recognition"
)

#: Attention options: which CBAM halves are on.
ATTENTIONS: dict[str, tuple[bool, bool]] = {
    "cbam": (True, True),
    "channel": (True, False),
    "spatial": (False, True),
    "none": (False, False),
}

#: Number of streams each input kind feeds.
INPUT_STREAMS: dict[str, int] = {"uvs": 3, "uv": 2, "apex": 1}


class Stream(nn.Module):
    """One ATSCNN stream: conv blocks then (optional) CBAM.

    Parameters
    ----------
    channels : sequence of int
        Output channels of the conv blocks (input has 1 channel).
    kernel_size : int
        Convolution kernel side (padding keeps the size).
    activation : str
        ``selu`` (paper) or ``relu`` (ablation).
    attention : str
        One of :data:`ATTENTIONS`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (3, 5, 8, 16),
        kernel_size: int = 5,
        activation: str = "selu",
        attention: str = "cbam",
        reduction: int = 4,
        spatial_kernel: int = 3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm2d(c_out),
                make_activation(activation),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        use_channel, use_spatial = ATTENTIONS[attention]
        self.attention = (
            CBAM(
                c_in,
                channel=use_channel,
                spatial=use_spatial,
                reduction=reduction,
                kernel_size=spatial_kernel,
                activation=activation,
            )
            if attention != "none"
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, 1, H, W) to (N, C_last, H / 16, W / 16)."""
        return self.attention(self.features(x))


class ATSCNN(nn.Module):
    """Attention-guided multi-stream CNN.

    Parameters
    ----------
    inputs : str
        ``uvs`` (u, v, strain: three streams), ``uv`` (two) or ``apex`` (one).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square inputs (128 in the paper; 28 for MEGC2019 flows).
    attention : str
        ``cbam`` (paper), ``channel``, ``spatial`` or ``none``.
    activation : str
        ``selu`` (paper) or ``relu``.
    head : sequence of int
        Hidden sizes of the fully connected head.
    channels : sequence of int
        Conv block channels of each stream.
    kernel_size : int
        Conv kernel side.

    Notes
    -----
    Input shape (N, S, H, W), one channel per stream, S = number of streams.
    """

    def __init__(
        self,
        inputs: str = "uvs",
        num_classes: int = 3,
        input_size: int = 128,
        attention: str = "cbam",
        activation: str = "selu",
        head: Sequence[int] = (1024, 1024),
        channels: Sequence[int] = (3, 5, 8, 16),
        kernel_size: int = 5,
        reduction: int = 4,
        spatial_kernel: int = 3,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            inputs=inputs,
            num_classes=num_classes,
            input_size=input_size,
            attention=attention,
            activation=activation,
            head=head,
            channels=channels,
            kernel_size=kernel_size,
            reduction=reduction,
            spatial_kernel=spatial_kernel,
        )
        self.num_streams = INPUT_STREAMS[inputs]
        self.streams = nn.ModuleList(
            Stream(channels, kernel_size, activation, attention, reduction, spatial_kernel)
            for _ in range(self.num_streams)
        )
        side = input_size // 2 ** len(channels)
        self.feature_shape = (channels[-1], side, side)
        width = self.num_streams * channels[-1] * side * side
        self.head = mlp_head(width, head, num_classes, activation=activation)

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options)
        check_option_choice("inputs", o["inputs"], INPUT_STREAMS)
        check_option_choice("attention", o["attention"], ATTENTIONS)
        check_option_choice("activation", o["activation"], ACTIVATIONS)
        # each conv block halves the side: at least one pixel must be left
        check_option_min("input_size", o["input_size"], 2 ** len(o["channels"]))
        side = o["input_size"]
        return {
            "inputs": o["inputs"],
            "input_size": (INPUT_STREAMS[o["inputs"]], side, side),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated, flattened stream outputs, shape (N, S * C * h * w)."""
        if x.ndim != 4 or x.shape[1] != self.num_streams:
            raise ValueError(
                f"expected input of shape (N, {self.num_streams}, H, W), got {tuple(x.shape)}"
            )
        feats = [stream(x[:, i : i + 1]) for i, stream in enumerate(self.streams)]
        return torch.cat([f.flatten(1) for f in feats], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes)."""
        return self.head(self.forward_features(x))

    def spatial_attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """CBAM spatial attention of each stream, shape (N, S, h, w).

        Ones where a stream has no spatial attention.
        """
        maps = []
        for i, stream in enumerate(self.streams):
            f = stream.features(x[:, i : i + 1])
            att = stream.attention
            if isinstance(att, CBAM) and att.channel is not None:
                f = att.channel(f)
            if isinstance(att, CBAM) and att.spatial is not None:
                maps.append(att.spatial.attention(f)[:, 0])
            else:
                maps.append(torch.ones_like(f[:, 0]))
        return torch.stack(maps, dim=1)


def _atscnn(**kwargs: Any) -> ATSCNN:
    return ATSCNN(**kwargs)


@register_model(cfg=ATSCNN.model_cfg)
def atscnn(**kwargs: Any) -> ATSCNN:
    """ATSCNN as in the paper: u, v, strain streams, CBAM, SELU, head 1024-1024."""
    return _atscnn(**kwargs)


@register_model(cfg=partial(ATSCNN.model_cfg, attention="none"))
def atscnn_no_attention(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: no attention module."""
    return _atscnn(**{"attention": "none", **kwargs})


@register_model(cfg=partial(ATSCNN.model_cfg, attention="channel"))
def atscnn_channel_attention(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: channel attention only."""
    return _atscnn(**{"attention": "channel", **kwargs})


@register_model(cfg=partial(ATSCNN.model_cfg, attention="spatial"))
def atscnn_spatial_attention(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: spatial attention only."""
    return _atscnn(**{"attention": "spatial", **kwargs})


@register_model(cfg=partial(ATSCNN.model_cfg, activation="relu"))
def atscnn_relu(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: ReLU instead of SELU."""
    return _atscnn(**{"activation": "relu", **kwargs})


@register_model(cfg=partial(ATSCNN.model_cfg, inputs="uv"))
def atscnn_uv(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: no strain stream (u and v only)."""
    return _atscnn(**{"inputs": "uv", **kwargs})


@register_model(cfg=partial(ATSCNN.model_cfg, inputs="apex"))
def atscnn_apex(**kwargs: Any) -> ATSCNN:
    """Table 4 ablation: one stream on the grayscale apex frame instead of flow."""
    return _atscnn(**{"inputs": "apex", **kwargs})
