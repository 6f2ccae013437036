"""PNG figures for MLflow and the report: image grids, ROC curves, the budget and fidelity
plots."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

import numpy as np
from PIL import Image

from raygan.cell import ALL, is_generated
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
    """Accuracy and AUC for every arm, one row of two panels per test set (`sets`: its title
    -> its `per_trial` rows). Several budgets: each arm against N on a log axis, all-real
    as a horizontal reference. One budget: the arms side by side, one x position each. One
    seed: the run's 95% CI (Wilson, DeLong). Several seeds: the mean, each seed as a dot,
    and a 95% t-interval of the mean across seeds (training variance; the test set is the
    same for every seed). Intervals are clipped to [0, 1], the range of both metrics, and
    the panel titles say so. The caller closes the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sets), 2, figsize=(11, 4.5 * len(sets)), squeeze=False)
    for row_axes, (name, rows) in zip(axes, sets.items(), strict=True):
        _budget_panels(row_axes, rows, name)
    fig.tight_layout()
    return fig


SEED_JITTER = 0.12  # half-width, in arm positions, over which a one-budget plot spreads seed dots


def _budget_panels(axes, rows: list[dict[str, Any]], name: str) -> None:
    """The accuracy and AUC panels of one test set."""
    n_seeds = len({r["seed"] for r in rows})
    across_seeds = n_seeds > 1
    budgets = sorted({r["budget"] for r in rows if r["budget"] != ALL})
    arms = _arms(rows)
    colors = {arm: "k" if arm == "all-real" else f"C{k % 10}" for k, arm in enumerate(arms)}
    for ax, metric, label in zip(axes, ("acc", "auc"), ("accuracy", "AUC"), strict=True):
        cells = {(arm, b): _cell(rs, metric, across_seeds)
                 for (arm, b), rs in _group(rows).items()}
        if len(budgets) > 1:
            _over_budgets(ax, cells, arms, budgets, colors)
        else:
            _side_by_side(ax, cells, arms, budgets, colors)
        if across_seeds:
            how = "95% t-interval across seeds"
            what = f"{label}: mean of {n_seeds} seeds (dots: each seed)"
        else:
            how = f"{'Wilson' if metric == 'acc' else 'DeLong'} 95% CI"
            what = f"{label} of one seed"
        ax.set_title(f"{name}\n{what}\n{how}, clipped to [0, 1]", fontsize=10)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if len(budgets) > 1:
        axes[1].legend(fontsize=7, loc="lower right")


def _group(rows: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    """The rows of each (arm, budget) cell, in seed order."""
    out: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["seed"]):
        out[(r["arm"], r["budget"])].append(r)
    return out


def _cell(rs: list[dict[str, Any]], metric: str, across_seeds: bool
          ) -> tuple[np.ndarray, float, float, float]:
    """One cell's per-seed values, their mean and its 95% interval clipped to [0, 1]: the
    t-interval across seeds (NaN with one seed in the cell), or the one run's own CI."""
    from scipy import stats as sps

    v = np.array([r[metric] for r in rs], dtype=float)
    mean = float(v.mean())
    if not across_seeds:
        lo, hi = rs[0][f"{metric}_lo"], rs[0][f"{metric}_hi"]
    elif len(v) > 1:
        half = float(sps.t.ppf(1 - ALPHA / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
        lo, hi = mean - half, mean + half
    else:
        lo = hi = math.nan
    return v, mean, float(np.clip(lo, 0.0, 1.0)), float(np.clip(hi, 0.0, 1.0))


def _over_budgets(ax, cells, arms: list[str], budgets: list[int], colors: dict[str, str]) -> None:
    """Each arm's mean against N on a log axis, its interval as a band, seeds as dots nudged
    sideways per arm; all-real, which has no N, as a horizontal line and band."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    curves = [a for a in arms if a != "all-real"]
    for k, arm in enumerate(curves):
        bs = [b for b in budgets if (arm, b) in cells]
        vals, mean, lo, hi = (list(x) for x in zip(*(cells[(arm, b)] for b in bs), strict=True))
        color = colors[arm]
        ax.plot(bs, mean, "-" if is_generated(arm) else "--", marker="o", color=color,
                label=arm)
        if len(bs) > 1:
            ax.fill_between(bs, lo, hi, color=color, alpha=0.12)
        else:  # a band over one x value has no width
            _error_bars(ax, bs, mean, lo, hi, color)
        nudge = 1 + 0.015 * (k - len(curves) / 2)
        for b, v in zip(bs, vals, strict=True):
            if len(v) > 1:
                ax.scatter([b * nudge] * len(v), v, s=6, color=color, alpha=0.6)
    if ("all-real", ALL) in cells:
        _, mean, lo, hi = cells[("all-real", ALL)]
        ax.axhline(mean, color="k", lw=0.8, ls=":", label="all-real (N = all)")
        if not math.isnan(lo):
            ax.axhspan(lo, hi, color="k", alpha=0.06, lw=0)
    ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("real malignant images N (log scale)")


def _side_by_side(ax, cells, arms: list[str], budgets: list[int], colors: dict[str, str]) -> None:
    """One budget: the arms at one x position each, the mean and its interval as an error
    bar, seed dots spread narrowly around it."""
    xs = range(len(arms))
    for x, arm in zip(xs, arms, strict=True):
        vals, mean, lo, hi = next(c for (a, _), c in cells.items() if a == arm)
        if len(vals) > 1:
            ax.scatter(x + np.linspace(-SEED_JITTER, SEED_JITTER, len(vals)), vals, s=10,
                       color=colors[arm], alpha=0.5, zorder=2)
        _error_bars(ax, [x], [mean], [lo], [hi], colors[arm])
        if arm == "all-real":
            ax.axhline(mean, color="k", lw=0.8, ls=":")
    ax.set_xticks(list(xs), arms, rotation=25 if len(arms) > 4 else 0,
                  ha="right" if len(arms) > 4 else "center")
    ax.set_xlim(-0.6, len(arms) - 0.4)
    n = f"N = {budgets[0]} real malignant images" if budgets else ""
    every = "all-real: every one" if "all-real" in arms else ""
    ax.set_xlabel(f"arm ({'; '.join(p for p in (n, every) if p)})" if n or every else "arm")


def _error_bars(ax, xs, mean, lo, hi, color: str) -> None:
    """Means as dots with error bars from `lo` to `hi` (none where those are NaN)."""
    yerr = [[m - v for m, v in zip(mean, lo, strict=True)],
            [v - m for m, v in zip(mean, hi, strict=True)]]
    ax.errorbar(xs, mean, yerr=yerr, fmt="o", color=color, ecolor=color, capsize=4, zorder=3)


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

