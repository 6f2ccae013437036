"""MLflow: where runs go, how they are named, and what each logs. No Ray inside."""

from __future__ import annotations

import os
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from raygan.artifacts import (
    GAN_CHECKPOINT,
    RESULTS_TABLE,
    SAMPLES_DIR,
    SAMPLES_PNG,
    TEST_PROBS,
    external_probs,
)
from raygan.cell import ALL, KIND_CLASSIFIER, KIND_GAN, Cell
from raygan.errors import RayganError

DEFAULT_URI = "sqlite:///mlflow.db"  # in the working directory; MLFLOW_TRACKING_URI overrides
TEST_DATA_TAG = "raygan.test_data"  # digest of the test split's file names and sizes
SERVER_TIMEOUT_S = 5.0  # how long the pre-flight check waits for an http(s) tracking server
# MLflow's search filter for the finished GAN trainings (of one parent run, once ANDed with it)
FINISHED_GANS = f"tags.`raygan.kind` = '{KIND_GAN}' and attributes.status = 'FINISHED'"
# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, prompts); the
# tag makes it open raygan's in the view of model training: runs, their metrics and charts.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


@dataclass(frozen=True)
class TrackingContext:
    """What a trial on any node needs to log a child run of the sweep's parent run."""

    uri: str
    experiment_id: str
    parent_run_id: str
    sweep: str
    tags: dict[str, str] = field(default_factory=dict)  # on every child run, e.g. the test data


def resolve_uri(uri: str | None = None) -> str:
    """`uri`, else $MLFLOW_TRACKING_URI, else ./mlflow.db; relative sqlite paths made absolute,
    since Ray trials run in other working directories."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        path = Path(uri[len("sqlite:///") :]).resolve()
        uri = f"sqlite:///{path}"
    if "://" not in uri:  # a bare folder: the deprecated file store; keep it absolute
        uri = str(Path(uri).resolve())
    return uri


def check_writable(uri: str) -> None:
    """Fail early, with one line, when the tracking store cannot be created, written or reached
    (MLflow's client retries an unreachable server for minutes before it gives up)."""
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        folder = path.parent
        if not folder.exists():
            raise RayganError(f"MLflow store folder {folder} does not exist; create it or set"
                              " MLFLOW_TRACKING_URI to a writable sqlite:///path/mlflow.db")
        target = path if path.exists() else folder
        if not os.access(target, os.W_OK):
            raise RayganError(f"MLflow store {path} is not writable; set MLFLOW_TRACKING_URI to a"
                              " writable location, e.g. sqlite:///$PWD/mlflow.db")


def _check_server(uri: str) -> None:
    """Any HTTP answer from the tracking server will do; only silence or a refusal fails."""
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=SERVER_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass  # it answered (404 behind a proxy path, 401 without credentials, ...)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RayganError(f"cannot reach the MLflow tracking server at {uri} ({reason}); start it"
                          " (mlflow server), fix MLFLOW_TRACKING_URI, or unset it to log to"
                          " ./mlflow.db") from None


def setup(uri: str, experiment: str) -> str:
    """The experiment's id, created if new; artifacts go next to a sqlite store, absolute. New
    or reused, the experiment is tagged as model training (EXPERIMENT_KIND) for MLflow's UI."""
    check_writable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is not None:
            check_active(exp, uri)
            if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:  # e.g. the UI's own guess
                MlflowClient(uri).set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG,
                                                     EXPERIMENT_KIND)
            return exp.experiment_id
        location = None
        if uri.startswith("sqlite:///"):
            location = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").as_uri()
        return mlflow.create_experiment(experiment, artifact_location=location,
                                        tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    except RayganError:
        raise
    except Exception as exc:  # noqa: BLE001 - any store failure is a user-fixable setting
        raise RayganError(f"cannot open MLflow store {uri}: {str(exc).splitlines()[0]}; check"
                          " MLFLOW_TRACKING_URI") from None


def check_active(exp: Any, uri: str) -> None:
    """A deleted experiment takes no runs; restoring it is the user's call, not raygan's."""
    if exp.lifecycle_stage == "deleted":
        raise RayganError(
            f"MLflow experiment {exp.name!r} (id {exp.experiment_id}) in {uri} is deleted; restore"
            f" it with: MLFLOW_TRACKING_URI={uri} mlflow experiments restore --experiment-id "
            f"{exp.experiment_id}, or pick another --experiment")


def start_parent(uri: str, experiment_id: str, sweep: str, params: dict[str, Any],
                 tags: dict[str, str] | None = None) -> str:
    """Create the sweep's parent run (left open until `end_run`); returns its id."""
    client = MlflowClient(uri)
    run = client.create_run(experiment_id, run_name=sweep, tags={
        "raygan.sweep": sweep, "raygan.kind": "sweep", **(tags or {})})
    _log_params(client, run.info.run_id, params)
    return run.info.run_id


def find_parent(uri: str, experiment_id: str, sweep: str) -> str | None:
    """The id of the newest parent run of the sweep called `sweep`, or None."""
    # The name is compared here, never pasted into the filter string: no character of it (a
    # quote, a backslash) can change the query.
    runs = MlflowClient(uri).search_runs(
        [experiment_id], "tags.`raygan.kind` = 'sweep'",
        order_by=["attributes.start_time DESC"], max_results=50000)
    return next((r.info.run_id for r in runs if r.data.tags.get("raygan.sweep") == sweep), None)


def reopen(uri: str, run_id: str) -> None:
    """Mark a parent run RUNNING again, for a resumed sweep."""
    MlflowClient(uri).update_run(run_id, status="RUNNING")


def finished_children(uri: str, experiment_id: str, parent_run_id: str) -> dict[str, Any]:
    """The parent's FINISHED children by run name; every other child (RUNNING when its process
    died, FAILED, KILLED) is deleted, so that re-running its trial leaves no duplicate."""
    client = MlflowClient(uri)
    runs = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                              max_results=50000)
    done = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        if run.info.status == "FINISHED" and run.info.run_name not in done:
            done[run.info.run_name] = run
        else:
            client.delete_run(run.info.run_id)
    return done


def end_run(uri: str, run_id: str, status: str = "FINISHED") -> None:
    """Close a run opened with `start_parent`."""
    MlflowClient(uri).set_terminated(run_id, status)


@contextmanager
def child_run(
    ctx: TrackingContext, name: str, params: dict[str, Any], tags: dict[str, str]
) -> Iterator[ChildRun]:
    """A child run of the sweep's parent: FINISHED on success, FAILED if the body raises."""
    client = MlflowClient(ctx.uri)
    all_tags = {"mlflow.parentRunId": ctx.parent_run_id, "raygan.sweep": ctx.sweep, **ctx.tags,
                **tags}
    run = client.create_run(ctx.experiment_id, run_name=name, tags=all_tags)
    child = ChildRun(client, run.info.run_id)
    _log_params(client, child.run_id, params)
    try:
        yield child
    except BaseException:
        client.set_terminated(child.run_id, "FAILED")
        raise
    client.set_terminated(child.run_id, "FINISHED")


class ChildRun:
    """Thin logger bound to one run id; safe to use from any process."""

    def __init__(self, client: MlflowClient, run_id: str):
        self.client, self.run_id = client, run_id

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
            self.client.log_artifact(self.run_id, str(path))

    def file(self, path: str | Path) -> None:
        """Store an existing file as an artifact under its own name."""
        self.client.log_artifact(self.run_id, str(path))

    def tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)


def _log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
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


def sweep_results(uri: str, experiment: str, sweep: str, test_data: str = ""
                  ) -> tuple[list, dict[str, bytes]]:
    """The finished classifier trials of a sweep (with per-image test scores, validation
    threshold and run id) and the sample grid of its largest-budget GAN training per family;
    every trial tagged with a test-data digest must carry `test_data` (when given) and the same
    digest as the others."""
    import numpy as np

    from raygan.eval.numbers import Trial

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is not None:
        check_active(exp, uri)
    parent = find_parent(uri, exp.experiment_id, sweep) if exp else None
    if parent is None:
        raise RayganError(f"no sweep named {sweep!r} in MLflow experiment {experiment!r} at {uri}")
    runs = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'"
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
            path = client.download_artifacts(run.info.run_id, TEST_PROBS, tmp)
            threshold = run.data.metrics.get("test/youden/threshold", float("nan"))
            trials.append(Trial(cell, np.load(path), threshold,
                                run.info.run_id))
        for cell, run_id in largest.values():
            path = client.download_artifacts(run_id, SAMPLES_PNG, f"{tmp}/{run_id}")
            grids[f"{cell.arm}-n{cell.budget}"] = Path(path).read_bytes()
    return trials, grids


def run_cell(run: Any) -> Cell:
    """The cell of a finished GAN training or classifier run, from its MLflow params."""
    return Cell.from_params(run.data.params)


def external_scores(uri: str, trials: list, name: str) -> list:
    """The `trials` (of `sweep_results`) with their stored per-image scores on the external
    set `name` in place of the test split's (artifact `external_probs(name)`)."""
    import numpy as np

    from raygan.eval.numbers import Trial

    client = MlflowClient(uri)
    file = external_probs(name)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in trials:
            if file not in {a.path for a in client.list_artifacts(t.run_id)}:
                raise RayganError(f"classifier run {Cell(t.arm, t.budget, t.seed).run_name} "
                                  f"holds no {file}: it was not tested on external set "
                                  f"{name!r}; test the saved classifiers on it anew with raygan "
                                  "report --external-test OTHER_NAME=DATASET")
            path = client.download_artifacts(t.run_id, file, f"{tmp}/{t.run_id}")
            out.append(Trial(t.cell, np.load(path), t.threshold, t.run_id))
    return out


def sweep_params(uri: str, experiment: str, sweep: str) -> dict[str, str]:
    """The params of the parent run of the sweep called `sweep` (its config, and what the
    sweep found before it ran, such as `external_duplicates.<NAME>`)."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    parent = find_parent(uri, exp.experiment_id, sweep) if exp else None
    if parent is None:
        raise RayganError(f"no sweep named {sweep!r} in MLflow experiment {experiment!r} at {uri}")
    return dict(client.get_run(parent).data.params)


def log_sweep_metrics(uri: str, experiment: str, sweep: str, values: dict[str, float]) -> None:
    """Log metrics on the parent run of the sweep called `sweep` (e.g. the `summary_metrics`
    of an external set that its report tested)."""
    client = MlflowClient(uri)
    parent = find_parent(uri, client.get_experiment_by_name(experiment).experiment_id, sweep)
    ChildRun(client, parent).metrics(values)


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


def log_files(uri: str, experiment: str, sweep: str, paths: list, folder: str) -> None:
    """Attach files to the sweep's parent run, under `folder/`."""
    client = MlflowClient(uri)
    parent = find_parent(uri, client.get_experiment_by_name(experiment).experiment_id, sweep)
    for path in map(Path, paths):
        sub = f"{folder}/{SAMPLES_DIR}" if path.parent.name == SAMPLES_DIR else folder
        client.log_artifact(parent, str(path), sub)


def _finished_gan_runs(client: MlflowClient, uri: str, experiment: str, sweep: str) -> list:
    """The finished GAN training runs of sweep `sweep`; a missing sweep is a RayganError."""
    exp = client.get_experiment_by_name(experiment)
    parent = find_parent(uri, exp.experiment_id, sweep) if exp else None
    if parent is None:
        raise RayganError(f"no sweep named {sweep!r} in MLflow experiment {experiment!r} at {uri}")
    return client.search_runs([exp.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{parent}' and {FINISHED_GANS}",
                              max_results=50000)


def gan_checkpoints(uri: str, experiment: str, sweep: str, dest: str) -> dict[Cell, str]:
    """Local copies of the checkpoint artifact of each finished GAN training of a sweep, by
    cell; trainings logged without one are left out."""
    client = MlflowClient(uri)
    runs = _finished_gan_runs(client, uri, experiment, sweep)
    out = {}
    for run in runs:
        if GAN_CHECKPOINT not in {a.path for a in client.list_artifacts(run.info.run_id)}:
            continue
        folder = Path(dest) / run.info.run_id
        folder.mkdir(parents=True, exist_ok=True)
        out[run_cell(run)] = client.download_artifacts(run.info.run_id, GAN_CHECKPOINT,
                                                       str(folder))
    return out


def gan_checkpoint(uri: str, experiment: str, sweep: str, run_name: str, dest: str) -> str:
    """Local copy of the checkpoint artifact of the finished GAN training `run_name` of a
    sweep."""
    client = MlflowClient(uri)
    runs = _finished_gan_runs(client, uri, experiment, sweep)
    run = next((r for r in runs if r.info.run_name == run_name), None)
    if run is None:
        names = sorted(r.info.run_name for r in runs)
        raise RayganError(f"sweep {sweep!r} has no finished GAN training {run_name!r}; it has "
                          f"{', '.join(names) or 'none'}")
    if GAN_CHECKPOINT not in {a.path for a in client.list_artifacts(run.info.run_id)}:
        raise RayganError(f"GAN training {run_name!r} of sweep {sweep!r} has no "
                          f"{GAN_CHECKPOINT} artifact")
    return client.download_artifacts(run.info.run_id, GAN_CHECKPOINT, dest)


def gan_gates(uri: str, experiment_id: str, parent_run_id: str) -> list[dict[str, Any]]:
    """The quality-gate verdict of every finished GAN training under a parent run: family,
    budget, seed, steps trained, whether it stopped early, final gap and `converged`."""
    runs = MlflowClient(uri).search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}' and {FINISHED_GANS}",
        max_results=50000)
    out = []
    for run in runs:
        p, m, cell = run.data.params, run.data.metrics, run_cell(run)
        out.append({"arm": cell.arm, "budget": cell.budget, "seed": cell.seed,
                    "steps": int(m.get("steps_trained", p.get("steps", 0))),
                    "max_steps": int(p.get("steps", 0)),
                    "stopped_early": bool(m.get("stopped_early", 0.0)),
                    "gap": m.get("quality/final_gap", float("nan")),
                    "converged": run.data.tags.get("raygan.converged", "unknown"),
                    "run_id": run.info.run_id})
    return sorted(out, key=lambda r: (r["arm"], r["budget"], r["seed"]))


def sweep_gates(uri: str, experiment: str, sweep: str
                ) -> tuple[list[dict[str, Any]], dict[tuple[str, int, int], list]]:
    """`gan_gates` of a sweep by name, and each GAN run's quality/gap history as
    {(arm, budget, seed): [(step, gap), ...]}."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    parent = find_parent(uri, exp.experiment_id, sweep) if exp else None
    if parent is None:
        raise RayganError(f"no sweep named {sweep!r} in MLflow experiment {experiment!r} at {uri}")
    gates = gan_gates(uri, exp.experiment_id, parent)
    curves = {}
    for g in gates:
        history = client.get_metric_history(g["run_id"], "quality/gap")
        curves[(g["arm"], g["budget"], g["seed"])] = sorted((m.step, m.value) for m in history)
    return gates, curves


# The sweep's results on its parent run: these per-trial metrics, averaged over seeds, and the
# same on each external set (`ext/<NAME>/auc`, ...).
SUMMARY_METRICS = ("test/auc", "test/acc", "test/balanced_acc")


def arm_slug(arm: str) -> str:
    """An arm as a metric-name part: `gan:dcgan` -> `gan_dcgan` (no ':' in metric names)."""
    return arm.replace(":", "_")


def _summary_keys(rows: list[dict[str, Any]]) -> list[str]:
    """SUMMARY_METRICS, then their `ext/<NAME>/` equivalents for every external set in `rows`."""
    names = sorted({k.split("/")[1] for r in rows for k in r
                    if k.startswith("ext/") and k.count("/") == 2})
    ends = [m.split("/", 1)[1] for m in SUMMARY_METRICS]
    return [*SUMMARY_METRICS, *(f"ext/{n}/{m}" for n in names for m in ends)]


def summary_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per arm and budget, the mean over seeds of each SUMMARY_METRICS entry of the finished
    trials, as `test_auc.gan_dcgan.n50`, and their SD as `test_auc.gan_dcgan.n50.sd` when more
    than one seed finished; `all-real` has budget `all` (`test_auc.all-real.all`). On an
    external set NAME: `ext_NAME_auc.gan_dcgan.n50`, ..."""
    import numpy as np

    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if not r.get("error"):
            budget = ALL if r["budget"] == ALL else f"n{r['budget']}"
            cells.setdefault((arm_slug(r["arm"]), budget), []).append(r)
    out = {}
    keys = _summary_keys(rows)
    for (arm, budget), rs in sorted(cells.items()):
        for metric in keys:
            values = [float(r[metric]) for r in rs if metric in r]
            if not values:
                continue
            name = f"{metric.replace('/', '_')}.{arm}.{budget}"
            out[name] = float(np.mean(values))
            if len(values) > 1:
                out[f"{name}.sd"] = float(np.std(values, ddof=1))
    return out


def results_table(rows: list[dict[str, Any]]) -> dict[str, list]:
    """One row per arm and budget (finished seeds, mean and SD of SUMMARY_METRICS and their
    external equivalents, failed trials), as the columns MLflow's `log_table` takes."""
    import numpy as np

    cells: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["arm"], r["budget"]), []).append(r)
    cols: dict[str, list] = {"arm": [], "budget": [], "seeds": [], "failed": []}
    keys = _summary_keys(rows)
    for metric in keys:
        cols[metric.replace("/", "_")], cols[metric.replace("/", "_") + "_sd"] = [], []
    for (arm, budget), rs in cells.items():
        ok = [r for r in rs if not r.get("error")]
        cols["arm"].append(arm)
        cols["budget"].append(str(budget))
        cols["seeds"].append(len(ok))
        cols["failed"].append(len(rs) - len(ok))
        for metric in keys:
            values = [float(r[metric]) for r in ok if metric in r]
            key = metric.replace("/", "_")
            cols[key].append(float(np.mean(values)) if values else None)
            cols[key + "_sd"].append(float(np.std(values, ddof=1)) if len(values) > 1 else None)
    return cols


def log_results(uri: str, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Put the sweep's results on its parent run: `summary_metrics` as metrics (columns of the
    runs table in the MLflow UI) and `results_table` as the table artifact RESULTS_TABLE."""
    client = MlflowClient(uri)
    ChildRun(client, run_id).metrics(summary_metrics(rows))
    client.log_table(run_id, results_table(rows), RESULTS_TABLE)
