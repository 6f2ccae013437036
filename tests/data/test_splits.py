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


# Property tests: loops over many seeds and budgets (hypothesis is not a dependency).
SEEDS = range(40)


def _uses(pools, budget, seed):
    """Every train index that a cell's GAN, classifier, early stopping or CAS may read."""
    from raygan.data.splits import cell_split

    cell = cell_split(pools, budget, seed)
    return cell, set(cell.benign) | set(cell.malignant) | set(cell.val)


def test_budget_validation_never_uses_a_malignant_image_beyond_the_n():
    y = _labels(300, 250)
    for split_seed in range(5):
        pools = carve_validation(y, 0.15, split_seed, "budget")
        assert (y[pools.val] == 0).all()  # only benign validation is carved before budgets
        rng = np.random.default_rng(split_seed)
        for seed in SEEDS:
            budgets = sorted({3, 10, *rng.integers(3, pools.num_malignant + 1, 3).tolist()})
            previous = None
            for budget in budgets:
                n = set(budget_subset(pools, budget, seed))
                cell, used = _uses(pools, budget, seed)
                malignant_used = {i for i in used if y[i] == 1}
                assert malignant_used == n  # the N, all of them, nothing else
                val_mal = {i for i in cell.val if y[i] == 1}
                assert val_mal and set(cell.malignant) and not val_mal & set(cell.malignant)
                assert len(val_mal) >= min(2, budget - 1)
                assert set(pools.val) <= set(cell.val)  # benign validation as before
                if previous is not None:  # both parts nest in the larger budget's
                    assert previous[0] <= set(cell.malignant) and previous[1] <= val_mal
                previous = (set(cell.malignant), val_mal)


def test_budget_validation_keeps_about_a_fifth_of_the_n():
    pools = carve_validation(_labels(300, 600), 0.15, 0, "budget")
    from raygan.data.splits import cell_split

    for budget, n_val in ((3, 2), (20, 5), (50, 11), (500, 101)):
        assert len(cell_split(pools, budget, 0).val) - len(pools.val) == n_val


def test_study_validation_is_todays_split():
    from raygan.data.splits import cell_split

    y = _labels()
    pools = carve_validation(y, 0.15, 0, "study")
    for seed in range(5):
        cell = cell_split(pools, 200, seed)
        assert np.array_equal(cell.val, pools.val) and np.array_equal(cell.benign, pools.benign)
        assert np.array_equal(cell.malignant, budget_subset(pools, 200, seed))


def _groups(y, rng, max_size=4):
    """Random group ids: runs of 1..max_size images, a few groups with both classes."""
    order = rng.permutation(len(y))
    groups = np.empty(len(y), dtype=object)
    i, g = 0, 0
    while i < len(y):
        k = int(rng.integers(1, max_size + 1))
        groups[order[i:i + k]] = f"g{g}"
        i, g = i + k, g + 1
    return groups.astype(str)


@pytest.mark.parametrize("validation", ["budget", "study"])
def test_no_group_is_split_across_train_validation_and_test(validation):
    from raygan.data.splits import carve_test, cell_split

    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        y_all = (rng.random(600) < 0.3).astype(int)
        g_all = _groups(y_all, rng)
        in_test = carve_test(y_all, 0.2, seed, g_all)
        assert set(g_all[in_test]).isdisjoint(g_all[~in_test])
        assert abs(in_test.mean() - 0.2) < 0.05
        y, g = y_all[~in_test], g_all[~in_test]
        pools = carve_validation(y, 0.15, seed, validation, g)
        for budget in (5, 40, int(rng.integers(5, pools.num_malignant))):
            try:
                cell = cell_split(pools, budget, seed)
            except Exception as exc:  # a first group larger than the budget: said, not wrong
                assert "leaves no real malignant image" in str(exc)
                continue
            train = np.concatenate([cell.benign, cell.malignant])
            assert set(g[train]).isdisjoint(g[cell.val])
            if validation == "budget":
                n = set(budget_subset(pools, budget, seed))
                assert {i for i in set(train) | set(cell.val) if y[i] == 1} == n


def test_groups_that_all_hold_a_malignant_image_leave_no_benign_validation():
    y = np.array([0, 1] * 20)
    groups = np.repeat([f"p{i}" for i in range(20)], 2)  # every patient has both classes
    with pytest.raises(RayganError, match="no benign validation images.*--validation study"):
        carve_validation(y, 0.15, 0, "budget", groups)
    study = carve_validation(y, 0.15, 0, "study", groups)
    assert set(groups[study.val]).isdisjoint(groups[np.concatenate([study.benign,
                                                                     study.malignant])])
