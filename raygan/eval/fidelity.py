"""Fidelity of generated images without downloadable weights: features of an in-project
classifier, Fréchet distance, KID and a memorization check. It trains nothing: the feature
extractor and the Classification Accuracy Score's classifier train in `raygan.fidelity_stage`."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from scipy import linalg

from raygan.classifiers import Classifier, build_classifier
from raygan.images import check_images, resize, to_float

__all__ = [
    "NEAR_COPY_RMS",
    "FeatureExtractor",
    "frechet_distance",
    "kid",
    "near_copy_share",
    "nearest_real_distances",
    "optional_inception_fid",
    "real_nn_baseline",
]

# A generated image whose nearest real training image is within this per-pixel RMS (32 px, [0, 1])
# counts as a near copy. Measured on skin-cancer-mvb (64 px load, 32 px compare): the distance of
# each real train image to its nearest OTHER train image has 1st percentile 0.022 (median 0.067),
# and held-out test images reach their nearest train image within 0.020 for only 5 of 660 (0.8 %),
# all of them re-captures of a training lesion that the leakage audit also flags. So 0.02 means
# "as close to a training image as a second photo of the same lesion": a generator that does not
# memorize puts about 1 % of its images below it, the same as fresh real data.
NEAR_COPY_RMS = 0.02
NEAR_COPY_SIZE = 32  # px, the side both image sets are resized to before comparing

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


def _flat_unit(images: np.ndarray, size: int) -> np.ndarray:
    """(n, 3 * size * size) float64 in [0, 1], resized with antialiasing."""
    t = torch.from_numpy(images).double().div_(255.0)
    return resize(t, size).reshape(len(images), -1).numpy()


def _nearest(
    query: np.ndarray, ref: np.ndarray, exclude_self: bool = False, chunk: int = 512
) -> np.ndarray:
    """Per-pixel RMS distance of each query row to its nearest ref row."""
    ref_sq = (ref * ref).sum(1)
    out = np.empty(len(query))
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        d2 = (q * q).sum(1)[:, None] + ref_sq[None] - 2.0 * q @ ref.T
        if exclude_self:
            rows = np.arange(len(q))
            d2[rows, start + rows] = np.inf
        best = d2.argmin(1)
        # The expansion above cancels badly near 0; recompute the winner exactly, so that an
        # exact copy reads 0 and not rounding noise.
        out[start : start + len(q)] = np.sqrt(((q - ref[best]) ** 2).mean(1))
    return out


def nearest_real_distances(
    fake: np.ndarray, real: np.ndarray, size: int = NEAR_COPY_SIZE
) -> np.ndarray:
    """Per-pixel RMS distance ([0, 1] scale, `size` px) of each fake to its nearest real image."""
    fake, real = check_images(fake, "fake"), check_images(real, "real")
    if len(real) == 0:
        raise ValueError("real must hold at least one image")
    return _nearest(_flat_unit(fake, size), _flat_unit(real, size))


def real_nn_baseline(real: np.ndarray, size: int = NEAR_COPY_SIZE) -> np.ndarray:
    """Each real image's distance to its nearest OTHER real image: the scale for `NEAR_COPY_RMS`."""
    real = check_images(real, "real")
    if len(real) < 2:
        raise ValueError("real must hold at least two images")
    flat = _flat_unit(real, size)
    return _nearest(flat, flat, exclude_self=True)


def near_copy_share(distances: np.ndarray, threshold: float = NEAR_COPY_RMS) -> float:
    """Share of generated images within `threshold` of a real image (memorized near copies)."""
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"distances must be a non-empty 1-D array, got shape {d.shape}")
    return float(np.mean(d <= threshold))
