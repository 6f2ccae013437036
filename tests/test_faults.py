"""Faults on a real local Ray: a GAN worker dies mid-training; a sweep is stopped and resumed."""

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import check_mlflow, run_sweep_cli, sweep_command

from raygan.orchestrate.gan_stage import KILL_HOOK
from raygan.orchestrate.lock import LOCK_FILE
from raygan.tracking import TEST_DATA_TAG

REPORT = Path(__file__).resolve().parents[1] / "sweeps" / "report.py"


def _children(uri: str) -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan")
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def _stop_when(argv: list[str], env: dict[str, str], cwd, signum: int,
               ready: Callable[[], bool],
               meanwhile: Callable[[], None] | None = None) -> tuple[int, str]:
    """Run a sweep, send it `signum` once `ready()` holds (after `meanwhile()`, run while it
    still runs); its exit code and output."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(1)
    if meanwhile is not None:
        meanwhile()
    assert proc.poll() is None, "the sweep ended before it could be stopped"
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


@pytest.mark.ray
def test_killed_gan_worker_resumes_from_its_checkpoint(tiny_dataset, tmp_path):
    arms = ("real", "gan:dcgan", "all-real")
    # smoke checkpoints every 10 steps; the worker dies at its step-20 checkpoint, once.
    _, uri = run_sweep_cli(tmp_path, "--profile", "smoke", "--data", str(tiny_dataset),
                           "--budgets", "20", "--gan-steps", "30", "--arms", ",".join(arms),
                           env_extra={KILL_HOOK: "10"})
    check_mlflow(uri, arms, (20,), world_size=1)
    (gan_run,) = [r for r in _children(uri) if r.info.run_name == "train:dcgan-n20-s0"]
    assert gan_run.data.metrics["resumed_from"] == 10  # from its checkpoint, not from step 0
    client = MlflowClient(uri)
    steps = [m.step for m in client.get_metric_history(gan_run.info.run_id, "loss/G")]
    assert sorted(steps) == list(range(5, 31, 5))  # every logged step once, up to the last


@pytest.mark.ray
def test_interrupted_sweep_resumes_without_duplicates(tiny_dataset, tmp_path):
    arms = ("real", "oversample", "classic", "gan:dcgan", "all-real")
    args = ("--profile", "smoke", "--data", str(tiny_dataset), "--budgets", "5,20",
            "--arms", ",".join(arms))
    argv, env, uri = sweep_command(tmp_path, *args)

    def second_process_is_refused() -> None:
        # A second process may neither resume nor restart the running sweep (it would delete
        # the first one's RUNNING runs and log the grid twice).
        running = {r.info.run_id for r in _children(uri) if r.info.status == "RUNNING"}
        for extra in (("--resume",), ()):
            second = subprocess.run([*argv, *extra, "--dry-run"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
            assert second.stderr.startswith("error: sweep 't' is running (process "), \
                second.stderr
        assert running <= {r.info.run_id for r in _children(uri)}

    code, out = _stop_when(argv, env, tmp_path, signal.SIGINT, lambda: len(
        [r for r in _children(uri) if r.data.tags.get("raygan.kind") == "classifier"
         and r.info.status == "FINISHED"]) >= 2, meanwhile=second_process_is_refused)
    assert code == 130, out[-3000:]
    assert "--resume --name t" in out
    assert not (tmp_path / "runs" / "t" / LOCK_FILE).exists()  # released on Ctrl-C
    kept = {r.info.run_id for r in _children(uri) if r.info.status == "FINISHED"}
    assert len(kept) >= 2 + 2  # two GAN trainings and at least two classifier trials

    proc2, _ = run_sweep_cli(tmp_path, "--resume", *args)
    assert "finished runs are kept" in proc2.stdout
    check_mlflow(uri, arms, (5, 20), world_size=1)  # complete, and no run twice
    assert kept <= {r.info.run_id for r in _children(uri)}  # finished runs were not redone
    # Runs from before and after the resume were tested on one test set, and say so.
    runs = MlflowClient(uri).search_runs([_children(uri)[0].info.experiment_id])
    (parent,) = [r for r in runs if r.info.run_name == "t"]
    assert parent.data.params["data_fingerprint.test/malignant.files"] == "12"
    tags = {r.data.tags.get(TEST_DATA_TAG) for r in runs}
    assert len(tags) == 1 and None not in tags
    rep = subprocess.run([sys.executable, str(REPORT), "--name", "t", "--output",
                          str(tmp_path / "runs")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-2000:]


@pytest.mark.ray
def test_sigterm_stops_the_sweep_like_ctrl_c(tiny_dataset, tmp_path):
    args = ("--profile", "smoke", "--data", str(tiny_dataset), "--budgets", "5,20",
            "--arms", "real,oversample,gan:dcgan")
    argv, env, uri = sweep_command(tmp_path, *args)
    code, out = _stop_when(argv, env, tmp_path, signal.SIGTERM,
                           lambda: any(r.info.status == "FINISHED" for r in _children(uri)))
    assert code == 143, out[-3000:]
    assert "--resume --name t" in out
    assert "Traceback" not in out and "core dumped" not in out and "*** " not in out, out[-3000:]
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("raygan").experiment_id],
                                   "attributes.run_name = 't'")
    assert parent.info.status == "KILLED"
