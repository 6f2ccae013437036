"""The sweep's parent run carries its results, on a real MLflow sqlite store."""

import math

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from raygan import tracking
from raygan.cell import Cell

# (arm, budget, seed) -> (test/auc, test/acc) of a finished classifier run
SCORES = {("gan:dcgan", 50, 0): (0.71, 0.60), ("gan:dcgan", 50, 1): (0.75, 0.64),
          ("gan:dcgan", 50, 2): (0.80, 0.65), ("oversample", 50, 0): (0.70, 0.70),
          ("oversample", 50, 1): (0.72, 0.68), ("oversample", 50, 2): (0.74, 0.69),
          ("all-real", "all", 0): (0.90, 0.83)}


@pytest.fixture()
def sweep(tmp_path):
    """A parent run with one finished child run per SCORES entry, and the rows read back."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {"profile": "smoke"})
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    for (arm, budget, seed), (auc, acc) in SCORES.items():
        cell = Cell(arm, budget, seed)
        name, params = cell.run_name, cell.params
        with tracking.child_run(ctx, name, params, {"raygan.kind": "classifier"}) as child:
            child.metrics({"test/auc": auc, "test/acc": acc, "test/balanced_acc": acc})
    client = MlflowClient(uri)
    rows = []
    for run in client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parent}'"):
        cell = tracking.run_cell(run)
        rows.append({"arm": cell.arm, "budget": cell.budget, "seed": cell.seed,
                     **run.data.metrics})
    rows.append({"arm": "gan:pggan", "budget": 50, "seed": 0, "error": "GAN training failed"})
    return uri, exp, parent, rows


def test_parent_run_carries_the_results_as_metrics_and_a_table(sweep):
    uri, exp, parent, rows = sweep
    tracking.log_results(uri, parent, rows)
    client = MlflowClient(uri)
    metrics = client.get_run(parent).data.metrics
    dcgan_auc = [SCORES[("gan:dcgan", 50, s)][0] for s in range(3)]
    assert metrics["test_auc.gan_dcgan.n50"] == pytest.approx(np.mean(dcgan_auc), abs=1e-12)
    assert metrics["test_auc.gan_dcgan.n50.sd"] == pytest.approx(np.std(dcgan_auc, ddof=1),
                                                                 abs=1e-12)
    assert metrics["test_acc.oversample.n50"] == pytest.approx(0.69, abs=1e-12)
    assert metrics["test_auc.all-real.all"] == pytest.approx(0.90)
    assert "test_auc.all-real.all.sd" not in metrics  # one seed: no spread to state
    assert not any("pggan" in k for k in metrics)  # a failed trial has no score
    assert len(metrics) == 3 * 2 * 2 + 3  # (auc, acc, balanced) x 2 arms x (mean, sd) + all-real
    # The names work in MLflow's run search, so a view can sort the sweeps by them.
    found = client.search_runs([exp], 'metrics."test_auc.gan_dcgan.n50" > 0.75')
    assert [r.info.run_id for r in found] == [parent]

    table = client.load_table(exp, tracking.RESULTS_TABLE, run_ids=[parent])
    by_arm = table.set_index("arm")
    assert by_arm.loc["gan:dcgan", "test_auc"] == pytest.approx(np.mean(dcgan_auc))
    assert by_arm.loc["gan:dcgan", "seeds"] == 3 and by_arm.loc["gan:pggan", "failed"] == 1
    assert by_arm.loc["gan:pggan", "seeds"] == 0
    assert by_arm.loc["all-real", "budget"] == "all"
    assert by_arm.loc["all-real", "test_auc_sd"] is None or math.isnan(
        by_arm.loc["all-real", "test_auc_sd"])


def test_summary_metric_names_are_legal_for_every_arm():
    from mlflow.utils.validation import _validate_metric_name

    from raygan.profiles import ALL_ARMS

    rows = [{"arm": a, "budget": "all" if a == "all-real" else 20, "seed": s, "test/auc": 0.5,
             "test/acc": 0.5} for a in ALL_ARMS for s in (0, 1)]
    names = tracking.summary_metrics(rows)
    assert len(names) == len(ALL_ARMS) * 2 * 2
    for name in names:
        _validate_metric_name(name)
        assert ":" not in name


def test_experiment_is_tagged_for_the_model_training_view(tmp_path):
    """MLflow 3 tells a GenAI experiment from a model-training one by this tag: raygan tags
    the experiment it creates, and one it reuses, whatever was guessed before."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    kind = "mlflow.experimentKind"
    created = tracking.setup(uri, "raygan")
    assert client.get_experiment(created).tags[kind] == "custom_model_development"
    bare = client.create_experiment("bare")  # made by an older raygan, or by hand
    guessed = client.create_experiment("guessed", tags={kind: "genai_development_inferred"})
    assert tracking.setup(uri, "bare") == bare and tracking.setup(uri, "guessed") == guessed
    assert tracking.setup(uri, "raygan") == created  # reused as it is
    for exp in (created, bare, guessed):
        assert client.get_experiment(exp).tags[kind] == "custom_model_development"


def _child(client, exp: str, parent: str, cell: Cell, kind: str, status: str) -> str:
    """A child run of `parent` made with MLflow alone, as a trial of an earlier run left it."""
    name = cell.gan_run_name if kind == "gan" else cell.run_name
    run = client.create_run(exp, run_name=name, tags={"mlflow.parentRunId": parent,
                                                      "raygan.kind": kind})
    for k, v in cell.params.items():
        client.log_param(run.info.run_id, k, v)
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def test_resume_deletes_every_unfinished_run_of_the_cells_it_runs_again(tmp_path):
    """A stage that failed (a full disk, a crash) leaves FAILED, KILLED and RUNNING runs beside
    the FINISHED ones; the resume keeps one FINISHED run per cell and deletes the rest, and the
    classifier of a GAN fill whose GAN trains again (its images will be new)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {})
    client = MlflowClient(uri)
    real5, real20 = Cell("real", 5, 0), Cell("real", 20, 0)
    gan5, gan20 = Cell("gan:dcgan", 5, 0), Cell("gan:dcgan", 20, 0)
    kept = {_child(client, exp, parent, real5, "classifier", "FINISHED"),
            _child(client, exp, parent, gan5, "gan", "FINISHED"),
            _child(client, exp, parent, gan5, "classifier", "FINISHED")}
    again = {_child(client, exp, parent, real5, "classifier", "FINISHED"),  # a second one
             _child(client, exp, parent, real20, "classifier", "FAILED"),  # disk full
             _child(client, exp, parent, real20, "classifier", "KILLED"),
             _child(client, exp, parent, gan20, "gan", "RUNNING"),  # its process died
             _child(client, exp, parent, gan20, "classifier", "FINISHED")}  # fill of that GAN

    done, removed = tracking.resume_cleanup(uri, exp, parent)

    assert {r.info.run_id for r in done.values()} == kept
    assert set(done) == {"real-n5-s0", "train:dcgan-n5-s0", "gan:dcgan-n5-s0"}
    assert sorted(removed) == sorted(["real-n5-s0", "real-n20-s0", "real-n20-s0",
                                      "train:dcgan-n20-s0", "gan:dcgan-n20-s0"])
    active = {r.info.run_id for r in client.search_runs(
        [exp], f"tags.`mlflow.parentRunId` = '{parent}'")}
    assert active == kept  # nothing of a cell that runs again stays beside its new run
    assert all(client.get_run(r).info.lifecycle_stage == "deleted" for r in again)
    again_done, again_removed = tracking.resume_cleanup(uri, exp, parent)  # a second resume
    assert {r.info.run_id for r in again_done.values()} == kept and again_removed == []


def test_a_locked_store_is_waited_out(tmp_path):
    """Another process that holds the sqlite store's write lock (a long transaction) makes
    MLflow fail with "database is locked"; raygan's calls wait until it lets go."""
    import sqlite3
    import threading

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    holder = sqlite3.connect(tmp_path / "mlflow.db", check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(6.0, holder.commit)  # after the first try (5 s busy wait) failed
    release.start()
    try:
        parent = tracking.start_parent(uri, exp, "s", {"profile": "smoke"})
    finally:
        release.join()
        holder.close()
    run = MlflowClient(uri).get_run(parent)
    assert run.data.params["profile"] == "smoke" and run.data.tags["raygan.sweep"] == "s"


def test_a_store_locked_for_good_is_one_line_naming_it_and_its_holder(tmp_path, monkeypatch):
    import os
    import sqlite3

    from raygan.errors import RayganError
    from raygan.tracking import client as tracking_client

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    monkeypatch.setattr(tracking_client, "LOCK_WAIT_S", 1.0)  # the bound, shortened
    holder = sqlite3.connect(tmp_path / "mlflow.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RayganError) as err:
            tracking.start_parent(uri, exp, "s", {})
    finally:
        holder.close()
    msg = str(err.value)
    assert "\n" not in msg and f"MLflow store {uri} stayed locked for 1 s" in msg
    assert f"{os.getpid()} (" in msg  # this process holds it open


def _setup_at_once(uri: str, barrier) -> str:
    barrier.wait()
    return tracking.setup(uri, "raygan")


def test_two_sweeps_create_one_fresh_store_at_once(tmp_path):
    """Sweeps started together in a fresh folder create the sqlite store and the experiment
    at once ("table ... already exists" without the store lock); each gets the one
    experiment."""
    import multiprocessing

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            ids = pool.starmap(_setup_at_once, [(uri, barrier)] * 4, chunksize=1)
    assert len(set(ids)) == 1
    names = [e.name for e in MlflowClient(uri).search_experiments()]
    assert names.count("raygan") == 1
