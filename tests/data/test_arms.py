"""Each arm's training set: sizes, labels, which real images it holds, and determinism."""

import numpy as np
import pytest

from raygan.cell import ALL, Cell
from raygan.data import budget_subset, carve_validation, classic_augment, training_set
from raygan.errors import RayganError

N_B, N_M, RES = 60, 50, 16


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (N_B + N_M, 3, RES, RES), dtype=np.uint8)
    y = np.array([0] * N_B + [1] * N_M)
    return x, carve_validation(y, 0.2, 0, "study")


def _rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


def _cell(arm: str, budget: int, seed: int) -> Cell:
    """The grid's cell of `arm` at `budget` (all-real's budget is 'all')."""
    return Cell(arm, ALL if arm == "all-real" else budget, seed)


@pytest.mark.parametrize("arm", ["real", "oversample", "classic", "gan:dcgan", "all-real"])
def test_sizes_and_labels(setup, arm):
    x_train, pools = setup
    budget, target = 10, pools.num_malignant
    fake = np.full((target, 3, RES, RES), 7, np.uint8)
    x, y = training_set(_cell(arm, budget, 0), x_train, pools, target, fake)
    n_mal = {"real": budget, "all-real": pools.num_malignant}.get(arm, target)
    assert len(x) == len(y) == len(pools.benign) + n_mal
    assert (y == 1).sum() == n_mal and x.dtype == np.uint8 and x.shape[1:] == (3, RES, RES)
    assert _rows(x[y == 0]) == _rows(x_train[pools.benign])
    assert not _rows(x) & _rows(x_train[pools.val])  # validation images never train
    real = x_train[budget_subset(pools, budget, 0)]
    if arm != "all-real":
        assert _rows(real) <= _rows(x[y == 1])
    if arm == "oversample":
        assert _rows(x[y == 1]) == _rows(real)  # duplicates only
    if arm == "gan:dcgan":
        assert (x[y == 1][budget:] == 7).all()
    if arm == "classic":
        assert len(_rows(x[y == 1]) - _rows(real)) > 0.9 * (target - budget)


def test_gan_arm_needs_enough_generated_images(setup):
    x_train, pools = setup
    with pytest.raises(RayganError, match="needs 30 generated images, got 5"):
        training_set(Cell("gan:dcgan", 10, 0), x_train, pools, 40,
                     np.zeros((5, 3, RES, RES), np.uint8))


def test_classic_augment_is_seeded_and_changes_images(setup):
    x_train, _ = setup
    a = classic_augment(x_train[:8], np.random.default_rng(1))
    b = classic_augment(x_train[:8], np.random.default_rng(1))
    c = classic_augment(x_train[:8], np.random.default_rng(2))
    assert a.shape == x_train[:8].shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, x_train[:8])


def test_classic_augment_keeps_content():
    # A flat colour stays that colour up to jitter: no black borders from rotation.
    img = np.full((4, 3, 32, 32), 120, np.uint8)
    out = classic_augment(img, np.random.default_rng(0)).astype(float)
    assert out.min() > 60 and out.max() < 200


@pytest.mark.parametrize("arm", ["real", "oversample", "classic", "all-real"])
def test_budget_validation_trains_on_the_n_less_its_validation_part(setup, arm):
    from raygan.data.splits import cell_split

    x_train, study = setup
    y = np.array([0] * N_B + [1] * N_M)
    pools = carve_validation(y, 0.2, 0, "budget")
    budget = pools.num_malignant if arm == "all-real" else 20
    cell = cell_split(pools, budget, 1)
    x, y_arm = training_set(_cell(arm, 20, 1), x_train, pools, pools.num_malignant)
    real = _rows(x[y_arm == 1]) & _rows(x_train[y == 1])
    assert real == _rows(x_train[cell.malignant])  # no validation image trains
    assert not real & _rows(x_train[cell.val])
    assert (y_arm == 0).sum() == len(cell.benign)


def test_all_real_under_budget_validation_trains_on_its_budget_less_the_validating_part():
    from raygan.data.arms import all_real_note, real_training_images

    # skin-cancer-mvb's train split: 1440 benign, 1197 malignant
    y = np.array([0] * 1440 + [1] * 1197)
    x_train = np.zeros((len(y), 3, 1, 1), np.uint8)
    budget = carve_validation(y, 0.15, 0, "budget")
    cell = Cell("all-real", ALL, 0)
    real = real_training_images(cell, budget)
    assert budget.num_malignant == 1197 and len(real) == 956  # 241 validate
    _, y_arm = training_set(cell, x_train, budget, budget.num_malignant)
    assert (y_arm == 1).sum() == 956
    _, y_fill = training_set(Cell("oversample", 500, 0), x_train, budget, 1197)
    assert (y_fill == 1).sum() == 1197  # a filled arm: the fill target
    note = all_real_note(budget, (0, 1, 2), budget.fill_target(0))
    assert note.startswith("`all-real` trains on 956 real malignant images: its budget is every "
                           "real malignant training image (1197), and under `budget` validation "
                           "241 of them validate instead")
    assert note.endswith("trains on 1197 malignant images (the fill target), 241 more than "
                         "all-real.")
    study = carve_validation(y, 0.15, 0, "study")
    assert len(real_training_images(cell, study)) == study.num_malignant == 1017
    assert all_real_note(study, (0,), 1017) == (
        "`all-real` trains on all 1017 real malignant training images (the study's validation "
        "split holds the others); each filled arm (oversample, classic, GAN fills) trains on "
        "1017 malignant images (the fill target).")


def test_combined_arm_augments_the_gan_fill_it_shares_with_the_gan_arm(setup):
    """classic+gan:dcgan: the same benign and real images as gan:dcgan, and as many fill
    images, each a classic augmentation of the GAN's own fill (the one GAN's images, reused)."""
    x_train, pools = setup
    budget, target = 10, pools.num_malignant
    fake = np.random.default_rng(5).integers(0, 256, (target, 3, RES, RES), dtype=np.uint8)
    gan, combined = Cell("gan:dcgan", budget, 0), Cell("classic+gan:dcgan", budget, 0)
    assert combined.gan_key == gan.gan_key and combined.gan_run_name == gan.gan_run_name
    x_g, y_g = training_set(gan, x_train, pools, target, fake)
    x_c, y_c = training_set(combined, x_train, pools, target, fake)
    n_fill = combined.fill_count(budget, target)
    assert n_fill == gan.fill_count(budget, target) == target - budget
    assert len(x_c) == len(x_g) and (y_c == y_g).all() and (y_c == 1).sum() == target
    head = len(x_c) - n_fill  # benign + real, as the GAN arm has them
    assert (x_c[:head] == x_g[:head]).all()
    fill = x_c[head:]
    assert not _rows(fill) & _rows(fake)  # every fill image changed ...
    # ... from its own GAN image: augmenting the GAN arm's fill with the arm's RNG gives it
    rng = np.random.default_rng([0, 0xF111])
    assert (fill == classic_augment(fake[:n_fill], rng)).all()


def test_combined_arm_without_its_gan_images_is_refused(setup):
    x_train, pools = setup
    with pytest.raises(RayganError, match="classic\\+gan:dcgan needs 30 generated images"):
        training_set(Cell("classic+gan:dcgan", 10, 0), x_train, pools, 40, None)


@pytest.mark.parametrize("probe", ["probe:occlude-25", "probe:occlude-50", "probe:border",
                                   "probe:colour"])
def test_a_probe_trains_on_the_oversample_arms_set(setup, probe):
    x_train, pools = setup
    for seed in (0, 1):
        x_o, y_o = training_set(Cell("oversample", 10, seed), x_train, pools, pools.num_malignant)
        x_p, y_p = training_set(Cell(probe, 10, seed), x_train, pools, pools.num_malignant)
        assert (x_p == x_o).all() and (y_p == y_o).all()
