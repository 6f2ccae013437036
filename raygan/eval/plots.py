"""PNG figures for MLflow and the report: image grids, ROC curves, the budget and fidelity
plots."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

import numpy as np
from PIL import Image

from raygan.eval.numbers import ALPHA, _arms


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> Image.Image:
    """uint8 NCHW images tiled into one RGB picture on white (`torchvision.utils.make_grid`)."""
    import torch
    from torchvision.utils import make_grid

    cols = columns or math.ceil(math.sqrt(len(images)))
    grid = make_grid(torch.from_numpy(np.ascontiguousarray(images)), nrow=cols, padding=pad,
                     pad_value=255)
    return Image.fromarray(grid.permute(1, 2, 0).numpy())


def grid_png(images: np.ndarray, columns: int | None = None) -> bytes:
    """`image_grid` as PNG bytes."""
    buf = io.BytesIO()
    image_grid(images, columns).save(buf, format="PNG")
    return buf.getvalue()


def roc_png(y_true: np.ndarray, p_malignant: np.ndarray, title: str) -> bytes:
    """The ROC curve of one classifier on the test split, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y_true, p_malignant)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"AUC = {roc_auc_score(y_true, p_malignant):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title)
    ax.legend(loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def budget_plot_png(sets: dict[str, list[dict[str, Any]]]) -> bytes:
    """`budget_figure` as PNG bytes."""
    fig = budget_figure(sets)
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def budget_figure(sets: dict[str, list[dict[str, Any]]]):
    """Accuracy and AUC against budget for every arm, one row of two panels per test set
    (`sets`: its title -> its `per_trial` rows). One seed: 95% CI bands of the run (Wilson,
    DeLong). Several seeds: the mean, each seed as a dot, and a 95% t-interval of the mean
    across seeds (training variance; the test set is the same for every seed). A budget axis
    with one value shows error bars, as a band there has no width. The caller closes the
    figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sets), 2, figsize=(11, 4.5 * len(sets)), squeeze=False)
    for row_axes, (name, rows) in zip(axes, sets.items(), strict=True):
        _budget_panels(row_axes, rows, name)
    fig.tight_layout()
    return fig


def _budget_panels(axes, rows: list[dict[str, Any]], name: str) -> None:
    """The accuracy and AUC panels of one test set."""
    from scipy import stats as sps

    n_seeds = len({r["seed"] for r in rows})
    arms = _arms([r for r in rows if r["budget"] != "all"])
    if n_seeds > 1:
        titles = [f"{name}\naccuracy: mean of {n_seeds} seeds, 95% t-interval",
                  f"{name}\nAUC: mean of {n_seeds} seeds, 95% t-interval"]
    else:
        titles = [f"{name}\naccuracy (Wilson 95% CI)", f"{name}\nAUC (DeLong 95% CI)"]
    for ax, (metric, lo_k, hi_k), title in zip(axes, [
            ("acc", "acc_lo", "acc_hi"), ("auc", "auc_lo", "auc_hi")], titles, strict=True):
        for k, arm in enumerate(arms):
            by_b: dict[int, list[dict]] = defaultdict(list)
            for r in rows:
                if r["arm"] == arm:
                    by_b[r["budget"]].append(r)
            bs = sorted(by_b)
            vals = [np.array([r[metric] for r in by_b[b]]) for b in bs]
            mean = [float(v.mean()) for v in vals]
            if n_seeds > 1:
                half = [float(sps.t.ppf(1 - ALPHA / 2, len(v) - 1) * v.std(ddof=1)
                              / math.sqrt(len(v))) if len(v) > 1 else 0.0 for v in vals]
                lo = [m - h for m, h in zip(mean, half, strict=True)]
                hi = [m + h for m, h in zip(mean, half, strict=True)]
            else:
                lo = [r[lo_k] for b in bs for r in by_b[b]]
                hi = [r[hi_k] for b in bs for r in by_b[b]]
            style = "--" if not arm.startswith("gan:") else "-"
            (line,) = ax.plot(bs, mean, style, marker="o", label=arm)
            if len(bs) > 1:
                ax.fill_between(bs, lo, hi, color=line.get_color(), alpha=0.12)
            else:  # a band over one x value has no width: error bars instead
                ax.errorbar(bs, mean, yerr=[[m - v for m, v in zip(mean, lo, strict=True)],
                                            [v - m for m, v in zip(mean, hi, strict=True)]],
                            fmt="none", ecolor=line.get_color(), capsize=4)
            if n_seeds > 1:  # each seed, nudged sideways per arm so the dots do not overlap
                nudge = 1 + 0.015 * (k - len(arms) / 2)
                for b, v in zip(bs, vals, strict=True):
                    ax.scatter([b * nudge] * len(v), v, s=6, color=line.get_color(), alpha=0.6)
        ref = [r[metric] for r in rows if r["arm"] == "all-real"]
        if ref:
            ax.axhline(float(np.mean(ref)), color="k", lw=0.8, ls=":", label="all-real")
        ax.set(xscale="log", xlabel="real malignant images N", title=title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")


def fidelity_plot_png(rows: list[dict[str, Any]]) -> bytes:
    """Domain-feature FD (and CAS AUC, when measured) against downstream test AUC, one point
    per GAN run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("fd", "domain-feature Fréchet distance to real malignant (lower = closer)")]
    if any("cas_auc" in r for r in rows):
        panels.append(("cas_auc", "CAS AUC: trained on generated malignant + real benign"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (key, xlabel) in zip(axes[0], panels, strict=True):
        for arm in _arms(rows):
            rs = [r for r in rows if r["arm"] == arm and key in r]
            ax.scatter([r[key] for r in rs], [r["test_auc"] for r in rs], label=arm)
            for r in rs:
                ax.annotate(str(r["budget"]), (r[key], r["test_auc"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.set(xlabel=xlabel, ylabel="downstream test AUC of the GAN's arm",
               title="fidelity against usefulness (labels: N)")
        if key == "fd" and all(r["fd"] > 0 for r in rows):
            ax.set_xscale("log")  # a few unstable runs sit orders of magnitude out
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()

