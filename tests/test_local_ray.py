"""Without --address a sweep starts its own Ray: it never joins another Ray on the machine,
and its Ray listens on the loopback interface only."""

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import ray  # also puts the psutil that Ray bundles on the path
from sweep_helpers import check_mlflow, sweep_command

JOBS = """
import ray
ray.init(address="{address}")
print("jobs", len(ray._private.state.jobs()))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(pid: int) -> dict[str, str]:
    """host:port -> process name of every TCP socket that the process `pid` and its
    descendants listen on."""
    import psutil  # Ray's bundled copy, on the path once ray is imported

    found = {}
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return found
    for proc in procs:
        try:
            for c in proc.net_connections(kind="tcp"):
                if c.status == psutil.CONN_LISTEN:
                    found[f"{c.laddr.ip}:{c.laddr.port}"] = proc.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.ray
def test_sweep_without_address_starts_its_own_ray_on_loopback(tiny_dataset, tmp_path):
    # A Ray of someone else on this machine, started as `ray start --head` starts it: it is
    # the one that a bare ray.init() joins. Its own temp dir (RAY_TMPDIR, short for Ray's
    # socket paths) keeps it apart from any other Ray on the machine, and so does the sweep's.
    # RAY_AUTH_MODE=token lets a driver join it (`ray start` turns token auth on).
    ray_tmp = tempfile.mkdtemp(prefix="rg", dir="/tmp")
    env_ray = {**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_AUTH_MODE": "token"}
    env_ray.pop("RAY_ADDRESS", None)
    address = f"127.0.0.1:{_free_port()}"
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    foreign = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", f"--port={address.split(':')[1]}",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
        env=env_ray, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(ray_tmp, "ray", "ray_current_cluster")):
            assert foreign.poll() is None and time.monotonic() < deadline, "ray start failed"
            time.sleep(1)
        arms = ("real", "gan:dcgan", "all-real")
        argv, env, uri = sweep_command(tmp_path, "--profile", "smoke", "--data",
                                       str(tiny_dataset), "--budgets", "20", "--gan-steps", "4",
                                       "--arms", ",".join(arms),
                                       env_extra={k: env_ray[k] for k in ("RAY_TMPDIR",
                                                                          "RAY_AUTH_MODE")})
        sweep = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        listening = {}
        while sweep.poll() is None:  # what the sweep's processes listen on, while it runs
            listening.update(_listening(sweep.pid))
            time.sleep(2)
        out = sweep.stdout.read()
        assert sweep.returncode == 0, out[-3000:]
        check_mlflow(uri, arms, (20,), world_size=1)
        assert "ray: 1 CPUs" not in out  # the foreign Ray has 1 CPU
        jobs = subprocess.run([sys.executable, "-c", JOBS.format(address=address)], env=env_ray,
                              capture_output=True, text=True, timeout=300)
        assert "jobs 1" in jobs.stdout, jobs.stdout + jobs.stderr[-2000:]  # only this check
        assert listening, "no listening socket seen during the sweep"
        outside = {a: name for a, name in listening.items()
                   if not ipaddress.ip_address(a.rsplit(":", 1)[0].removeprefix("::ffff:"))
                   .is_loopback}
        # Ray's own servers keep to loopback. The one exception: PyTorch's TCPStore, which the
        # rank-0 Ray Train worker of each DDP training opens on all interfaces (torch has no
        # setting for its bind address; see the README's security note).
        assert all(name.startswith("ray::RayTrainWorker") for name in outside.values()), outside
        assert len(outside) <= 1, outside  # one GAN training here, so one TCPStore
    finally:
        foreign.terminate()  # `ray start --block` stops its Ray processes on SIGTERM
        try:
            foreign.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(foreign.pid, 9)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ") as f:
        return dict(kv.split("=", 1) for kv in f.read().split("\0") if "=" in kv)


@pytest.mark.ray
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_own_ray_starts_its_raylet_with_room_for_a_sweeps_workers(monkeypatch):
    """raygan's own Ray lets its raylet start twice the CPU count of workers at once, which
    keeps Ray's "worker processes have been started" warning for 8 per CPU + 8 of them (a
    sweep runs about 7 per CPU + 2); the driver's own environment is left as it was."""
    from raygan.orchestrate.cluster import STARTUP_CONCURRENCY_ENV, connect

    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="rg", dir="/tmp"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv(STARTUP_CONCURRENCY_ENV, raising=False)
    try:
        cpus = connect(verbose=False)["CPU"]
        raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
        assert _environ(raylet)[STARTUP_CONCURRENCY_ENV] == str(2 * int(cpus))
        assert STARTUP_CONCURRENCY_ENV not in os.environ
    finally:
        ray.shutdown()
        shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)


def test_a_joined_cluster_keeps_its_startup_concurrency(monkeypatch):
    """The setting is raygan's own Ray's: joining a cluster passes nothing of it on."""
    from raygan.errors import RayganError
    from raygan.orchestrate import cluster

    seen = {}

    def fake_init(**kwargs):
        seen.update(address=kwargs.get("address"),
                    env=os.environ.get(cluster.STARTUP_CONCURRENCY_ENV))
        raise ConnectionError("no cluster here")

    monkeypatch.delenv(cluster.STARTUP_CONCURRENCY_ENV, raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    with pytest.raises(RayganError, match="cannot connect"):
        cluster.connect("10.0.0.1:6379", verbose=False)
    assert seen == {"address": "10.0.0.1:6379", "env": None}
    with pytest.raises(RayganError, match="cannot connect"):
        cluster.connect("", verbose=False)  # raygan's own Ray: the raylet would get it
    assert seen["address"] == "local" and int(seen["env"]) >= 2
