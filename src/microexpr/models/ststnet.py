"""STSTNet: shallow triple-stream three-dimensional CNN.

Liong, Gan, See, Khor and Huang, "Shallow Triple Stream Three-dimensional
CNN (STSTNet) for Micro-expression Recognition", IEEE FG 2019 (MEGC2019).
Code and per-fold weights: https://github.com/christy1206/STSTNet.

The input is one 3x28x28 flow image per clip whose channels hold the
normalised horizontal flow, vertical flow and optical strain ("three
dimensions"). Three parallel 3x3 convolutions (padding 2, 28 -> 30) with 3, 5
and 8 filters are each followed by ReLU, BatchNorm, MaxPool(3, stride 3,
padding 1) (30 -> 10) and Dropout(0.5); the 16 maps are concatenated,
average-pooled 2x2 (10 -> 5) and classified by one linear layer (400 -> 3).

The layer names (``conv1``..``conv3``, ``bn1``..``bn3``, ``fc``) and the
order ReLU-before-BatchNorm follow the authors' PyTorch ``main.py``, so the
official state dicts load with ``strict=True`` and reproduce their
predictions. Published training settings (PyTorch re-run): Adam, learning
rate 5e-5, batch 256, 800 epochs, the last epoch evaluated.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from microexpr.models._registry import check_options, register_model

__all__ = ["STSTNet", "TRAINING"]

PAPER = (
    "Liong, Gan, See, Khor, Huang. Shallow Triple Stream Three-dimensional CNN (STSTNet) "
    "for Micro-expression Recognition. IEEE FG 2019"
)

#: Training settings of the authors' PyTorch re-run (``main.py``).
TRAINING: dict[str, Any] = {"optimizer": "adam", "lr": 5e-5, "batch_size": 256, "epochs": 800}


class STSTNet(nn.Module):
    """Shallow triple-stream CNN on a 3-channel flow image.

    Parameters
    ----------
    in_channels : int
        Channels of the flow image (3: u, v, strain).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square input (28 as published).
    dropout : float
        Dropout after each pooled stream.

    Notes
    -----
    Input shape (N, 3, 28, 28), float values 0..255 as read by ``cv2.imread``
    for the published weights.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        input_size: int = 28,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            dropout=dropout,
        )
        self.conv1 = nn.Conv2d(in_channels, 3, kernel_size=3, padding=2)
        self.conv2 = nn.Conv2d(in_channels, 5, kernel_size=3, padding=2)
        self.conv3 = nn.Conv2d(in_channels, 8, kernel_size=3, padding=2)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(3)
        self.bn2 = nn.BatchNorm2d(5)
        self.bn3 = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=3, padding=1)
        self.avgpool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.dropout = nn.Dropout(dropout)
        side = (input_size + 2 + 2 * 1 - 3) // 3 + 1  # conv (+2), then maxpool 3/3 pad 1
        side //= 2
        self.fc = nn.Linear(16 * side * side, num_classes)

    def _stream(self, x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
        # ReLU before BatchNorm, as in the published code the weights were trained with.
        return self.dropout(self.maxpool(bn(self.relu(conv(x)))))

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
            "inputs": "flow_image",
            "input_size": (o["in_channels"], size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
            "training": dict(TRAINING),
            "input_range": "0..255 (8-bit flow image, cv2.imread channel order)",
            # measured 1.3-1.5x faster per CPU training step in the plain layout than with
            # channels-last weights (benchmarks/ststnet_step_alternatives.py)
            "cpu_channels_last": False,
        }

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated, pooled stream maps, flattened: shape (N, 400) at 28x28."""
        x = torch.cat(
            [
                self._stream(x, self.conv1, self.bn1),
                self._stream(x, self.conv2, self.bn2),
                self._stream(x, self.conv3, self.bn3),
            ],
            dim=1,
        )
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes)."""
        return self.fc(self.forward_features(x))


@register_model(cfg=STSTNet.model_cfg)
def ststnet(**kwargs: Any) -> STSTNet:
    """STSTNet as published: 3x28x28 flow image, 3 classes."""
    return STSTNet(**kwargs)
