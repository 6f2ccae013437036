"""Where runs go: the store's URI, its pre-flight checks, the experiment, and the names of the
tags that raygan's runs are found by."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from raygan.cell import KIND_GAN
from raygan.errors import RayganError

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
    or reused, the experiment is tagged as model training (EXPERIMENT_KIND)."""
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
