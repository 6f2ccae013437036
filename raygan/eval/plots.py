"""Small PNG figures for MLflow and the README: image grids and ROC curves."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> Image.Image:
    """uint8 NCHW images tiled into one RGB picture."""
    n, _, h, w = images.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = img.transpose(1, 2, 0)
    return Image.fromarray(canvas)


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
