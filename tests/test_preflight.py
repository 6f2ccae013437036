"""Pre-flight: a grid that this machine's Ray can never place stops with one line, before any
trial starts and before config.json is written, instead of waiting forever."""

import shutil

import pytest
from sweep_helpers import sweep_command

from raygan.orchestrate.cluster import Job, shortfall

GIB = 1024**3


def test_shortfall_names_what_is_missing():
    nodes = [{"CPU": 2.0, "memory": 8.0 * GIB}, {"CPU": 4.0, "memory": 4.0 * GIB}]
    fixes = {"CPU": "lower --gan-workers", "GPU": "add --no-gpu"}
    assert shortfall([Job("x", ({"CPU": 4.0},) * 1)], nodes) is None  # fits the second node
    assert shortfall([Job("x", ({"CPU": 3.0},) * 2)], nodes) is None  # one worker per node
    msg = shortfall([Job("each t", ({"CPU": 1.0, "GPU": 1.0},) * 2, fixes)], nodes)
    assert msg == ("each t asks for 1 GPU per worker, but the largest node has 0 GPUs; "
                   "add --no-gpu")
    msg = shortfall([Job("each t", ({"CPU": 2.0},) * 4, fixes)], nodes)
    assert msg == "each t asks for 8 CPUs at once, but the cluster has 6 CPUs; lower --gan-workers"
    msg = shortfall([Job("each c", ({"CPU": 1.0, "memory": 9.0 * GIB},))], nodes)
    assert msg.startswith("each c asks for 9.0 GiB of memory, but the largest node has 8.0 GiB")


@pytest.mark.ray
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
@pytest.mark.parametrize("args, needles", [
    (("--profile", "smoke", "--gpu"), ("1 GPU per worker", "0 GPUs", "--no-gpu")),
    (("--profile", "paper", "--budgets", "10", "--seeds", "0"), ("GPU", "--no-gpu")),
    (("--profile", "smoke", "--gan-workers", "512", "--gan-batch-size", "512"),
     ("512 CPUs at once", "lower --gan-workers")),
    (("--profile", "smoke", "--resolution", "224", "--gan-batch-size", "4096", "--gan-width",
      "1024"), ("GiB of memory per worker", "lower --gan-batch-size")),
])
def test_grid_beyond_this_machine_stops_before_any_trial(tiny_dataset, tmp_path, args, needles):
    import subprocess

    argv, env, uri = sweep_command(tmp_path, "--data", str(tiny_dataset), *args)
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert err[-1].startswith("error: this machine cannot run the grid: "), err[-3:]
    assert all(n in err[-1] for n in needles), err[-1]
    assert "Traceback" not in proc.stderr
    # Nothing was left that would block the same command once it is fixed.
    assert not (tmp_path / "runs" / "t" / "config.json").exists()
    again = subprocess.run([*argv, "--dry-run"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
