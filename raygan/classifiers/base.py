"""The classifier interface every downstream model follows, and the registry that names them.

A classifier maps uint8-derived float images (N, 3, R, R) in [-1, 1] to two logits (benign,
malignant) and exposes its penultimate layer, `penultimate(x)`, which the fidelity stage's
feature extractor measures distances in. Its constructor arguments (`args`) travel in every
saved state (`classifier.pt`), so `load_classifier` rebuilds the very model; a state saved
before states named their architecture is the study's CNN (`DEFAULT`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from raygan.config import CLASSIFIER_NAMES, DEFAULT_CLASSIFIER
from raygan.errors import RayganError

REGISTRY: dict[str, type[Classifier]] = {}
DEFAULT = DEFAULT_CLASSIFIER  # the study's 2-block CNN: what a run without the key trained


def register(cls: type[Classifier]) -> type[Classifier]:
    """Class decorator: make a classifier available under `cls.name` (CLI value, config value,
    MLflow param `clf.name`, `arch` of a saved state)."""
    if cls.name in REGISTRY:
        raise ValueError(f"classifier {cls.name!r} is registered twice")
    if cls.name not in CLASSIFIER_NAMES:
        raise ValueError(f"classifier {cls.name!r} is missing from config.CLASSIFIER_NAMES")
    if not getattr(cls, "memory_slope_mib", 0) > 0:
        raise ValueError(f"classifier {cls.name!r} declares no memory_slope_mib")
    REGISTRY[cls.name] = cls
    return cls


def check_classifier_name(name: str) -> str:
    """`name` if the registry holds it; else a one-line RayganError listing the known ones."""
    if name not in REGISTRY:
        raise RayganError(f"unknown classifier {name!r}; known classifiers: "
                          f"{', '.join(REGISTRY)} (e.g. --classifier {DEFAULT})")
    return name


def build_classifier(name: str, resolution: int, **args: Any) -> Classifier:
    """A freshly initialized classifier `name` for `resolution` px inputs (global RNG: seed
    around the call, as `fit_classifier` does)."""
    return REGISTRY[check_classifier_name(name)](resolution, **args)


class Classifier(nn.Module):
    """Base of every downstream classifier: `penultimate` features, then a linear-ish `logits`
    head; `forward` is the two together.

    Subclasses set `name`, `memory_slope_mib` and `dim`, implement `penultimate` and `logits`,
    and return their constructor arguments (beyond `resolution`) from `args`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for help texts and the report
    # MiB of a CPU trial's peak memory per (image of its batch x pixel): the activation term
    # that orchestrate/memory.py reserves from Ray for each trial (benchmarks/classifier_fit.py)
    memory_slope_mib: ClassVar[float]
    dim: int  # width of the penultimate features

    def __init__(self, resolution: int):
        super().__init__()
        self.resolution = int(resolution)

    @property
    def args(self) -> dict[str, Any]:
        """Constructor arguments beyond `resolution` (ints and lists: weights_only loads them)."""
        raise NotImplementedError

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim) features of float images in [-1, 1]: the layer before the logits, in eval
        mode free of dropout."""
        raise NotImplementedError

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 2) logits (benign, malignant) of `penultimate` features."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.penultimate(x))
