"""The validation split carved from train, the nested budget subsets of real malignant images, and
the test split carved from a dataset that ships none.

Indices always point into the train split: the test split is never touched here.

Two validation designs (`SweepConfig.validation`):
- `budget` (the default): the budget's N real malignant images are all the real malignant images a
  cell sees. Every `VAL_EVERY`-th of them in the seed's draw order (and the first `VAL_FIRST`)
  validate, the rest train the GAN and the classifier; benign validation images are carved once,
  as before. A malignant image beyond the N influences nothing: no GAN, no early stopping, no
  tuning, no CAS model selection. Both parts nest: the 50's validation images are among the
  200's, and so are its training images.
- `study`: the published study's split, a fixed `val_fraction` of each class carved before any
  budget, so every cell early-stops on the same validation images, malignant ones included (180
  of them on skin-cancer-mvb, 3.6 times an N of 50).

With group ids (patient or lesion), every split is by whole groups: no group lies on both sides of
train/validation/test, and in `budget` mode a group whose malignant images validate leaves the
benign training images of that cell too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygan.config import VALIDATIONS
from raygan.errors import RayganError

BUDGET_STREAM = 0xB0D6E7  # second word of the budget RNG seed, apart from every model's RNG
TEST_STREAM = 0x7E57  # second word of the RNG seed that carves a test split
VAL_EVERY = 5  # `budget` mode: every 5th image (or group) of the N's draw order validates: 20 %
VAL_FIRST = 2  # ... and the first two always, so that a small budget has a few


@dataclass(frozen=True)
class Pools:
    """Train-split indices: benign and malignant images for training, and the validation set."""

    benign: np.ndarray  # every benign training image (not in val)
    malignant: np.ndarray  # every real malignant training image (not in val): budgets draw here
    val: np.ndarray  # validation images carved before budgets (`budget` mode: benign only)
    validation: str = "study"  # "budget" or "study", see the module docstring
    groups: np.ndarray | None = None  # group id of every train image; None = each image alone

    @property
    def num_malignant(self) -> int:
        return len(self.malignant)

    def fill_target(self, requested: int) -> int:
        """The malignant count that filling arms fill up to: `requested` (a sweep's
        `fill_target`), where 0 means every real malignant training image."""
        return requested or self.num_malignant


@dataclass(frozen=True)
class CellSplit:
    """What one (budget, seed) cell may use, as train-split indices."""

    benign: np.ndarray  # benign training images
    malignant: np.ndarray  # real malignant training images: the GAN's and the classifier's
    val: np.ndarray  # validation images (both classes): early stopping, tuning, CAS selection


def _group_mask(y: np.ndarray, groups: np.ndarray, fraction: float, rng: np.random.Generator,
                eligible: np.ndarray | None = None) -> np.ndarray:
    """(n,) bool: whole groups drawn until about `fraction` of the images of each stratum (groups
    with a malignant image, groups without) are in; `eligible` (per image) limits the draw."""
    uniq, inv = np.unique(groups, return_inverse=True)
    size = np.bincount(inv, minlength=len(uniq))
    positive = np.bincount(inv, weights=(y == 1), minlength=len(uniq)) > 0
    ok = np.ones(len(uniq), bool) if eligible is None else (
        np.bincount(inv, weights=~eligible, minlength=len(uniq)) == 0)
    chosen = np.zeros(len(uniq), bool)
    for stratum in (False, True):
        pool = rng.permutation(np.flatnonzero((positive == stratum) & ok))
        if not len(pool):
            continue
        target = fraction * size[pool].sum()
        cum = np.cumsum(size[pool])
        k = int(np.argmin(np.abs(np.concatenate([[0], cum]) - target)))
        chosen[pool[:min(k, len(pool) - 1)]] = True  # keep at least one group out
    return chosen[inv]


def carve_validation(y: np.ndarray, val_fraction: float, split_seed: int,
                     validation: str = "budget", groups: np.ndarray | None = None) -> Pools:
    """Split the train labels `y`: `val_fraction` of each class (`budget` mode: of the benign
    class only) goes to val, stratified, by whole groups when `groups` is given."""
    if validation not in VALIDATIONS:
        raise RayganError(f"unknown validation {validation!r}; use one of: "
                          f"{', '.join(VALIDATIONS)}")
    y = np.asarray(y)
    rng = np.random.default_rng(split_seed)
    classes = (0,) if validation == "budget" else (0, 1)
    if groups is None:
        train, val = {}, []
        for label in (0, 1):
            idx = np.flatnonzero(y == label)
            perm = rng.permutation(idx)
            n_val = int(round(val_fraction * len(idx))) if label in classes else 0
            if len(idx) - n_val < 1:
                raise RayganError(f"class {label} has {len(idx)} training images: too few to "
                                  f"carve a validation split of {val_fraction:.0%}")
            val.append(perm[:n_val])
            train[label] = np.sort(perm[n_val:])
        return Pools(train[0], train[1], np.sort(np.concatenate(val)), validation)
    groups = np.asarray(groups)
    # `budget` mode draws benign validation from groups without a malignant image, so that no
    # malignant image's group ever validates outside a cell's own budget.
    has_pos = np.isin(groups, np.unique(groups[y == 1]))
    in_val = _group_mask(y, groups, val_fraction, rng,
                         eligible=~has_pos if validation == "budget" else None)
    if not (in_val & (y == 0)).any():
        raise RayganError(f"no benign validation images: {val_fraction:.0%} of the groups "
                          f"without a malignant image is none of {len(np.unique(groups))} groups;"
                          " add images, raise --val-fraction, or use --validation study")
    for label in (0, 1):
        if not ((y == label) & ~in_val).any():
            raise RayganError(f"class {label} has {(y == label).sum()} training images: too few "
                              f"to carve a validation split of {val_fraction:.0%}")
    return Pools(np.flatnonzero((y == 0) & ~in_val), np.flatnonzero((y == 1) & ~in_val),
                 np.flatnonzero(in_val), validation, groups)


def _draw_units(pools: Pools, seed: int) -> list[np.ndarray]:
    """The malignant pool in the draw order of `seed`: one unit per image, or per group."""
    rng = np.random.default_rng([seed, BUDGET_STREAM])
    if pools.groups is None:
        return [np.array([i]) for i in rng.permutation(pools.malignant)]
    g = pools.groups[pools.malignant]
    order = rng.permutation(np.unique(g))
    return [pools.malignant[g == k] for k in order]


def _val_unit(position: int) -> bool:
    return position < VAL_FIRST or position % VAL_EVERY == 0


def budget_subset(pools: Pools, budget: int, seed: int) -> np.ndarray:
    """The `budget` real malignant images of `seed`: one permutation (of images, or of groups)
    per seed, cut at `budget`, so smaller budgets nest inside larger ones (the 50 are among the
    200). In `budget` mode these include the cell's malignant validation images."""
    if not 0 < budget <= pools.num_malignant:
        raise RayganError(f"budget {budget} must lie in 1..{pools.num_malignant}")
    if pools.groups is None:  # the study's draw, unchanged
        return np.random.default_rng([seed, BUDGET_STREAM]).permutation(pools.malignant)[:budget]
    return np.concatenate(_draw_units(pools, seed))[:budget]


def cell_split(pools: Pools, budget: int, seed: int) -> CellSplit:
    """The benign and real malignant training images and the validation images of one cell."""
    if pools.validation == "study":
        return CellSplit(pools.benign, budget_subset(pools, budget, seed), pools.val)
    if not 0 < budget <= pools.num_malignant:
        raise RayganError(f"budget {budget} must lie in 1..{pools.num_malignant}")
    train, val, left = [], [], budget
    for pos, unit in enumerate(_draw_units(pools, seed)):
        if left <= 0:
            break
        (val if _val_unit(pos) else train).append(unit[:left])
        left -= len(unit[:left])
    if not train or not val:
        raise RayganError(f"budget {budget} leaves no real malignant image for "
                          f"{'training' if not train else 'validation'} once its validation part "
                          f"is set aside; use budgets of at least {VAL_FIRST + 1}, or "
                          "--validation study")
    val_mal = np.sort(np.concatenate(val))
    benign = pools.benign
    if pools.groups is not None:  # a group validates with all of its images or with none
        benign = benign[~np.isin(pools.groups[benign], pools.groups[val_mal])]
    return CellSplit(benign, np.sort(np.concatenate(train)),
                     np.sort(np.concatenate([pools.val, val_mal])))


def carve_test(y: np.ndarray, test_fraction: float, seed: int,
               groups: np.ndarray | None = None) -> np.ndarray:
    """(n,) bool, True for the images of a test split carved from a dataset that ships none:
    `test_fraction` of each class, stratified, by whole groups when `groups` is given."""
    if not 0.0 < test_fraction < 1.0:
        raise RayganError(f"test fraction {test_fraction} must lie in (0, 1)")
    y = np.asarray(y)
    rng = np.random.default_rng([seed, TEST_STREAM])
    if groups is not None:
        mask = _group_mask(y, np.asarray(groups), test_fraction, rng)
    else:
        mask = np.zeros(len(y), bool)
        for label in (0, 1):
            idx = np.flatnonzero(y == label)
            mask[rng.permutation(idx)[:int(round(test_fraction * len(idx)))]] = True
    for label, name in ((0, "negative"), (1, "positive")):
        n_train, n_test = int(((y == label) & ~mask).sum()), int(((y == label) & mask).sum())
        if n_train < 1 or n_test < 1:
            if groups is not None:
                raise RayganError(_group_carve_error(y, np.asarray(groups), label, name,
                                                     test_fraction))
            raise RayganError(f"the {name} class has {n_train + n_test} images: too few to carve "
                              f"a test split of {test_fraction:.0%} (train {n_train}, test "
                              f"{n_test}); add images, or give the dataset its own test split")
    return mask


def _group_carve_error(y: np.ndarray, groups: np.ndarray, label: int, name: str,
                       test_fraction: float) -> str:
    """Why whole groups leave the `name` class on one side of a carved test split only."""
    fix = ("give the card a `split` column (train/test per image), or check that its `group` "
           "column holds one id per patient or lesion")
    every = np.unique(groups)
    if len(every) == 1:
        return (f"all {len(y)} images are in one group ({str(every[0])!r}), so a test split that "
                f"keeps each group on one side is impossible; {fix}")
    mine = np.unique(groups[y == label])
    if len(mine) == 1:
        return (f"all {int((y == label).sum())} {name} images are in one group "
                f"({str(mine[0])!r}), so a test split that keeps each group on one side cannot "
                f"hold {name} images on both sides; {fix}")
    return (f"the {int((y == label).sum())} {name} images lie in {len(mine)} groups, too few "
            f"or too uneven for a test split of {test_fraction:.0%} by whole groups to hold "
            f"{name} images on both sides; raise --test-fraction, or {fix}")


def check_budgets(pools: Pools, budgets: tuple[int, ...], fill_target: int) -> None:
    """Every budget and the fill target must be possible with the images left for training."""
    n = pools.num_malignant
    for b in budgets:
        if b <= 0:
            raise RayganError(f"budget {b} must be a positive number of real malignant images")
        if b > n:
            raise RayganError(f"budget {b} exceeds the {n} real malignant training images left "
                              f"after the validation split; use budgets of at most {n}")
        if pools.validation == "budget" and b <= VAL_FIRST:
            raise RayganError(f"budget {b} is too small to split into validation and training "
                              f"images; use budgets of at least {VAL_FIRST + 1}, or "
                              "--validation study")
    if fill_target <= 0:
        raise RayganError(f"fill target {fill_target} must be positive")
    if budgets and fill_target < max(budgets):
        raise RayganError(f"fill target {fill_target} is below budget {max(budgets)}; raise "
                          f"--fill-target or lower the budgets")
