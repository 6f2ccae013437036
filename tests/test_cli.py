"""Bad input: one line on stderr, exit code 2, no traceback, and Ray never started."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import ray

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"
sys.path.insert(0, str(SWEEPS))
import full_grid  # noqa: E402


def _fails(capsys, *argv: str) -> str:
    code = full_grid.main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert not ray.is_initialized()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def data_copy(tiny_dataset, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RAYGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.delenv("RAYGAN_DATA", raising=False)
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


def test_missing_dataset_path(capsys, data_copy):
    msg = _fails(capsys, "--data", str(data_copy / "nope"), "--dry-run")
    assert "does not exist" in msg and "fanconic/skin-cancer-malignant-vs-benign" in msg


def test_wrong_layout(capsys, data_copy):
    shutil.rmtree(data_copy / "test" / "malignant")
    msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    assert "test/malignant" in msg and "{train,test}/{benign,malignant}" in msg


def test_corrupt_image_is_named(capsys, data_copy):
    bad = data_copy / "train" / "benign" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    assert "broken.jpg" in _fails(capsys, "--data", str(data_copy), "--dry-run")


@pytest.mark.parametrize("budgets,needle", [("0", "positive"), ("-3", "positive"),
                                            ("500", "exceeds"), ("x", "integers")])
def test_impossible_budgets(capsys, data_copy, budgets, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), f"--budgets={budgets}", "--dry-run")


@pytest.mark.parametrize("argv,needle", [
    (("--arms", "real,bogus"), "unknown arm"),
    (("--arms", "gan:nope"), "unknown GAN"),
    (("--resolution", "50"), "unsupported resolution"),
    (("--profile", "huge"), "unknown profile"),
    (("--gan-steps", "0"), "must be positive"),
])
def test_bad_config_values(capsys, data_copy, argv, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), *argv, "--dry-run")


@pytest.mark.parametrize("address,needle", [("127.0.0.1:1", "cannot reach"),
                                             ("nonsense", "host:port")])
def test_unreachable_or_malformed_ray_address(capsys, data_copy, address, needle):
    assert needle in _fails(capsys, "--data", str(data_copy), "--address", address, "--dry-run")


def test_unwritable_mlflow_store(capsys, data_copy, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////nonexistent-dir/sub/mlflow.db")
    assert "MLflow" in _fails(capsys, "--data", str(data_copy), "--dry-run")


def test_dry_run_prints_config_and_trial_count(capsys, data_copy):
    assert full_grid.main(["--data", str(data_copy), "--profile", "smoke", "--budgets", "5,20",
                           "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"profile": "smoke"' in out and "4 GAN trainings, 11 classifier trials" in out
    assert not ray.is_initialized()


def test_cli_error_has_no_traceback(data_copy):
    env = {**os.environ, "RAYGAN_CACHE": str(data_copy.parent / "cache")}
    proc = subprocess.run([sys.executable, str(SWEEPS / "full_grid.py"), "--data",
                           str(data_copy / "missing")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: dataset folder")


def test_help_lists_profiles():
    proc = subprocess.run([sys.executable, str(SWEEPS / "full_grid.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "smoke, laptop, overnight, paper" in proc.stdout


def test_resume_errors(capsys, data_copy, tmp_path):
    out = str(tmp_path / "runs")
    assert "needs the --name" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                        "--resume", "--dry-run")
    assert "nothing to resume" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                         "--resume", "--name", "nope", "--dry-run")
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    (tmp_path / "runs" / "taken" / "config.json").write_text("{}")
    assert "--resume to continue" in _fails(capsys, "--data", str(data_copy), "--output", out,
                                            "--profile", "smoke", "--name", "taken", "--dry-run")


def test_resume_reads_the_saved_config(capsys, data_copy, tmp_path):
    from raygan.config import profile_config

    saved = profile_config("smoke")
    saved = saved.__class__.from_dict({**saved.to_dict(), "budgets": [7], "seeds": [3, 4]})
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "config.json").write_text(saved.to_json())
    # Flags that change what is computed are ignored on resume: the saved config holds.
    assert full_grid.main(["--data", str(data_copy), "--output", str(tmp_path / "runs"),
                           "--name", "old", "--resume", "--budgets", "9", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"sweep_name": "old"' in out
    assert "4 GAN trainings, 12 classifier trials" in out  # 1 budget x 2 seeds, as saved


def test_exclude_leaks_drops_recaptured_test_images(capsys, data_copy):
    src = data_copy / "train" / "malignant" / "train_malignant_003.jpg"
    shutil.copy(src, data_copy / "test" / "malignant" / "zz_recapture.jpg")
    assert full_grid.main(["--data", str(data_copy), "--profile", "smoke", "--budgets", "5",
                           "--exclude-leaks", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "leakage audit: 1 test images" in out and "(24 test images left)" in out
    assert '"exclude_leaks": true' in out


@pytest.mark.parametrize("argv, needle", [
    (("--name", "nope"), "no sweep 'nope'"),
    (("--name", "t", "--cas"), "add --fidelity"),
    (("--name", "t", "--fidelity", "--fidelity-images", "0"), "at least 1"),
])
def test_report_errors(capsys, tmp_path, argv, needle):
    import report

    code = report.main([*argv, "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_unreachable_mlflow_server_fails_fast(capsys, data_copy, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on 9
    msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:9" in msg
    assert "MLFLOW_TRACKING_URI" in msg


@pytest.mark.parametrize("server", ["silent", "http"])
def test_ray_address_that_is_not_ray(capsys, data_copy, monkeypatch, server):
    """A port that accepts connections but is no Ray cluster: one line, not a wait."""
    import http.server
    import socket
    import threading

    if server == "silent":  # the kernel completes the handshake; nobody ever answers
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port, stop = sock.getsockname()[1], sock.close
    else:
        class Quiet(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # the server's log would join the CLI's stderr
                pass

        httpd = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port, stop = httpd.server_address[1], httpd.shutdown
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    try:
        msg = _fails(capsys, "--data", str(data_copy), "--dry-run")
    finally:
        stop()
    assert f"127.0.0.1:{port} answers, but not as a Ray cluster" in msg and "RAY_ADDRESS" in msg


def test_address_local_is_accepted(capsys, data_copy):
    assert full_grid.main(["--data", str(data_copy), "--profile", "smoke", "--address", "local",
                           "--dry-run"]) == 0
    assert '"address": "local"' in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--no-gpu", "--gpu"])
def test_gpu_flag_holds_for_every_trial(flag):
    """`--no-gpu` takes the GPU off the GAN workers and the classifier trials of `paper`, and
    `--gpu` puts it on both, as the pre-flight check and the stages ask Ray for them."""
    from raygan.orchestrate.sweep import grid_jobs

    jobs = grid_jobs(full_grid.build_config(full_grid.parse_args(["--profile", "paper", flag])))
    assert {j.what.split(" (")[0] for j in jobs} >= {"each dcgan training", "each classifier trial"}
    gpus = {b.get("GPU", 0) for j in jobs for b in j.bundles if "CPU" in b}
    assert gpus == ({0} if flag == "--no-gpu" else {1})
