"""Training throughput (images/s) of every registered GAN family, in a plain loop without Ray.

    python benchmarks/gan_throughput.py [--resolutions 32,64] [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

from raygan.config import GANConfig  # noqa: E402
from raygan.gans import REGISTRY, build_gan, fit_gan  # noqa: E402


def throughput(name: str, resolution: int, steps: int, width: int, batch: int,
               **settings) -> float:
    """Images per second of `fit_gan` after 3 warm-up steps (`settings`: other GANConfig
    fields, e.g. amp, diffaugment)."""
    real = np.random.default_rng(0).integers(0, 256, (256, 3, resolution, resolution), np.uint8)
    context = np.random.default_rng(1).integers(0, 256, (256, 3, resolution, resolution),
                                                np.uint8)
    cfg = GANConfig(width=width, batch_size=batch, steps=3, checkpoint_every=10**9,
                    log_every=10**9, **settings)
    gan = build_gan(name, cfg, resolution, seed=0)
    gan.set_context(context)
    fit_gan(gan, real, seed=0)
    gan.cfg = GANConfig(**{**cfg.__dict__, "steps": 3 + steps})
    t0 = time.perf_counter()
    fit_gan(gan, real, seed=0, start_step=3)
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--resolutions", default="32,64")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    figures = {}
    for name in sorted(REGISTRY):
        for res in (int(r) for r in args.resolutions.split(",")):
            ips = throughput(name, res, args.steps, args.width, args.batch)
            figures[f"{name}@{res}px"] = round(ips, 1)
            print(f"{name:10s} {res:4d} px  {ips:8.1f} images/s", flush=True)
    save("gan_throughput", "python benchmarks/gan_throughput.py " + " ".join(sys.argv[1:]),
         {"threads": args.threads, "width": args.width, "batch": args.batch,
          "images_per_s": figures})


if __name__ == "__main__":
    main()
