"""A running sweep holds its name; the report refuses a sweep whose cells were run twice."""

import json
import os
import socket
import subprocess

import numpy as np
import pytest
import ray
from mlflow.tracking import MlflowClient
from sweep_helpers import logged_sweep, saved_sweep

from raygan import cli
from raygan.errors import RayganError
from raygan.orchestrate.lock import LOCK_FILE, hold


@pytest.fixture
def live_pid():
    proc = subprocess.Popen(["sleep", "600"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized()
    return err[0]


def test_resume_of_a_running_sweep_is_refused(capsys, data_copy, tmp_path, live_pid):
    runs = tmp_path / "runs"
    folder = saved_sweep(runs, "busy", data_copy, pid=live_pid)
    for extra in (["--resume"], []):  # resuming it, or starting it again
        code = cli.run_main(["--output", str(runs), "--name", "busy", "--profile", "smoke",
                               "--data", str(data_copy), *extra, "--dry-run"])
        msg = _one_error(capsys, code)
        assert f"sweep 'busy' is running (process {live_pid} on host" in msg
        assert str(folder / LOCK_FILE) in msg
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == live_pid  # left alone


def test_lock_of_a_live_process_is_not_taken(tmp_path, live_pid):
    folder = saved_sweep(tmp_path / "runs", "busy", tmp_path, pid=live_pid)
    with pytest.raises(RayganError, match="is running"), hold("busy", folder):
        pytest.fail("the body must not run")
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == live_pid


def test_stale_lock_is_taken_over_and_released(capsys, data_copy, tmp_path):
    runs = tmp_path / "runs"
    dead = _dead_pid()
    folder = saved_sweep(runs, "old", data_copy, pid=dead)
    assert cli.run_main(["--output", str(runs), "--name", "old", "--resume",
                           "--dry-run"]) == 0  # a stale lock does not block
    notes = []
    with hold("old", folder, notes.append):
        holder = json.loads((folder / LOCK_FILE).read_text())
        assert holder["pid"] != dead and holder["host"] == socket.gethostname()
    assert len(notes) == 1 and f"stale lock of sweep 'old' (process {dead}" in notes[0]
    assert not (folder / LOCK_FILE).exists()


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_lock_is_released_on_errors(tmp_path, exc):
    folder = tmp_path / "runs" / "s"
    with pytest.raises(exc), hold("s", folder):
        assert (folder / LOCK_FILE).exists()
        raise exc
    assert not (folder / LOCK_FILE).exists()


def test_report_refuses_duplicate_cells(capsys, data_copy, tmp_path):
    p = np.linspace(0.0, 1.0, 24)
    uri = logged_sweep(tmp_path, data_copy, "twice", [("real", "5", 0, p), ("real", "5", 0, p),
                                                     ("oversample", "5", 0, p)])
    assert len(MlflowClient(uri).search_runs(["1"], "attributes.run_name = 'real-n5-s0'")) == 2
    capsys.readouterr()  # MLflow's own log lines from creating the store
    msg = _one_error(capsys, cli.report_main(["--name", "twice", "--output",
                                              str(tmp_path / "runs")]))
    assert "2 finished runs named 'real-n5-s0' under one parent run" in msg


def test_lock_of_a_reused_pid_is_stale(tmp_path, live_pid):
    """A restarted container hands out the old pids again: to this process, or to another."""
    from raygan.orchestrate.lock import _start_ticks

    folder = tmp_path / "runs" / "s"
    folder.mkdir(parents=True)
    ticks = _start_ticks(live_pid)
    if ticks is None:
        pytest.skip("no /proc: process start times cannot be read")
    for pid, start in ((os.getpid(), None), (live_pid, ticks + 1)):
        (folder / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                    "start_ticks": start}))
        notes = []
        with hold("s", folder, notes.append):
            assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert f"(process {pid} on host" in notes[0]
    (folder / LOCK_FILE).write_text(json.dumps({"pid": live_pid, "host": socket.gethostname(),
                                                "start_ticks": ticks}))
    with pytest.raises(RayganError, match="is running"), hold("s", folder):
        pytest.fail("the body must not run")


def test_lock_from_another_host_is_refused(tmp_path):
    folder = tmp_path / "runs" / "s"
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"pid": _dead_pid(), "host": "elsewhere"}))
    with pytest.raises(RayganError, match=r"on host elsewhere.*delete .*sweep.lock"), \
            hold("s", folder):
        pytest.fail("the body must not run")
