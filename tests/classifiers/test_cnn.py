"""The 2-block CNN learns a separable task, is deterministic per seed, and keeps its best epoch."""

import numpy as np
import pytest
import torch

from raygan.classifiers import TwoBlockCNN, fit_classifier, predict_proba
from raygan.config import ClassifierConfig
from raygan.errors import RayganError
from raygan.metrics import binary_metrics


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(60, 140, (n, 3, 32, 32)).astype(np.uint8)
    x[y == 1, :, 8:24, 8:24] //= 3  # malignant: a dark centre
    return x, y.astype(np.int64)


def test_learns_a_separable_task():
    x, y = _toy(256, 0)
    xv, yv = _toy(64, 1)
    xt, yt = _toy(64, 2)
    fit = fit_classifier(ClassifierConfig(epochs=4, patience=4, batch_size=32), x, y, xv, yv, 0)
    test = binary_metrics(yt, predict_proba(fit.model, xt))
    assert test["auc"] > 0.95 and test["acc"] > 0.85
    assert fit.best_val["auc"] == max(h["val/auc"] for h in fit.history)


def test_deterministic_per_seed_and_seed_matters():
    x, y = _toy(64, 0)
    xv, yv = _toy(32, 1)
    cfg = ClassifierConfig(epochs=1, patience=1, batch_size=16)
    p = [predict_proba(fit_classifier(cfg, x, y, xv, yv, s).model, xv) for s in (0, 0, 1)]
    np.testing.assert_array_equal(p[0], p[1])
    assert not np.array_equal(p[0], p[2])


def test_early_stopping_stops_after_patience():
    x, y = _toy(32, 0)
    rng = np.random.default_rng(3)
    xv, yv = _toy(32, 1)
    yv = rng.permutation(yv)  # an unlearnable validation set: AUC cannot keep improving
    fit = fit_classifier(ClassifierConfig(epochs=30, patience=2, batch_size=16), x, y, xv, yv, 0)
    assert len(fit.history) < 30
    assert len(fit.history) - fit.best_epoch == 2


def test_every_resolution_builds():
    for r in (32, 64, 128, 224):
        assert TwoBlockCNN(r)(torch.zeros(1, 3, r, r)).shape == (1, 2)


def test_saved_classifier_reloads_and_tests_on_new_data(tmp_path):
    """A trial's classifier.pt round trip through MLflow: same predictions, same metrics."""
    import io

    from raygan import tracking
    from raygan.artifacts import CLASSIFIER_FILE
    from raygan.classifiers import classifier_state
    from raygan.config import ClassifierConfig
    from raygan.data import Split
    from raygan.eval.external import evaluate_trial
    from raygan.metrics import binary_metrics

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
    y = np.arange(40) % 2
    x[y == 1, 0] = 255  # learnable: a red channel
    fit = fit_classifier(ClassifierConfig(epochs=2, patience=2, batch_size=8), x, y, x, y, 0)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "roundtrip")
    parent = tracking.start_parent(uri, exp, "s", {}, {})
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    with tracking.child_run(ctx, "real-n10-s0", {}, {}) as run:
        buf = io.BytesIO()
        torch.save(classifier_state(fit.model, 16, threshold=0.4), buf)
        run.artifact(buf.getvalue(), CLASSIFIER_FILE)
    new = Split(rng.integers(0, 256, (12, 3, 16, 16), dtype=np.uint8), np.arange(12) % 2)
    metrics, p = evaluate_trial(uri, run.run_id, new)
    assert np.allclose(p, predict_proba(fit.model, new.x), atol=1e-6)
    assert metrics["auc"] == binary_metrics(new.y, p)["auc"]
    assert metrics["youden/threshold"] == pytest.approx(0.4)
    assert metrics["youden/acc"] == binary_metrics(new.y, p, 0.4)["acc"]
    with pytest.raises(RayganError, match="trained at 16 px"):
        evaluate_trial(uri, run.run_id, Split(np.zeros((2, 3, 32, 32), np.uint8), np.arange(2)))
    with tracking.child_run(ctx, "old", {}, {}) as old:
        pass
    with pytest.raises(RayganError, match="holds no classifier.pt"):
        evaluate_trial(uri, old.run_id, new)
