"""Downstream classifiers: fit and evaluate with no Ray inside."""

from raygan.classifiers.cnn import (
    FitResult,
    TwoBlockCNN,
    classifier_state,
    fit_classifier,
    load_classifier,
    predict_proba,
)

__all__ = ["FitResult", "TwoBlockCNN", "classifier_state", "fit_classifier", "load_classifier",
           "predict_proba"]
