"""End-to-end smoke sweeps on a real local Ray: CLI -> Train/Tune -> object store -> MLflow."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sweep_helpers import check_mlflow, run_sweep_cli

from raygan.profiles import profile_config

REPORT = Path(__file__).resolve().parents[1] / "sweeps" / "report.py"


@pytest.mark.ray
def test_smoke_sweep_on_generated_dataset_with_ddp(tiny_dataset, tmp_path):
    """Also: a classifier trial that raises is reported as failed; the others keep their results."""
    arms = ("real", "oversample", "classic", "gan:dcgan", "all-real")
    proc, uri = run_sweep_cli(tmp_path, "--profile", "smoke", "--data", str(tiny_dataset),
                              "--budgets", "5,20", "--gan-steps", "6", "--gan-workers", "2",
                              "--arms", ",".join(arms), code=1,
                              env_extra={"RAYGAN_FAIL_TRIALS": "oversample-n5-s0"})
    assert "| gan:dcgan |" in proc.stdout and "stage 2/2" in proc.stdout
    assert "oversample-n5-s0: RuntimeError: failure injected" in proc.stdout
    check_mlflow(uri, arms, (5, 20), world_size=2, failed=("oversample-n5-s0",))
    rows = list(csv.DictReader((tmp_path / "runs" / "t" / "results.csv").open()))
    assert len(rows) == 9
    assert [r["arm"] + r["budget"] for r in rows if r["error"]] == ["oversample5"]
    # The parent run carries each cell's result (one seed: the trial's own) for MLflow's view.
    from mlflow.tracking import MlflowClient

    from raygan.tracking import arm_slug, find_parent

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan").experiment_id
    summary = client.get_run(find_parent(uri, exp, "t")).data.metrics
    for r in rows:
        name = f"test_auc.{arm_slug(r['arm'])}." + ("all" if r["budget"] == "all"
                                                    else f"n{r['budget']}")
        if r["error"]:
            assert name not in summary
        else:
            assert summary[name] == pytest.approx(float(r["test/auc"]), abs=1e-12)
    # The report reads the same runs back from MLflow.
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RAYGAN_CACHE": str(tmp_path / "cache")}
    report = lambda *opts: subprocess.run(  # noqa: E731
        [sys.executable, str(REPORT), "--name", "t", "--output", str(tmp_path / "runs"), *opts],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    refused = report()  # a cell of the grid failed: the report must be asked for as partial
    assert refused.returncode == 2 and "1 of 11 cells of its grid have no finished run " \
        "(oversample-n5-s0)" in refused.stderr and "--partial" in refused.stderr, refused.stderr
    rep = report("--fidelity", "--cas", "--partial")
    assert rep.returncode == 0, rep.stderr[-2000:]
    text = (tmp_path / "runs" / "t" / "report" / "report.md").read_text()
    assert text.startswith("# Partial report: 1 of 11 cells missing: raygan report: t")
    assert "- classifier cells (1): `oversample-n5-s0`" in text
    assert "8 classifier trials" in text  # the failed trial is not in the report
    assert "| 5 | 0 | gan:dcgan | oversample |" not in text  # oversample-n5 failed
    assert "| 20 | 0 | gan:dcgan | oversample |" in text and "N=5: " not in text
    assert (tmp_path / "runs" / "t" / "report" / "samples" / "gan_dcgan-n20.png").exists()
    assert "## Fidelity against downstream AUC" in text
    assert "| gan:dcgan | 5 | 0 |" in text and "| gan:dcgan | 20 | 0 |" in text
    assert "CAS AUC |" in text and "CAS 2/2: dcgan N=20 seed 0: AUC" in rep.stdout
    # A second report reuses the sweep's feature extractor: the same distances, to the digit.
    rep2 = report("--fidelity", "--partial")
    assert rep2.returncode == 0 and "feature extractor: reused" in rep2.stdout, rep2.stderr[-2000:]
    text2 = (tmp_path / "runs" / "t" / "report" / "report.md").read_text()
    fd_cells = lambda t: [ln.split("|")[4:7]  # noqa: E731  (rows of the fidelity table)
                          for ln in t.split("## Fidelity against")[1].splitlines()
                          if ln.startswith(("| gan:dcgan | 5 | 0 |", "| gan:dcgan | 20 | 0 |"))]
    assert len(fd_cells(text)) == 2 and fd_cells(text2) == fd_cells(text)
    assert "CAS AUC |" not in text2


@pytest.mark.ray
@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("RAYGAN_DATA"), reason="RAYGAN_DATA is not set")
def test_smoke_profile_on_real_dataset(tmp_path):
    proc, uri = run_sweep_cli(tmp_path, "--profile", "smoke")
    assert "2637 train / 660 test" in proc.stdout
    check_mlflow(uri, profile_config("smoke").arms, (20,), world_size=1)
