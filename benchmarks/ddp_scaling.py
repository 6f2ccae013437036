"""DDP on CPU: one GAN training as a Ray Train TorchTrainer with 1 worker (2 threads) and with
2 workers (1 thread each), the same global batch, on a local Ray.

    python benchmarks/ddp_scaling.py [--gan dcgan] [--steps 30] [--resolution 64]

Each setting is fit twice, with S and 2S steps: the difference gives the time per step without
the trainer's start-up, and the S-step fit's remainder is the start-up itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
from ray.train.torch import TorchTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

from raygan.config import GANConfig  # noqa: E402
from raygan.orchestrate.gan_stage import train_worker  # noqa: E402


def fit_seconds(gan: str, resolution: int, steps: int, workers: int, width: int, batch: int,
                images_ref, storage: str) -> float:
    cfg = GANConfig(width=width, batch_size=batch, steps=steps, num_workers=workers,
                    cpus_per_worker=2 // workers, checkpoint_every=steps, log_every=steps)
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"gan": gan, "gan_cfg": dataclasses.asdict(cfg), "seed": 0,
                           "resolution": resolution, "images": [images_ref],
                           "context": [images_ref], "threads": 2 // workers},
        scaling_config=ray.train.ScalingConfig(num_workers=workers,
                                               resources_per_worker={"CPU": 2 // workers}),
        run_config=ray.train.RunConfig(name=f"ddp-{workers}-{steps}", storage_path=storage),
    )
    t0 = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gan", default="dcgan")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    ray.init(num_cpus=2, include_dashboard=False)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (512, 3, args.resolution, args.resolution), np.uint8)
    ref = ray.put(images)
    figures = {}
    with tempfile.TemporaryDirectory() as storage:
        for workers in (1, 2):
            short = fit_seconds(args.gan, args.resolution, args.steps, workers, args.width,
                                args.batch, ref, storage)
            long = fit_seconds(args.gan, args.resolution, 2 * args.steps, workers, args.width,
                               args.batch, ref, storage)
            per_step = (long - short) / args.steps
            figures[f"{workers}_worker"] = {
                "fit_s_steps_S": round(short, 1), "fit_s_steps_2S": round(long, 1),
                "s_per_step": round(per_step, 3),
                "img_per_s": round(args.batch / per_step, 1) if per_step > 0 else None,
                "startup_s": round(short - per_step * args.steps, 1)}
    one, two = figures["1_worker"]["s_per_step"], figures["2_worker"]["s_per_step"]
    figures["speedup_2_vs_1"] = round(one / two, 2) if two > 0 else None
    save("ddp_scaling", "python benchmarks/ddp_scaling.py " + " ".join(sys.argv[1:]), figures,
         notes=f"{args.gan}, {args.resolution} px, width {args.width}, global batch "
               f"{args.batch}, S = {args.steps} steps; gloo backend on CPU.")
    print(figures)


if __name__ == "__main__":
    main()
