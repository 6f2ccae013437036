"""One cell of the grid: (arm, budget, seed), and everything that is named or counted from it.

A cell crosses Ray Tune, MLflow and the report. Its run names, the key of its generated images,
its MLflow params and tags, and the size of its fill are defined here alone, and a run read back
from MLflow becomes a `Cell` again through `from_run_name`, `from_tags` or `from_params`, so no
other module formats or parses `-n<budget>-s<seed>`. A finished classifier trial of a cell is a
`Trial` (its per-image test scores), and a finished GAN training's quality gate a `Gate`, as
tracking reads them back and the report takes them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raygan.errors import RayganError

if TYPE_CHECKING:
    import numpy as np

GAN_ARM_PREFIX = "gan:"  # `gan:<family>` arms fill with a GAN's images
DIFFUSION_ARM_PREFIX = "diffusion:"  # `diffusion:<family>` arms fill with a diffusion model's
# The prefixes of the generated-fill arms: each arm `<prefix><family>` fills with the images of
# a generator family trained in the GAN stage (raygan/gans registers each family under one).
# They behave alike everywhere (grid, fill, verdicts, `classic+` arms, report); the prefix
# only says honestly what kind of model made the images.
GENERATED_PREFIXES = (GAN_ARM_PREFIX, DIFFUSION_ARM_PREFIX)
# The families whose arm is not `gan:<family>`, by family: a training's run name
# (`train:<family>-n..-s..`) names the family alone, and parses back to the family's arm
# through this table, without importing the plug-ins. `register` (raygan/gans/base.py)
# refuses a family whose `arm_prefix` disagrees with it.
FAMILY_PREFIXES = {"ddpm": DIFFUSION_ARM_PREFIX}
CLASSIC_PREFIX = "classic+"  # `classic+gan:<family>`: that generator's fill, classic-augmented
PROBE_PREFIX = "probe:"  # `probe:<name>`: a shortcut probe (raygan/data/probes.py)
ALL = "all"  # the budget of the all-real arm: every real malignant training image
ALL_REAL = "all-real"  # the arm whose budget is every real malignant training image (a part
# of it validates under `budget` validation, as of every budget: data/arms.py)
FILLING_ARMS = ("oversample", "classic")  # plus every generated-fill arm (gan:<family>,
# diffusion:<family>), its classic+ arm and probe:<name> (a probe trains on oversample's set):
# they fill up to the target
GAN_RUN_PREFIX = "train:"  # a GAN training's run name: train:<family>-n<budget>-s<seed>
TUNE_RUN_PREFIX = "tune:"  # a tuned cell's run name: tune:<family>-n<budget>-s<seed>
KIND_GAN, KIND_CLASSIFIER = "gan", "classifier"  # `raygan.kind` of a cell's runs
_GENERATED = "|".join(re.escape(p) for p in GENERATED_PREFIXES)
# A training's or tuning's name holds the family alone; a classifier's the whole arm.
RUN_NAME = re.compile(rf"(?:(?P<prefix>train:|tune:)(?P<family>\w+(?:-\w+)*?)"
                      rf"|(?P<arm>(?:(?:classic\+)?(?:{_GENERATED})|probe:)?\w+(?:-\w+)*?))"
                      r"-n(?P<budget>\d+|all)-s(?P<seed>\d+)")


def family_arm(family: str) -> str:
    """The generated-fill arm of generator family `family`: `diffusion:ddpm`, `gan:dcgan`."""
    return FAMILY_PREFIXES.get(family, GAN_ARM_PREFIX) + family


def is_generated(arm: str) -> bool:
    """Whether `arm` fills with a generator's images as such (`gan:*`, `diffusion:*`), not
    classic-augmented (`classic+...`) nor any other arm."""
    return arm.startswith(GENERATED_PREFIXES)


def budget_key(budget: Any) -> float:
    """Sort key of a budget: counts in order, 'all' (the all-real arm's) last."""
    return math.inf if budget == ALL else float(budget)


def parse_budget(value: Any) -> int | str:
    """A budget as MLflow or a run name holds it (`'50'`, `'all'`) -> 50 or 'all'."""
    return ALL if str(value) == ALL else int(value)


@dataclass(frozen=True)
class Cell:
    """One (arm, budget, seed) of the grid; a generator's training (the GAN stage) is the cell
    of its generated-fill arm (`gan:<family>`, `diffusion:<family>`)."""

    arm: str  # `real`, `oversample`, `classic`, `all-real`, `gan:<family>`,
    # `diffusion:<family>`, `classic+` either of those, or `probe:<name>`
    budget: int | str  # real malignant training images kept; 'all' for the all-real arm
    seed: int  # redraws the budget subset and re-initializes every model of the cell

    @classmethod
    def of_gan(cls, gan: str, budget: int, seed: int) -> Cell:
        """The cell of generator family `gan` (its arm: `gan:<gan>`, `diffusion:ddpm`)."""
        return cls(family_arm(gan), budget, seed)

    @property
    def is_gan(self) -> bool:
        """Whether the arm fills with a generator's images, trained in the GAN stage (`gan:*`,
        `diffusion:*`, or either classic-augmented: `classic+gan:*`, ...)."""
        return is_generated(self.arm.removeprefix(CLASSIC_PREFIX))

    @property
    def is_probe(self) -> bool:
        """Whether the arm is a shortcut probe (`probe:*`), outside every comparison."""
        return self.arm.startswith(PROBE_PREFIX)

    @property
    def gan(self) -> str:
        """The generator family of a generated-fill arm (`gan:dcgan`, `classic+diffusion:ddpm`
        -> `dcgan`, `ddpm`); '' for every other arm."""
        return self.arm.partition(":")[2] if self.is_gan else ""

    @property
    def sort_key(self) -> tuple:
        """Order of cells in tables and files: by arm, then budget ('all' last), then seed."""
        return (self.arm, budget_key(self.budget), self.seed)

    @property
    def run_name(self) -> str:
        """`{arm}-n{budget}-s{seed}`: the classifier run's MLflow name."""
        return f"{self.arm}-n{self.budget}-s{self.seed}"

    @property
    def gan_key(self) -> str:
        """The key of the cell's generated images: the classifier run name of its generator's
        plain arm (`gan:<family>`, `diffusion:<family>`), so every arm of one family reads the
        one training's fill."""
        self._need_gan("has no generated images")
        return f"{self.arm.removeprefix(CLASSIC_PREFIX)}-n{self.budget}-s{self.seed}"

    @property
    def gan_run_name(self) -> str:
        """`train:{gan}-n{budget}-s{seed}`: the MLflow name of the cell's GAN training."""
        self._need_gan("trains no GAN")
        return f"{GAN_RUN_PREFIX}{self.gan}-n{self.budget}-s{self.seed}"

    @property
    def tune_run_name(self) -> str:
        """`tune:{gan}-n{budget}-s{seed}`: the MLflow name of the cell's GAN tuning."""
        self._need_gan("tunes no GAN")
        return f"{TUNE_RUN_PREFIX}{self.gan}-n{self.budget}-s{self.seed}"

    def budget_count(self, num_malignant: int) -> int:
        """The budget as a count of real malignant images: 'all' (the all-real arm's) resolves
        to `num_malignant`, every real malignant training image. The one place 'all' is
        resolved."""
        return num_malignant if self.budget == ALL else int(self.budget)

    def fill_count(self, num_real: int, fill_target: int) -> int:
        """Synthetic or duplicated malignant images that the arm adds to its `num_real` real
        training images: up to `fill_target` for the filling arms, none for the others."""
        if self.arm in FILLING_ARMS or self.is_gan or self.is_probe:
            return max(0, fill_target - num_real)
        return 0

    @property
    def params(self) -> dict[str, Any]:
        """The cell's MLflow params (`gan` is '' for a non-GAN arm)."""
        return {"arm": self.arm, "gan": self.gan, "budget": self.budget, "seed": self.seed}

    def tags(self, kind: str) -> dict[str, str]:
        """The cell's MLflow tags on a run of `kind` (KIND_GAN runs also name the family)."""
        gan = {"raygan.gan": self.gan} if kind == KIND_GAN else {}
        return {"raygan.kind": kind, "raygan.arm": self.arm, **gan,
                "raygan.budget": str(self.budget), "raygan.seed": str(self.seed)}

    @classmethod
    def from_run_name(cls, name: str) -> Cell:
        """The cell of a run name: a classifier's `{arm}-n..-s..`, a GAN training's
        `train:{gan}-n..-s..` or a tuning's `tune:{gan}-n..-s..`."""
        match = RUN_NAME.fullmatch(name)
        if match is None:
            raise RayganError(f"{name!r} is not a run name of a cell; runs are named "
                              "<arm>-n<budget>-s<seed>, e.g. gan:dcgan-n50-s0, "
                              "train:dcgan-n50-s0")
        arm = family_arm(match["family"]) if match["prefix"] else match["arm"]
        return cls(arm, parse_budget(match["budget"]), int(match["seed"]))

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Cell:
        """The cell of a run, from the tags that `tags` gave it."""
        return cls(tags["raygan.arm"], parse_budget(tags["raygan.budget"]),
                   int(tags["raygan.seed"]))

    @classmethod
    def from_params(cls, params: dict[str, str]) -> Cell:
        """The cell of a run, from its MLflow params (all strings)."""
        return cls(params["arm"], parse_budget(params["budget"]), int(params["seed"]))

    def _need_gan(self, what: str) -> None:
        if not self.is_gan:
            raise ValueError(f"arm {self.arm!r} {what}: it is not a generated-fill arm "
                             "(gan:<family>, diffusion:<family>)")


def arm_family(arm: str) -> str:
    """The generator family an arm fills from (`gan:dcgan`, `classic+gan:dcgan` -> `dcgan`,
    `diffusion:ddpm` -> `ddpm`); '' for every other arm."""
    return Cell(arm, 0, 0).gan
def grid_cells(cfg: Any) -> list[Cell]:
    """Every classifier cell of a sweep's grid (a SweepConfig: arms x budgets x seeds);
    `all-real` runs once per seed with budget 'all'."""
    cells = []
    for seed in cfg.seeds:
        for budget in cfg.budgets:
            for arm in cfg.arms:
                if arm != ALL_REAL:
                    cells.append(Cell(arm, budget, seed))
        if ALL_REAL in cfg.arms:
            cells.append(Cell(ALL_REAL, ALL, seed))
    return cells


def gan_cells(cfg: Any) -> list[Cell]:
    """The cell of every GAN training of a sweep (a SweepConfig): each family x budget x seed."""
    return [Cell.of_gan(g, b, s) for g in cfg.gan_names for b in cfg.budgets for s in cfg.seeds]


class _OfCell:
    """A record of one grid cell whose arm, budget and seed read through its `cell`."""

    cell: Cell

    @property
    def arm(self) -> str:
        return self.cell.arm

    @property
    def budget(self) -> int | str:
        return self.cell.budget

    @property
    def seed(self) -> int:
        return self.cell.seed


@dataclass(frozen=True)
class Trial(_OfCell):
    """One finished classifier trial: its cell and its per-image test probabilities."""

    cell: Cell  # its arm, budget and seed
    p: np.ndarray = field(repr=False)  # P(malignant) per test image, test-split order
    # The threshold that maximised Youden's J on the trial's validation split (logged as
    # `test/youden/threshold`); NaN for a run logged before raygan chose one.
    threshold: float = math.nan
    run_id: str = ""  # its MLflow run, which holds the trained classifier (classifier.pt)


@dataclass(frozen=True)
class Gate(_OfCell):
    """One finished GAN training's quality gate: its cell, how long it trained and its verdict."""

    cell: Cell  # its generated-fill arm (gan:<family>, diffusion:<family>), budget and seed
    steps: int  # optimizer steps trained
    max_steps: int  # the steps it was allowed (`steps` param)
    stopped_early: bool  # the stop rule ended it before max_steps
    gap: float  # its final quality/gap; NaN without a quality probe
    converged: str  # the gate's verdict: 'yes', 'no' or 'unknown' (no probe)
    run_id: str = ""  # its MLflow run, whose quality/gap history is the convergence curve
