"""One GAN training at the `laptop` profile's settings, as a whole process: the command that
paired whole-process timings (min / median / max over several runs, A against B) compare with a
speed switch on and off. Import, set-up and any compile time are inside the measured process.

    python benchmarks/gan_switches.py --family dcgan --steps 300 [--channels-last] [--compile]
        [--threads 1] [--probe-fakes 256] [--no-probe] [--budget 200]

The images are random uint8 pixels of the profile's resolution: a step's cost does not depend on
pixel values, and no dataset is read. The quality probe runs every `eval_every` steps as in the
profile (its cost is part of a training's wall) unless --no-probe.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from raygan.gans import build_gan, fit_gan
from raygan.profiles import profile_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--family", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--budget", type=int, default=200, help="real images the GAN trains on")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--probe-fakes", type=int, default=0, help="0 = the probe's default")
    p.add_argument("--no-probe", action="store_true")
    p.add_argument("--profile", default="laptop")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sweep = profile_config(args.profile)
    cfg = dataclasses.replace(sweep.gan_config(args.family, args.budget), steps=args.steps,
                              stop_patience=0, checkpoint_every=10**9,
                              channels_last=args.channels_last, compile=args.compile)
    res = sweep.resolution
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (args.budget, 3, res, res), np.uint8)
    context = rng.integers(0, 256, (max(2 * args.budget, 512), 3, res, res), np.uint8)
    gan = build_gan(args.family, cfg, res, seed=0)
    gan.set_context(context)
    probe = None
    if not args.no_probe and cfg.eval_every:
        from raygan.eval.quality import NUM_PROBE_FAKES, QualityProbe

        probe = QualityProbe(real, context, seed=0,
                             num_fakes=args.probe_fakes or NUM_PROBE_FAKES)
    t0 = time.perf_counter()
    history = fit_gan(gan, real, seed=0, probe=probe)
    loop = time.perf_counter() - t0
    print(f"{args.family}: {args.steps} steps in {loop:.1f} s ({loop / args.steps * 1e3:.0f} ms a "
          f"step, loop only); last losses {history[-1]}", flush=True)


if __name__ == "__main__":
    main()
