"""Fidelity of generated images without downloadable weights: features of an in-project
classifier, Fréchet distance, KID, precision / recall / density / coverage, and the memorization
check of `raygan.eval.memorization`. It trains nothing: the feature extractor and the
Classification Accuracy Score's classifier train in `raygan.fidelity_stage`."""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import linalg

from raygan.cell import Cell
from raygan.classifiers import Classifier, build_classifier
from raygan.eval.memorization import (
    NEAR_COPY_RMS,
    NEAR_COPY_SIZE,
    Memorization,
    flat_unit,
    measure,
    near_copy_share,
    nearest,
)
from raygan.images import check_images, to_float

__all__ = [
    "NEAR_COPY_RMS",
    "PRDC_K",
    "FeatureExtractor",
    "GeneratedRun",
    "fidelity_row",
    "fidelity_rows",
    "frechet_distance",
    "kid",
    "near_copy_share",
    "nearest_real_distances",
    "optional_inception_fid",
    "prdc",
    "real_nn_baseline",
]

# Nearest neighbours that set the radius of each point's ball in precision, recall, density and
# coverage: Naeem et al. (2020) recommend k = 5, with which coverage of two samples of one
# distribution is about 1 - 1/2^k = 0.97 for any sample size.
PRDC_K = 5
PRDC_IMAGES = 500  # at most this many real and as many generated images per run (equal sizes)
PRDC_KEYS = ("precision", "recall", "density", "coverage")

_FID_EPS = 1e-6  # added to both covariance diagonals when their product is singular


def _check_features(feat: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    """Features as a finite float64 (n, d) matrix with at least `min_rows` rows."""
    arr = np.asarray(feat, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (n, d), got shape {arr.shape}")
    if len(arr) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {len(arr)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


class FeatureExtractor:
    """Penultimate features (`Classifier.penultimate`: the 2-block CNN's dense hidden layer
    after ReLU, ResNet-20's globally pooled channels) of an in-project registry classifier."""

    def __init__(self, model: Classifier, resolution: int, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.resolution = resolution
        self.device = device

    @property
    def dim(self) -> int:
        """Feature dimension: the width of the classifier's penultimate layer."""
        return self.model.dim

    @torch.no_grad()
    def features(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """(n, dim) float32 features of uint8 NCHW images at the extractor's resolution."""
        x = check_images(images, "images")
        if x.shape[-2:] != (self.resolution, self.resolution):
            # Features (and FID/KID built on them) only compare at the resolution it was trained on.
            raise ValueError(
                f"images are {x.shape[-2]}x{x.shape[-1]} px but the feature extractor was trained"
                f" at {self.resolution} px; resize them first"
            )
        self.model.eval()  # dropout off: the penultimate layer is deterministic
        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(x), batch):
            xb = to_float(torch.from_numpy(x[i : i + batch])).to(self.device)
            out.append(self.model.penultimate(xb).cpu().numpy())
        return np.concatenate(out)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the extractor: the classifier's registry key and
        constructor arguments, and CPU weights."""
        weights = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return {"arch": self.model.name, "args": dict(self.model.args),
                "resolution": self.resolution, "weights": weights}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: str = "cpu") -> FeatureExtractor:
        """Rebuild an extractor saved with `state_dict`; one saved before extractors named their
        classifier is the study's CNN, its shape in `channels` and `hidden`."""
        if "arch" in state:
            model = build_classifier(state["arch"], state["resolution"], **state["args"])
        else:
            model = build_classifier("cnn", state["resolution"], channels=state["channels"],
                                     hidden=state["hidden"])
        model.load_state_dict(state["weights"])
        return cls(model, state["resolution"], device)


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to two sets."""
    a, b = _check_features(feat_a, "feat_a"), _check_features(feat_b, "feat_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    sigma_a = np.atleast_2d(np.cov(a, rowvar=False))
    sigma_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma_a @ sigma_b)
    # Old scipy returned inf/nan for a singular product (the case pytorch-fid guards); current
    # scipy warns instead. Either way, retry with a small offset on both diagonals as they do.
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    if singular or not np.all(np.isfinite(covmean)):
        offset = np.eye(len(sigma_a)) * _FID_EPS
        covmean = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    if np.iscomplexobj(covmean):
        # Rounding gives the square root of a PSD product tiny imaginary parts; large ones mean
        # the covariances are broken, and dropping them would hide that.
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > 1e-3:
            raise ValueError(f"matrix square root has an imaginary component of {max_imag:.3g}")
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def _unbiased_poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size sets with the kernel k(u, v) = (u.v / d + 1)^3."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    # The within-set means leave out the diagonal k(x_i, x_i): that is what makes it unbiased.
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kid(
    feat_a: np.ndarray, feat_b: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0
) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): (mean, std) of the unbiased MMD^2 over random subsets."""
    a, b = _check_features(feat_a, "feat_a"), _check_features(feat_b, "feat_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        values[i] = _unbiased_poly_mmd2(x, y)
    return float(values.mean()), float(values.std())


def optional_inception_fid(
    real: np.ndarray, fake: np.ndarray, weights_path: str | None
) -> float | None:
    """Inception FID from a user-supplied local weights file; None (with a warning) otherwise."""
    real, fake = check_images(real, "real"), check_images(fake, "fake")
    if not weights_path or not os.path.isfile(weights_path):
        # The libraries would download the weights when given no file; this project never does.
        warnings.warn(
            f"Inception FID skipped: no local weights file ({weights_path!r}); pass the path to"
            " pt_inception-2015-12-05 weights to compute it",
            stacklevel=2,
        )
        return None
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance

        fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=weights_path)
    except (ImportError, TypeError):  # not installed, no torch-fidelity, or too old for the path
        pass
    else:
        fid.update(real_t, real=True)
        fid.update(fake_t, real=False)
        return float(fid.compute())
    try:
        import torch_fidelity
    except ImportError:
        warnings.warn(
            "Inception FID skipped: neither torchmetrics[image] nor torch-fidelity is installed",
            stacklevel=2,
        )
        return None
    metrics = torch_fidelity.calculate_metrics(
        input1=_TensorImages(real_t),
        input2=_TensorImages(fake_t),
        fid=True,
        feature_extractor_weights_path=weights_path,
        cuda=torch.cuda.is_available(),
        verbose=False,
    )
    return float(metrics["frechet_inception_distance"])


class _TensorImages(torch.utils.data.Dataset):
    """uint8 CHW tensors one by one, the input torch-fidelity takes from a Dataset."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def nearest_real_distances(
    fake: np.ndarray, real: np.ndarray, size: int = NEAR_COPY_SIZE
) -> np.ndarray:
    """Per-pixel RMS distance ([0, 1] scale, `size` px) of each fake to its nearest real image."""
    fake, real = check_images(fake, "fake"), check_images(real, "real")
    if len(real) == 0:
        raise ValueError("real must hold at least one image")
    return nearest(flat_unit(fake, size), flat_unit(real, size))[0]


def real_nn_baseline(real: np.ndarray, size: int = NEAR_COPY_SIZE) -> np.ndarray:
    """Each real image's distance to its nearest OTHER real image: the scale for `NEAR_COPY_RMS`."""
    real = check_images(real, "real")
    if len(real) < 2:
        raise ValueError("real must hold at least two images")
    flat = flat_unit(real, size)
    return nearest(flat, flat, exclude_self=True)[0]


def prdc(real_feat: np.ndarray, fake_feat: np.ndarray, k: int = PRDC_K) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020)
    of `fake_feat` against `real_feat`, by the maintained `prdc` package: each point's ball
    reaches its k-th nearest neighbour of its own set. Precision: share of fakes inside some
    real ball (realism); recall: share of reals inside some fake ball (diversity: a collapsed
    or copying generator's balls shrink to its repeats, so recall falls); density: real balls
    per fake over k; coverage: share of reals whose ball holds a fake. NaN for all four where a
    set holds k + 1 points or fewer (the package needs k + 2)."""
    a, b = _check_features(real_feat, "real_feat", 1), _check_features(fake_feat, "fake_feat", 1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if min(len(a), len(b)) < k + 2:
        return dict.fromkeys(PRDC_KEYS, math.nan)
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        scores = compute_prdc(a, b, k)
    return {key: float(scores[key]) for key in PRDC_KEYS}


@dataclass(frozen=True)
class GeneratedRun:
    """One generated fill and the real images it is measured against."""

    cell: Cell  # the generated arm's cell (its arm, budget and seed)
    fake: np.ndarray  # the first images of its fill, uint8 NCHW
    train: np.ndarray  # the cell's N real malignant training images: what the generator saw
    held_out: np.ndarray  # real malignant training images outside the cell's budget (unseen)


def fidelity_row(run: GeneratedRun, real_feat: np.ndarray, extractor,
                 test_auc: dict[Cell, float], k: int = PRDC_K,
                 max_images: int = PRDC_IMAGES) -> tuple[dict[str, Any], Memorization]:
    """One generated run's row: domain-feature Fréchet distance and KID of its fill against
    `real_feat` (the features of every real malignant training image); precision, recall,
    density and coverage (k = `k`) of its fill against its held-out real malignant images, at
    most `max_images` of each, as many of each (the first images of the fill, a seeded draw of
    the held-out images); its memorization summary (`Memorization.summary`) against its own N
    training images; and the downstream test AUC of its arm. Returned with its
    `Memorization`, whose closest pairs the report draws."""
    feat = extractor.features(run.fake)
    kid_mean, _ = kid(feat, real_feat, subsets=20, subset_size=min(100, len(run.fake)))
    n = min(len(run.fake), len(run.held_out), max_images)
    if n:
        pick = np.sort(np.random.default_rng(0).permutation(len(run.held_out))[:n])
        scores = prdc(extractor.features(run.held_out[pick]), feat[:n], k)
    else:
        scores = dict.fromkeys(PRDC_KEYS, math.nan)
    memo = measure(run.fake, run.train, run.held_out)
    row = {"arm": run.cell.arm, "budget": run.cell.budget, "seed": run.cell.seed,
           "fd": frechet_distance(feat, real_feat), "kid": kid_mean, **memo.summary(),
           **scores, "prdc_k": k, "prdc_images": n,
           "test_auc": test_auc.get(run.cell, math.nan)}
    return row, memo


def fidelity_rows(runs: list[GeneratedRun], real_malignant: np.ndarray, extractor,
                  test_auc: dict[Cell, float], k: int = PRDC_K, max_images: int = PRDC_IMAGES
                  ) -> tuple[list[dict[str, Any]], dict[Cell, Memorization]]:
    """`fidelity_row` of every run, in cell order, against `real_malignant` (every real
    malignant training image), with each run's `Memorization` by cell."""
    real_feat = extractor.features(real_malignant)
    rows, memos = [], {}
    for run in sorted(runs, key=lambda r: r.cell.sort_key):
        row, memos[run.cell] = fidelity_row(run, real_feat, extractor, test_auc, k, max_images)
        rows.append(row)
    return rows, memos
