"""Data: every dataset source (Kaggle layout, class folders, dataset cards), the decoded-array
cache, splits and budgets, the grid's arms."""

from raygan.data.arms import training_set
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
from raygan.data.sources import external_set, load_card, load_source
from raygan.data.splits import (
    CellSplit,
    Pools,
    budget_subset,
    carve_test,
    carve_validation,
    cell_split,
    check_budgets,
)

__all__ = [
    "CLASSES", "DEFAULT_ROOT", "KAGGLE_ID", "CellSplit", "Dataset", "Pools", "Split",
    "budget_subset", "carve_test", "carve_validation", "cell_split", "check_budgets",
    "classic_augment", "external_set", "load_card", "load_dataset", "load_source",
    "resolve_root", "training_set",
]
