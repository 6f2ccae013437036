"""One DCGAN step: raygan's plug-in against a plain PyTorch loop of the same architecture, in
fp32, channels_last and bf16 autocast, and the achieved FLOP/s against this machine's matmul peak.

    python benchmarks/dcgan_step.py [--steps 10] [--threads 1,2]       # 64 px, width 64 (paper)
    python benchmarks/dcgan_step.py --resolution 32 --width 32 --steps 100   # the laptop profile

The plain loop is the PyTorch DCGAN example's step (one D backward of real + fake loss, latents
from the global RNG, a float batch already in memory) on raygan's own G and D modules, which at
64 px are the example's layers. raygan's step adds what a sweep needs: the batch drawn from the
uint8 images and converted, a seeded RNG per step (resumable), separate real and fake D backward
passes (DDP needs each forward followed by its backward), and the loss history.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

from raygan.config import GANConfig  # noqa: E402
from raygan.gans import build_gan, dcgan, fit_gan  # noqa: E402

RES, BATCH, WIDTH, NZ = 64, 64, 64, 100  # defaults; --resolution, --batch, --width


def plain_nets() -> tuple[nn.Module, nn.Module]:
    """G and D of raygan's DCGAN (at 64 px, width 64: the PyTorch example's layers)."""
    return dcgan.Generator(NZ, WIDTH, RES), dcgan.Discriminator(WIDTH, RES)


def plain_step(g, d, opt_g, opt_d, real: torch.Tensor) -> None:
    z = torch.randn(len(real), NZ, 1, 1)
    fake = g(z)
    ones, zeros = torch.ones(len(real)), torch.zeros(len(real))
    loss_d = (F.binary_cross_entropy_with_logits(d(real).flatten(), ones)
              + F.binary_cross_entropy_with_logits(d(fake.detach()).flatten(), zeros))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = F.binary_cross_entropy_with_logits(d(fake).flatten(), ones)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


def plain_rate(steps: int, channels_last: bool = False, bf16: bool = False
               ) -> tuple[float, float]:
    """(images/s, FLOPs per step) of the plain loop; optionally channels_last memory format
    or bf16 autocast, the CPU speed-ups this benchmark tries."""
    torch.manual_seed(0)
    g, d = plain_nets()
    real = torch.rand(BATCH, 3, RES, RES) * 2 - 1
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    with autocast:
        for _ in range(2):
            plain_step(g, d, opt_g, opt_d, real)
        counter = FlopCounterMode(display=False)
        with counter:
            plain_step(g, d, opt_g, opt_d, real)
        t0 = time.perf_counter()
        for _ in range(steps):
            plain_step(g, d, opt_g, opt_d, real)
    return steps * BATCH / (time.perf_counter() - t0), float(counter.get_total_flops())


def raygan_rate(steps: int, **switches) -> float:
    """Images/s of raygan's DCGAN plug-in through `fit_gan` (uint8 batches, seeded RNG);
    `switches`: GANConfig speed switches (amp, channels_last)."""
    real = np.random.default_rng(0).integers(0, 256, (512, 3, RES, RES), np.uint8)
    cfg = GANConfig(width=WIDTH, batch_size=BATCH, steps=2, checkpoint_every=10**9,
                    log_every=10**9, **switches)
    gan = build_gan("dcgan", cfg, RES, seed=0)
    fit_gan(gan, real, seed=0)
    gan.cfg = GANConfig(**{**cfg.__dict__, "steps": 2 + steps})
    t0 = time.perf_counter()
    fit_gan(gan, real, seed=0, start_step=2)
    return steps * BATCH / (time.perf_counter() - t0)


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    """FLOP/s of a float32 n x n matmul, best of `reps`."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def main() -> None:
    global RES, WIDTH, BATCH
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--resolution", type=int, default=RES, help="px (64)")
    p.add_argument("--width", type=int, default=WIDTH, help="ngf = ndf (64)")
    p.add_argument("--batch", type=int, default=BATCH, help="images per step (64)")
    args = p.parse_args()
    RES, WIDTH, BATCH = args.resolution, args.width, args.batch
    figures = {}
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        plain, flops = plain_rate(args.steps)
        ours = raygan_rate(args.steps)
        peak = matmul_peak()
        achieved = flops * plain / BATCH
        channels_last, _ = plain_rate(args.steps, channels_last=True)
        bf16, _ = plain_rate(args.steps, bf16=True)
        ours_bf16 = raygan_rate(args.steps, amp=True)
        ours_cl = raygan_rate(args.steps, channels_last=True)
        figures[f"{threads} thread(s)"] = {
            "plain_images_per_s": round(plain, 1), "raygan_images_per_s": round(ours, 1),
            "raygan_vs_plain": round(ours / plain, 3),
            "gflop_per_step": round(flops / 1e9, 1),
            "achieved_gflop_per_s": round(achieved / 1e9, 1),
            "matmul_peak_gflop_per_s": round(peak / 1e9, 1),
            "achieved_vs_peak": round(achieved / peak, 3),
            "plain_channels_last_images_per_s": round(channels_last, 1),
            "plain_bf16_autocast_images_per_s": round(bf16, 1),
            "raygan_channels_last_images_per_s": round(ours_cl, 1),
            "raygan_bf16_images_per_s": round(ours_bf16, 1),
            "raygan_bf16_vs_plain_bf16": round(ours_bf16 / bf16, 3)}
        print(threads, figures[f"{threads} thread(s)"], flush=True)
    name = "dcgan_step" if RES == 64 else f"dcgan_step_{RES}px"
    save(name, "python benchmarks/dcgan_step.py " + " ".join(sys.argv[1:]), figures)


if __name__ == "__main__":
    main()
