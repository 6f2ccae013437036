"""The grid's arms: how each builds its training set from the benign images and N real malignant.

`real` keeps the N real images (imbalanced); `oversample`, `classic` and `gan:*` fill the
malignant class up to the fill target; `all-real` uses every real malignant training image.
"""

from __future__ import annotations

import numpy as np

from raygan.cell import ALL_REAL, Cell
from raygan.data.augment import classic_augment
from raygan.data.splits import Pools, cell_split
from raygan.errors import RayganError

FILL_STREAM = 0xF111  # second word of the fill RNG seed, apart from the budget draw


def training_set(cell: Cell, x_train: np.ndarray, pools: Pools, fill_target: int,
                 fake: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) that the classifier of `cell` trains on: benign (label 0), then malignant (label 1).

    The cell's budget counts real malignant images (ignored by `all-real`, whose budget is every
    real malignant training image); in `budget` validation mode a part of them validates instead
    (`cell_split`). `fake` holds the GAN's generated images for a `gan:*` arm, at least
    `Cell.fill_count` of them."""
    arm, seed = cell.arm, cell.seed
    budget = pools.num_malignant if arm == ALL_REAL else cell.budget
    split = cell_split(pools, budget, seed)
    benign = x_train[split.benign]
    if arm == ALL_REAL and pools.validation == "study":
        real = x_train[pools.malignant]
    else:
        real = x_train[split.malignant]
    n_fill = cell.fill_count(len(real), fill_target)
    rng = np.random.default_rng([seed, FILL_STREAM])
    if arm in ("real", ALL_REAL) or n_fill == 0:
        extra = real[:0]
    elif arm == "oversample":
        extra = real[rng.integers(0, len(real), n_fill)]
    elif arm == "classic":
        extra = classic_augment(real[rng.integers(0, len(real), n_fill)], rng)
    elif cell.is_gan:
        if fake is None or len(fake) < n_fill:
            have = 0 if fake is None else len(fake)
            raise RayganError(f"arm {arm} needs {n_fill} generated images, got {have}")
        if fake.shape[1:] != real.shape[1:] or fake.dtype != np.uint8:
            raise RayganError(f"arm {arm}: generated images are {fake.dtype} {fake.shape[1:]}, "
                              f"expected uint8 {real.shape[1:]}")
        extra = fake[:n_fill]
    else:
        raise RayganError(f"unknown arm {arm!r}")
    x = np.concatenate([benign, real, extra])
    y = np.concatenate([np.zeros(len(benign), np.int64), np.ones(len(real) + len(extra), np.int64)])
    return x, y
