"""Validation split and budgets: stratified, disjoint, nested, and never touching test."""

import numpy as np
import pytest

from raygan.data import budget_subset, carve_validation, check_budgets, load_dataset
from raygan.errors import RayganError


def _labels(n_benign=1440, n_malignant=1197):
    return np.array([0] * n_benign + [1] * n_malignant)


def test_validation_split_is_stratified_and_disjoint():
    y = _labels()
    pools = carve_validation(y, 0.15, split_seed=0, validation="study")
    assert (y[pools.benign] == 0).all() and (y[pools.malignant] == 1).all()
    everything = np.concatenate([pools.benign, pools.malignant, pools.val])
    assert sorted(everything.tolist()) == list(range(len(y)))  # a partition of train
    assert (y[pools.val] == 1).sum() == round(0.15 * 1197)
    assert (y[pools.val] == 0).sum() == round(0.15 * 1440)
    assert pools.num_malignant == 1197 - round(0.15 * 1197)
    same = carve_validation(y, 0.15, split_seed=0, validation="study")
    assert np.array_equal(same.val, pools.val)
    other = carve_validation(y, 0.15, split_seed=1, validation="study")
    assert not np.array_equal(other.val, pools.val)


def test_budgets_nest_within_a_seed_and_differ_across_seeds():
    pools = carve_validation(_labels(), 0.15, 0, "study")
    subsets = {b: budget_subset(pools, b, seed=3) for b in (10, 50, 200, 500)}
    for small, large in [(10, 50), (50, 200), (200, 500)]:
        assert set(subsets[small]) <= set(subsets[large])
    for b, s in subsets.items():
        assert len(s) == len(set(s)) == b and set(s) <= set(pools.malignant)
        assert not set(s) & set(pools.val)
    assert set(budget_subset(pools, 50, 4)) != set(subsets[50])
    assert np.array_equal(budget_subset(pools, 50, 3), subsets[50])


def test_check_budgets_messages():
    pools = carve_validation(_labels(100, 40), 0.15, 0, "study")
    check_budgets(pools, (10, 34), 34)
    with pytest.raises(RayganError, match="exceeds the 34"):
        check_budgets(pools, (10, 35), 34)
    with pytest.raises(RayganError, match="positive"):
        check_budgets(pools, (0,), 34)
    with pytest.raises(RayganError, match="fill target 20 is below budget 30"):
        check_budgets(pools, (30,), 20)


def test_split_never_touches_test(tiny_dataset, isolated_cache):
    ds = load_dataset(tiny_dataset, 32)
    pools = carve_validation(ds.train.y, 0.15, 0)
    used = set(pools.benign) | set(pools.malignant) | set(pools.val)
    assert max(used) < len(ds.train)  # indices of the train split only
    train_files = {ds.train.files[i] for i in used}
    assert train_files.isdisjoint(ds.test.files)
    assert all(f.startswith("train/") for f in train_files)
