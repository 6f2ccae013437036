"""`raygan data check` and `raygan data fetch`, and `raygan run --download`: each returns the
lines that say what it found (a bad dataset or download is a one-line RayganError)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from raygan.config import GEOMETRIES, SweepConfig, check_bound
from raygan.data.dataset import DEFAULT_ROOT
from raygan.data.fetch import counts, fetch, install
from raygan.data.sources import DEFAULT_TEST_FRACTION, load_source
from raygan.errors import RayganError


def check(source: str, resolution: int, classes: tuple[str, str] | None = None,
          test_fraction: float | None = None, geometry: str | None = None) -> list[str]:
    """Check the layout of `source` (a dataset root or card), decode every image once at
    `resolution` px (cached, as a sweep would), and count its images per split and class;
    `classes`, `test_fraction` and `geometry` read the dataset as `raygan run` would."""

    check_bound("--resolution", "resolution", resolution)
    if test_fraction is None:
        test_fraction = DEFAULT_TEST_FRACTION
    check_bound("--test-fraction", "test_fraction", test_fraction)
    t0 = time.perf_counter()
    geometry = geometry or SweepConfig.geometry
    if geometry not in GEOMETRIES:
        raise RayganError(f"unknown geometry {geometry!r}; use one of: {', '.join(GEOMETRIES)}")
    dataset = load_source(source, resolution, classes, test_fraction,  # the layout, every image
                          geometry=geometry)
    lines = [f"{dataset.root}: {len(dataset.train)} train / {len(dataset.test)} test images, all "
             f"decoded at {resolution} px, made square by {dataset.geometry} "
             f"({time.perf_counter() - t0:.1f} s)"]
    for split, part in (("train", dataset.train), ("test", dataset.test)):
        for label, cls in enumerate(dataset.classes):
            lines.append(f"  {split}/{cls}: {int((part.y == label).sum())}")
    return lines


def fetch_into(dest: Path | str, archive: str | None = None) -> list[str]:
    """Install the Kaggle dataset into `dest` from `archive` (a zip or folder) or, without
    one, download it; a `dest` that holds anything is checked and kept (as torchvision's
    download=True: never twice)."""
    dest = Path(dest)
    lines = []
    if dest.is_dir() and any(dest.iterdir()):
        found = counts(dest)
        lines.append(f"already there: {dest}: " + ", ".join(f"{k} {n}" for k, n in found.items()))
    elif archive:
        install(archive, dest)
    else:
        fetch(dest)
    return [*lines, f"ready: raygan run --data {dest} (or set RAYGAN_DATA={dest})"]


def download_if_missing(data: str | None) -> None:
    """`raygan run --download`: fetch the Kaggle dataset into the sweep's data folder (`data`,
    else $RAYGAN_DATA, else DEFAULT_ROOT) unless it is there."""
    root = Path(data or os.environ.get("RAYGAN_DATA") or DEFAULT_ROOT).expanduser()
    if not root.is_dir() or not any(root.iterdir()):
        fetch(root)
