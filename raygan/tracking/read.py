"""The read side of the tracking store: a sweep's parent run, its finished trials and their
per-image scores, its GAN trainings' checkpoints and quality gates, its params, and the files
(a checkpoint, a classifier's weights) that a run holds."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from raygan.artifacts import (
    CLASSIFIER_FILE,
    GAN_CHECKPOINT,
    SAMPLES_PNG,
    TEST_PROBS,
    external_probs,
)
from raygan.cell import KIND_CLASSIFIER, KIND_GAN, Cell, Gate, Trial
from raygan.errors import RayganError
from raygan.tracking.client import Artifacts, Client, client, sqlite_path
from raygan.tracking.store import FINISHED_GANS, TEST_DATA_TAG, check_active


def find_parent(uri: str, experiment_id: str, sweep: str) -> str | None:
    """The id of the newest parent run of the sweep called `sweep`, or None."""
    # The name is compared here, never pasted into the filter string: no character of it (a
    # quote, a backslash) can change the query.
    runs = client(uri).search_runs(
        [experiment_id], "tags.`raygan.kind` = 'sweep'",
        order_by=["attributes.start_time DESC"], max_results=50000)
    return next((r.info.run_id for r in runs if r.data.tags.get("raygan.sweep") == sweep), None)


def sweep_exists(uri: str, experiment: str, sweep: str) -> bool:
    """Whether store `uri` holds a parent run of sweep `sweep` in `experiment`; a sqlite store
    whose file is missing holds none (and is not created to say so)."""
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        return False
    exp = client(uri).get_experiment_by_name(experiment)
    return exp is not None and find_parent(uri, exp.experiment_id, sweep) is not None


def _sweep_parent(c: Client, uri: str, experiment: str, sweep: str
                  ) -> tuple[Any, str]:
    """(experiment, parent run id) of the sweep called `sweep`; a deleted experiment (with the
    command that restores it) or a missing sweep is a RayganError."""
    exp = c.get_experiment_by_name(experiment)
    if exp is not None:
        check_active(exp, uri)
    parent = find_parent(uri, exp.experiment_id, sweep) if exp else None
    if parent is None:
        raise RayganError(f"no sweep named {sweep!r} in MLflow experiment {experiment!r} at {uri}")
    return exp, parent


def sweep_results(uri: str, experiment: str, sweep: str, test_data: str = ""
                  ) -> tuple[list, dict[str, bytes]]:
    """The finished classifier trials of a sweep (with per-image test scores, validation
    threshold and run id) and the sample grid of its largest-budget GAN training per family;
    every trial tagged with a test-data digest must carry `test_data` (when given) and the same
    digest as the others."""
    import numpy as np

    c = client(uri)
    exp, parent = _sweep_parent(c, uri, experiment, sweep)
    runs = c.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'"
                         " and attributes.status = 'FINISHED'", max_results=50000)
    classifiers = [r for r in runs if r.data.tags.get("raygan.kind") == KIND_CLASSIFIER]
    _check_test_data(sweep, classifiers, test_data)
    names = Counter(r.info.run_name for r in classifiers)
    twice = sorted(n for n, k in names.items() if k > 1)
    if twice:
        raise RayganError(
            f"sweep {sweep!r} has {names[twice[0]]} finished runs named {twice[0]!r} under one "
            f"parent run ({len(twice)} cells repeat): two processes ran it at once; delete the "
            "extra runs in MLflow, or run the sweep again under a new --name")
    trials, grids = [], {}
    gans = [(run_cell(r), r.info.run_id) for r in runs
            if r.data.tags.get("raygan.kind") == KIND_GAN]
    first_seed = min((cell.seed for cell, _ in gans), default=0)
    largest: dict[str, tuple[Cell, str]] = {}  # arm -> (cell, run id) of its largest budget
    for cell, run_id in gans:
        if cell.seed == first_seed and (cell.arm not in largest
                                        or cell.budget > largest[cell.arm][0].budget):
            largest[cell.arm] = (cell, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        for run in classifiers:
            cell = run_cell(run)
            path = Artifacts(c, run.info.run_id, run.info.experiment_id).download(TEST_PROBS, tmp)
            threshold = run.data.metrics.get("test/youden/threshold", float("nan"))
            trials.append(Trial(cell, np.load(path), threshold,
                                run.info.run_id))
        for cell, run_id in largest.values():
            path = Artifacts(c, run_id, exp.experiment_id).download(SAMPLES_PNG, f"{tmp}/{run_id}")
            grids[f"{cell.arm}-n{cell.budget}"] = Path(path).read_bytes()
    return trials, grids


def finished_runs(uri: str, experiment: str, sweep: str) -> set[str]:
    """The names of the finished runs (classifier trials and GAN trainings) of the sweep called
    `sweep`: what the report compares with the sweep's grid before it reads any data."""
    c = client(uri)
    exp, parent = _sweep_parent(c, uri, experiment, sweep)
    runs = c.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'"
                         " and attributes.status = 'FINISHED'", max_results=50000)
    return {r.info.run_name for r in runs}


def run_cell(run: Any) -> Cell:
    """The cell of a finished GAN training or classifier run, from its MLflow params."""
    return Cell.from_params(run.data.params)


def external_scores(uri: str, trials: list, name: str) -> list:
    """The `trials` (of `sweep_results`) with their stored per-image scores on the external
    set `name` in place of the test split's (artifact `external_probs(name)`)."""
    import numpy as np

    c = client(uri)
    file = external_probs(name)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in trials:
            if file not in Artifacts(c, t.run_id).names():
                raise RayganError(f"classifier run {Cell(t.arm, t.budget, t.seed).run_name} "
                                  f"holds no {file}: it was not tested on external set "
                                  f"{name!r}; test the saved classifiers on it anew with raygan "
                                  "report --external-test OTHER_NAME=DATASET")
            path = Artifacts(c, t.run_id).download(file, f"{tmp}/{t.run_id}")
            out.append(Trial(t.cell, np.load(path), t.threshold, t.run_id))
    return out


def sweep_params(uri: str, experiment: str, sweep: str) -> dict[str, str]:
    """The params of the parent run of the sweep called `sweep` (its config, and what the
    sweep found before it ran, such as `external_duplicates.<NAME>`)."""
    c = client(uri)
    exp, parent = _sweep_parent(c, uri, experiment, sweep)
    return dict(c.get_run(parent).data.params)


def download_artifact(uri: str, run_id: str, name: str, dest: str) -> str:
    """Local copy, under `dest`, of the artifact `name` of run `run_id`."""
    return Artifacts(client(uri), run_id).download(name, dest)


def classifier_file(uri: str, run_id: str, dest: str) -> str:
    """Local copy, under `dest`, of the weights (CLASSIFIER_FILE) of the classifier that the
    finished trial `run_id` trained; a run without them is a RayganError."""
    c = client(uri)
    if CLASSIFIER_FILE not in Artifacts(c, run_id).names():
        raise RayganError(missing_artifact(c.get_run(run_id), CLASSIFIER_FILE,
                                           "test it on new data"))
    return Artifacts(c, run_id).download(CLASSIFIER_FILE, dest)


def missing_artifact(run: Any, name: str, to: str) -> str:
    """The one line that says finished run `run` lacks its artifact `name` (needed to `to`):
    deleted from the store, or never written by the raygan that ran it. Every raygan logs a GAN
    training's checkpoint before the run finishes, and classifier weights since before trials
    carried their test-data tag, so a run that carries the tag and lacks the file lost it."""
    where = f"{run.info.artifact_uri.rstrip('/')}/{name}"
    written = name == GAN_CHECKPOINT or TEST_DATA_TAG in run.data.tags
    why = ("it was deleted from the run, since the raygan that ran it writes it" if written else
           f"either it was deleted from the run, or an older raygan (before {name} was saved) "
           "ran it")
    sweep = run.data.tags.get("raygan.sweep", "SWEEP")
    return (f"run {run.info.run_name} ({run.info.run_id}) holds no {name} ({where} is "
            f"missing): {why}; to {to}, delete the run in MLflow and train it again: raygan "
            f"run --resume --name {sweep}")


def _check_test_data(sweep: str, runs: list, expected: str) -> None:
    tagged = [r for r in runs if TEST_DATA_TAG in r.data.tags]
    digests = sorted({r.data.tags[TEST_DATA_TAG] for r in tagged})
    odd = [r for r in tagged if expected and r.data.tags[TEST_DATA_TAG] != expected]
    if len(digests) > 1 or odd:
        run = (odd or tagged)[0]
        raise RayganError(
            f"the classifier runs of sweep {sweep!r} were tested on different test sets (tag "
            f"{TEST_DATA_TAG}: {', '.join(digests)}, the sweep's data {expected or '?'}; e.g. "
            f"{run.info.run_name}); their predictions cannot be paired: report the runs of one "
            "test set under a new sweep, or run the sweep again")


def _finished_gan_runs(c: Client, uri: str, experiment: str, sweep: str) -> list:
    """The finished GAN training runs of sweep `sweep`; a missing sweep is a RayganError."""
    exp, parent = _sweep_parent(c, uri, experiment, sweep)
    return c.search_runs([exp.experiment_id],
                         f"tags.`mlflow.parentRunId` = '{parent}' and {FINISHED_GANS}",
                         max_results=50000)


def gan_checkpoints(uri: str, experiment: str, sweep: str, dest: str) -> dict[Cell, str]:
    """Local copies of the checkpoint artifact of each finished GAN training of a sweep, by
    cell; a training whose checkpoint is missing is a RayganError, never left out unsaid."""
    c = client(uri)
    runs = _finished_gan_runs(c, uri, experiment, sweep)
    out = {}
    for run in runs:
        if GAN_CHECKPOINT not in Artifacts(c, run.info.run_id, run.info.experiment_id).names():
            raise RayganError(missing_artifact(run, GAN_CHECKPOINT, "measure its fidelity"))
        folder = Path(dest) / run.info.run_id
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = Artifacts(c, run.info.run_id, run.info.experiment_id)
        out[run_cell(run)] = artifacts.download(GAN_CHECKPOINT, str(folder))
    return out


def gan_checkpoint(uri: str, experiment: str, sweep: str, run_name: str, dest: str) -> str:
    """Local copy of the checkpoint artifact of the finished GAN training `run_name` of a
    sweep."""
    c = client(uri)
    runs = _finished_gan_runs(c, uri, experiment, sweep)
    run = next((r for r in runs if r.info.run_name == run_name), None)
    if run is None:
        names = sorted(r.info.run_name for r in runs)
        raise RayganError(f"sweep {sweep!r} has no finished GAN training {run_name!r}; it has "
                          f"{', '.join(names) or 'none'}")
    if GAN_CHECKPOINT not in Artifacts(c, run.info.run_id, run.info.experiment_id).names():
        raise RayganError(missing_artifact(run, GAN_CHECKPOINT, "sample it"))
    return Artifacts(c, run.info.run_id, run.info.experiment_id).download(GAN_CHECKPOINT, dest)


def gan_gates(uri: str, experiment_id: str, parent_run_id: str) -> list[Gate]:
    """The quality gate of every finished GAN training under a parent run (steps trained,
    whether it stopped early, final gap and verdict), in cell order."""
    runs = client(uri).search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}' and {FINISHED_GANS}",
        max_results=50000)
    out = []
    for run in runs:
        p, m = run.data.params, run.data.metrics
        out.append(Gate(run_cell(run), steps=int(m.get("steps_trained", p.get("steps", 0))),
                        max_steps=int(p.get("steps", 0)),
                        stopped_early=bool(m.get("stopped_early", 0.0)),
                        gap=m.get("quality/final_gap", float("nan")),
                        converged=run.data.tags.get("raygan.converged", "unknown"),
                        run_id=run.info.run_id))
    return sorted(out, key=lambda g: g.cell.sort_key)


def sweep_gates(uri: str, experiment: str, sweep: str
                ) -> tuple[list[Gate], dict[Cell, list[tuple[int, float]]]]:
    """`gan_gates` of a sweep by name, and each GAN run's quality/gap history as
    {cell: [(step, gap), ...]}."""
    c = client(uri)
    exp, parent = _sweep_parent(c, uri, experiment, sweep)
    gates = gan_gates(uri, exp.experiment_id, parent)
    curves = {}
    for g in gates:
        history = c.get_metric_history(g.run_id, "quality/gap")
        curves[g.cell] = sorted((m.step, m.value) for m in history)
    return gates, curves
