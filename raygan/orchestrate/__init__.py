"""The only package that imports Ray: Train jobs, Tune experiments, object-store hand-offs."""

from raygan.orchestrate.sweep import Prepared, SweepResult, num_trials, prepare, run_sweep

__all__ = ["Prepared", "SweepResult", "num_trials", "prepare", "run_sweep"]
