"""The MLflow client every part of raygan's tracking goes through: it waits out a sqlite store
that another process holds locked, refuses to read a store that does not exist (rather than
create an empty one), and finds the artifacts of a project folder that was moved.

MLflow records absolute artifact locations: a sqlite store's experiment keeps
`file:///old/place/mlartifacts` (raygan's, beside the store) or `file:///old/place/mlruns/<id>`
(MLflow's default, against the working directory), and a run's artifacts lie in
`<location>/<run id>/artifacts`. MLflow has no call that changes a location, so when it is gone
but the same layout lies beside the store's file (the folder moved with its `mlflow.db`),
raygan reads and writes the artifacts there."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from mlflow.tracking import MlflowClient

from raygan.errors import RayganError

LOCK_WAIT_S = 60.0  # how long a call waits out a locked sqlite store before it gives up
LOCK_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # pauses between tries, the last one repeated

T = TypeVar("T")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None."""
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def is_locked(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is sqlite's "database is locked"."""
    while exc is not None:
        if "database is locked" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def holders(path: Path) -> list[str]:
    """The processes of this host that hold `path` open (`pid (command)`), from /proc; those of
    other users, or of other hosts sharing the file, cannot be seen."""
    found = []
    target = str(path.resolve())
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in (target, target + "-journal", target + "-wal")
                   for fd in (proc / "fd").iterdir()):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name} ({cmd.strip()[:80]})")
    return found


def retry_locked(uri: str, call: Callable[[], T], wait_s: float | None = None) -> T:
    """`call()`, tried again with growing pauses while the sqlite store `uri` is locked by
    another writer, for at most `wait_s` (LOCK_WAIT_S); then a RayganError naming the store and
    the processes that hold it open. A locked store rolled the write back: trying again is
    safe."""
    limit = LOCK_WAIT_S if wait_s is None else wait_s
    deadline, tries = time.monotonic() + limit, 0
    while True:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - only a lock is waited out, the rest re-raised
            if not is_locked(exc):
                raise
            if time.monotonic() >= deadline:
                path = sqlite_path(uri)
                who = holders(path) if path is not None else []
                raise RayganError(
                    f"MLflow store {uri} stayed locked for {limit:.0f} s: another process holds "
                    f"a write lock on it ({', '.join(who) or 'not a process of this host'}); "
                    "end that process (or its open transaction) and resume the sweep") from None
        time.sleep(min(LOCK_BACKOFF_S[min(tries, len(LOCK_BACKOFF_S) - 1)],
                       max(0.0, deadline - time.monotonic())))
        tries += 1


class Client:
    """An MlflowClient whose every call waits out a locked sqlite store (`retry_locked`)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._client = MlflowClient(uri)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not set yet (unpickling): never MlflowClient's privates
            raise AttributeError(name)
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return retry_locked(self.uri, lambda: attr(*args, **kwargs))

        return call


def client(uri: str, create: bool = False) -> Client:
    """The client of store `uri`. Unless `create`, a sqlite store whose file is missing is a
    RayganError: reading it would create an empty one and find nothing."""
    path = sqlite_path(uri)
    if not create and path is not None and not path.is_file():
        raise RayganError(f"no MLflow store at {path}: run from the folder that holds the "
                          "sweep's mlflow.db, or set MLFLOW_TRACKING_URI to it")
    return Client(uri)


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold the folder of sqlite store `uri` (flock) for the body: two processes that create
    the store, or the same experiment, at once would both create its tables ("table ...
    already exists") or the experiment. Other stores: no lock."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without flock: as before
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the flock


def _local(location: str) -> Path | None:
    """The folder of a local artifact location (`file:///x` or `/x`), else None."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(location) if parsed.scheme == "" else None


@functools.lru_cache(maxsize=64)
def moved_location(uri: str, location: str) -> Path | None:
    """Where the artifact folder `location` of sqlite store `uri` lies now, when the store's
    folder was moved: `location` is gone and its last one or two parts (`mlartifacts`,
    `mlruns/<id>`) lie beside the store's file. None when nothing moved."""
    db, old = sqlite_path(uri), _local(location)
    if db is None or old is None or old.exists():
        return None
    for k in (1, 2):
        if len(old.parts) > k:
            new = db.parent.joinpath(*old.parts[-k:])
            if new.is_dir() and new != old:
                return new
    return None


@functools.lru_cache(maxsize=256)
def _location(uri: str, experiment_id: str) -> str:
    return Client(uri).get_experiment(experiment_id).artifact_location  # never changes


class Artifacts:
    """The artifacts of one run: through MLflow, or, in a moved folder (`moved_location`),
    in the same layout beside the store."""

    def __init__(self, c: Client, run_id: str, experiment_id: str | None = None) -> None:
        self.c, self.run_id = c, run_id
        exp = experiment_id or c.get_run(run_id).info.experiment_id
        self.location = _location(c.uri, exp)
        new = moved_location(c.uri, self.location)
        self.repo = None
        if new is not None:
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            self.repo = get_artifact_repository((new / run_id / "artifacts").as_uri())

    def _check_readable(self) -> None:
        old = _local(self.location)
        if self.repo is None and old is not None and not old.exists():
            db = sqlite_path(self.c.uri)
            where = f"back, or beside {db} as {db.parent / old.name}" if db else "back"
            raise RayganError(f"MLflow store {self.c.uri} keeps its artifacts in {old}, which "
                              f"no longer exists (was the folder moved?); put that folder {where}")

    def names(self) -> set[str]:
        """The paths of the run's top-level artifacts."""
        self._check_readable()
        found = (self.repo.list_artifacts() if self.repo is not None
                 else self.c.list_artifacts(self.run_id))
        return {a.path for a in found}

    def download(self, name: str, dest: str) -> str:
        """Local copy, under `dest`, of the artifact `name`."""
        self._check_readable()
        if self.repo is not None:
            Path(dest).mkdir(parents=True, exist_ok=True)  # as MlflowClient's download does
            return self.repo.download_artifacts(name, dest)
        return self.c.download_artifacts(self.run_id, name, dest)

    def log(self, path: str | Path, folder: str | None = None) -> None:
        """Store the file `path` as an artifact, under `folder` if given."""
        if self.repo is not None:
            self.repo.log_artifact(str(path), folder)
        else:
            self.c.log_artifact(self.run_id, str(path), folder)
