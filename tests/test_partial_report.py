"""The report of a sweep whose grid has cells without a finished run (interrupted, still
running, failed): refused unless asked for with --partial, and then titled partial, in its
report, its summary and the results folder's report alike."""

import numpy as np
from mlflow.tracking import MlflowClient
from sweep_helpers import logged_sweep

from raygan import cli, tracking

GRID = {"arms": ["real", "oversample", "classic"], "seeds": [0]}


def _partial_sweep(tmp_path, data):
    """Sweep `s` of GRID with `real` and `oversample` finished, `classic` still running."""
    p = np.random.default_rng(0).uniform(size=24)
    uri = logged_sweep(tmp_path, data, "s", [("real", "5", 0, p), ("oversample", "5", 0, p)],
                       grid=GRID)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan").experiment_id
    parent = tracking.find_parent(uri, exp, "s")
    client.create_run(exp, run_name="classic-n5-s0", tags={"mlflow.parentRunId": parent,
                                                           "raygan.sweep": "s",
                                                           "raygan.kind": "classifier"})
    return uri


def test_an_unfinished_sweep_is_refused_before_its_data_is_read(capsys, data_copy, tmp_path):
    _partial_sweep(tmp_path, data_copy)
    data_copy.rename(tmp_path / "moved")  # reading the data now would fail: it is not read
    capsys.readouterr()
    code = cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert ("error: sweep 's' has not finished: 1 of 3 cells of its grid have no finished run "
            "(classic-n5-s0); finish it with raygan run --resume --name s --output ") in err[0]
    assert "or pass --partial to report the finished runs" in err[0]
    assert not (tmp_path / "runs" / "s" / "report").exists()


def test_a_partial_report_and_its_results_folder_say_so(capsys, data_copy, tmp_path):
    _partial_sweep(tmp_path, data_copy)
    runs = tmp_path / "runs"
    assert cli.report_main(["--name", "s", "--output", str(runs), "--partial"]) == 0
    assert "Partial report: 1 of 3 cells missing: classic-n5-s0" in capsys.readouterr().out
    folder = runs / "s" / "report"
    md = (folder / "report.md").read_text()
    assert md.startswith("# Partial report: 1 of 3 cells missing: raygan report: s\n")
    assert "- classifier cells (1): `classic-n5-s0`" in md
    assert (folder / "summary.md").read_text().startswith(
        "# Partial report: 1 of 3 cells missing: s at a glance")
    # The results folder of a partial report carries its status: its own report is partial.
    again = tmp_path / "again"
    assert cli.main(["report", "--results", str(runs / "s" / "results"), "--name", "s",
                     "--output", str(again)]) == 0
    md = (again / "s" / "report" / "report.md").read_text()
    assert md.startswith("# Partial report: 1 of 3 cells missing: raygan report: s\n")
    assert "- classifier cells (1): `classic-n5-s0`" in md


def test_a_finished_sweep_reports_without_the_flag(capsys, data_copy, tmp_path):
    p = np.random.default_rng(0).uniform(size=24)
    logged_sweep(tmp_path, data_copy, "s", [(a, "5", 0, p) for a in GRID["arms"]], grid=GRID)
    assert cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]) == 0
    md = (tmp_path / "runs" / "s" / "report" / "report.md").read_text()
    assert md.startswith("# raygan report: s\n") and "Missing cells" not in md


def test_a_sweep_that_may_still_run_is_told_to_be_waited_for(capsys, data_copy, tmp_path):
    import json
    import os
    import socket
    import subprocess
    import sys

    _partial_sweep(tmp_path, data_copy)
    lock = tmp_path / "runs" / "s" / "sweep.lock"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    for pid, running in ((os.getpid(), True), (int(gone.stdout), False)):  # live; exited
        lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                    "started": "2026-12-01T10:00:00+00:00"}))
        capsys.readouterr()
        assert cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err
        assert "1 of 3 cells of its grid have no finished run (classic-n5-s0)" in err
        if running:
            assert (f"it may still be running (process {pid} on host {socket.gethostname()} "
                    "holds its lock): wait for it to end, or pass --partial") in err
        else:  # a killed sweep's stale lock
            assert "finish it with raygan run --resume --name s" in err and "running" not in err
