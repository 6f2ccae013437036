"""Data: the Kaggle layout on disk, the decoded-array cache, splits and budgets, the grid's arms."""

from raygan.data.arms import fill_count, training_set
from raygan.data.augment import classic_augment
from raygan.data.dataset import (
    CLASSES,
    DEFAULT_ROOT,
    KAGGLE_ID,
    Dataset,
    Split,
    load_dataset,
    resolve_root,
)
from raygan.data.splits import Pools, budget_subset, carve_validation, check_budgets

__all__ = [
    "CLASSES", "DEFAULT_ROOT", "KAGGLE_ID", "Dataset", "Pools", "Split", "budget_subset",
    "carve_validation", "check_budgets", "classic_augment", "fill_count", "load_dataset",
    "resolve_root", "training_set",
]
