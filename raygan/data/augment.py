"""Classic augmentation for the `classic` arm: flips, 90-degree and small rotations, colour jitter.

Every random choice comes from the caller's numpy Generator, so a seed fixes the output.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 15.0  # small rotations on top of the 90-degree turns
BRIGHTNESS = 0.2  # multiplicative jitter ranges, each factor drawn from [1 - r, 1 + r]
CONTRAST = 0.2
SATURATION = 0.2


def _rotate(x: torch.Tensor, degrees: np.ndarray) -> torch.Tensor:
    """Rotate a float batch (N, C, H, W) about its centre; borders reflect, never go black."""
    theta = torch.from_numpy(np.deg2rad(degrees)).float()
    cos, sin = torch.cos(theta), torch.sin(theta)
    zeros = torch.zeros_like(cos)
    mat = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def classic_augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmented copies of uint8 NCHW `images`, one per input, same shape and dtype."""
    n = len(images)
    if n == 0:
        return images.copy()
    x = torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0
    hflip, vflip = rng.random(n) < 0.5, rng.random(n) < 0.5
    turns = rng.integers(0, 4, n)
    angle = rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG, n)
    bright = rng.uniform(1 - BRIGHTNESS, 1 + BRIGHTNESS, n)
    contrast = rng.uniform(1 - CONTRAST, 1 + CONTRAST, n)
    sat = rng.uniform(1 - SATURATION, 1 + SATURATION, n)
    x[hflip] = x[hflip].flip(-1)
    x[vflip] = x[vflip].flip(-2)
    for k in (1, 2, 3):
        sel = turns == k
        if sel.any():
            x[sel] = torch.rot90(x[sel], k, dims=(-2, -1))
    x = _rotate(x, angle)
    col = lambda v: torch.from_numpy(v).float().view(-1, 1, 1, 1)  # noqa: E731
    x = x * col(bright)
    gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - gray.mean((2, 3), keepdim=True)) * col(contrast) + gray.mean((2, 3), keepdim=True)
    gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - gray) * col(sat) + gray
    out = (x.clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()
    return out
