"""The bounds of every number a user can set: each command-line option's and each setting of a
sweep's config (its GANConfig and ClassifierConfig too, as --gan-configs and config.json give
them), with its unit. One table drives the options' help ("1..1000000"), their parsing (a value
outside is refused before anything runs) and `config.validate`. A new numeric option or setting
needs its row here: tests/test_bounds.py walks every parser and every config field.

The bounds catch typos and values that cannot work (a GAN of 0 images per step, 10**9 epochs),
not what a machine can afford: the data (budgets above the available images) and the cluster
(memory, CPUs, GPUs) are checked later, still before any trial starts."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

from raygan.errors import RayganError

MAX_SEED = 2**31 - 1  # numpy and torch take any seed below 2**32; 2**31 - 1 suits every RNG
MAX_STEPS = 1_000_000  # optimizer steps: 100x the paper profile's 10000
MAX_IMAGES = 100_000  # images of a class: 80x the dataset's 1197 real malignant training images
# The noise levels a diffusion family trains on (gans/ddpm.py, the DDPM paper's 1000): DDIM
# samples with at most one step per level
MAX_DIFFUSION_STEPS = 1000


@dataclass(frozen=True)
class Bound:
    """The values a number may take: lo..hi (either end open where `lo_open`/`hi_open`), or
    one of `choices`; `meaning` says what it counts, in which unit."""

    lo: int | float
    hi: int | float
    meaning: str
    integer: bool = True
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[int, ...] = ()

    @property
    def range(self) -> str:
        """The allowed values as the help and the errors write them: `1..100`, `(0, 0.5)`,
        `32, 64, 128 or 224`."""
        if self.choices:
            return f"{', '.join(map(str, self.choices[:-1]))} or {self.choices[-1]}"
        if self.integer:
            return f"{self.lo}..{self.hi}"
        return (f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}"
                f"{')' if self.hi_open else ']'}")

    def holds(self, value: Any) -> bool:
        """Whether `value` (a number of the right kind) lies within the bounds; NaN never does."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if self.choices:
            return value in self.choices
        if not math.isfinite(value):
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def refusal(self, what: str, value: Any, also: str = "") -> str:
        """The one-line message that refuses `value` of `what` (an option or a setting):
        `--count must be between 1 and 1,000,000, got 0 (images to write)`; `also` names
        further values allowed (e.g. " or all")."""
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = f"{value:,}" if number and isinstance(value, int) else \
            f"{value}" if number else repr(value)
        if self.choices:
            allowed = f"be one of {self.range}"
        elif self.integer:
            allowed = f"be between {self.lo:,} and {self.hi:,}"
        else:
            allowed = f"lie in {self.range}"
        return f"{what} must {allowed}{also}, got {shown} ({self.meaning})".lstrip()

    def check(self, what: str, value: Any) -> Any:
        """`value`, or a RayganError naming `what`, the value and the allowed range."""
        if not self.holds(value):
            raise RayganError(self.refusal(what, value))
        return value


def _int(lo: int, hi: int, meaning: str) -> Bound:
    return Bound(lo, hi, meaning)


def _float(lo: float, hi: float, meaning: str, lo_open: bool = False,
           hi_open: bool = False) -> Bound:
    return Bound(lo, hi, meaning, integer=False, lo_open=lo_open, hi_open=hi_open)


_FRACTION = dict(lo_open=True, hi_open=True)
_DECAY = dict(hi_open=True)  # [0, 1)
_LR = dict(lo_open=True)  # (0, 1]

# Keyed by the setting's place in SweepConfig ("budgets": each budget, "gan.steps"); the
# options of report, generate and tune that set no config value by their own names.
BOUNDS: dict[str, Bound] = {
    # SweepConfig
    "resolution": Bound(32, 224, "image side in px", choices=(32, 64, 128, 224)),
    "budgets": _int(1, MAX_IMAGES, "real malignant training images kept per cell"),
    "seeds": _int(0, MAX_SEED, "a cell's seed: its subset draw and every model's init"),
    "fill_target": _int(0, MAX_IMAGES, "malignant training images after filling; 0 = every "
                                       "real one"),
    "val_fraction": _float(0, 0.5, "share of train carved off for early stopping", **_FRACTION),
    "split_seed": _int(0, MAX_SEED, "seed of the validation and test split"),
    "test_fraction": _float(0, 1, "share of each class carved as test where the data has no "
                                  "test split", **_FRACTION),
    "margin": _float(0, 0.5, "equivalence margin of the primary comparison, in its metric",
                     **_FRACTION),
    "num_grid_images": _int(1, 1024, "generated images in each GAN's MLflow grid"),
    # GANConfig
    "gan.z_dim": _int(1, 4096, "latent size"),
    "gan.width": _int(1, 1024, "channels of the full-resolution G/D layers"),
    "gan.batch_size": _int(1, 4096, "GAN images per optimizer step, summed over DDP workers"),
    "gan.steps": _int(1, MAX_STEPS, "optimizer steps per GAN training"),
    "gan.lr": _float(0, 1, "Adam learning rate of G and D", **_LR),
    "gan.beta1": _float(0, 1, "Adam beta1", **_DECAY),
    "gan.num_workers": _int(1, 1024, "Ray Train DDP workers per GAN training"),
    "gan.cpus_per_worker": _int(1, 1024, "CPU cores per Ray Train worker"),
    "gan.checkpoint_every": _int(1, MAX_STEPS, "steps between checkpoints"),
    "gan.log_every": _int(1, MAX_STEPS, "steps between loss reports"),
    "gan.eval_every": _int(0, MAX_STEPS, "steps between quality probes; 0 = none"),
    "gan.stop_patience": _int(0, 10_000, "quality probes without progress before stopping; "
                                         "0 = never stop early"),
    "gan.stop_gain": _float(0, 1, "quality gap gain that counts as progress", **_DECAY),
    "gan.min_steps": _int(0, MAX_STEPS, "steps before the stop rule may stop"),
    "gan.stop_below": _float(0, 100, "quality gap at most which the stop rule may stop",
                             lo_open=True),
    "gan.ema": _float(0, 1, "decay of G's weight average; 0 = off", **_DECAY),
    "gan.r1": _float(0, 1000, "weight of PGGAN's R1 penalty; 0 = WGAN-GP"),
    "gan.r1_every": _int(1, 10_000, "steps between R1 penalties"),
    "gan.sample_steps": _int(1, MAX_DIFFUSION_STEPS, "DDIM denoising steps per generated image "
                                                      "of a diffusion family"),
    "gan.probe_sample_steps": _int(1, MAX_DIFFUSION_STEPS, "DDIM denoising steps per quality "
                                                            "probe image of a diffusion family"),
    # ClassifierConfig
    "classifier.epochs": _int(1, 1000, "classifier epochs, an upper bound"),
    "classifier.patience": _int(1, 1000, "epochs without a val AUC gain before stopping"),
    "classifier.batch_size": _int(1, 4096, "classifier images per Adam step"),
    "classifier.lr": _float(0, 1, "Adam learning rate of the classifier", **_LR),
    "classifier.cpus": _int(1, 1024, "CPU cores per classifier trial"),
    # raygan tune, raygan report, raygan generate
    "num_samples": _int(1, 1000, "Optuna trials per GAN x budget cell"),
    "fidelity_images": _int(2, 50_000, "generated images per GAN for the fidelity measures"),
    "count": _int(1, 1_000_000, "images to write"),  # a million 64 px PNGs is ~10 GB already
    "pairs": _int(1, 1000, "closest (generated, training) image pairs to draw"),
}


class Number:
    """An option's argparse `type`: the text as an int or float within `BOUNDS[key]`, else an
    argparse error (one line naming the option, the value and the range)."""

    def __init__(self, key: str):
        self.key, self.bound = key, BOUNDS[key]

    def __call__(self, text: str) -> int | float:
        try:
            value: Any = int(text) if self.bound.integer else float(text)
        except ValueError:
            value = text  # not a number: refused below, as the text given
        if not self.bound.holds(value):
            raise argparse.ArgumentTypeError(self.bound.refusal("", value))
        return value


class NumberList:
    """A comma-separated list option's argparse `type` (--budgets, --seeds): every item an
    integer within `BOUNDS[key]`, or one of `words` (e.g. `all`). It returns the text as given;
    raygan.options reads it (an empty list is refused there, with the profile's meaning)."""

    def __init__(self, key: str, words: tuple[str, ...] = ()):
        self.key, self.bound, self.words = key, BOUNDS[key], words

    def __call__(self, text: str) -> str:
        also = f" or {', '.join(self.words)}" if self.words else ""
        for item in (v.strip() for v in text.split(",")):
            if not item or item in self.words:
                continue
            try:
                value: Any = int(item)
            except ValueError:
                value = item  # not an integer: refused below, as the text given
            if not self.bound.holds(value):
                raise argparse.ArgumentTypeError(self.bound.refusal("", value, also))
        return text


def help_text(key: str, text: str, default: Any = None) -> str:
    """An option's help, with its default where it has one of its own and its allowed values."""
    said = f" ({default})" if default is not None else ""
    return f"{text}{said}; allowed: {BOUNDS[key].range}"
