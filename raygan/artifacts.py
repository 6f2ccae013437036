"""The names of every file raygan writes and reads back: a sweep's folder, MLflow artifacts of its
runs, the report. Writer and reader take the name from here, so they cannot drift apart."""

from __future__ import annotations

# runs/<sweep>/ (and the sweep's parent MLflow run)
CONFIG_FILE = "config.json"  # the resolved SweepConfig; a resume and the report read it
LOCK_FILE = "sweep.lock"  # held while a sweep or tuning run writes the folder
RESULTS_MD, RESULTS_CSV, RESULTS_JSON = "results.md", "results.csv", "results.json"  # per trial
RESULTS_TABLE = "results_table.json"  # the parent run's MLflow table (`log_table`), per cell
BEST_FILE = "best_gan_configs.json"  # {"<gan>@<budget>": {"batch_size": .., "steps": ..}}
EXTRACTOR_FILE = "fidelity_extractor.pt"  # the report's feature extractor, reused when rewritten
REPORT_DIR = "report"  # the report's folder, and its folder among the parent run's artifacts
RESULTS_DIR = "results"  # the report's inputs as a folder to commit: scores, gates, CAS (bundle.py)
REPORT_FILE = "report.md"  # the report itself, in REPORT_DIR
SUMMARY_FILE = "summary.md"  # the report at a glance: the compact tables a README quotes
SAMPLES_DIR = "samples"  # the report's sample grids, in REPORT_DIR
PAIRS_DIR = "pairs"  # each generated run's closest (generated, training) pairs, in REPORT_DIR

# a GAN training's MLflow run (and its Ray Train checkpoints)
GAN_CHECKPOINT = "gan.pt"  # weights, step and history: `raygan.gans.checkpoint`
SAMPLES_PNG = "samples.png"  # grid of the first `num_grid_images` generated images

# a classifier trial's MLflow run
CLASSIFIER_FILE = "classifier.pt"  # weights, resolution, validation threshold
TEST_PROBS = "test_p_malignant.npy"  # P(malignant) per test image, test-split order
ROC_PNG = "roc.png"  # the test ROC curve

# a tuning run's MLflow run
TRIALS_CSV = "trials.csv"  # every Optuna trial of the tuned cell

# `raygan generate`
MANIFEST_FILE = "manifest.csv"  # beside the PNGs: index, latent seed, cell, in the fill or not
PAIRS_PNG = "pairs.png"  # --pairs: the closest (generated, training) pairs, side by side
PAIRS_CSV = "pairs.csv"  # --pairs: each pair's files, distance and nearest-neighbour ratio


def external_probs(name: str) -> str:
    """P(malignant) per image of the external test set `name`, in a classifier trial's run."""
    return f"ext_{name}_p_malignant.npy"
