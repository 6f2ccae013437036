"""The diffusion family's cost at 32 px per UNet width: one training step (batch 32, bf16
autocast and fp32) and one DDIM step of sampling per image, 1 thread, as a CPU worker runs.

    python benchmarks/ddpm_step.py 16 24 32     # writes benchmarks/results/ddpm_step.json

The fastest and the median of 6 timed steps after 2 warm-up steps (on a shared machine the
fastest is the better estimate of the cost, the median says what the load did); sampling
times one fixed chunk of 64 images (raygan samples in such chunks) over 10 DDIM steps, twice,
the faster counted. The load average at the start is noted.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from common import save

from raygan.config import GANConfig
from raygan.gans import build_gan
from raygan.gans.train import step_generator
from raygan.images import to_float

BATCH = 32  # the laptop profile's ddpm batch
RES = 32
DDIM_STEPS = 10


def measure(width: int, amp: bool) -> dict:
    real = to_float(torch.from_numpy(np.random.default_rng(0).integers(
        0, 256, (BATCH, 3, RES, RES), dtype=np.uint8)))
    gan = build_gan("ddpm", GANConfig(width=width, batch_size=BATCH, amp=amp, beta1=0.9,
                                      sample_steps=DDIM_STEPS), RES, 0)
    times = []
    for s in range(8):
        t = time.perf_counter()
        gan.step(real, step_generator(0, 0, s))
        times.append(time.perf_counter() - t)
    sampling = []
    for _ in range(2):
        t = time.perf_counter()
        gan.generate(64, 0)
        sampling.append((time.perf_counter() - t) / (64 * DDIM_STEPS))
    return {"params_m": round(sum(p.numel() for p in gan.nets["unet"].parameters()) / 1e6, 3),
            "step_ms": round(min(times[2:]) * 1000, 1),
            "median_step_ms": round(float(np.median(times[2:])) * 1000, 1),
            "sample_ms_per_image_step": round(min(sampling) * 1000, 2)}


def main(widths: list[int]) -> None:
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    figures = {}
    for width in widths:
        for amp in (True, False):
            row = measure(width, amp)
            print(width, "bf16" if amp else "fp32", row, flush=True)
            figures[f"width {width} ({row['params_m']} M parameters), "
                    f"{'bf16' if amp else 'fp32'}"] = (
                f"{row['step_ms']} ms per training step of {BATCH} images (median "
                f"{row['median_step_ms']}); "
                f"{row['sample_ms_per_image_step']} ms per image per DDIM step")
    save("ddpm_step", "python benchmarks/ddpm_step.py " + " ".join(map(str, widths)), figures,
         f"1 thread, {RES} px; load average {load:.1f} when it started on the 2-core machine, "
         "shared with other users' benchmarks and tests (run under nice 19): the fastest step "
         "is an upper bound of the cost; sampling is fp32 whatever `amp` says")


if __name__ == "__main__":
    main([int(w) for w in sys.argv[1:]] or [16, 24, 32])
