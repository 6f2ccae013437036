"""A trained GAN's checkpoint file, and the one way to sample a cell's images from it.

The GAN stage (the fill handed to the classifiers), a resumed sweep (the fill of a GAN trained
before the interruption), the report's fidelity section and `raygan generate` all sample through
`sample_checkpoint`, so they cannot drift apart: image `i` of seed `s` comes from its own RNG,
seeded with `latent_seed(s, i)`, whatever the count or batching, and the GAN is rebuilt with the
cell's config and the benign training images as its context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from raygan.artifacts import GAN_CHECKPOINT
from raygan.config import GANConfig
from raygan.gans.base import GAN, build_gan, latent_seed


def save_checkpoint(folder: Path, state: dict[str, Any], step: int,
                    history: list[dict[str, float]]) -> Path:
    """Write a GAN's `state_dict()`, its step and its metric history to `folder/gan.pt`
    (GAN_CHECKPOINT: the same name in Ray Train checkpoints and MLflow artifacts)."""
    path = Path(folder) / GAN_CHECKPOINT
    torch.save({"gan": state, "step": step, "history": history}, path)
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """A checkpoint written by `save_checkpoint`, from its file or from the folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / GAN_CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=True)


def from_checkpoint(name: str, gcfg: GANConfig, resolution: int, seed: int,
                    checkpoint: dict[str, Any], context: np.ndarray) -> GAN:
    """The GAN of one cell, rebuilt on CPU from its checkpoint, ready to sample."""
    gan = build_gan(name, gcfg, resolution, seed)
    gan.load_state_dict(checkpoint["gan"])
    gan.set_context(context)
    return gan


def sample_checkpoint(name: str, gcfg: GANConfig, resolution: int, seed: int,
                      checkpoint: dict[str, Any], context: np.ndarray, count: int) -> np.ndarray:
    """Images 0 .. count-1 (uint8 NCHW) of a cell's trained GAN: a cell's fill is the first
    `Cell.fill_count` of them, its sample grid the first `num_grid_images`."""
    gan = from_checkpoint(name, gcfg, resolution, seed, checkpoint, context)
    # generate(0) cannot know the output size of a family that upscales: take it from one image.
    return gan.generate(count, seed) if count else gan.generate(1, seed)[:0]


def latent_seeds(seed: int, count: int) -> list[int]:
    """The RNG seed of each of images 0 .. count-1 of `seed` (for a manifest)."""
    return [latent_seed(seed, i) for i in range(count)]
