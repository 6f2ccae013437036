"""A stronger classifier beside the study's: the CIFAR ResNet-20 of He et al. 2016 (sec. 4.2).

A 3x3 stem, then 3 stages of 3 basic blocks (two 3x3 conv-BN, identity shortcut) at 16, 32
and 64 channels, the last two stages halving the side, then global average pooling and one
linear layer. The shortcut that changes shape is the paper's option A for CIFAR: subsample and
zero-pad the new channels, so the network has no projection weights (0.27 M parameters). Global
pooling makes it independent of the input size: any side the config allows (32-224 px) works,
the compute growing with the pixels.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from raygan.classifiers.base import Classifier, register


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad = stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]  # option A: subsample, zero-pad channels
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@register
class ResNet20(Classifier):
    """CIFAR-style ResNet (6n+2 layers; n = `blocks` = 3 is ResNet-20) with `width` channels in
    its first stage, doubling per stage."""

    name = "resnet20"
    summary = ("CIFAR ResNet-20 of He et al. 2016: 3 stages x 3 basic blocks, 16/32/64 "
               "channels, global average pooling")
    # MiB per image x pixel: at 64 px, batch 64, the peak rose 470 MiB above the process after
    # imports (1697 against 1227 MiB; benchmarks/classifier_fit.py, 2026-12-06), 1.8e-3; this
    # keeps a 1.7x margin, as the CNN's keeps over its own (at 32 px the import peak hid it)
    memory_slope_mib = 3.0e-3

    def __init__(self, resolution: int, width: int = 16, blocks: int = 3):
        super().__init__(resolution)
        self.width, self.blocks = int(width), int(blocks)
        self.dim = 4 * self.width
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers, c_in = [], width
        for stage in range(3):
            c_out = width * 2**stage
            for i in range(blocks):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He init, as the paper trains it
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def args(self) -> dict[str, Any]:
        return {"width": self.width, "blocks": self.blocks}

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x)).mean((2, 3))  # global average pooling

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)
