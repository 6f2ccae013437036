"""Shared fixtures: a tiny synthetic dataset in the Kaggle layout, and an isolated array cache.

`tiny_dataset` is session-scoped and read-only by convention: tests that need a broken variant
copy it (shutil.copytree) and alter the copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TINY_SIZE = 48  # px, square
TINY_COUNTS = {"train": 40, "test": 12}  # images per class
BACKGROUND = np.array([236, 196, 186], dtype=float)  # light pinkish skin
BLOB = {
    "benign": (np.array([222, 178, 160], dtype=float), (3.0, 6.0)),  # small pale blob
    "malignant": (np.array([92, 54, 32], dtype=float), (10.0, 15.0)),  # large dark brown blob
}


def _lesion(rng: np.random.Generator, cls: str) -> np.ndarray:
    """One HxWx3 uint8 image: background, a soft-edged blob at a random spot, per-pixel noise."""
    color, (r_min, r_max) = BLOB[cls]
    radius = rng.uniform(r_min, r_max)
    margin = radius + 1
    cy, cx = rng.uniform(margin, TINY_SIZE - margin, size=2)
    yy, xx = np.mgrid[:TINY_SIZE, :TINY_SIZE]
    dist = np.hypot(yy - cy, xx - cx)
    alpha = np.clip(radius + 0.5 - dist, 0.0, 1.0)[..., None]  # anti-aliased edge
    img = BACKGROUND * (1 - alpha) + color * alpha
    img = img + rng.normal(0.0, 4.0, size=img.shape)  # every file distinct
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_tiny_dataset(root: Path, seed: int = 0) -> Path:
    """Write ROOT/{train,test}/{benign,malignant}/*.jpg (48x48 RGB JPEGs, quality 95)."""
    rng = np.random.default_rng(seed)
    for split, count in TINY_COUNTS.items():
        for cls in BLOB:
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = Image.fromarray(_lesion(rng, cls))
                img.save(folder / f"{split}_{cls}_{i:03d}.jpg", quality=95)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a small learnable dataset: train 40 + 40, test 12 + 12 (benign + malignant)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point RAYGAN_CACHE at an empty temp folder for the duration of one test."""
    cache = tmp_path / "raygan-cache"
    monkeypatch.setenv("RAYGAN_CACHE", str(cache))
    return cache


@pytest.fixture
def data_copy(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny dataset to alter, with its own array cache and MLflow store."""
    monkeypatch.setenv("RAYGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.delenv("RAYGAN_DATA", raising=False)
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


# The development loop (`pytest -m "not ray and not slow"`) keeps every contract for DCGAN and
# the cheap checks of every family; the multi-process DDP runs, the other families' training
# round trips and the real-data audits run in the full suite (CI).
SLOW_FILES = ("tests/gans/test_ddp.py", "tests/gans/test_checkpoint.py",
              "tests/gans/test_cyclegan.py", "tests/eval/test_quality.py")
SLOW_TESTS = ("test_learns_a_separable_task", "test_real_dataset_audit",
              "test_cas_on_separable_toy_data", "test_saved_classifier_reloads",
              "test_training_step_with_diffaugment", "test_deterministic_per_seed_and_seed_matters",
              "test_early_stopping_stops_after_patience")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::")[0]
        family = item.callspec.params.get("name") if hasattr(item, "callspec") else None
        other_family = (path == "tests/gans/test_gans.py"
                        and any(f in item.nodeid for f in ("[pggan", "[cyclegan", "[infogan",
                                                           "[fastgan")))
        if (path in SLOW_FILES or other_family or family in ("cyclegan", "infogan")
                or any(t in item.nodeid for t in SLOW_TESTS)):
            item.add_marker(pytest.mark.slow)
