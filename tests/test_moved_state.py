"""State that moves: a sweep resumed from another working directory, a project folder moved
with its MLflow store, stores and storage checked before anything is written, a full disk."""

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import ray
from mlflow.tracking import MlflowClient
from sweep_helpers import saved_sweep

from raygan import cli, tracking
from raygan.artifacts import CONFIG_FILE, RESULTS_MD
from raygan.errors import RayganError


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized()
    return err[0]


def _started_sweep(project: Path, data: Path, name: str = "s") -> tuple[Path, str]:
    """runs/NAME of a sweep started in `project` (its config.json records the store, as a
    sweep writes it) and its parent run in project/mlflow.db; (folder, store URI)."""
    uri = f"sqlite:///{project}/mlflow.db"
    folder = saved_sweep(project / "runs", name, data)
    saved = json.loads((folder / CONFIG_FILE).read_text())
    saved.update(tracking_uri=uri, output=str(project / "runs"), sweep_name=name)
    (folder / CONFIG_FILE).write_text(json.dumps(saved))
    exp = tracking.setup(uri, "raygan")
    tracking.start_parent(uri, exp, name, {})
    return folder, uri


def test_resume_from_another_folder_uses_the_sweeps_store(capsys, data_copy, tmp_path,
                                                          monkeypatch):
    folder, uri = _started_sweep(tmp_path / "project", data_copy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert cli.run_main(["--output", str(folder.parent), "--name", "s", "--resume",
                         "--dry-run"]) == 0
    assert f"MLflow: {uri}" in capsys.readouterr().out
    assert list(elsewhere.iterdir()) == []  # no fresh ./mlflow.db


def test_resume_refuses_a_store_without_the_sweep(capsys, data_copy, tmp_path, monkeypatch):
    folder, uri = _started_sweep(tmp_path / "project", data_copy)
    other = f"sqlite:///{tmp_path}/other.db"
    capsys.readouterr()  # MLflow's notes on creating the store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", other)  # named explicitly: that store is used
    msg = _one_error(capsys, cli.run_main(["--output", str(folder.parent), "--name", "s",
                                           "--resume", "--dry-run"]))
    assert f"its folder {folder} says it ran" in msg and f"MLflow store {other} holds no run" in msg
    assert not (tmp_path / "other.db").exists()  # nothing created to find nothing
    # An older config.json names no store: results in the folder say the sweep ran.
    old = saved_sweep(tmp_path / "old", "s", data_copy)
    (old / RESULTS_MD).write_text("| arm |\n")
    msg = _one_error(capsys, cli.run_main(["--output", str(old.parent), "--name", "s",
                                           "--resume", "--dry-run"]))
    assert f"it holds {RESULTS_MD}" in msg and other in msg


def test_resume_names_a_recorded_store_that_is_gone(capsys, data_copy, tmp_path, monkeypatch):
    folder, uri = _started_sweep(tmp_path / "project", data_copy)
    (tmp_path / "project" / "mlflow.db").rename(tmp_path / "elsewhere.db")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    capsys.readouterr()
    msg = _one_error(capsys, cli.run_main(["--output", str(folder.parent), "--name", "s",
                                           "--resume", "--dry-run"]))
    assert f"{tmp_path}/project/mlflow.db" in msg and "does not exist" in msg
    assert "MLFLOW_TRACKING_URI" in msg


def test_resume_hint_works_from_any_folder(data_copy, tmp_path, monkeypatch):
    from raygan.orchestrate.commands import resume_hint
    from raygan.orchestrate.sweep import prepare
    from raygan.profiles import profile_config

    monkeypatch.chdir(tmp_path)
    cfg = profile_config("smoke")
    cfg = cfg.from_dict({**cfg.to_dict(), "data": str(data_copy), "budgets": [5],
                         "output": "runs", "sweep_name": "h"})
    prep = prepare(cfg, log=lambda _: None)
    assert prep.cfg.output == str(tmp_path / "runs")  # config.json records its folder
    assert prep.cfg.tracking_uri == os.environ["MLFLOW_TRACKING_URI"]
    hint = resume_hint(prep, "raygan run")
    assert hint == (f"MLFLOW_TRACKING_URI={prep.tracking_uri} raygan run --resume --name h "
                    f"--output {tmp_path / 'runs'}")


def test_a_moved_project_folder_finds_its_sweep(data_copy, tmp_path, monkeypatch):
    """MLflow keeps absolute artifact paths; the moved folder's mlartifacts beside its mlflow.db
    are read (the report's scores, generate's gan.pt) and written (the report's files), and a
    resume finds the store where the folder went."""
    from raygan.orchestrate.sweep import resumed_config
    from raygan.profiles import profile_config

    old = tmp_path / "old"
    folder, uri = _started_sweep(old, data_copy)
    exp = tracking.setup(uri, "raygan")
    parent = tracking.find_parent(uri, exp, "s")
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    scores = np.linspace(0, 1, 24)
    with tracking.child_run(ctx, "real-n5-s0", {"arm": "real", "budget": 5, "seed": 0},
                            {"raygan.kind": "classifier"}) as child:
        np.save(tmp_path / "test_p_malignant.npy", scores)
        child.file(tmp_path / "test_p_malignant.npy")
    with tracking.child_run(ctx, "train:dcgan-n5-s0", {"arm": "gan:dcgan", "budget": 5,
                                                       "seed": 0}, {"raygan.kind": "gan"}) as gan:
        gan.artifact(b"weights", "gan.pt")
        gan.artifact(b"png", "samples.png")
    new = tmp_path / "new"
    old.rename(new)
    moved = f"sqlite:///{new}/mlflow.db"

    trials, grids = tracking.sweep_results(moved, "raygan", "s")
    assert np.array_equal(trials[0].p, scores) and grids == {"gan:dcgan-n5": b"png"}
    path = tracking.gan_checkpoint(moved, "raygan", "s", "train:dcgan-n5-s0", str(tmp_path))
    assert Path(path).read_bytes() == b"weights"
    report = tmp_path / "report.md"
    report.write_text("# report")
    tracking.log_files(moved, "raygan", "s", [report], "report")
    assert (new / "mlartifacts" / parent / "artifacts" / "report" / "report.md").is_file()
    assert not old.exists()  # nothing written where the folder was

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    notes = []
    cfg = profile_config("smoke")
    cfg = cfg.from_dict({**cfg.to_dict(), "output": str(new / "runs"), "sweep_name": "s"})
    assert resumed_config(cfg, log=notes.append).tracking_uri == moved
    assert f"{old / 'runs' / 's'} -> {new / 'runs' / 's'}" in notes[0]


def test_a_moved_store_without_its_artifacts_is_one_line(tmp_path):
    uri = f"sqlite:///{tmp_path}/a/mlflow.db"
    (tmp_path / "a").mkdir()
    exp = tracking.setup(uri, "raygan")
    run = MlflowClient(uri).create_run(exp).info.run_id
    tracking.attach(uri, run).artifact(b"weights", "gan.pt")
    (tmp_path / "b").mkdir()
    shutil.move(tmp_path / "a" / "mlflow.db", tmp_path / "b" / "mlflow.db")  # the db alone
    shutil.rmtree(tmp_path / "a")
    with pytest.raises(RayganError) as err:
        tracking.download_artifact(f"sqlite:///{tmp_path}/b/mlflow.db", run, "gan.pt",
                                   str(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg and f"{tmp_path}/a/mlartifacts, which no longer exists" in msg
    assert f"{tmp_path}/b/mlartifacts" in msg


def test_a_read_only_store_folder_stops_before_anything_is_written(capsys, data_copy,
                                                                   tmp_path, monkeypatch):
    """sqlite writes a journal beside its file: a writable mlflow.db in a folder that takes no
    new file fails on the first write, after Ray started; it is refused before."""
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db"
    tracking.setup(uri, "raygan")
    capsys.readouterr()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    if os.geteuid() == 0:  # root ignores modes; an immutable folder refuses root as well
        if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode:
            pytest.skip("running as root and chattr +i is not permitted: no read-only folder")
        undo = ["chattr", "-i", str(store)]
    else:
        store.chmod(0o555)
        undo = ["chmod", "755", str(store)]
    try:
        assert os.access(store / "mlflow.db", os.W_OK)  # the file itself is writable
        msg = _one_error(capsys, cli.run_main(["--data", str(data_copy), "--profile", "smoke",
                                               "--output", str(tmp_path / "runs"), "--name",
                                               "ro", "--dry-run"]))
    finally:
        subprocess.run(undo, check=True)
    assert f"MLflow store folder {store}" in msg and "not writable" in msg
    assert not (tmp_path / "runs" / "ro").exists()


def test_unreachable_storage_stops_before_anything_is_written(capsys, data_copy, tmp_path):
    storage = "s3://bucket/raygan?endpoint_override=127.0.0.1:9&scheme=http"  # nothing on 9
    msg = _one_error(capsys, cli.run_main(["--data", str(data_copy), "--profile", "smoke",
                                           "--output", str(tmp_path / "runs"), "--name", "st",
                                           "--storage", storage]))
    assert msg.startswith(f"error: --storage {storage} cannot be reached (") and "127.0.0.1" in msg
    assert not (tmp_path / "runs" / "st").exists()  # no config.json: the same command may rerun


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only): a real full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                                            str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_leaves_the_results_whole_and_says_how_to_resume(small_disk, data_copy,
                                                                     tmp_path):
    from raygan.orchestrate.commands import disk_full, disk_full_error
    from raygan.orchestrate.sweep import prepare, write_results
    from raygan.profiles import profile_config

    rows = [{"arm": "real", "budget": 5, "seed": 0, "test/auc": 0.7, "test/acc": 0.6}]
    write_results(small_disk, rows)
    before = (small_disk / RESULTS_MD).read_text()
    with open(small_disk / "filler", "wb") as f:  # fill the disk
        with pytest.raises(OSError):
            while True:
                f.write(b"x" * 65536)
                f.flush()
    with pytest.raises(OSError) as err:
        write_results(small_disk, rows * 200)
    assert err.value.errno == errno.ENOSPC
    assert (small_disk / RESULTS_MD).read_text() == before  # whole, never a 0-byte file
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "results.csv",
                                                           "results.json", "results.md"]
    cfg = profile_config("smoke")
    cfg = cfg.from_dict({**cfg.to_dict(), "data": str(data_copy), "budgets": [5],
                         "output": str(tmp_path / "runs"), "sweep_name": "full"})
    prep = prepare(cfg, log=lambda _: None)
    assert disk_full(err.value)
    msg = str(disk_full_error(err.value, prep, "raygan run"))
    assert "\n" not in msg, msg
    assert msg.startswith("the disk is full: [Errno 28] No space left on device; finished ")
    assert msg.endswith(f"raygan run --resume --name full --output {tmp_path / 'runs'}")


def test_report_and_generate_read_the_store_the_sweep_recorded(capsys, data_copy, tmp_path,
                                                                monkeypatch):
    """From another working directory, without MLFLOW_TRACKING_URI, `report` and `generate`
    read the store config.json names (not a fresh ./mlflow.db)."""
    from sweep_helpers import logged_sweep

    rng = np.random.default_rng(0)
    uri = logged_sweep(tmp_path, data_copy, "s", [(arm, "5", 0, rng.uniform(size=24))
                                                  for arm in ("real", "oversample")])
    config = tmp_path / "runs" / "s" / CONFIG_FILE
    config.write_text(json.dumps({**json.loads(config.read_text()), "tracking_uri": uri}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    capsys.readouterr()
    assert cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]) == 0
    assert "2 classifier trials" in (tmp_path / "runs" / "s" / "report" / "report.md").read_text()
    saved = json.loads(config.read_text())
    config.write_text(json.dumps({**saved, "arms": [*saved["arms"], "gan:dcgan"]}))
    code = cli.main(["generate", "--sweep", "s", "--run", "train:dcgan-n5-s0", "--out",
                     str(tmp_path / "png"), "--output", str(tmp_path / "runs")])
    # the sweep's store answered: it has the sweep, though not this GAN's run
    assert "has no finished GAN training 'train:dcgan-n5-s0'" in _one_error(capsys, code)
    assert list(elsewhere.iterdir()) == []  # neither created ./mlflow.db
