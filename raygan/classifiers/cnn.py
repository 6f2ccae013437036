"""The study's downstream classifier: two conv-ReLU-maxpool blocks and a small dense head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from raygan.classifiers.base import Classifier, register


@register
class TwoBlockCNN(Classifier):
    """Two conv-ReLU-maxpool blocks, then a small dense head; 2 logits (benign, malignant).

    The submodule names (`features`, `head`) are those of every classifier.pt and feature
    extractor saved so far: their weights load unchanged."""

    name = "cnn"
    summary = "the study's 2-block CNN: 2 conv-ReLU-maxpool blocks, dense 128, dropout 0.5"
    # 1.15e-3 MiB per image x pixel: fits the measured 32 and 64 px peaks (benchmarks/
    # peak_memory.py, 2026-12-01)
    memory_slope_mib = 1.15e-3

    def __init__(self, resolution: int, channels: tuple[int, int] | list[int] = (32, 64),
                 hidden: int = 128):
        super().__init__(resolution)
        c1, c2 = channels
        self.channels, self.hidden, self.dim = (int(c1), int(c2)), int(hidden), int(hidden)
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        side = resolution // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, 2),
        )

    @property
    def args(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "hidden": self.hidden}

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.head[:3](self.features(x))  # Flatten, Linear, ReLU

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.head[3:](features)  # Dropout, Linear
