"""cluster.yaml: valid for the Ray cluster launcher, and safe to share.

Validation follows `ray up` (ray.autoscaler._private.commands._bootstrap_config) up to, but not
including, the AWS calls: `prepare_config` fills in the AWS provider defaults
(`fillout_defaults`), merges setup commands and sets per-type worker bounds, then
`validate_config` checks the result against Ray's ray-schema.json plus Ray's own consistency
rules. Nothing here contacts AWS or needs boto3.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"
SQL_BACKENDS = ("sqlite:", "postgresql", "mysql", "mssql")
NFS_PREFIXES = ("/mnt/", "/efs", "/nfs", "/shared/", "nfs://")
SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


@pytest.fixture(scope="module")
def text() -> str:
    return CLUSTER_YAML.read_text()


@pytest.fixture(scope="module")
def raw(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def prepared(raw: dict[str, Any]) -> dict[str, Any]:
    """The config as `ray up` would validate it: defaults filled, then checked."""
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)
    return config


def _commands(config: dict[str, Any], key: str) -> list[str]:
    return [str(c) for c in config.get(key) or []]


def _all_commands(config: dict[str, Any]) -> list[str]:
    keys = (
        "initialization_commands",
        "setup_commands",
        "head_setup_commands",
        "worker_setup_commands",
        "head_start_ray_commands",
        "worker_start_ray_commands",
    )
    return [c for key in keys for c in _commands(config, key)]


def _option(command: str, name: str) -> str:
    """Value of `--name value` or `--name=value` in a shell command."""
    match = re.search(rf"{re.escape(name)}[= ](\S+)", command)
    assert match, f"{name} missing in: {command}"
    return match.group(1)


def _exported(commands: list[str], var: str) -> str:
    """Value a setup command writes into ~/.bashrc as `export VAR=value`."""
    for command in commands:
        match = re.search(rf"echo ([\"'])export {var}=(.+?)\1 >> ~/\.bashrc", command)
        if match:
            return match.group(2)
    raise AssertionError(f"no command exports {var}")


def _gpu_worker_types(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in config["available_node_types"].items()
        if name != config["head_node_type"] and spec.get("resources", {}).get("GPU", 0) > 0
    }


def test_validates_against_ray_schema(prepared: dict[str, Any]) -> None:
    assert prepared["provider"]["type"] == "aws"
    assert prepared["provider"]["region"]
    assert isinstance(prepared["provider"]["cache_stopped_nodes"], bool)


def test_head_is_cpu_with_normal_cpus(prepared: dict[str, Any]) -> None:
    head = prepared["available_node_types"][prepared["head_node_type"]]
    assert head["resources"].get("CPU", 0) > 0
    assert head["resources"].get("GPU", 0) == 0
    assert head["max_workers"] == 0


def test_gpu_worker_type_autoscales_from_zero(prepared: dict[str, Any]) -> None:
    gpu_types = _gpu_worker_types(prepared)
    assert gpu_types, "no worker node type advertises a GPU"
    for name, spec in gpu_types.items():
        assert spec["min_workers"] == 0, name
        assert 0 < spec["max_workers"] <= prepared["max_workers"], name


def test_no_secrets(text: str, raw: dict[str, Any]) -> None:
    lowered = text.lower()
    for key in SECRET_KEYS:
        assert key not in lowered
    assert not AWS_KEY_ID.search(text)
    assert "ssh_private_key" not in raw.get("auth", {})


def test_dashboard_bound_to_loopback(prepared: dict[str, Any]) -> None:
    head_start = _commands(prepared, "head_start_ray_commands")
    ray_start = [c for c in head_start if "ray start" in c and "--head" in c]
    assert len(ray_start) == 1
    assert _option(ray_start[0], "--dashboard-host") == "127.0.0.1"
    assert not any("0.0.0.0" in c for c in _all_commands(prepared))


def test_mlflow_server_uses_sql_backend_and_s3_artifacts(prepared: dict[str, Any]) -> None:
    servers = [c for c in _commands(prepared, "head_start_ray_commands") if "mlflow server" in c]
    assert len(servers) == 1
    server = servers[0]
    assert _option(server, "--backend-store-uri").startswith(SQL_BACKENDS)
    assert _option(server, "--artifacts-destination").startswith("s3://")
    assert _option(server, "--port") == "5000"


def test_workers_get_a_reachable_tracking_uri(prepared: dict[str, Any]) -> None:
    worker_uri = _exported(_commands(prepared, "worker_setup_commands"), "MLFLOW_TRACKING_URI")
    assert worker_uri == "http://$RAY_HEAD_IP:5000"
    head_uri = _exported(_commands(prepared, "head_setup_commands"), "MLFLOW_TRACKING_URI")
    assert "127.0.0.1" not in head_uri and "localhost" not in head_uri


def test_storage_is_shared(prepared: dict[str, Any]) -> None:
    storage = _exported(_commands(prepared, "head_setup_commands"), "RAYGAN_STORAGE")
    assert storage.startswith("s3://") or storage.startswith(NFS_PREFIXES), storage


def test_installs_raygan_from_the_mounted_checkout(raw: dict[str, Any]) -> None:
    assert raw["file_mounts"].get("~/raygan") == "."
    assert any("pip install" in c and "-e ~/raygan" in c for c in _commands(raw, "setup_commands"))


@pytest.mark.parametrize(
    "break_config",
    [
        lambda c: c["available_node_types"]["gpu-worker"].update(max_workers="many"),
        lambda c: c.update(max_workers="many"),
        lambda c: c.update(setup_comands=[]),  # misspelt key: the schema allows no extras
        lambda c: c.update(head_node_type="no-such-type"),
    ],
    ids=["node-max-workers-str", "global-max-workers-str", "unknown-key", "bad-head-type"],
)
def test_broken_copy_fails_validation(raw: dict[str, Any], break_config) -> None:
    broken = copy.deepcopy(raw)
    break_config(broken)
    with pytest.raises((jsonschema.ValidationError, ValueError, TypeError)):
        validate_config(prepare_config(broken))
