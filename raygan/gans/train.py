"""The GAN training loop, with no Ray inside: one code path for a single process and for DDP."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from raygan.gans.base import GAN
from raygan.images import to_float

# (steps done, loss history so far) -> None; called every `checkpoint_every` steps and at the end
CheckpointFn = Callable[[int, list[dict[str, float]]], None]
# the GAN -> `quality/*` metrics; run on one rank every `eval_every` steps (eval/quality.py)
ProbeFn = Callable[[GAN], dict[str, float]]
STOP_METRIC = "quality/gap"  # what the stop rule reads (lower is better; eval/quality.py)


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
    probe: ProbeFn | None = None,
) -> list[dict[str, float]]:
    """Train `gan` on uint8 NCHW `images` from `start_step` up to `gan.cfg.steps`.

    With DDP every worker draws its own share of the global batch (batch_size / world_size).
    Mean losses are appended to `history` every `log_every` steps; `probe` (given on one rank)
    adds its metrics to the row of every `eval_every`-th step, and the stop rule
    (`stop_patience`) may end training there: that rank decides, every rank follows. The
    last row carries `stopped_early` = 1 if it did. `on_checkpoint` runs every
    `checkpoint_every` steps and after the last step. Returns the history.
    """
    cfg = gan.cfg
    history = [] if history is None else history
    local_batch = max(cfg.batch_size // world_size, 1)
    data = torch.from_numpy(np.array(images, copy=True))
    gan.set_training_images(data)
    sums: dict[str, float] = {}
    count = 0
    for step in range(start_step, cfg.steps):
        idx = batch_indices(len(data), local_batch, seed, rank, step)
        real = to_float(data[idx]).to(gan.device)
        for k, v in gan.step(real, step_generator(seed, rank, step)).items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        done = step + 1
        evaluating = cfg.eval_every > 0 and (done % cfg.eval_every == 0 or done == cfg.steps)
        if done % cfg.log_every == 0 or done == cfg.steps or evaluating:
            history.append({"step": done, **{k: v / count for k, v in sums.items()}})
            sums, count = {}, 0
        stop = False
        if evaluating:
            if probe is not None:
                history[-1].update(probe(gan))
            if cfg.stop_patience:
                stop = _agree(probe is not None and done >= cfg.min_steps and gan.can_stop()
                              and _plateaued(history, cfg), world_size)
        if stop:
            history[-1]["stopped_early"] = 1.0
        if on_checkpoint is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps
                                          or stop):
            on_checkpoint(done, history)
        if stop:
            break
    return history


def plateaued(values: Sequence[float], patience: int, min_gain: float) -> bool:
    """True when the best of the last `patience` values is not at least `min_gain` below the
    best before them: the measure (lower is better) has stopped improving."""
    if patience <= 0 or len(values) <= patience:
        return False
    return min(values[-patience:]) > min(values[:-patience]) - min_gain


SMOOTH = 3  # probes in the running median that the stop rule and the gate read


def probe_values(history: list[dict[str, float]]) -> list[float]:
    """The finite stop-metric values of a history, in step order."""
    return [row[STOP_METRIC] for row in history
            if STOP_METRIC in row and np.isfinite(row[STOP_METRIC])]


def smoothed(values: Sequence[float], window: int = SMOOTH) -> list[float]:
    """Running median over the last `window` values: a GAN's samples swing from probe to
    probe (raw DCGAN at N=500 read 0.07 to 0.65 over its last 1000 steps), so one probe is
    too noisy to stop on or to judge by."""
    return [float(np.median(values[max(0, i + 1 - window) : i + 1])) for i in range(len(values))]


def final_quality(history: list[dict[str, float]]) -> float | None:
    """The smoothed stop metric at the end of training (None when never probed)."""
    values = probe_values(history)
    return smoothed(values)[-1] if values else None


def _plateaued(history: list[dict[str, float]], cfg) -> bool:
    """The stop rule: flat, and flat at a gap that passes the quality gate."""
    values = smoothed(probe_values(history))
    return (bool(values) and values[-1] <= cfg.stop_below
            and plateaued(values, cfg.stop_patience, cfg.stop_gain))


def _agree(decision: bool, world_size: int) -> bool:
    """The probing rank's decision, on every rank (a broadcast under DDP)."""
    if world_size == 1 or not torch.distributed.is_initialized():
        return decision
    flag = torch.tensor([1.0 if decision else 0.0])
    if torch.distributed.get_backend() == "nccl":
        flag = flag.cuda()
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())
