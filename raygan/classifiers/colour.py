"""The colour probe's classifier: colour features (raygan/data/probes.py) -> standardized ->
scikit-learn's L2 logistic regression. No CNN and no spatial layout, so what it scores comes from
the colour distribution of an image alone. Fitted on the probe's training set, scored on the same
validation split as every arm (its threshold too); its state holds tensors and numbers only, so
`torch.load(..., weights_only=True)` reads it as it reads a CNN's."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from raygan.data.probes import COLOUR, colour_features
from raygan.metrics import binary_metrics

C = 1.0  # inverse L2 strength of the logistic regression (scikit-learn's default)
MAX_ITER = 2000  # lbfgs iterations: enough to converge on 54 standardized features


@dataclass
class ColourModel:
    """A fitted colour probe: feature standardization and the logistic regression's weights."""

    mean: np.ndarray  # (F,) feature means on the training set
    scale: np.ndarray  # (F,) feature SDs on the training set (1 where a feature is constant)
    coef: np.ndarray  # (F,) logistic-regression weights on the standardized features
    intercept: float

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """P(malignant) for uint8 NCHW images."""
        z = (colour_features(images) - self.mean) / self.scale @ self.coef + self.intercept
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def state(self, resolution: int, threshold: float) -> dict:
        """What rebuilds the probe (`load_colour`), with the probe's arm and input size."""
        t = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
        return {"probe": COLOUR, "resolution": int(resolution), "threshold": float(threshold),
                "colour": {"mean": t(self.mean), "scale": t(self.scale), "coef": t(self.coef),
                           "intercept": float(self.intercept)}}


@dataclass
class ColourFit:
    """The fitted probe, as a CNN's fit reports: one 'epoch', its validation metrics."""

    model: ColourModel
    best_epoch: int = 1
    best_val: dict[str, float] = field(default_factory=dict)


def fit_colour(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
               seed: int) -> ColourFit:
    """Fit the colour probe on uint8 NCHW (x, y); validation metrics on (x_val, y_val)."""
    from sklearn.linear_model import LogisticRegression

    f = colour_features(x)
    mean, scale = f.mean(0), f.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    lr = LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed)
    lr.fit((f - mean) / scale, y)
    model = ColourModel(mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))
    return ColourFit(model, 1, binary_metrics(y_val, model.predict_proba(x_val)))


def load_colour(state: dict) -> ColourModel:
    """The colour probe that `ColourModel.state` saved."""
    s = state["colour"]
    return ColourModel(s["mean"].numpy(), s["scale"].numpy(), s["coef"].numpy(),
                       float(s["intercept"]))
