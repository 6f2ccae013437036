"""PGGAN's full-size training step at the `laptop` profile's settings, with the R1 penalty on
every step or on every k-th (StyleGAN2's lazy regularization): time the whole process.

    /usr/bin/time -f %e python benchmarks/pggan_r1.py --r1-every 1 --steps 200
    /usr/bin/time -f %e python benchmarks/pggan_r1.py --r1-every 16 --steps 200

Run the two in turn several times and compare medians (BENCHMARKS.md, "PGGAN: lazy R1").
"""

from __future__ import annotations

import argparse

import torch

from raygan.config import GANConfig
from raygan.gans import build_gan
from raygan.images import to_float
from raygan.profiles import FEW_SHOT_AUG, profile_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--r1-every", type=int, default=16)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    laptop = profile_config("laptop")
    cfg = laptop.gan_config("pggan")
    cfg = GANConfig(**{**cfg.__dict__, "r1_every": args.r1_every, "diffaugment": FEW_SHOT_AUG})
    gan = build_gan("pggan", cfg, laptop.resolution, seed=0)
    gan.steps_done = cfg.steps  # past the growth schedule: the full-size networks
    gen = torch.Generator().manual_seed(0)
    real = to_float(torch.randint(0, 256, (cfg.batch_size, 3, laptop.resolution,
                                           laptop.resolution), dtype=torch.uint8, generator=gen))
    for _ in range(args.steps):
        gan.step(real, gen)


if __name__ == "__main__":
    main()
