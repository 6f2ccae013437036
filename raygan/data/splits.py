"""The validation split carved from train, and the nested budget subsets of real malignant images.

Indices always point into the train split: the test split is never touched here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygan.errors import RayganError

BUDGET_STREAM = 0xB0D6E7  # second word of the budget RNG seed, apart from every model's RNG


@dataclass(frozen=True)
class Pools:
    """Train-split indices: benign and malignant images for training, and the validation set."""

    benign: np.ndarray  # every benign training image (not in val)
    malignant: np.ndarray  # every real malignant training image (not in val): budgets draw here
    val: np.ndarray  # stratified validation images: early stopping only, never training

    @property
    def num_malignant(self) -> int:
        return len(self.malignant)


def carve_validation(y: np.ndarray, val_fraction: float, split_seed: int) -> Pools:
    """Stratified split of the train labels `y`: `val_fraction` of each class goes to val."""
    rng = np.random.default_rng(split_seed)
    train, val = {}, []
    for label in (0, 1):
        idx = np.flatnonzero(np.asarray(y) == label)
        perm = rng.permutation(idx)
        n_val = int(round(val_fraction * len(idx)))
        if len(idx) - n_val < 1:
            raise RayganError(f"class {label} has {len(idx)} training images: too few to carve a "
                              f"validation split of {val_fraction:.0%}")
        val.append(perm[:n_val])
        train[label] = np.sort(perm[n_val:])
    return Pools(train[0], train[1], np.sort(np.concatenate(val)))


def budget_subset(pools: Pools, budget: int, seed: int) -> np.ndarray:
    """The `budget` real malignant images of `seed`: one permutation per seed, cut at `budget`,
    so smaller budgets nest inside larger ones (the 50 are among the 200)."""
    if not 0 < budget <= pools.num_malignant:
        raise RayganError(f"budget {budget} must lie in 1..{pools.num_malignant}")
    perm = np.random.default_rng([seed, BUDGET_STREAM]).permutation(pools.malignant)
    return perm[:budget]


def check_budgets(pools: Pools, budgets: tuple[int, ...], fill_target: int) -> None:
    """Every budget and the fill target must be possible with the images left for training."""
    n = pools.num_malignant
    for b in budgets:
        if b <= 0:
            raise RayganError(f"budget {b} must be a positive number of real malignant images")
        if b > n:
            raise RayganError(f"budget {b} exceeds the {n} real malignant training images left "
                              f"after the validation split; use budgets of at most {n}")
    if fill_target <= 0:
        raise RayganError(f"fill target {fill_target} must be positive")
    if budgets and fill_target < max(budgets):
        raise RayganError(f"fill target {fill_target} is below budget {max(budgets)}; raise "
                          f"--fill-target or lower the budgets")
