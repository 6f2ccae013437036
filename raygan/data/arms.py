"""The grid's arms: how each builds its training set from the benign images and N real malignant.

`real` keeps the N real images (imbalanced); `oversample`, `classic` and `gan:*` fill the
malignant class up to the fill target; `all-real` uses every real malignant training image.
"""

from __future__ import annotations

import numpy as np

from raygan.config import GAN_ARM_PREFIX
from raygan.data.augment import classic_augment
from raygan.data.splits import Pools, cell_split
from raygan.errors import RayganError

FILLING_ARMS = ("oversample", "classic")  # plus every gan:<name>
FILL_STREAM = 0xF111  # second word of the fill RNG seed, apart from the budget draw


def fill_count(arm: str, budget: int, fill_target: int) -> int:
    """Synthetic or duplicated malignant images that `arm` adds to its N real ones."""
    if arm in FILLING_ARMS or arm.startswith(GAN_ARM_PREFIX):
        return max(0, fill_target - budget)
    return 0


def training_set(arm: str, x_train: np.ndarray, pools: Pools, budget: int, seed: int,
                 fill_target: int, fake: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) that the classifier of `arm` trains on: benign (label 0), then malignant (label 1).

    `budget` counts real malignant images (ignored by `all-real`, whose budget is every real
    malignant training image); in `budget` validation mode a part of them validates instead
    (`cell_split`). `fake` holds the GAN's generated images for a `gan:*` arm, at least
    `fill_count` of them."""
    if arm == "all-real":
        budget = pools.num_malignant
    cell = cell_split(pools, budget, seed)
    benign = x_train[cell.benign]
    if arm == "all-real" and pools.validation == "study":
        real = x_train[pools.malignant]
    else:
        real = x_train[cell.malignant]
    n_fill = fill_count(arm, len(real), fill_target)
    rng = np.random.default_rng([seed, FILL_STREAM])
    if arm in ("real", "all-real") or n_fill == 0:
        extra = real[:0]
    elif arm == "oversample":
        extra = real[rng.integers(0, len(real), n_fill)]
    elif arm == "classic":
        extra = classic_augment(real[rng.integers(0, len(real), n_fill)], rng)
    elif arm.startswith(GAN_ARM_PREFIX):
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
