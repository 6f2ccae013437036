"""Helpers that every GAN family's networks share: the first feature map's size, and the bare
module inside a DDP wrapper."""

from __future__ import annotations

from torch import nn


def base_size(resolution: int) -> int:
    """Side of the first feature map: 4 for powers of two, 7 for 224 (= 7 x 32)."""
    for s in (4, 7):
        n = resolution // s
        if resolution % s == 0 and n & (n - 1) == 0 and n >= 2:
            return s
    raise ValueError(f"resolution {resolution} is neither 4 * 2^k nor 7 * 2^k")


def unwrap(module: nn.Module) -> nn.Module:
    """The bare module inside a DDP wrapper (or the module itself)."""
    return module.module if hasattr(module, "module") else module
