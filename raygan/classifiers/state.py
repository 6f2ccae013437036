"""A classifier's saved state (`classifier.pt`): what rebuilds it, and initial weights read
from a local file (`--classifier-weights`). Tensors, numbers, strings and lists only, so
`torch.load(..., weights_only=True)` reads every file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from raygan.classifiers.base import DEFAULT, REGISTRY, Classifier, build_classifier
from raygan.errors import RayganError


def classifier_state(model: Classifier, resolution: int, threshold: float = 0.5) -> dict:
    """What rebuilds a trained classifier: its architecture key and constructor arguments, its
    weights, the input size and its validation threshold."""
    return {"arch": model.name, "args": dict(model.args),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "resolution": int(resolution), "threshold": float(threshold)}


def state_arch(state: dict) -> str:
    """The architecture key of a saved state; one saved before states named it is the study's
    CNN, the only classifier raygan had then."""
    return str(state.get("arch", DEFAULT))


def load_classifier(state: dict) -> Classifier:
    """The classifier that `classifier_state` saved, in eval mode."""
    arch = state_arch(state)
    if arch not in REGISTRY:
        raise RayganError(f"the saved classifier is a {arch!r}, which this raygan does not know "
                          f"(known: {', '.join(REGISTRY)}); read it with the raygan that wrote it")
    model = build_classifier(arch, int(state["resolution"]), **state.get("args", {}))
    model.load_state_dict(state["model"])
    return model.eval()


def read_weights(path: str, name: str, resolution: int) -> dict[str, torch.Tensor]:
    """The initial weights of classifier `name` at `resolution` px from a local file: a state
    dict, or a `classifier.pt` a trial saved. One-line RayganError when the file cannot be read
    or holds another architecture (nothing is ever downloaded)."""
    flag = f"--classifier-weights {path}"
    fix = f"pass a state dict or classifier.pt of a {name} classifier at {resolution} px"
    if not Path(path).is_file():
        raise RayganError(f"{flag}: no such file; {fix}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (pickle, zip and torch errors alike)
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise RayganError(f"{flag} is not a torch weights file ({reason}); {fix}") from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):  # a classifier.pt
        arch = state_arch(data)
        if arch != name:
            raise RayganError(f"{flag} holds a {arch} classifier, the sweep trains {name}; {fix}"
                              f", or pass --classifier {arch}")
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise RayganError(f"{flag} holds no state dict (a mapping of names to tensors); {fix}")
    model = build_classifier(name, resolution)
    mismatch = _mismatch(model, data)
    if mismatch:
        raise RayganError(f"{flag} does not fit a {name} classifier at {resolution} px "
                          f"({mismatch}); {fix}")
    return {k: v.clone() for k, v in data.items()}


def _mismatch(model: nn.Module, weights: dict[str, Any]) -> str:
    """How `weights` differ from `model`'s state dict, in a few words; '' when they fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    extra = [k for k in weights if k not in own]
    shapes = [f"{k} is {tuple(weights[k].shape)}, not {tuple(v.shape)}"
              for k, v in own.items() if k in weights and weights[k].shape != v.shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} weights missing, e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unknown, e.g. {extra[0]}")
    if shapes:
        parts.append(shapes[0])
    return "; ".join(parts)
