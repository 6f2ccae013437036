"""A trained GAN's checkpoint file, and the one way to sample a cell's images from it.

The GAN stage (the fill handed to the classifiers), a resumed sweep (the fill of a GAN trained
before the interruption), the report's fidelity section and `raygan generate` all sample through
`sample_checkpoint`, so they cannot drift apart: image `i` of seed `s` comes from its own RNG,
seeded with `latent_seed(s, i)`, whatever the count or batching, and the GAN is rebuilt with the
cell's config and the benign training images as its context.

A checkpoint carries the arguments that rebuild its GAN (`GANSpec`, nanoGPT's `model_args`), so
`gan_from_file` needs the file alone. Those of format 1 (weights, step and history only) are
rebuilt from their sweep's config.json instead, as the sweep and `raygan generate --sweep` do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raygan.artifacts import GAN_CHECKPOINT
from raygan.config import GANConfig
from raygan.errors import RayganError
from raygan.gans.base import GAN, REGISTRY, build_gan, latent_seed

# The layout of gan.pt: 1 = {gan, step, history}; 2 adds `format` and the GANSpec's fields.
FORMAT = 2


@dataclass(frozen=True)
class GANSpec:
    """What rebuilds a trained GAN from its checkpoint alone."""

    family: str  # registry key, e.g. "dcgan"
    gan_config: GANConfig  # the cell's resolved config (`SweepConfig.gan_config(family, budget)`)
    resolution: int  # px of the images it makes (and of the real images it trained on)
    seed: int  # the cell's seed: its weights' init, its batches, and its samples' latents
    budget: int  # the cell's N: real malignant training images it was given

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the config as a dict), as a checkpoint stores them."""
        return {**dataclasses.asdict(self), "gan_config": dataclasses.asdict(self.gan_config)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GANSpec:
        """Inverse of `to_dict`."""
        return cls(str(d["family"]), GANConfig(**d["gan_config"]), int(d["resolution"]),
                   int(d["seed"]), int(d["budget"]))

    def build(self, device: str = "cpu") -> GAN:
        """A freshly initialized GAN of this family, config, resolution and seed."""
        return build_gan(self.family, self.gan_config, self.resolution, self.seed, device)


def save_checkpoint(folder: Path, spec: GANSpec, state: dict[str, Any], step: int,
                    history: list[dict[str, float]]) -> Path:
    """Write a GAN's `state_dict()`, its step, its metric history and the GANSpec that rebuilds
    it to `folder/gan.pt` (GAN_CHECKPOINT: the same name in Ray Train checkpoints and MLflow
    artifacts)."""
    path = Path(folder) / GAN_CHECKPOINT
    torch.save({"format": FORMAT, **spec.to_dict(), "gan": state, "step": step,
                "history": history}, path)
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """A checkpoint written by `save_checkpoint`, from its file or from the folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / GAN_CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_spec(checkpoint: dict[str, Any]) -> GANSpec | None:
    """The GANSpec a checkpoint carries; None for one of format 1, which carries none."""
    return GANSpec.from_dict(checkpoint) if checkpoint.get("format", 1) >= 2 else None


def read_checkpoint(path: Path | str) -> tuple[GANSpec, dict[str, Any]]:
    """(spec, checkpoint) of a raygan GAN checkpoint file that rebuilds its GAN on its own; a
    missing file, another file, or a checkpoint without its GAN's arguments is a RayganError."""
    path = Path(path)
    if not path.is_file():
        raise RayganError(f"--checkpoint {path}: no such file; pass a GAN training's "
                          f"{GAN_CHECKPOINT} (an artifact of its train:<gan>-n<budget>-s<seed> "
                          "MLflow run)")
    try:
        checkpoint = load_checkpoint(path)
    except Exception as exc:  # an arbitrary file fails inside torch's unpickler in any way
        reason = ": ".join([type(exc).__name__, *str(exc).strip().splitlines()[:1]])[:120]
        raise RayganError(f"--checkpoint {path} is not a raygan GAN checkpoint (torch cannot "
                          f"load it: {reason})") from None
    if not isinstance(checkpoint, dict) or not {"gan", "step", "history"} <= set(checkpoint):
        raise RayganError(f"--checkpoint {path} is not a raygan GAN checkpoint (it holds no GAN "
                          "weights, step and history)")
    version = checkpoint.get("format", 1)
    if not isinstance(version, int) or version > FORMAT:
        raise RayganError(f"--checkpoint {path} has format {version!r}, newer than this raygan "
                          f"reads ({FORMAT}); sample it with the raygan that wrote it")
    if version < 2:
        raise RayganError(f"--checkpoint {path} is of format 1, from before checkpoints carried "
                          "their GAN's arguments; sample it through its sweep: raygan generate "
                          "--sweep NAME --run train:<gan>-n<budget>-s<seed>")
    try:
        spec = checkpoint_spec(checkpoint)
    except (KeyError, TypeError, ValueError) as exc:
        raise RayganError(f"--checkpoint {path} holds no usable GAN arguments ({exc})") from None
    if spec.family not in REGISTRY:
        raise RayganError(f"--checkpoint {path} is a {spec.family!r} GAN, a family this raygan "
                          f"does not know (it knows {', '.join(REGISTRY)})")
    if REGISTRY[spec.family].needs_context:
        raise RayganError(f"--checkpoint {path} is a {spec.family} GAN, which translates the "
                          "sweep's benign training images, and a checkpoint holds no images; "
                          "sample it through its sweep: raygan generate --sweep NAME --run "
                          f"train:{spec.family}-n{spec.budget}-s{spec.seed}")
    return spec, checkpoint


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


def sample_file(spec: GANSpec, checkpoint: dict[str, Any], count: int) -> np.ndarray:
    """Images 0 .. count-1 of the GAN a checkpoint rebuilds on its own (`read_checkpoint`): the
    very images `sample_checkpoint` gives for the same cell."""
    no_context = np.zeros((0, 3, spec.resolution, spec.resolution), np.uint8)
    return sample_checkpoint(spec.family, spec.gan_config, spec.resolution, spec.seed,
                             checkpoint, no_context, count)


def latent_seeds(seed: int, count: int) -> list[int]:
    """The RNG seed of each of images 0 .. count-1 of `seed` (for a manifest)."""
    return [latent_seed(seed, i) for i in range(count)]
