"""MLflow: where runs go, how they are named, and what each logs. No Ray inside.

The one door to the tracking store: no other module of raygan imports mlflow. `store` opens it
(URI, checks, experiment), `write` creates runs and logs to them, `read` reads a sweep back,
and `summary` sums a sweep's results rows up for its parent run."""

from raygan.artifacts import RESULTS_TABLE
from raygan.tracking.read import (
    external_scores,
    find_parent,
    gan_checkpoint,
    gan_checkpoints,
    gan_gates,
    run_cell,
    sweep_gates,
    sweep_params,
    sweep_results,
)
from raygan.tracking.store import (
    DEFAULT_URI,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    FINISHED_GANS,
    SERVER_TIMEOUT_S,
    TEST_DATA_TAG,
    check_active,
    check_writable,
    resolve_uri,
    setup,
)
from raygan.tracking.summary import SUMMARY_METRICS, arm_slug, results_table, summary_metrics
from raygan.tracking.write import (
    ChildRun,
    TrackingContext,
    child_run,
    end_run,
    finished_children,
    log_files,
    log_results,
    log_sweep_metrics,
    reopen,
    start_parent,
)

__all__ = [
    "DEFAULT_URI",
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "FINISHED_GANS",
    "RESULTS_TABLE",
    "SERVER_TIMEOUT_S",
    "SUMMARY_METRICS",
    "TEST_DATA_TAG",
    "ChildRun",
    "TrackingContext",
    "arm_slug",
    "check_active",
    "check_writable",
    "child_run",
    "end_run",
    "external_scores",
    "find_parent",
    "finished_children",
    "gan_checkpoint",
    "gan_checkpoints",
    "gan_gates",
    "log_files",
    "log_results",
    "log_sweep_metrics",
    "reopen",
    "results_table",
    "resolve_uri",
    "run_cell",
    "setup",
    "start_parent",
    "summary_metrics",
    "sweep_gates",
    "sweep_params",
    "sweep_results",
]
