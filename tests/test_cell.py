"""The grid's cell: its names, tags and params read back to the same cell, and its fill count."""

import dataclasses
import pickle

import cloudpickle
import numpy as np
import pytest

from raygan.cell import ALL, KIND_CLASSIFIER, KIND_GAN, Cell
from raygan.data import carve_validation, cell_split, training_set
from raygan.errors import RayganError
from raygan.profiles import ALL_ARMS, profile_config

BUDGETS = (1, 3, 20, 50, 500)
SEEDS = (0, 7)


def _cells() -> list[Cell]:
    return [Cell(arm, ALL if arm == "all-real" else b, s)
            for arm in ALL_ARMS for b in BUDGETS for s in SEEDS]


def _old_fill_count(arm: str, budget: int, fill_target: int) -> int:
    """The formula `raygan.data.arms.fill_count` held before the cell owned it (for every
    generated-fill arm, `diffusion:*` as `gan:*`)."""
    if arm in ("oversample", "classic") or arm.startswith(("gan:", "diffusion:")):
        return max(0, fill_target - budget)
    return 0


def test_names_are_the_published_scheme():
    cell = Cell.of_gan("dcgan", 50, 0)
    assert (cell.arm, cell.gan, cell.is_gan) == ("gan:dcgan", "dcgan", True)
    assert cell.run_name == cell.gan_key == "gan:dcgan-n50-s0"
    assert cell.gan_run_name == "train:dcgan-n50-s0"
    assert cell.tune_run_name == "tune:dcgan-n50-s0"
    assert Cell("all-real", ALL, 2).run_name == "all-real-nall-s2"
    assert Cell("oversample", 200, 1).run_name == "oversample-n200-s1"


@pytest.mark.parametrize("cell", _cells(), ids=lambda c: c.run_name)
def test_run_names_tags_and_params_read_back_to_the_cell(cell):
    assert Cell.from_run_name(cell.run_name) == cell
    for kind in (KIND_CLASSIFIER, KIND_GAN) if cell.is_gan else (KIND_CLASSIFIER,):
        tags = cell.tags(kind)
        assert all(isinstance(v, str) for v in tags.values())  # MLflow keeps strings
        assert tags["raygan.kind"] == kind
        assert Cell.from_tags(tags) == cell
    # MLflow gives params back as strings.
    assert Cell.from_params({k: str(v) for k, v in cell.params.items()}) == cell
    if cell.is_gan:
        assert Cell.from_run_name(cell.gan_run_name) == cell
        assert Cell.from_run_name(cell.tune_run_name) == cell
        assert cell.tags(KIND_GAN)["raygan.gan"] == cell.gan
        assert "raygan.gan" not in cell.tags(KIND_CLASSIFIER)
    else:
        assert cell.params["gan"] == ""
        for name in ("gan_key", "gan_run_name", "tune_run_name"):
            with pytest.raises(ValueError, match="not a generated-fill arm"):
                getattr(cell, name)
    assert pickle.loads(pickle.dumps(cell)) == cell
    assert hash(Cell(cell.arm, cell.budget, cell.seed)) == hash(cell)  # a dict key


@pytest.mark.parametrize("name", ["dcgan", "gan:dcgan-n-s0", "gan:dcgan-n5", "real-n5-sx",
                                  "real-n5-s0 ", "train:-n5-s0"])
def test_a_name_that_is_no_cell_is_one_error(name):
    with pytest.raises(RayganError, match="is not a run name of a cell"):
        Cell.from_run_name(name)


@pytest.mark.parametrize("arm", ALL_ARMS)
def test_fill_count_matches_the_old_formula(arm):
    for budget in range(0, 1300, 7):
        for target in (0, 50, 1017, 1197):
            assert Cell(arm, budget, 0).fill_count(budget, target) == \
                _old_fill_count(arm, budget, target)


@pytest.mark.parametrize("validation", ["budget", "study"])
@pytest.mark.parametrize("arm", ALL_ARMS)
def test_fill_count_is_what_the_training_set_adds(arm, validation):
    rng = np.random.default_rng(0)
    y = np.array([0] * 60 + [1] * 50)
    x = rng.integers(0, 256, (len(y), 3, 8, 8), dtype=np.uint8)
    pools = carve_validation(y, 0.2, 0, validation)
    for budget in (3, 10, 20, 40):
        for target in (pools.fill_target(0), 15):
            cell = Cell(arm, ALL if arm == "all-real" else budget, 1)
            num_real = len(cell_split(pools, budget, 1).malignant)
            n_fill = cell.fill_count(num_real, target)
            fake = np.zeros((max(n_fill, 1), 3, 8, 8), np.uint8)
            _, y_arm = training_set(cell, x, pools, target, fake if cell.is_gan else None)
            if arm != "all-real":
                assert y_arm.sum() == num_real + n_fill
            assert n_fill == _old_fill_count(arm, num_real, target)


def test_fill_target_zero_means_every_real_malignant_image():
    pools = carve_validation(np.array([0] * 60 + [1] * 50), 0.2, 0, "study")
    assert pools.fill_target(0) == pools.num_malignant == 40
    assert pools.fill_target(25) == 25


def test_sweep_config_pickles_whole():
    """Trials receive the SweepConfig itself through `tune.with_parameters`."""
    cfg = profile_config("laptop")
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(cfg))
        assert back == cfg and back.gan_config("pggan", 50) == cfg.gan_config("pggan", 50)


def test_progress_lines_name_the_cell_as_before():
    from raygan.orchestrate.progress import classifier_label, gan_label

    assert classifier_label(Cell.of_gan("dcgan", 50, 0)) == "gan:dcgan n=50 seed=0"
    assert classifier_label(Cell("all-real", ALL, 1)) == "all-real n=all seed=1"
    assert gan_label(Cell.of_gan("dcgan", 20, 0)) == "train dcgan n=20 seed=0"


def test_a_trial_that_never_started_keeps_its_cell():
    """A grid trial whose worker failed before it started has no config: its error is still
    reported under the one cell no other result claims."""
    from types import SimpleNamespace

    from raygan.orchestrate.handoff import result_cells

    cells = [Cell("real", 50, 0), Cell("real", 200, 0), Cell("oversample", 50, 0)]
    results = [SimpleNamespace(config={"cell": dataclasses.asdict(cells[2])}, error=None),
               SimpleNamespace(config=None, error="import failed"),
               SimpleNamespace(config={"cell": dataclasses.asdict(cells[0])}, error=None)]
    pairs = dict(result_cells(results, cells))
    assert set(pairs) == set(cells)
    assert pairs[Cell("real", 200, 0)].error == "import failed"


def test_progress_estimates_time_left_from_trials_that_trained(capsys):
    """Cells an earlier run of the sweep finished take seconds: they say so and do not make
    the estimate of the time left look short."""
    from types import SimpleNamespace

    from raygan.orchestrate.progress import Progress, gan_label, gan_summary

    progress = Progress(4, gan_summary, gan_label)
    for k, result in enumerate([{"reused": True}, {"reused": True},
                                {"quality/final_gap": 0.5, "steps_trained": 900}]):
        trial = SimpleNamespace(trial_id=str(k), last_result=result,
                                config={"cell": dataclasses.asdict(Cell.of_gan("dcgan", 50, k))})
        progress.on_trial_complete(0, [], trial)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        "train dcgan n=50 seed=0: trained before (by this sweep or its --gans-from sweep)")
    assert "left" not in lines[0] and "left" not in lines[1]
    assert "gap 0.50, 900 steps" in lines[2] and "[3/4 done" in lines[2] and "left]" in lines[2]


def test_progress_leaves_cells_an_earlier_run_finished_out_of_the_time_left(capsys, monkeypatch):
    """A resumed sweep knows which of its cells are done: after one training of 100 s, with
    two cells left of which one was finished before, about 100 s are left, not 200."""
    from types import SimpleNamespace

    from raygan.orchestrate import progress as mod

    clock = iter([0.0, 0.0, 100.0])  # the stage starts; a trial starts; it finishes
    monkeypatch.setattr(mod.time, "monotonic", lambda: next(clock))
    progress = mod.Progress(3, mod.gan_summary, mod.gan_label, reusable=1)
    trial = SimpleNamespace(trial_id="a", last_result={"quality/final_gap": 0.5},
                            config={"cell": dataclasses.asdict(Cell.of_gan("dcgan", 50, 1))})
    progress.on_trial_start(0, [], trial)
    progress.on_trial_complete(0, [], trial)
    line = capsys.readouterr().out.strip()
    assert "[1/3 done, 1 min 40 s elapsed, ~1 min 40 s left]" in line


def test_a_diffusion_arm_is_named_for_what_it_is_and_reads_back():
    cell = Cell.of_gan("ddpm", 50, 0)
    assert (cell.arm, cell.gan, cell.is_gan) == ("diffusion:ddpm", "ddpm", True)
    assert cell.run_name == cell.gan_key == "diffusion:ddpm-n50-s0"
    assert cell.gan_run_name == "train:ddpm-n50-s0"  # a training names its family alone
    assert Cell.from_run_name("train:ddpm-n50-s0") == cell
    assert Cell.from_run_name("tune:ddpm-n50-s0") == cell
    assert Cell.from_run_name("diffusion:ddpm-n50-s0") == cell
    combined = Cell("classic+diffusion:ddpm", 50, 0)
    assert Cell.from_run_name(combined.run_name) == combined
    # classic+ reads the very fill of its plain arm's training
    assert (combined.gan, combined.gan_key, combined.gan_run_name) == (
        "ddpm", "diffusion:ddpm-n50-s0", "train:ddpm-n50-s0")
    assert combined.fill_count(50, 400) == cell.fill_count(50, 400) == 350
    assert Cell.from_tags(cell.tags(KIND_GAN)) == cell


@pytest.mark.parametrize(("name", "arm"), [
    ("gan:dcgan-n50-s0", "gan:dcgan"), ("train:dcgan-n50-s0", "gan:dcgan"),
    ("tune:fastgan-n200-s2", "gan:fastgan"), ("classic+gan:cyclegan-n500-s1",
                                             "classic+gan:cyclegan"),
    ("all-real-nall-s0", "all-real"), ("probe:occlude-25-n50-s0", "probe:occlude-25")])
def test_the_names_of_earlier_sweeps_read_as_before(name, arm):
    """Run names and results folders of sweeps before the diffusion arm (laptop-6, ...)."""
    cell = Cell.from_run_name(name)
    assert cell.arm == arm and cell.run_name in (name, f"{arm}-n{cell.budget}-s{cell.seed}")


@pytest.mark.parametrize("name", ["train:gan:dcgan-n5-s0", "train:diffusion:ddpm-n5-s0",
                                  "diffusion:-n5-s0"])
def test_a_training_name_holds_the_family_alone(name):
    with pytest.raises(RayganError, match="is not a run name of a cell"):
        Cell.from_run_name(name)
