"""Downstream classifiers behind one interface; importing this module registers all of them.
Each model lives in its own file, its fit loop in train.py, its saved state in state.py; no Ray
inside."""

from raygan.classifiers import cnn, resnet20  # noqa: F401, I001  (registers, in this order)
from raygan.classifiers.base import (
    DEFAULT,
    REGISTRY,
    Classifier,
    build_classifier,
    check_classifier_name,
    register,
)
from raygan.classifiers.cnn import TwoBlockCNN
from raygan.classifiers.resnet20 import ResNet20
from raygan.classifiers.state import classifier_state, load_classifier, read_weights
from raygan.classifiers.train import FitResult, fit_classifier, predict_proba

__all__ = ["DEFAULT", "REGISTRY", "Classifier", "FitResult", "ResNet20", "TwoBlockCNN",
           "build_classifier", "check_classifier_name", "classifier_state", "fit_classifier",
           "load_classifier", "predict_proba", "read_weights", "register"]
