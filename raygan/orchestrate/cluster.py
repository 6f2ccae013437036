"""Connecting to Ray: an existing cluster when an address is given, else a local one."""

from __future__ import annotations

import os
import socket

import ray

from raygan.errors import RayganError

CONNECT_TIMEOUT_S = 5.0  # how long the pre-flight check waits for the cluster's port


def resolve_address(address: str = "") -> str:
    """`--address`, else $RAY_ADDRESS, else '' (start a local Ray)."""
    return address or os.environ.get("RAY_ADDRESS", "")


def check_reachable(address: str) -> None:
    """Fail in seconds, with one line, when a host:port address does not answer."""
    if not address or address == "auto":
        return  # local Ray, or Ray's own discovery of a cluster on this node
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RayganError(f"Ray address {address!r} is not of the form host:port, ray://host:port"
                          " or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayganError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc});"
                          " start it (ray start --head / ray up cluster.yaml), fix --address, or"
                          " drop --address for a local Ray") from None


def connect(address: str = "") -> dict[str, float]:
    """Start or join Ray; returns the cluster's total resources."""
    address = resolve_address(address)
    # Ctrl-C must stop the sweep (and leave it resumable), not make Tune wind one stage down
    # gracefully and let the next stage start.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=True)
            else:
                ray.init(include_dashboard=False, dashboard_host="127.0.0.1")
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            raise RayganError(
                f"cannot connect to the Ray cluster at {address!r}: {str(exc).splitlines()[0]};"
                " check the address (e.g. 'auto' on the head node) or drop --address for local Ray"
            ) from None
    return ray.cluster_resources()


def node_id() -> str:
    """The Ray node this process runs on (tagged on every MLflow run)."""
    return ray.get_runtime_context().get_node_id()
