"""Downstream classifiers: fit and evaluate with no Ray inside."""

from raygan.classifiers.cnn import FitResult, TwoBlockCNN, fit_classifier, predict_proba

__all__ = ["FitResult", "TwoBlockCNN", "fit_classifier", "predict_proba"]
