"""What precision, recall, density, coverage and the memorization check read for "fills" whose
answer is known: real images put where a generator's fill would be, at N = 50, 200 and 500
(seed 0, 32 px, `budget` validation) on the real data, in the fidelity section's features (its
extractor: the study's CNN trained 10 epochs on the study split, seed 0).

    RAYGAN_DATA=... python benchmarks/memorization_yardsticks.py
    # writes benchmarks/results/memorization_yardsticks.json (docs/statistics.md quotes it)

The real side is one half of the cell's held-out real malignant images (those outside its
budget), the "fill" is: the other half (a generator as good as fresh data), the cell's N
training images repeated to the fill's size (a copying generator), the same with pixel noise
(SD 3/255), one training image repeated (a collapsed generator), and real benign images (the
wrong class).
"""

from __future__ import annotations

import os
import time

import numpy as np
from common import save

from raygan.config import SweepConfig
from raygan.data import carve_validation, cell_split, load_dataset
from raygan.eval.fidelity import PRDC_IMAGES, prdc
from raygan.eval.memorization import measure
from raygan.fidelity_stage import held_out, train_feature_extractor

BUDGETS = (50, 200, 500)


def main() -> None:
    t0 = time.time()
    cfg = SweepConfig()
    ds = load_dataset(os.environ["RAYGAN_DATA"], 32)
    x, y = ds.train.x, ds.train.y
    pools = carve_validation(y, cfg.val_fraction, cfg.split_seed, cfg.validation,
                             ds.train.groups)
    study = carve_validation(y, cfg.val_fraction, cfg.split_seed, "study", ds.train.groups)
    train_idx = np.concatenate([study.benign, study.malignant])
    extractor = train_feature_extractor(x[train_idx], y[train_idx], x[study.val],
                                        y[study.val], seed=0, epochs=10)
    figures: dict = {"extractor_s": round(time.time() - t0, 1)}
    for budget in BUDGETS:
        split = cell_split(pools, budget, 0)
        train, held = x[split.malignant], x[held_out(pools, split)]
        rng = np.random.default_rng(1)
        perm = rng.permutation(len(held))
        n = min(PRDC_IMAGES, len(held) // 2)
        real_side = extractor.features(held[perm[:n]])
        repeated = train[np.arange(n) % len(train)]
        noisy = np.clip(repeated + rng.normal(0, 3, repeated.shape), 0, 255).astype(np.uint8)
        fills = {"fresh held-out malignant": held[perm[n:2 * n]],
                 "training images repeated": repeated,
                 "training images repeated, noise 3/255": noisy,
                 "one training image": np.repeat(train[:1], n, axis=0),
                 "real benign": x[pools.benign[:n]]}
        cell = {"training": len(train), "held_out": len(held), "per_side": n}
        for name, fill in fills.items():
            scores = prdc(real_side, extractor.features(fill))
            memo = measure(fill, train, held).summary()
            cell[name] = {k: round(v, 4) for k, v in {**scores, **memo}.items()}
            print(f"N={budget} {name}: {cell[name]}", flush=True)
        figures[f"N={budget}"] = cell
    figures["total_s"] = round(time.time() - t0, 1)
    print(save("memorization_yardsticks", "RAYGAN_DATA=... python "
               "benchmarks/memorization_yardsticks.py", figures,
               "seed 0, 32 px; one half of the held-out images is the real side"))


if __name__ == "__main__":
    main()
