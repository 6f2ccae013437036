"""External test sets through the sweep library: the duplicate audit before Ray starts, `ext/`
metrics, Youden-threshold metrics and the saved classifier of every trial in MLflow; the report's
section per external set, and `report --external-test` of a set the sweep never saw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from raygan.data import Split
from raygan.data.sources import external_set
from raygan.eval.external import evaluate_trial

REPORT = Path(__file__).resolve().parents[1] / "sweeps" / "report.py"

DRIVER = """
import dataclasses, json, sys
from raygan.config import ClassifierConfig
from raygan.profiles import profile_config
from raygan.orchestrate.sweep import prepare, run_sweep
cfg = dataclasses.replace(profile_config("smoke"), arms=("real",), budgets=(10,),
                          classifier=ClassifierConfig(epochs=2, patience=2),
                          data=sys.argv[1], external={"other": sys.argv[2]},
                          output=sys.argv[3], sweep_name="t")
prep = prepare(cfg)
result = run_sweep(prep)
print("ROWS", json.dumps(result.rows, default=str))
"""


@pytest.mark.ray
def test_sweep_tests_every_trial_on_an_external_set(tiny_dataset, tmp_path):
    # An external collection in the class-folder layout: the tiny test split plus 3 pictures
    # that are also training images (which the audit must drop).
    ext = tmp_path / "ext"
    for old, new in (("benign", "nv"), ("malignant", "mel")):
        shutil.copytree(tiny_dataset / "test" / old, ext / "test" / new)
        shutil.copytree(tiny_dataset / "test" / old, ext / "train" / new)
        for f in sorted((ext / "train" / new).iterdir())[3:]:
            f.unlink()
    shared = sorted((tiny_dataset / "train" / "malignant").iterdir())[:3]
    for f in (ext / "train" / "mel").iterdir():
        f.unlink()
    for f in shared:
        shutil.copy(f, ext / "train" / "mel" / f"shared_{f.name}")
    card = tmp_path / "ext.toml"
    rows = [("image_id", "dx")] + [(p.relative_to(ext).as_posix(), p.parent.name)
                                   for p in sorted(ext.rglob("*.jpg"))]
    (tmp_path / "ext.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    card.write_text(f'images = "{ext}"\nlabels = "ext.csv"\nid = "image_id"\nlabel = "dx"\n'
                    'positive = ["mel"]\n')
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RAYGAN_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tiny_dataset), str(card),
                           str(tmp_path / "runs")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # 12 + 12 test images, 3 more benign, 3 shared malignant: 30, less the 3 shared
    assert "external test other: 27 images" in proc.stdout
    assert "3 duplicate a training image and are dropped" in proc.stdout
    saved = json.loads((tmp_path / "runs" / "t" / "config.json").read_text())
    assert saved["validation"] == "budget" and saved["external"] == {"other": str(card)}
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("raygan").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["validation"] == "budget"
    assert parent.data.params["external_duplicates.other"] == "3"
    trial = next(r for r in runs if r.data.tags.get("raygan.kind") == "classifier")
    m = trial.data.metrics
    for key in ("ext/other/auc", "ext/other/acc", "ext/other/youden/acc", "test/youden/acc",
                "test/youden/threshold", "test/auc"):
        assert key in m, key
    artifacts = {a.path for a in client.list_artifacts(trial.info.run_id)}
    assert {"classifier.pt", "ext_other_p_malignant.npy", "test_p_malignant.npy"} <= artifacts
    # The saved classifier reproduces the trial's own external metrics without retraining.
    external = external_set(card, 32)
    keep = [not f.startswith("train/mel/shared_") for f in external.files]
    kept = Split(external.x[keep], external.y[keep], [f for f, k in
                                                      zip(external.files, keep, strict=True) if k])
    metrics, p = evaluate_trial(uri, trial.info.run_id, kept)
    logged = np.load(client.download_artifacts(trial.info.run_id, "ext_other_p_malignant.npy",
                                               str(tmp_path)))
    assert np.allclose(p, logged, atol=1e-5)
    assert metrics["auc"] == pytest.approx(m["ext/other/auc"])
    assert metrics["youden/acc"] == pytest.approx(m["ext/other/youden/acc"])

    # The report reads the trials' stored external scores back: a section for the set, no flag.
    report = [sys.executable, str(REPORT), "--name", "t", "--output", str(tmp_path / "runs")]
    proc = subprocess.run(report, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    md = (tmp_path / "runs" / "t" / "report" / "report.md").read_text()
    assert ("## External test set other: 27 images (12 malignant); 3 duplicates of training "
            "images dropped by the duplicate audit") in md
    # A set the sweep never saw: its saved classifiers are tested on it, nothing is retrained.
    second = tmp_path / "second"
    for cls in ("benign", "malignant"):
        shutil.copytree(tiny_dataset / "test" / cls, second / cls)
    for f in shared[:2]:
        shutil.copy(f, second / "malignant" / f"dup_{f.name}")
    before = sorted(r.info.run_id for r in client.search_runs([trial.info.experiment_id]))
    proc = subprocess.run([*report, "--external-test", f"second={second}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = sorted(r.info.run_id for r in client.search_runs([trial.info.experiment_id]))
    assert after == before
    md = (tmp_path / "runs" / "t" / "report" / "report.md").read_text()
    assert "## External test set other: 27 images" in md
    assert ("## External test set second: 24 images (12 malignant); 2 duplicates of training "
            "images dropped by the duplicate audit") in md
    parent_metrics = client.get_run(parent.info.run_id).data.metrics
    assert {"ext_other_auc.real.n10", "ext_second_auc.real.n10"} <= set(parent_metrics)
