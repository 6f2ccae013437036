"""One classifier trial of the `laptop` profile's size as a whole process (2421 training and
421 validation images at 32 px, the profile's batch and learning rate, a fixed number of
epochs): the command that paired whole-process timings compare with a speed switch on and off.

    python benchmarks/classifier_switches.py [--classifier cnn] [--epochs 5] [--threads 1]
        [--compile] [--channels-last]

Random uint8 pixels and labels: an epoch's cost does not depend on them, and no dataset is read.
--compile compiles the model in place (torch.compile, inductor) before the fit; its compile time
is part of the process.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

import raygan.classifiers.train as train
from raygan.profiles import profile_config

TRAIN_IMAGES, VAL_IMAGES = 2421, 421  # a laptop trial at N=200 (benchmarks/classifier_fit.py)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--classifier", default="cnn")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dataclasses.replace(profile_config("laptop").classifier, name=args.classifier,
                              epochs=args.epochs, patience=args.epochs)
    res = profile_config("laptop").resolution
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (TRAIN_IMAGES + VAL_IMAGES, 3, res, res), np.uint8)
    y = (rng.random(len(x)) < 0.5).astype(np.int64)
    build = train.build_classifier

    def switched(name: str, resolution: int) -> torch.nn.Module:
        model = build(name, resolution)
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if args.compile:
            model.compile()
        return model

    train.build_classifier = switched
    t0 = time.perf_counter()
    fit = train.fit_classifier(cfg, x[:TRAIN_IMAGES], y[:TRAIN_IMAGES], x[TRAIN_IMAGES:],
                               y[TRAIN_IMAGES:], seed=0)
    print(f"{args.classifier}: {len(fit.history)} epochs in {time.perf_counter() - t0:.1f} s",
          flush=True)


if __name__ == "__main__":
    main()
