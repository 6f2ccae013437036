"""Fitting and applying a registry classifier: CrossEntropy and Adam, early stopping on the
validation AUC, the best epoch's weights kept. No Ray inside: orchestrate/ wraps it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raygan.classifiers.base import build_classifier
from raygan.config import ClassifierConfig
from raygan.images import to_float
from raygan.metrics import binary_metrics


@dataclass
class FitResult:
    """The best-on-validation model and its training history."""

    model: nn.Module
    best_epoch: int
    best_val: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


@torch.no_grad()
def predict_proba(
    model: nn.Module, x: np.ndarray, batch: int = 256, device: str = "cpu"
) -> np.ndarray:
    """P(malignant) for uint8 NCHW images."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = to_float(torch.tensor(x[i : i + batch])).to(device)
        out.append(F.softmax(model(xb), dim=1)[:, 1].cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def fit_classifier(
    cfg: ClassifierConfig,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    device: str = "cpu",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    init: dict[str, torch.Tensor] | None = None,
) -> FitResult:
    """Train classifier `cfg.name` on (x, y), from the weights `init` when given (a state dict
    of the same architecture, see state.read_weights), else from a seeded initialization; keep
    the weights with the best validation AUC; stop after `patience` epochs without a gain."""
    resolution = x.shape[-1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_classifier(cfg.name, resolution)
    if init is not None:
        model.load_state_dict(init)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng([seed, 0xC1F])
    data, labels = torch.from_numpy(x), torch.from_numpy(y)
    best_auc, best_state, best_epoch, best_val = -1.0, None, 0, {}
    history: list[dict[str, float]] = []
    drop_gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = rng.permutation(len(data))
        total, n = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            xb, yb = to_float(data[idx]).to(device), labels[idx].to(device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=drop_gen)))
                loss = F.cross_entropy(model(xb), yb)  # dropout masks follow the seed
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        val = binary_metrics(y_val, predict_proba(model, x_val, device=device))
        row = {"epoch": epoch, "train/loss": total / max(n, 1),
               **{f"val/{k}": v for k, v in val.items()}}
        history.append(row)
        if val["auc"] > best_auc:
            best_auc, best_epoch, best_val = val["auc"], epoch, val
            best_state = copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch(epoch, row)
        if epoch - best_epoch >= cfg.patience:
            break
    model.load_state_dict(best_state)
    return FitResult(model, best_epoch, best_val, history)
