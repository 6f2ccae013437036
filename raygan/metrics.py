"""Test-split metrics of a binary classifier, each named for what it is."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


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


def youden_threshold(y_val: np.ndarray, p_val: np.ndarray) -> float:
    """The threshold on P(malignant) that maximises Youden's J (sensitivity + specificity - 1)
    on validation; 0.5 where validation lacks a class. A threshold chosen on validation follows
    the classifier's calibration, not the test set's prevalence, unlike accuracy at 0.5."""
    y = np.asarray(y_val).astype(int)
    p = np.asarray(p_val, dtype=float)
    if not ((y == 1).any() and (y == 0).any()):
        return 0.5
    fpr, tpr, thresholds = roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))  # roc_curve's first threshold is +inf


def youden_metrics(y_val: np.ndarray, p_val: np.ndarray, y_true: np.ndarray,
                   p_malignant: np.ndarray) -> dict:
    """`binary_metrics` at the validation's Youden threshold, each named `youden/<metric>` (e.g.
    `test/youden/acc` beside `test/acc` at 0.5; MLflow names allow no '@'), plus
    `youden/threshold`; the threshold-free `auc` is left out."""
    return metrics_at(y_true, p_malignant, youden_threshold(y_val, p_val))


def metrics_at(y_true: np.ndarray, p_malignant: np.ndarray, threshold: float,
               name: str = "youden") -> dict:
    """`binary_metrics` at a chosen `threshold`, each named `<name>/<metric>` (no `auc`: it
    does not depend on the threshold), plus `<name>/threshold`."""
    out = {f"{name}/{k}": v for k, v in binary_metrics(y_true, p_malignant, threshold).items()
           if k != "auc"}
    return {**out, f"{name}/threshold": float(threshold)}
