"""The order in which the GAN stage starts its trainings: longest first, so that the stage does
not end on one long training beside an idle slot."""

from raygan.cell import gan_cells
from raygan.orchestrate.gan_stage import longest_first
from raygan.profiles import profile_config


def test_laptop_trainings_start_with_the_most_steps_and_the_largest_budget():
    cfg = profile_config("overnight")
    cells = gan_cells(cfg)
    order = longest_first(cfg, cells)
    assert sorted(order, key=str) == sorted(cells, key=str)  # the same trainings, reordered
    ceilings = [cfg.gan_config(c.gan, c.budget).steps for c in order]
    assert ceilings == sorted(ceilings, reverse=True)
    # within one ceiling, larger budgets first; within a family and budget, seeds in order
    first = [c for c in order if cfg.gan_config(c.gan, c.budget).steps == ceilings[0]]
    budgets = [c.budget for c in first if c.gan == first[0].gan]
    assert budgets == sorted(budgets, reverse=True)
    assert [c.seed for c in first if c.gan == first[0].gan and c.budget == budgets[0]] == [0, 1, 2]
    assert ceilings[0] > ceilings[-1]
