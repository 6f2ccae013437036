"""Running the sweep CLI in a subprocess and checking what it left in MLflow."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from raygan.orchestrate.gan_stage import MIN_PROBE_IMAGES
from raygan.orchestrate.lock import LOCK_FILE
from raygan.profiles import profile_config

SCRIPT = Path(__file__).resolve().parents[1] / "sweeps" / "full_grid.py"


def sweep_command(tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None
                  ) -> tuple[list[str], dict[str, str], str]:
    """(argv, environment, MLflow URI) of a sweep named `t` with its store under `tmp_path`."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RAYGAN_CACHE": str(tmp_path / "cache"),
           **(env_extra or {})}
    env.pop("RAY_ADDRESS", None)
    argv = [sys.executable, str(SCRIPT), "--output", str(tmp_path / "runs"), "--name", "t", *args]
    return argv, env, uri


def run_sweep_cli(
    tmp_path: Path, *args: str, code: int = 0, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, str]:
    argv, env, uri = sweep_command(tmp_path, *args, env_extra=env_extra)
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == code, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, uri


def check_mlflow(uri: str, arms: tuple[str, ...], budgets: tuple[int, ...],
                 world_size: int, failed: tuple[str, ...] = ()) -> None:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.info.run_name == "t"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"results.md",
                                                                          "results.csv"}
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    by_name = {r.info.run_name: r for r in children}
    gans = [a[4:] for a in arms if a.startswith("gan:")]
    expected = {f"{a}-n{b}-s0" for a in arms if a != "all-real" for b in budgets}
    expected |= {"all-real-nall-s0"} | {f"train:{g}-n{b}-s0" for g in gans for b in budgets}
    assert set(by_name) == expected
    assert len(children) == len(expected)  # no duplicates
    for name, run in by_name.items():
        if name in failed:
            assert run.info.status == "FAILED", name
            continue
        assert run.info.status == "FINISHED", name
        kind = run.data.tags["raygan.kind"]
        if kind == "gan":
            assert run.data.params["gan"] in gans
            assert {"batch_size", "steps", "seed", "budget", "resolution"} <= set(run.data.params)
            assert run.data.metrics["world_size"] == world_size
            assert run.data.metrics["num_generated"] > 0
            assert np.isfinite(run.data.metrics["loss/G"]), name
            # The probe ran live on rank 0: a quality row at every eval step, and a verdict;
            # a GAN with too few real images to probe (budget validation trains N=5's on 3) has
            # none.
            gaps = client.get_metric_history(run.info.run_id, "quality/fd")
            steps = int(run.data.metrics["steps_trained"])
            expected = sorted({*range(10, steps + 1, 10), steps})
            if int(run.data.params.get("num_real", MIN_PROBE_IMAGES)) < MIN_PROBE_IMAGES:
                expected = []
            assert [m.step for m in gaps] == expected, name
            assert run.data.tags["raygan.converged"] in ("yes", "no", "unknown")
            arts = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert "samples.png" in arts
        else:
            p, m = run.data.params, run.data.metrics
            assert p["arm"] == name.split("-n")[0] and p["seed"] == "0"
            assert {"resolution", "clf.batch_size", "clf.epochs"} <= set(p)
            # Identities of binary_metrics, from the logged values: balanced accuracy is the
            # mean of sensitivity and specificity, and the AUC of hard labels equals it.
            balanced = (m["test/sensitivity"] + m["test/specificity"]) / 2
            assert abs(m["test/balanced_acc"] - balanced) < 1e-12, name
            assert abs(m["test/auc_hard"] - balanced) < 1e-12, name
            assert {"test/acc", "test/auc", "val/auc"} <= set(m), name
            arts = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert {"roc.png", "test_p_malignant.npy"} <= arts


def saved_sweep(runs: Path, name: str, data: Path, pid: int | None = None,
                grid: dict | None = None) -> Path:
    """runs/`name`/config.json of a smoke sweep (budget 5) on `data`, with the data's
    fingerprint when `data` holds a dataset, and a lock file of process `pid` if given;
    `grid` replaces config values (e.g. {"arms": [...], "seeds": [...]})."""
    from raygan.data import load_dataset

    folder = runs / name
    folder.mkdir(parents=True)
    cfg = profile_config("smoke")
    fp = load_dataset(data, cfg.resolution).fingerprint if (data / "train").is_dir() else {}
    cfg = cfg.from_dict({**cfg.to_dict(), "data": str(data), "budgets": [5],
                         "data_fingerprint": fp, **(grid or {})})
    (folder / "config.json").write_text(cfg.to_json())
    if pid is not None:
        (folder / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                    "started": "2026-12-01T10:00:00+00:00"}))
    return folder


def logged_sweep(tmp_path: Path, data: Path, name: str,
                 trials: list[tuple[str, str, int, np.ndarray]],
                 tags: dict[str, str] | None = None, grid: dict | None = None) -> str:
    """A sweep `name` in the MLflow store of MLFLOW_TRACKING_URI with finished classifier runs
    (arm, budget, seed, per-image test scores) and its config.json in tmp_path/runs, whose
    grid is the arms and seeds of those runs (a finished sweep, unless `grid` says otherwise)."""
    from raygan import tracking

    grid = grid or {"arms": list(dict.fromkeys(t[0] for t in trials)),
                    "seeds": sorted({t[2] for t in trials})}
    saved_sweep(tmp_path / "runs", name, data, grid=grid)
    uri = tracking.resolve_uri()
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, name, {})
    ctx = tracking.TrackingContext(uri, exp, parent, name, tags or {})
    for arm, budget, seed, p in trials:
        params = {"arm": arm, "budget": budget, "seed": seed}
        with tracking.child_run(ctx, f"{arm}-n{budget}-s{seed}", params,
                                {"raygan.kind": "classifier"}) as child:
            buf = tmp_path / "test_p_malignant.npy"
            np.save(buf, p)
            child.file(buf)
    tracking.end_run(uri, parent)
    return uri
