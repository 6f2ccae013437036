"""Test-split metrics of a binary classifier, each named for what it is."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def binary_metrics(y_true: np.ndarray, p_malignant: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, ROC AUC from probabilities, sensitivity, specificity, balanced accuracy, and the
    study's convention `auc_hard`: ROC AUC of the hard 0/1 predictions (= balanced accuracy)."""
    y_true = np.asarray(y_true).astype(int)
    p = np.asarray(p_malignant, dtype=float)
    pred = (p >= threshold).astype(int)
    tp = int(((pred == 1) & (y_true == 1)).sum())
    tn = int(((pred == 0) & (y_true == 0)).sum())
    pos, neg = int((y_true == 1).sum()), int((y_true == 0).sum())
    sens = tp / pos if pos else float("nan")
    spec = tn / neg if neg else float("nan")
    both = pos > 0 and neg > 0
    return {
        "acc": (tp + tn) / len(y_true) if len(y_true) else float("nan"),
        "auc": float(roc_auc_score(y_true, p)) if both else float("nan"),
        "auc_hard": float(roc_auc_score(y_true, pred)) if both else float("nan"),
        "sensitivity": sens,
        "specificity": spec,
        "balanced_acc": (sens + spec) / 2,
    }
