"""A finished sweep's classifiers on a new test set, without retraining: each classifier trial
stores its weights (`classifier.pt`), which load with `torch.load(..., weights_only=True)`. A
shortcut probe's state names its probe, whose view applies to the new images as it did to its
own (raygan/data/probes.py); the colour probe's state holds its logistic regression."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from raygan.classifiers import load_classifier, predict_proba
from raygan.classifiers.colour import ColourModel, load_colour
from raygan.data.dataset import Split
from raygan.data.probes import is_linear, probe_view
from raygan.errors import RayganError
from raygan.metrics import binary_metrics, metrics_at


def trial_classifier(uri: str, run_id: str) -> tuple[nn.Module | ColourModel, dict]:
    """The classifier a finished trial trained (eval mode; the colour probe's logistic
    regression), and its saved state (resolution, validation threshold, probe), from the run's
    `classifier.pt` artifact."""
    from raygan import tracking

    with tempfile.TemporaryDirectory() as tmp:
        path = tracking.classifier_file(uri, run_id, tmp)
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if is_linear(str(state.get("probe", ""))):
        return load_colour(state), state
    return load_classifier(state), state


def saved_predict(model: nn.Module | ColourModel, state: dict, x: np.ndarray) -> np.ndarray:
    """P(malignant) of a saved classifier on uint8 NCHW `x`, seen through its probe's view."""
    x = probe_view(str(state.get("probe", "")), x)
    if isinstance(model, ColourModel):
        return model.predict_proba(x)
    return predict_proba(model, x)


def evaluate_trial(uri: str, run_id: str, test: Split) -> tuple[dict[str, float], np.ndarray]:
    """(metrics at 0.5 and at the trial's validation Youden threshold, P(malignant) per image)
    of a finished classifier trial on the images of `test`."""
    model, state = trial_classifier(uri, run_id)
    if test.x.shape[-1] != state["resolution"]:
        raise RayganError(f"the test set is at {test.x.shape[-1]} px, the classifier was trained "
                          f"at {state['resolution']} px; load the test set at that resolution")
    p = saved_predict(model, state, test.x)
    return {**binary_metrics(test.y, p), **metrics_at(test.y, p, state["threshold"])}, p
