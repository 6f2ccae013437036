"""Evaluation: statistical tests and confidence intervals for comparing classifiers."""
