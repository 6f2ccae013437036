"""The GAN training loop, with no Ray inside: one code path for a single process and for DDP."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from raygan.gans.base import GAN, to_float

# (steps done, loss history so far) -> None; called every `checkpoint_every` steps and at the end
CheckpointFn = Callable[[int, list[dict[str, float]]], None]


def batch_indices(num_images: int, batch: int, seed: int, rank: int, step: int) -> np.ndarray:
    """Which images worker `rank` trains on at `step`: a function of (seed, rank, step) alone,
    so a resumed run sees exactly the batches an uninterrupted one would have seen."""
    return np.random.default_rng([seed, rank, step]).integers(0, num_images, size=batch)


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The RNG of the latents (and any augmentation) of one worker's step; resumable likewise."""
    state = np.random.SeedSequence([seed, rank, step, 7]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> 1))


def fit_gan(
    gan: GAN,
    images: np.ndarray,
    seed: int,
    start_step: int = 0,
    rank: int = 0,
    world_size: int = 1,
    history: list[dict[str, float]] | None = None,
    on_checkpoint: CheckpointFn | None = None,
) -> list[dict[str, float]]:
    """Train `gan` on uint8 NCHW `images` from `start_step` up to `gan.cfg.steps`.

    With DDP every worker draws its own share of the global batch (batch_size / world_size).
    Mean losses are appended to `history` every `log_every` steps; `on_checkpoint` runs every
    `checkpoint_every` steps and after the last step. Returns the history.
    """
    cfg = gan.cfg
    history = [] if history is None else history
    local_batch = max(cfg.batch_size // world_size, 1)
    data = torch.from_numpy(np.array(images, copy=True))
    sums: dict[str, float] = {}
    count = 0
    for step in range(start_step, cfg.steps):
        idx = batch_indices(len(data), local_batch, seed, rank, step)
        real = to_float(data[idx]).to(gan.device)
        for k, v in gan.step(real, step_generator(seed, rank, step)).items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            history.append({"step": done, **{k: v / count for k, v in sums.items()}})
            sums, count = {}, 0
        if on_checkpoint is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            on_checkpoint(done, history)
    return history
