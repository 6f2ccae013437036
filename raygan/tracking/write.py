"""The write side of the tracking store: the sweep's parent run, the child run of each
trial, and what they log (params, metrics, tags, artifacts)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param

from raygan.artifacts import RESULTS_TABLE, SAMPLES_DIR
from raygan.cell import KIND_CLASSIFIER, Cell
from raygan.tracking.client import Artifacts, Client, client
from raygan.tracking.read import find_parent
from raygan.tracking.summary import results_table, summary_metrics

LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # MLflow's tag listing a run's tables


@dataclass(frozen=True)
class TrackingContext:
    """What a trial on any node needs to log a child run of the sweep's parent run."""

    uri: str
    experiment_id: str
    parent_run_id: str
    sweep: str
    tags: dict[str, str] = field(default_factory=dict)  # on every child run, e.g. the test data


def start_parent(uri: str, experiment_id: str, sweep: str, params: dict[str, Any],
                 tags: dict[str, str] | None = None) -> str:
    """Create the sweep's parent run (left open until `end_run`); returns its id."""
    client = Client(uri)
    run = client.create_run(experiment_id, run_name=sweep, tags={
        "raygan.sweep": sweep, "raygan.kind": "sweep", **(tags or {})})
    _log_params(client, run.info.run_id, params)
    return run.info.run_id


def reopen(uri: str, run_id: str) -> None:
    """Mark a parent run RUNNING again, for a resumed sweep."""
    Client(uri).update_run(run_id, status="RUNNING")


def resume_cleanup(uri: str, experiment_id: str, parent_run_id: str
                   ) -> tuple[dict[str, Any], list[str]]:
    """What a resumed sweep keeps and runs again: the parent's FINISHED children by run name
    (the first of a name), and the names of the runs it deleted, each of a cell that runs
    again: every child that did not finish (RUNNING when its process died, FAILED, KILLED,
    SCHEDULED), a second FINISHED run of one name, and the FINISHED classifier runs of a GAN
    fill whose GAN training is not kept (its images will be new). Nothing of a cell that runs
    again stays active beside its new run."""
    c = Client(uri)
    runs = c.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                         max_results=50000)
    done: dict[str, Any] = {}
    gone = []
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        if run.info.status == "FINISHED" and run.info.run_name not in done:
            done[run.info.run_name] = run
        else:
            gone.append(run)
    for name, run in list(done.items()):
        if run.data.tags.get("raygan.kind") != KIND_CLASSIFIER:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):  # not a raygan cell
            cell = Cell.from_params(run.data.params)
            if cell.is_gan and cell.gan_run_name not in done:
                gone.append(done.pop(name))
    for run in gone:
        c.delete_run(run.info.run_id)
    return done, sorted(r.info.run_name for r in gone)


def finished_children(uri: str, experiment_id: str, parent_run_id: str) -> dict[str, Any]:
    """The parent's FINISHED children by run name, after `resume_cleanup` deleted the rest."""
    return resume_cleanup(uri, experiment_id, parent_run_id)[0]


def end_run(uri: str, run_id: str, status: str = "FINISHED") -> None:
    """Close a run opened with `start_parent`."""
    Client(uri).set_terminated(run_id, status)


@contextmanager
def child_run(
    ctx: TrackingContext, name: str, params: dict[str, Any], tags: dict[str, str]
) -> Iterator[ChildRun]:
    """A child run of the sweep's parent: FINISHED on success, FAILED if the body raises."""
    client = Client(ctx.uri)
    all_tags = {"mlflow.parentRunId": ctx.parent_run_id, "raygan.sweep": ctx.sweep, **ctx.tags,
                **tags}
    run = client.create_run(ctx.experiment_id, run_name=name, tags=all_tags)
    child = ChildRun(client, run.info.run_id, ctx.experiment_id)
    _log_params(client, child.run_id, params)
    try:
        yield child
    except BaseException:
        # A store that refuses this too (a full disk) leaves the run RUNNING, which a resume
        # deletes as well; the error that stopped the trial is the one to tell.
        with contextlib.suppress(Exception):
            client.set_terminated(child.run_id, "FAILED")
        raise
    client.set_terminated(child.run_id, "FINISHED")


class ChildRun:
    """Thin logger bound to one run id; safe to use from any process."""

    def __init__(self, client: Client, run_id: str, experiment_id: str | None = None):
        self.client, self.run_id, self.experiment_id = client, run_id, experiment_id
        self._artifacts: Artifacts | None = None

    @property
    def artifacts(self) -> Artifacts:
        """The run's artifact store (found on first use: most loggers log metrics alone)."""
        if self._artifacts is None:
            self._artifacts = Artifacts(self.client, self.run_id, self.experiment_id)
        return self._artifacts

    def metrics(self, values: dict[str, float], step: int | None = None) -> None:
        """Log finite numeric metrics (NaN stays out of MLflow charts)."""
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in values.items()
                 if isinstance(v, (int, float)) and v == v]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def artifact(self, data: bytes, name: str) -> None:
        """Store bytes (a PNG, a CSV) as the artifact file `name`."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.artifacts.log(path)

    def file(self, path: str | Path) -> None:
        """Store an existing file as an artifact under its own name."""
        self.artifacts.log(path)

    def tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)


def attach(uri: str, run_id: str) -> ChildRun:
    """A logger bound to a run that is open already: the sweep's parent run, or a child run
    that another process created (a GAN training's, which its rank-0 worker logs to)."""
    return ChildRun(Client(uri), run_id)


def _log_params(client: Client, run_id: str, params: dict[str, Any]) -> None:
    flat = _flatten(params)
    items = [Param(k, str(v)[:6000]) for k, v in flat.items()]
    for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, params=items[i : i + 100])


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(map(str, v))
        else:
            out[key] = v
    return out


def log_sweep_metrics(uri: str, experiment: str, sweep: str, values: dict[str, float]) -> None:
    """Log metrics on the parent run of the sweep called `sweep` (e.g. the `summary_metrics`
    of an external set that its report tested)."""
    c = client(uri)
    parent = find_parent(uri, c.get_experiment_by_name(experiment).experiment_id, sweep)
    ChildRun(c, parent).metrics(values)


def log_files(uri: str, experiment: str, sweep: str, paths: list, folder: str) -> None:
    """Attach files to the sweep's parent run, under `folder/`."""
    c = client(uri)
    exp = c.get_experiment_by_name(experiment).experiment_id
    artifacts = Artifacts(c, find_parent(uri, exp, sweep), exp)
    for path in map(Path, paths):
        artifacts.log(path, f"{folder}/{SAMPLES_DIR}" if path.parent.name == SAMPLES_DIR
                      else folder)


def log_results(uri: str, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Put the sweep's results on its parent run: `summary_metrics` as metrics (columns of the
    runs table in the MLflow UI) and `results_table` as the table artifact RESULTS_TABLE."""
    import pandas as pd

    run = ChildRun(Client(uri), run_id)
    run.metrics(summary_metrics(rows))
    # Written whole, not through MLflow's log_table, which appends to a table the run holds
    # already: a resumed sweep would list its cells twice.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / RESULTS_TABLE
        pd.DataFrame(results_table(rows)).to_json(path, orient="split", index=False)
        run.artifacts.log(path)
    listed = json.loads(run.client.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS, "[]"))
    entry = {"path": RESULTS_TABLE, "type": "table"}  # the UI shows the run's tables from here
    if entry not in listed:
        run.tag(LOGGED_ARTIFACTS, json.dumps([*listed, entry]))
