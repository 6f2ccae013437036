"""Reusing another sweep's GAN trainings: find the sweep in the same store, match each of its
finished GAN runs against the settings this sweep would train with, and copy a match into this
sweep (params, metric histories, tags, artifacts), so that every reader of a GAN run (the
classifier stage, resume, the report's gates, --fidelity, generate) finds it as if trained here.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from raygan.config import GANConfig
from raygan.data.dataset import EXTERNAL_KEY
from raygan.errors import RayganError
from raygan.tracking.store import FINISHED_GANS
from raygan.tracking.write import TrackingContext, _flatten

REUSED_TAG = "raygan.reused_from"  # `<sweep>/<run id>` of the run a reused GAN run copies
# The parent-run params that decide which real images a cell's GAN trains on (besides the
# data fingerprint): two sweeps must agree on each for a GAN of one to serve the other.
DATA_SETTINGS = ("resolution", "geometry", "classes", "test_fraction", "val_fraction",
                 "split_seed", "validation")
FINGERPRINT = "data_fingerprint."
METRIC_BATCH = 1000  # MLflow takes at most 1000 metrics per log_batch
# A GAN setting that a run's params lack was added to GANConfig after the run trained, and a new
# setting's default keeps the behaviour from before it (sample_steps, which no GAN reads; r1 = 0,
# the WGAN-GP loss PGGAN had): such a run trained as that default says.
ADDED_SETTINGS = {f.name: str(f.default) for f in dataclasses.fields(GANConfig)}


@dataclass(frozen=True)
class Source:
    """The sweep whose GANs are reused: its experiment, parent run and params."""

    sweep: str
    experiment_id: str
    parent_run_id: str
    params: dict[str, str]


def find_source(uri: str, sweep: str, experiment: str) -> Source:
    """The sweep called `sweep` in any active experiment of the store at `uri` (`experiment`
    first); a sweep the store does not hold is a RayganError."""
    # A sqlite store not made yet holds no sweep: opening it would create it.
    new = uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists()
    client = None if new else MlflowClient(uri)
    for exp in [] if client is None else sorted(client.search_experiments(max_results=50000),
                                                key=lambda e: e.name != experiment):
        runs = client.search_runs([exp.experiment_id], "tags.`raygan.kind` = 'sweep'",
                                  order_by=["attributes.start_time DESC"], max_results=50000)
        run = next((r for r in runs if r.data.tags.get("raygan.sweep") == sweep), None)
        if run is not None:
            return Source(sweep, exp.experiment_id, run.info.run_id, dict(run.data.params))
    raise RayganError(f"--gans-from {sweep}: no sweep of that name in the MLflow store {uri}; "
                      "name a sweep logged to this store (MLFLOW_TRACKING_URI), or leave "
                      "--gans-from out to train every GAN")


def data_mismatch(source: Source, sweep_params: dict[str, Any]) -> str:
    """Why the GANs of `source` were trained on other real images than a sweep with the
    (nested) params `sweep_params` would use ('' when they were not): a setting that picks the
    images, or the data's files (names, sizes, counts; modification times aside)."""
    flat = {k: str(v)[:6000] for k, v in _flatten(sweep_params).items()}
    for key in DATA_SETTINGS:
        if source.params.get(key, "") != flat.get(key, ""):
            return f"{key} {source.params.get(key, '?')} there, {flat.get(key, '?')} here"
    # The GANs train on the sweep's own images: its external test sets (fingerprinted under
    # `external/`, by a raygan that may be newer or older than the other sweep's) do not count.
    theirs, ours = ({k: v for k, v in p.items() if k.startswith(FINGERPRINT)
                     and not k.startswith(FINGERPRINT + EXTERNAL_KEY)
                     and not k.endswith(".mtimes")} for p in (source.params, flat))
    if not theirs:
        return "it holds no data fingerprint (an older raygan), so its data cannot be checked"
    differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if differ:
        return (f"other data: {differ[0][len(FINGERPRINT):]} "
                f"{theirs.get(differ[0], 'absent')} there, {ours.get(differ[0], 'absent')} here")
    return ""


def copy_gan_runs(uri: str, source: Source, ctx: TrackingContext,
               wanted: dict[str, dict[str, Any]], log: Callable[[str], None] = print
               ) -> dict[str, str]:
    """Copy into this sweep (`ctx`) each finished GAN run of `source` named in `wanted` whose
    params hold every one of `wanted[name]`; returns {run name: id of the copy}. A run whose
    params differ is left, with a note naming the first difference."""
    client = MlflowClient(uri)
    runs = client.search_runs(
        [source.experiment_id],
        f"tags.`mlflow.parentRunId` = '{source.parent_run_id}' and {FINISHED_GANS}",
        order_by=["attributes.start_time DESC"], max_results=50000)
    newest = {}
    for run in runs:
        newest.setdefault(run.info.run_name, run)
    copied = {}
    for name, params in wanted.items():
        run = newest.get(name)
        if run is None:
            continue
        expected = {k: str(v)[:6000] for k, v in _flatten(params).items()}
        differ = [k for k in expected
                  if run.data.params.get(k, ADDED_SETTINGS.get(k)) != expected[k]]
        if differ:
            k = differ[0]
            log(f"note: {name} of sweep {source.sweep} is not reused: {k} "
                f"{run.data.params.get(k, 'absent')} there, {expected[k]} here"
                + (f" (and {len(differ) - 1} more settings)" if len(differ) > 1 else ""))
            continue
        copied[name] = copy_run(client, run, ctx, f"{source.sweep}/{run.info.run_id}")
    return copied


def copy_run(client: MlflowClient, run: Any, ctx: TrackingContext, reused_from: str) -> str:
    """A FINISHED child run of `ctx`'s parent that holds what `run` holds: params, every
    metric's history (steps and times), its raygan tags, every artifact; tagged REUSED_TAG. A
    copy that fails half-way ends FAILED, so a resume deletes it and copies or trains anew."""
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    tags.update({"mlflow.parentRunId": ctx.parent_run_id, "raygan.sweep": ctx.sweep, **ctx.tags,
                 REUSED_TAG: reused_from})
    new = client.create_run(ctx.experiment_id, run_name=run.info.run_name, tags=tags)
    new_id = new.info.run_id
    try:
        params = [Param(k, v) for k, v in run.data.params.items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(new_id, params=params[i : i + 100])
        history = [Metric(m.key, m.value, m.timestamp, m.step) for key in run.data.metrics
                   for m in client.get_metric_history(run.info.run_id, key)]
        for i in range(0, len(history), METRIC_BATCH):
            client.log_batch(new_id, metrics=history[i : i + METRIC_BATCH])
        with tempfile.TemporaryDirectory() as tmp:
            if client.list_artifacts(run.info.run_id):
                client.log_artifacts(new_id, client.download_artifacts(run.info.run_id, "", tmp))
    except BaseException:
        client.set_terminated(new_id, "FAILED")
        raise
    client.set_terminated(new_id, "FINISHED")
    return new_id
