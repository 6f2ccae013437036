"""Image conversions shared by the GANs, the classifiers and the evaluation.

Images are uint8 NCHW at every boundary; models see floats in [-1, 1], made and undone here alone.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def check_images(images: np.ndarray, name: str) -> np.ndarray:
    """Reject anything but uint8 NCHW RGB, the format at every boundary."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be uint8 NCHW with 3 channels, got {arr.dtype} {arr.shape}")
    return arr


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW in [0, 255] -> float32 in [-1, 1] (the only range models see)."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 NCHW, the format at every boundary."""
    return images.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float NCHW images at `size` x `size` px: bilinear with antialiasing (a no-op at `size`)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)
