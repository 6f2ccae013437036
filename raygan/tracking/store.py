"""Where runs go: the store's URI, its pre-flight checks, the experiment, and the names of the
tags that raygan's runs are found by."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow

from raygan.cell import KIND_GAN
from raygan.errors import RayganError
from raygan.tracking.client import client, retry_locked, sqlite_path, store_lock

DEFAULT_URI = "sqlite:///mlflow.db"  # in the working directory; MLFLOW_TRACKING_URI overrides
TEST_DATA_TAG = "raygan.test_data"  # digest of the test split's file names and sizes
SERVER_TIMEOUT_S = 5.0  # how long the pre-flight check waits for an http(s) tracking server
# MLflow's search filter for the finished GAN trainings (of one parent run, once ANDed with it)
FINISHED_GANS = f"tags.`raygan.kind` = '{KIND_GAN}' and attributes.status = 'FINISHED'"
# The experiment's kind for MLflow 3: model training (runs, metrics, charts), not GenAI
# (traces, prompts). MLflow 3.17's UI picks its view from its own GenAI / Model training
# switch rather than from this tag: GenAI in a browser that never chose, and model training at
# #/experiments/<id>?workflowType=machine_learning or once the switch says so.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


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


def sweep_store(recorded: str, folder: Path, recorded_output: str, given: str | None,
                log: Callable[[str], None] = print) -> str:
    """The store a resumed sweep logs to: `given` (a URI the user named, e.g. with
    $MLFLOW_TRACKING_URI) if any, else the one its config.json `recorded`, from any working
    directory. When the sweep's `folder` moved (it was `recorded_output`/NAME) and the recorded
    sqlite file with it, the file at the same place relative to the folder. A config.json
    of an older raygan records none: `given`, else ./mlflow.db."""
    name = folder.name
    store = resolve_uri(given) if given else ""
    if not recorded:
        return store or resolve_uri()
    found, db = recorded, sqlite_path(recorded)
    if db is not None and not db.exists() and recorded_output:
        was = Path(recorded_output) / name
        if was.is_absolute() and was != folder:
            moved = Path(os.path.normpath(folder / os.path.relpath(db, was)))
            if moved.is_file():
                found = f"sqlite:///{moved}"
                log(f"note: sweep {name!r} moved ({was} -> {folder}); its MLflow store is now "
                    f"{found}")
    if store and store != found:
        log(f"note: sweep {name!r} logged to MLflow store {found}; MLFLOW_TRACKING_URI names "
            f"{store}, and this resume uses that one")
        return store
    db = sqlite_path(found)
    if db is not None and not db.exists():
        raise RayganError(f"the MLflow store of sweep {name!r}, {db} (named in {folder}/"
                          "config.json), does not exist; set MLFLOW_TRACKING_URI to where the "
                          "store is now (sqlite:///PATH/mlflow.db)")
    return found


def check_writable(uri: str) -> None:
    """Fail early, with one line, when the tracking store cannot be created, written or reached
    (MLflow's client retries an unreachable server for minutes before it gives up). A sqlite
    store needs its file AND its folder writable: sqlite writes a journal file beside it."""
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    path = sqlite_path(uri)
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        raise RayganError(f"MLflow store folder {folder} does not exist; create it or set"
                          " MLFLOW_TRACKING_URI to a writable sqlite:///path/mlflow.db")
    fix = ("make it writable, or set MLFLOW_TRACKING_URI to a writable location, e.g. "
           "sqlite:///$PWD/mlflow.db")
    if not _can_create_in(folder):
        what = "holds" if path.exists() else "would hold"
        raise RayganError(f"MLflow store folder {folder} (which {what} {path.name} and the "
                          f"journal files sqlite writes beside it) is not writable; {fix}")
    if path.exists() and not _can_write(path):
        raise RayganError(f"MLflow store {path} is not writable; {fix}")


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in `folder`: tried, since modes say nothing to root (a
    read-only mount or an immutable folder refuses root as well)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".raygan-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _can_write(path: Path) -> bool:
    """Whether the file `path` opens for writing (opened, never written)."""
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError:
        return False
    return True


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
    or reused, the experiment is tagged as model training (EXPERIMENT_KIND). Two processes that
    create the store or the experiment at once take turns (`store_lock`)."""
    check_writable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        with store_lock(uri):
            return retry_locked(uri, lambda: _experiment(uri, experiment))
    except RayganError:
        raise
    except Exception as exc:  # noqa: BLE001 - any store failure is a user-fixable setting
        raise RayganError(f"cannot open MLflow store {uri}: {str(exc).splitlines()[0]}; check"
                          " MLFLOW_TRACKING_URI") from None


def _experiment(uri: str, experiment: str) -> str:
    c = client(uri, create=True)
    exp = c.get_experiment_by_name(experiment)
    if exp is not None:
        check_active(exp, uri)
        if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:  # e.g. the UI's own guess
            c.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return exp.experiment_id
    location = None
    path = sqlite_path(uri)
    if path is not None:
        location = (path.parent / "mlartifacts").as_uri()
    return c.create_experiment(experiment, artifact_location=location,
                               tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})


def check_active(exp: Any, uri: str) -> None:
    """A deleted experiment takes no runs; restoring it is the user's call, not raygan's."""
    if exp.lifecycle_stage == "deleted":
        raise RayganError(
            f"MLflow experiment {exp.name!r} (id {exp.experiment_id}) in {uri} is deleted; restore"
            f" it with: MLFLOW_TRACKING_URI={uri} mlflow experiments restore --experiment-id "
            f"{exp.experiment_id}, or pick another --experiment")
