"""`raygan data check / fetch` and the dataset install behind `fetch`, on a local zip archive
(no network), and the one-line errors of `raygan generate` and `raygan run --download`."""

import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import ray
from sweep_helpers import saved_sweep

from raygan import cli
from raygan.data.fetch import counts, install
from raygan.errors import RayganError

TINY_COUNTS = {"train/benign": 40, "train/malignant": 40, "test/benign": 12, "test/malignant": 12}


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized()
    return err[0]


def _kaggle_zip(dataset: Path, path: Path) -> Path:
    """A zip laid out as Kaggle's download: the layout one folder down, plus a stray file."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.txt", "skin cancer: malignant vs benign")
        for f in sorted(dataset.rglob("*.jpg")):
            archive.write(f, f"skin-cancer/{f.relative_to(dataset).as_posix()}")
    return path


def test_install_from_a_zip_archive(tiny_dataset, tmp_path):
    dest = tmp_path / "data" / "skin-cancer-mvb"
    lines = []
    found = install(_kaggle_zip(tiny_dataset, tmp_path / "dl.zip"), dest, lines.append)
    assert found == TINY_COUNTS == counts(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train"]  # only the layout
    src = sorted(p.relative_to(tiny_dataset) for p in tiny_dataset.rglob("*.jpg"))
    assert sorted(p.relative_to(dest) for p in dest.rglob("*.jpg")) == src
    assert (dest / src[0]).read_bytes() == (tiny_dataset / src[0]).read_bytes()
    assert "note: the Kaggle dataset has other counts" in lines[-1]
    assert [p.name for p in dest.parent.iterdir()] == ["skin-cancer-mvb"]  # no staging left


def test_install_refuses_bad_archives_and_full_folders(capsys, tiny_dataset, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    msg = _one_error(capsys, cli.main(["data", "fetch", "--archive", str(bad), "--dest",
                                       str(tmp_path / "d1")]))
    assert "not a zip archive" in msg and not (tmp_path / "d1").exists()
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as archive:
        archive.writestr("train/benign/a.jpg", b"x")
    msg = _one_error(capsys, cli.main(["data", "fetch", "--archive", str(wrong), "--dest",
                                       str(tmp_path / "d2")]))
    assert "no ROOT/{train,test}/{benign,malignant}" in msg
    full = tmp_path / "full"
    full.mkdir()
    (full / "other.txt").write_text("x")
    with pytest.raises(RayganError, match="not empty"):
        install(_kaggle_zip(tiny_dataset, tmp_path / "dl.zip"), full)


def test_fetch_from_archive_then_check(capsys, tiny_dataset, tmp_path, isolated_cache):
    dest = tmp_path / "data" / "skin-cancer-mvb"
    zipped = _kaggle_zip(tiny_dataset, tmp_path / "dl.zip")
    assert cli.main(["data", "fetch", "--archive", str(zipped), "--dest", str(dest)]) == 0
    assert f"ready: raygan run --data {dest}" in capsys.readouterr().out
    assert cli.main(["data", "fetch", "--dest", str(dest)]) == 0  # there: checked, not fetched
    assert "already there" in capsys.readouterr().out
    assert cli.main(["data", "check", str(dest), "--resolution", "32"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{dest}: 80 train / 24 test images, all decoded at 32 px")
    assert out[1:] == [f"  {k}: {n}" for k, n in TINY_COUNTS.items()]


def test_data_check_errors(capsys, tmp_path):
    msg = _one_error(capsys, cli.main(["data", "check", str(tmp_path / "nope")]))
    assert "does not exist" in msg
    (tmp_path / "train" / "benign").mkdir(parents=True)
    msg = _one_error(capsys, cli.main(["data", "check", str(tmp_path)]))
    assert "folder train/benign" in msg and "holds no images" in msg
    msg = _one_error(capsys, cli.main(["data", "check", str(tmp_path), "--resolution", "x"]))
    assert "--resolution must be one of 32, 64, 128 or 224, got 'x'" in msg


@pytest.mark.parametrize("argv, needle", [
    (("--resolution", "16"), "--resolution must be one of 32, 64, 128 or 224, got 16"),
    (("--resolution", "33"), "--resolution must be one of 32, 64, 128 or 224, got 33"),
    (("--test-fraction", "1"), "--test-fraction must lie in (0, 1), got 1.0"),
    (("--classes", "nv"), "--classes nv: name two different classes"),
    (("--classes", "nv,nv"), "--classes nv,nv: name two different classes"),
    (("--classes", ","), "--classes ',' names nothing"),
    (("--geometry", "stretch"), "argument --geometry: invalid choice: 'stretch'"),
])
def test_data_check_refuses_what_run_refuses(capsys, tiny_dataset, tmp_path, argv, needle):
    """`data check` reads a dataset as `run` would, with run's options and bounds."""
    msg = _one_error(capsys, cli.main(["data", "check", str(tiny_dataset), *argv]))
    assert needle in msg, msg
    run = _one_error(capsys, cli.main(["run", "--data", str(tiny_dataset), *argv, "--dry-run",
                                       "--output", str(tmp_path / "runs")]))
    assert needle in run, run


def test_data_check_reads_other_class_folders(capsys, tiny_dataset, tmp_path, isolated_cache):
    root = tmp_path / "derm"
    for split in ("train", "test"):
        for old, new in (("benign", "nv"), ("malignant", "mel")):
            shutil.copytree(tiny_dataset / split / old, root / split / new)
    msg = _one_error(capsys, cli.main(["data", "check", str(root)]))
    assert "benign" in msg  # the Kaggle layout's folders, without --classes
    assert cli.main(["data", "check", str(root), "--classes", "nv,mel"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{root}: 80 train / 24 test images, all decoded at 32 px, made "
                             "square by crop")
    assert out[1:] == ["  train/nv: 40", "  train/mel: 40", "  test/nv: 12", "  test/mel: 12"]
    flat = tmp_path / "flat"  # no splits: --test-fraction carves the test split, as in run
    for old, new in (("benign", "nv"), ("malignant", "mel")):
        shutil.copytree(tiny_dataset / "train" / old, flat / new)
    assert cli.main(["data", "check", str(flat), "--classes", "nv,mel",
                     "--test-fraction", "0.25"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["  train/nv: 30", "  train/mel: 30", "  test/nv: 10", "  test/mel: 10"]


def test_fetch_without_kagglehub_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # as if not installed: import fails
    monkeypatch.delenv("RAYGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    msg = _one_error(capsys, cli.main(["data", "fetch"]))
    assert "pip install 'raygan[download]'" in msg
    # `run --download` fetches first, and stops there, before Ray.
    msg = _one_error(capsys, cli.main(["run", "--download", "--profile", "smoke", "--dry-run"]))
    assert "pip install 'raygan[download]'" in msg
    msg = _one_error(capsys, cli.run_main(["--download", "--dry-run"]))
    assert "pip install 'raygan[download]'" in msg


@pytest.mark.parametrize("argv, needle", [
    (("--run", "dcgan-n5-s0"), "not a GAN training's name"),
    (("--run", "train:dcgan-n5-s0", "--count", "0"), "--count must be between 1 and 1,000,000"),
    (("--run", "train:dcgan-n5-s0", "--count", "many"), "got 'many'"),
    (("--run", "train:pggan-n5-s0",), "has no GAN training 'train:pggan-n5-s0'"),
    (("--run", "train:dcgan-n7-s0",), "budgets 5"),
    (("--run", "train:dcgan-n5-s0", "--sweep", "nope"), "no sweep 'nope'"),
    (("--run", "train:dcgan-n5-s0", "--sweep", "../x"), "not a plain name"),
])
def test_generate_errors(capsys, data_copy, tmp_path, argv, needle):
    saved_sweep(tmp_path / "runs", "g", data_copy)
    args = ["generate", "--sweep", "g", "--out", str(tmp_path / "png"), "--output",
            str(tmp_path / "runs"), *argv]
    msg = _one_error(capsys, cli.main(args))
    assert needle in msg, msg
    assert not (tmp_path / "png").exists()


def test_generate_needs_the_sweeps_mlflow_runs(capsys, data_copy, tmp_path):
    from raygan import tracking

    saved_sweep(tmp_path / "runs", "g", data_copy)
    tracking.setup(tracking.resolve_uri(), "raygan")
    capsys.readouterr()  # MLflow's own log lines from creating the store
    msg = _one_error(capsys, cli.main(["generate", "--sweep", "g", "--run", "train:dcgan-n5-s0",
                                       "--out", str(tmp_path / "png"), "--output",
                                       str(tmp_path / "runs")]))
    assert "no sweep named 'g' in MLflow" in msg
