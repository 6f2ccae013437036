"""Classifier stage: one Tune experiment over the arm x budget x seed grid, each trial fitting
the sweep's classifier (`--classifier`, a raygan.classifiers registry key).

Real data reaches every trial once through the object store (`tune.with_parameters`); GAN arms
read their generated images from the ObjectRefs that the `ImageHub` owns.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from raygan.artifacts import CLASSIFIER_FILE, ROC_PNG, TEST_PROBS, external_probs
from raygan.cell import KIND_CLASSIFIER, Cell, grid_cells
from raygan.classifiers import classifier_state, fit_classifier, predict_proba, read_weights
from raygan.classifiers.colour import fit_colour
from raygan.config import ClassifierConfig, SweepConfig
from raygan.data.arms import training_set
from raygan.data.probes import is_linear, probe_view
from raygan.data.splits import cell_split
from raygan.eval.plots import roc_png
from raygan.metrics import binary_metrics, youden_metrics, youden_threshold
from raygan.orchestrate.cluster import node_id
from raygan.orchestrate.handoff import SweepData, result_cells
from raygan.orchestrate.memory import classifier_trial_bytes
from raygan.orchestrate.progress import Progress, classifier_summary, tune_verbosity
from raygan.tracking import TrackingContext, child_run

FAIL_HOOK = "RAYGAN_FAIL_TRIALS"  # test hook: comma-separated run names whose trial raises


def trial_resources(ccfg: ClassifierConfig, resolution: int) -> dict[str, float]:
    """What one classifier trial asks Ray for (its memory at its classifier's own slope)."""
    memory = classifier_trial_bytes(ccfg.batch_size, resolution, ccfg.use_gpu, ccfg.name)
    return {"CPU": ccfg.cpus, "memory": memory, **({"GPU": 1} if ccfg.use_gpu else {})}


def classifier_trial(config: dict[str, Any], *, data: SweepData,
                     generated: dict[str, list], tracking: TrackingContext,
                     sweep: SweepConfig, init: dict[str, torch.Tensor] | None = None) -> None:
    """Tune function trainable: build the arm's training set, fit the sweep's classifier (from
    the initial weights `init`, read on the driver, when given), test once, log."""
    cell = Cell(**config["cell"])
    ccfg = sweep.classifier
    torch.set_num_threads(ccfg.cpus)
    device = "cuda" if ccfg.use_gpu and torch.cuda.is_available() else "cpu"
    pools = data.pools
    x_train, y_train, x_test, y_test = ray.get(
        [data.x_train, data.y_train, data.x_test, data.y_test])
    fake = None
    if cell.is_gan:
        if cell.gan_key not in generated:
            raise RuntimeError(f"no generated images for {cell.gan_key}: its GAN training failed")
        fake = ray.get(generated[cell.gan_key][0])
    x, y = training_set(cell, x_train, pools, data.fill_target, fake)
    # `budget` validation: a part of the N validates
    val = cell_split(pools, cell.budget_count(pools.num_malignant), cell.seed).val
    x_val, y_val = x_train[val], y_train[val]
    # a shortcut probe sees every image, its test sets' too, through its view (data/probes.py)
    x, x_val, x_test = (probe_view(cell.arm, a) for a in (x, x_val, x_test))
    params = {**cell.params, "resolution": sweep.resolution,
              "fill_target": data.fill_target, "num_train": len(y),
              "num_malignant": int(y.sum()), "num_benign": int((y == 0).sum()),
              **{f"clf.{k}": v for k, v in dataclasses.asdict(ccfg).items()}}
    tags = {**cell.tags(KIND_CLASSIFIER), "raygan.node": node_id()}
    name = cell.run_name
    with child_run(tracking, name, params, tags) as run:
        if name in os.environ.get(FAIL_HOOK, "").split(","):
            raise RuntimeError(f"failure injected through {FAIL_HOOK}")
        t0 = time.perf_counter()

        def on_epoch(epoch: int, row: dict[str, float]) -> None:
            run.metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
            tune.report({**row, "done_training": 0})

        if is_linear(cell.arm):  # the colour probe: a logistic regression, not a network
            fit = fit_colour(x, y, x_val, y_val, cell.seed)
            predict = fit.model.predict_proba
        else:
            fit = fit_classifier(ccfg, x, y, x_val, y_val, cell.seed, device=device,
                                 on_epoch=on_epoch, init=init)
            predict = lambda a: predict_proba(fit.model, a, device=device)  # noqa: E731
        p_test, p_val = predict(x_test), predict(x_val)
        test = {**binary_metrics(y_test, p_test), **youden_metrics(y_val, p_val, y_test, p_test)}
        ext = {}
        for ext_name, (x_ref, y_ref) in data.external.items():
            x_ext, y_ext = ray.get([x_ref, y_ref])
            p_ext = predict(probe_view(cell.arm, x_ext))
            metrics = {**binary_metrics(y_ext, p_ext),
                       **youden_metrics(y_val, p_val, y_ext, p_ext)}
            ext.update({f"ext/{ext_name}/{k}": v for k, v in metrics.items()
                        if k != "youden/threshold"})
            run.artifact(_npy(p_ext), external_probs(ext_name))
        final = {
            **{f"test/{k}": v for k, v in test.items()}, **ext,
            **{f"val/{k}": v for k, v in fit.best_val.items()},
            "best_epoch": fit.best_epoch, "time/fit_s": time.perf_counter() - t0,
        }
        run.metrics(final)
        run.artifact(roc_png(y_test, p_test, name), ROC_PNG)
        run.artifact(_npy(p_test), TEST_PROBS)  # per-image scores, paired tests
        buf = io.BytesIO()  # the trained classifier, to test it on new data without retraining
        threshold = youden_threshold(y_val, p_val)
        torch.save(fit.model.state(sweep.resolution, threshold) if is_linear(cell.arm) else
                   {**classifier_state(fit.model, sweep.resolution, threshold),
                    **({"probe": cell.arm} if cell.is_probe else {})}, buf)
        run.artifact(buf.getvalue(), CLASSIFIER_FILE)
        tune.report({**final, "done_training": 1})


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, np.float32))
    return buf.getvalue()


def result_row(cell: Cell, metrics: dict[str, Any]) -> dict[str, Any]:
    """The results-table row of a classifier trial: its cell and its final metrics (a finished
    run read back from MLflow after an interruption gives `tracking.run_cell` and its metrics)."""
    row: dict[str, Any] = {"arm": cell.arm, "budget": cell.budget, "seed": cell.seed}
    row.update({k: v for k, v in metrics.items()
                if k.startswith(("test/", "val/", "time/", "ext/")) or k == "best_epoch"})
    return row


def run_classifier_stage(cfg: SweepConfig, data: SweepData, generated: dict[str, list],
                         tracking: TrackingContext, storage: str,
                         skip: frozenset[str] = frozenset(),
                         verbose: bool = True) -> list[dict[str, Any]]:
    """Run every grid cell but those named in `skip` (finished before an interruption);
    returns one row per cell run, with its test metrics or its error."""
    cells = [c for c in grid_cells(cfg) if c.run_name not in skip]
    if not cells:
        return []
    ccfg = cfg.classifier
    # Read once, on the driver (the file need not exist on other nodes), checked by prepare().
    init = read_weights(ccfg.weights, ccfg.name, cfg.resolution) if ccfg.weights else None
    trainable = tune.with_resources(
        tune.with_parameters(classifier_trial, data=data, generated=generated,
                             tracking=tracking, sweep=cfg, init=init),
        trial_resources(cfg.classifier, cfg.resolution),
    )
    tuner = tune.Tuner(
        trainable,
        # Tune's search space takes plain values: each cell crosses as a dict, once.
        param_space={"cell": tune.grid_search([dataclasses.asdict(c) for c in cells])},
        run_config=tune.RunConfig(name=f"{tracking.sweep}-classifiers", storage_path=storage,
                                  verbose=tune_verbosity(verbose),
                                  callbacks=[Progress(len(cells), classifier_summary)]),
    )
    rows = []
    for cell, r in result_cells(tuner.fit(), cells):
        if r.error is not None:
            row = result_row(cell, {})
            row["error"] = str(r.error).strip().splitlines()[-1][:300]
        else:
            row = result_row(cell, r.metrics or {})
        rows.append(row)
    return rows
