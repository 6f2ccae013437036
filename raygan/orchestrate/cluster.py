"""Connecting to Ray: raygan's own local Ray unless an address is given; what the grid needs."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import ray
import ray._private.ray_constants as ray_constants
from ray._private.utils import get_num_cpus

from raygan.errors import RayganError
from raygan.orchestrate.progress import quiet_ray

CONNECT_TIMEOUT_S = 5.0  # how long the pre-flight check waits for the cluster's port to answer
LOCAL = "local"  # the address of raygan's own Ray: a new local instance, never an existing one
# Ray takes a node's IP from its default route and binds its servers (GCS, raylet, workers)
# there. Its single-machine mode (the default on macOS and Windows, switched on with this
# variable set to 0) takes 127.0.0.1 instead: nothing of a local sweep listens beyond this host.
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# Ray's raylet warns "N PYTHON worker processes have been started ..., which is 4x the maximum
# expected startup concurrency (C)" once its Python workers, less 8 kept for I/O, reach 4 C;
# C, the workers it starts at once, is the CPU count. A sweep runs about 7 worker processes per
# GAN training (Tune's trial, Train's controller and helpers, one per DDP worker), up to one
# training per CPU, plus 2 of its own: 7 per CPU + 2, so at 2 CPUs every GAN stage of a quiet
# sweep ended with the warning, about nothing. raygan's own Ray starts with C at twice the CPU
# count (warning from 8 per CPU + 8 workers on, which still catches a real runaway); a cluster
# it joins keeps its own setting, and so does a user who sets the variable.
STARTUP_CONCURRENCY_ENV = "RAY_worker_maximum_startup_concurrency"
# An HTTP/2 client's first bytes: the connection preface and an empty SETTINGS frame. Ray's
# GCS and Ray Client servers speak gRPC (HTTP/2) and answer with their own SETTINGS frame.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
H2_SETTINGS = 4  # frame type of SETTINGS, the 4th byte of a frame header


def resolve_address(address: str = "") -> str:
    """`--address`, else $RAY_ADDRESS, else 'local' (raygan starts its own Ray)."""
    return address or os.environ.get("RAY_ADDRESS", "") or LOCAL


def check_reachable(address: str) -> None:
    """Fail in seconds, with one line, when a host:port address does not answer like Ray."""
    if address in ("", LOCAL, "auto"):
        return  # raygan's own Ray, or Ray's own discovery of a cluster on this node
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RayganError(f"Ray address {address!r} is not of the form host:port, ray://host:port,"
                          " auto or local")
    try:
        conn = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise RayganError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc});"
                          " start it (ray start --head / ray up cluster.yaml), fix --address or"
                          " $RAY_ADDRESS, or drop both for raygan's own local Ray") from None
    with conn:
        if os.environ.get("RAY_USE_TLS", "0") not in ("0", ""):
            return  # a TLS handshake comes first; ray.init reports what goes wrong there
        try:
            conn.sendall(H2_PREFACE)
            header = _read(conn, 9)
        except OSError:  # silence (a timeout) or a reset
            header = b""
    if len(header) < 9 or header[3] != H2_SETTINGS:
        raise RayganError(f"{address} answers, but not as a Ray cluster (use the head's GCS port,"
                          " 6379 by default, or ray://host:10001); fix --address or $RAY_ADDRESS,"
                          " or drop both for raygan's own local Ray")


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))  # a silent server times out: an OSError
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def _loopback_only() -> Iterator[None]:
    """Start Ray in its single-machine mode: node IP 127.0.0.1 (see SINGLE_MACHINE_ENV). The
    raylet keeps the variable for the workers it spawns; the driver's is restored after."""
    before = os.environ.get(SINGLE_MACHINE_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False  # read at import; the driver imported Ray already
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before[1]
        if before[0] is None:
            os.environ.pop(SINGLE_MACHINE_ENV, None)
        else:
            os.environ[SINGLE_MACHINE_ENV] = before[0]


@contextmanager
def _startup_concurrency() -> Iterator[None]:
    """Start Ray's raylet with STARTUP_CONCURRENCY_ENV at twice the CPU count, unless the user
    set it. The raylet keeps the variable; the driver's environment is restored after."""
    if STARTUP_CONCURRENCY_ENV in os.environ:
        yield
        return
    os.environ[STARTUP_CONCURRENCY_ENV] = str(2 * max(1, int(get_num_cpus())))
    try:
        yield
    finally:
        os.environ.pop(STARTUP_CONCURRENCY_ENV, None)


def connect(address: str = "", verbose: bool = True) -> dict[str, float]:
    """Start raygan's own local Ray, or join the cluster at `address`; returns the cluster's
    total resources. Without an address no existing Ray is joined, even one on this machine.
    Unless `verbose`, Ray logs errors only and the workers' output stays in Ray's log files."""
    address = resolve_address(address)
    quiet = quiet_ray(verbose)
    # Ctrl-C must stop the sweep (and leave it resumable), not make Tune wind one stage down
    # gracefully and let the next stage start.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    if not ray.is_initialized():
        on_term = signal.getsignal(signal.SIGTERM)
        try:
            if address == LOCAL:
                with _loopback_only(), _startup_concurrency():
                    ray.init(address=LOCAL, include_dashboard=False, dashboard_host="127.0.0.1",
                             **quiet)
            else:
                ray.init(address=address, **quiet)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            raise RayganError(
                f"cannot connect to the Ray cluster at {address!r}: {str(exc).splitlines()[0]};"
                " check the address (e.g. 'auto' on the head node) or drop --address for local Ray"
            ) from None
        if callable(on_term):  # ray.init replaces a SIGTERM handler that the caller installed
            signal.signal(signal.SIGTERM, on_term)
    return ray.cluster_resources()


@dataclass(frozen=True)
class Job:
    """One trial as Ray must place it: all its `bundles` at once (one per Ray Train worker, or
    the trial itself). `what` names it in messages; `fixes` says, per resource, how to shrink it."""

    what: str
    bundles: tuple[dict[str, float], ...]
    fixes: dict[str, str] = field(default_factory=dict)


def _amount(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{value / 1024**3:.1f} GiB of memory"
    return f"{value:g} {resource}" + ("s" if resource in ("CPU", "GPU") and value != 1 else "")


def shortfall(jobs: list[Job], nodes: list[dict[str, float]]) -> str | None:
    """What the first job that cannot run on these nodes lacks, or None when every one can:
    each bundle must fit one node, and a job's bundles together the whole cluster."""
    for job in jobs:
        for bundle in job.bundles:
            for res, need in bundle.items():
                best = max((node.get(res, 0.0) for node in nodes), default=0.0)
                if need > best:
                    per = " per worker" if len(job.bundles) > 1 else ""
                    return (f"{job.what} asks for {_amount(res, need)}{per}, but the largest node"
                            f" has {_amount(res, best)}; {job.fixes.get(res, 'add nodes')}")
        total: dict[str, float] = {}
        for bundle in job.bundles:
            for res, need in bundle.items():
                total[res] = total.get(res, 0.0) + need
        for res, need in total.items():
            have = sum(node.get(res, 0.0) for node in nodes)
            if need > have:
                return (f"{job.what} asks for {_amount(res, need)} at once, but the cluster has "
                        f"{_amount(res, have)}; {job.fixes.get(res, 'add nodes')}")
    return None


def check_fits(jobs: list[Job], address: str = "") -> None:
    """Before any trial starts: stop with one line when a trial of the grid can never be placed
    (Ray would wait for it forever). raygan's own Ray cannot grow, so a shortfall is an error;
    a joined cluster may have an autoscaler that adds nodes, which raygan cannot see, so there
    a shortfall is a warning."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    missing = shortfall(jobs, nodes)
    if missing is None:
        return
    if resolve_address(address) == LOCAL:
        raise RayganError(f"this machine cannot run the grid: {missing}")
    print(f"warning: the cluster cannot run the grid as it is now ({missing}); the sweep waits"
          " for an autoscaler to add nodes, and forever if none does", file=sys.stderr)


def node_id() -> str:
    """The Ray node this process runs on (tagged on every MLflow run)."""
    return ray.get_runtime_context().get_node_id()
