"""What the driver hands every trial through the object store: the data, put there once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray

from raygan.data import Dataset, Pools, Split


@dataclass(frozen=True)
class SweepData:
    """ObjectRefs of a sweep's arrays, with the small facts every trial needs beside them.

    It reaches each trial through `tune.with_parameters` (once per node); a trial reads the
    arrays it needs with `ray.get`. Tuning trials never see the test split: theirs is None."""

    x_train: ray.ObjectRef  # uint8 NCHW training images (validation included)
    y_train: ray.ObjectRef  # their labels (1 = malignant)
    pools: Pools  # train-split indices: benign, malignant, validation
    fill_target: int  # malignant count that filling arms fill up to (resolved, never 0)
    x_test: ray.ObjectRef | None = None  # uint8 NCHW test images; None in tuning
    y_test: ray.ObjectRef | None = None  # their labels
    # NAME -> (images, labels) of every external test set
    external: dict[str, tuple[ray.ObjectRef, ray.ObjectRef]] = field(default_factory=dict)

    @classmethod
    def put(cls, dataset: Dataset, pools: Pools, fill_target: int,
            external: dict[str, Split] | None = None, with_test: bool = True) -> SweepData:
        """Put a dataset's arrays in the object store (the test split only `with_test`)."""
        test = ((ray.put(dataset.test.x), ray.put(dataset.test.y)) if with_test
                else (None, None))
        return cls(ray.put(dataset.train.x), ray.put(dataset.train.y), pools, fill_target, *test,
                   external={n: (ray.put(e.x), ray.put(e.y))
                             for n, e in (external or {}).items()})

    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """(x_train, y_train), fetched from the object store."""
        x, y = ray.get([self.x_train, self.y_train])
        return x, y


def result_cells(results, cells: list) -> list[tuple[Any, Any]]:
    """(cell, result) for every result of a grid over `cells`. A trial that failed before it
    started (e.g. its worker could not import raygan) has no config: it is paired with a cell
    no other result claims, so its error is reported under its cell, never dropped."""
    claimed = set()
    pairs, orphans = [], []
    for r in results:
        if r.config and "cell" in r.config:
            cell = type(cells[0])(**r.config["cell"])
            claimed.add(cell)
            pairs.append((cell, r))
        else:
            orphans.append(r)
    unclaimed = [c for c in cells if c not in claimed]
    pairs += list(zip(unclaimed, orphans, strict=False))
    return pairs
