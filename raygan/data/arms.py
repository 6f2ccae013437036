"""The grid's arms: how each builds its training set from the benign images and N real malignant.

`real` keeps the N real images (imbalanced); `oversample`, `classic` and `gan:*` fill the
malignant class up to the fill target; `all-real` takes every real malignant training image as
its budget. In `study` validation it trains on all of them. In `budget` validation (the default)
a part of any budget validates, its own included: on skin-cancer-mvb all-real trains on 956 of
the 1197 and 241 validate, while the fill target (by default every real malignant training
image, 1197) gives each filled arm 1197 malignant training images, 241 more than all-real.

`classic` fills with classic-augmented draws of the N real images (oversampling with
augmentation; `classic+oversample` would be the same arm). `classic+gan:<family>` fills with
the GAN's own fill images, the very ones its `gan:<family>` arm adds (one training of that GAN
serves both), each classic-augmented. A shortcut probe (`probe:<name>`) trains on exactly the
`oversample` arm's set of its cell; its view of the images is applied wherever its classifier
meets them (raygan/data/probes.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from raygan.cell import ALL, ALL_REAL, CLASSIC_PREFIX, Cell
from raygan.data.augment import classic_augment
from raygan.data.splits import Pools, cell_split
from raygan.errors import RayganError

FILL_STREAM = 0xF111  # second word of the fill RNG seed, apart from the budget draw


def training_set(cell: Cell, x_train: np.ndarray, pools: Pools, fill_target: int,
                 fake: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) that the classifier of `cell` trains on: benign (label 0), then malignant (label 1).

    The cell's budget counts real malignant images (ignored by `all-real`, whose budget is every
    real malignant training image); in `budget` validation mode a part of them validates instead
    (`cell_split`), all-real's too. `fake` holds the GAN's generated images for a `gan:*` or
    `classic+gan:*` arm, at least `Cell.fill_count` of them."""
    arm, seed = cell.arm, cell.seed
    split = cell_split(pools, _budget(cell, pools), seed)
    benign = x_train[split.benign]
    real = x_train[real_training_images(cell, pools)]
    n_fill = cell.fill_count(len(real), fill_target)
    rng = np.random.default_rng([seed, FILL_STREAM])
    if arm in ("real", ALL_REAL) or n_fill == 0:
        extra = real[:0]
    elif arm == "oversample" or cell.is_probe:
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
        if arm.startswith(CLASSIC_PREFIX):
            extra = classic_augment(extra, rng)
    else:
        raise RayganError(f"unknown arm {arm!r}")
    x = np.concatenate([benign, real, extra])
    y = np.concatenate([np.zeros(len(benign), np.int64), np.ones(len(real) + len(extra), np.int64)])
    return x, y


def _budget(cell: Cell, pools: Pools) -> int:
    """The cell's budget as a count: `all-real`'s is every real malignant training image."""
    return cell.budget_count(pools.num_malignant)


def real_training_images(cell: Cell, pools: Pools) -> np.ndarray:
    """Train-split indices of the real malignant images that the classifier of `cell` trains on:
    its budget, less the part that validates in `budget` mode (`all-real` included)."""
    if cell.arm == ALL_REAL and pools.validation == "study":
        return pools.malignant
    return cell_split(pools, _budget(cell, pools), cell.seed).malignant


def all_real_note(pools: Pools, seeds: Sequence[int], fill_target: int) -> str:
    """The report's sentence on how many real malignant images `all-real` trains on, against
    the malignant count of a filled arm (the fill target)."""
    counts = sorted({len(real_training_images(Cell(ALL_REAL, ALL, s), pools)) for s in seeds})
    total = pools.num_malignant
    if pools.validation == "study":
        text = (f"`all-real` trains on all {total} real malignant training images (the study's "
                "validation split holds the others)")
    elif len(counts) == 1:
        text = (f"`all-real` trains on {counts[0]} real malignant images: its budget is every "
                f"real malignant training image ({total}), and under `budget` validation "
                f"{total - counts[0]} of them validate instead, as a part of every budget does")
    else:
        text = (f"`all-real` trains on {counts[0]} to {counts[-1]} real malignant images, by "
                f"seed: its budget is every real malignant training image ({total}), and under "
                "`budget` validation the rest of them validate instead, as a part of every "
                "budget does")
    text += (f"; each filled arm (oversample, classic, GAN fills) trains on {fill_target} "
             "malignant images (the fill target)")
    if len(counts) == 1 and counts[0] != fill_target:
        more = fill_target - counts[0]
        text += f", {abs(more)} {'more' if more > 0 else 'fewer'} than all-real"
    return text + "."
