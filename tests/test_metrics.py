"""raygan.metrics.binary_metrics against scikit-learn and a hand-worked case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    recall_score,
    roc_auc_score,
)

from raygan.metrics import binary_metrics

KEYS = {"acc", "auc", "auc_hard", "sensitivity", "specificity", "balanced_acc"}


def _random_case(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.25 * y + rng.uniform(0.0, 0.75, n), 0.0, 1.0)  # informative, imperfect
    return y, p


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.7])
def test_matches_sklearn(seed: int, threshold: float) -> None:
    y, p = _random_case(seed)
    pred = (p >= threshold).astype(int)
    m = binary_metrics(y, p, threshold=threshold)
    assert set(m) == KEYS
    assert m["acc"] == pytest.approx(accuracy_score(y, pred))
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["sensitivity"] == pytest.approx(recall_score(y, pred, pos_label=1))
    assert m["specificity"] == pytest.approx(recall_score(y, pred, pos_label=0))
    assert m["balanced_acc"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["auc_hard"] == pytest.approx(roc_auc_score(y, pred))
    assert m["auc_hard"] == pytest.approx(m["balanced_acc"])
    assert m["auc"] != pytest.approx(m["auc_hard"])  # the two AUCs are different things
    assert all(isinstance(v, float) for v in m.values())


def test_hand_worked_case() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.6, 0.4, 0.9]  # pred 0 1 0 1
    m = binary_metrics(y, p)
    assert m["acc"] == 0.5
    assert m["sensitivity"] == 0.5
    assert m["specificity"] == 0.5
    assert m["balanced_acc"] == 0.5
    assert m["auc"] == 0.75  # 3 of the 4 (malignant, benign) pairs ranked right
    assert m["auc_hard"] == 0.5


def test_threshold_is_inclusive() -> None:
    m = binary_metrics([0, 1], [0.2, 0.5])
    assert m["sensitivity"] == 1.0 and m["specificity"] == 1.0
    m = binary_metrics([0, 1], [0.5, 0.9])
    assert m["specificity"] == 0.0


def test_imbalanced_balanced_accuracy_differs_from_accuracy() -> None:
    y = np.array([0] * 90 + [1] * 10)
    p = np.zeros(100)  # predicts benign for everything
    m = binary_metrics(y, p)
    assert m["acc"] == pytest.approx(0.9)
    assert m["sensitivity"] == 0.0 and m["specificity"] == 1.0
    assert m["balanced_acc"] == pytest.approx(0.5)
    assert m["auc_hard"] == pytest.approx(0.5)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc(label: int) -> None:
    y = np.full(20, label)
    p = np.random.default_rng(0).random(20)
    m = binary_metrics(y, p)
    assert math.isnan(m["auc"])
    assert math.isnan(m["auc_hard"])
    assert math.isnan(m["balanced_acc"])
    pred = (p >= 0.5).astype(int)
    assert m["acc"] == pytest.approx((pred == label).mean())
    if label == 1:
        assert math.isnan(m["specificity"])
        assert m["sensitivity"] == pytest.approx(pred.mean())
    else:
        assert math.isnan(m["sensitivity"])
        assert m["specificity"] == pytest.approx(1 - pred.mean())


def test_empty_input_is_nan() -> None:
    m = binary_metrics(np.array([], dtype=int), np.array([]))
    assert all(math.isnan(v) for v in m.values())


def test_youden_threshold_maximises_j_on_validation():
    from raygan.metrics import youden_threshold

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    t = youden_threshold(y, p)

    def j(threshold):
        m = binary_metrics(y, p, threshold)
        return m["sensitivity"] + m["specificity"] - 1

    best = max(j(c) for c in np.unique(p))  # brute force over every candidate threshold
    assert j(t) == pytest.approx(best) and j(t) > j(0.5)
    assert youden_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5  # one class: the default


def test_youden_metrics_are_named_apart_and_follow_prevalence_less():
    from raygan.metrics import youden_metrics

    rng = np.random.default_rng(1)
    y_val = (rng.random(400) < 0.5).astype(int)
    p_val = np.clip(rng.normal(0.6 + 0.25 * y_val, 0.1), 0, 1)  # miscalibrated: all above 0.5
    y_test = (rng.random(400) < 0.18).astype(int)  # another prevalence
    p_test = np.clip(rng.normal(0.6 + 0.25 * y_test, 0.1), 0, 1)
    m = youden_metrics(y_val, p_val, y_test, p_test)
    assert set(m) == {f"youden/{k}" for k in KEYS - {"auc"}} | {"youden/threshold"}
    t = m["youden/threshold"]
    assert 0.6 < t < 0.85
    assert m["youden/acc"] == pytest.approx(binary_metrics(y_test, p_test, t)["acc"])
    assert m["youden/balanced_acc"] > binary_metrics(y_test, p_test)["balanced_acc"] + 0.2
