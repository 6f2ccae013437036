"""External test sets through the sweep library: the checks and the duplicate audit before Ray
starts (the sweep's own data, a set the audit leaves with too few images of a class), the
fingerprint the sweep keeps of each set, `ext/` metrics, Youden-threshold metrics and the saved
classifier of every trial in MLflow; the report's section per external set, and
`report --external-test` of a set the sweep never saw."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ray
from mlflow.tracking import MlflowClient
from PIL import Image

from raygan import cli
from raygan.data import Split
from raygan.data.sources import external_set, load_source
from raygan.errors import RayganError
from raygan.eval.external import evaluate_trial, sweep_external_sets
from raygan.profiles import profile_config

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


def mirrored(split: Path, out: Path) -> Path:
    """Another collection in the class-folder layout: the pictures of `split` (a split of the
    tiny dataset) mirrored, so none is a sweep image and none near-duplicates a training image
    (the tiny dataset's other seeds draw blobs that do)."""
    for cls in ("benign", "malignant"):
        (out / cls).mkdir(parents=True)
        for f in sorted((split / cls).iterdir()):
            with Image.open(f) as img:
                img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(out / cls / f.name,
                                                                    quality=95)
    return out


def _run_error(capsys, data: Path, tmp_path: Path, spec: Path) -> str:
    """The one-line error of a dry run of a sweep on `data` with external set isic=`spec`."""
    code = cli.run_main(["--profile", "smoke", "--data", str(data), "--output",
                         str(tmp_path / "runs"), "--name", "s", "--external-test",
                         f"isic={spec}", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized() and not (tmp_path / "runs" / "s").exists()
    return err[0]


def test_the_sweeps_own_data_is_refused_as_an_external_set_before_training(capsys, data_copy,
                                                                            tmp_path):
    for spec, what in ((data_copy / "test", "test split"),
                       (data_copy / "train", "training split"),
                       (data_copy, "data (its training and test splits)")):
        msg = _run_error(capsys, data_copy, tmp_path, spec)
        assert f"isic={spec} is the sweep's own {what} (the same images);" in msg, msg
        assert "drop --external-test isic or name another" in msg


def test_a_missing_external_set_is_named_without_the_kaggle_advice(capsys, data_copy,
                                                                   tmp_path):
    msg = _run_error(capsys, data_copy, tmp_path, tmp_path / "gone")
    assert msg == (f"error: external test set isic: {tmp_path / 'gone'} does not exist; pass an "
                   "existing folder or .toml card as --external-test isic=DATASET")


def test_a_set_the_audit_leaves_one_class_or_empty_is_refused_before_training(
        capsys, data_copy, tmp_path):
    other = mirrored(data_copy / "test", tmp_path / "other")  # another collection
    one = tmp_path / "one"  # its benign images, and the sweep's own malignant training images
    shutil.copytree(other / "benign", one / "benign")
    shutil.copytree(data_copy / "train" / "malignant", one / "malignant")
    msg = _run_error(capsys, data_copy, tmp_path, one)
    assert (f"external test set isic={one} leaves 12 benign and 0 malignant images after the "
            "duplicate audit (40 of its 52 images, 40 malignant, duplicate a training image and "
            "were dropped); its AUC needs at least 2 of each class") in msg, msg
    empty = tmp_path / "empty"  # re-encoded copies of training images: none survives the audit
    for cls in ("benign", "malignant"):
        (empty / cls).mkdir(parents=True)
        for f in sorted((data_copy / "train" / cls).iterdir())[:5]:
            Image.open(f).save(empty / cls / f.name, quality=90)
    msg = _run_error(capsys, data_copy, tmp_path, empty)
    assert "leaves 0 benign and 0 malignant images after the duplicate audit (10 of its 10" in msg


def test_the_sweep_fingerprints_each_external_set_and_a_resume_names_what_changed(
        capsys, data_copy, tmp_path):
    ext = mirrored(data_copy / "test", tmp_path / "ext")
    for f in sorted((data_copy / "train" / "malignant").iterdir())[:2]:
        shutil.copy(f, ext / "malignant" / f"dup_{f.name}")
    cfg = dataclasses.replace(profile_config("smoke"), external={"isic": str(ext)},
                              sweep_name="s")
    dataset = load_source(data_copy, cfg.resolution)
    lines: list[str] = []
    sets, entries = sweep_external_sets(cfg, dataset, lines.append)
    assert lines == [f"external test isic: 24 images from {ext}; 2 duplicate a training image "
                     "(2 malignant) and are dropped"]
    entry = entries["external/isic"]
    assert entry["files"] == 26 and entry["malignant"] == 14
    assert len(entry["scored"].split()) == 24 and len(entry["dropped"].split()) == 2
    # the scores' order: the audited set's, by content id, and no file name of the data
    assert [p.split(":")[0] for p in entry["scored"].split()] == list(sets["isic"].tested.ids)
    assert not any(x in json.dumps(entry) for x in ("test_", ".jpg", "benign"))
    # The dry run's config (config.json) keeps it beside the data's own fingerprint.
    assert cli.run_main(["--profile", "smoke", "--data", str(data_copy), "--output",
                         str(tmp_path / "runs"), "--name", "s", "--external-test",
                         f"isic={ext}", "--dry-run"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("\n{") + 1:out.index("\nfill target")])
    assert printed["data_fingerprint"]["external/isic"] == entry
    assert printed["data_fingerprint"]["test/malignant"]["files"] == 12
    # Renamed files are the same set; a relabelled or removed image is named on resume.
    for f in sorted((ext / "benign").iterdir()):
        f.rename(f.with_name(f"renamed_{f.name}"))
    assert sweep_external_sets(cfg, dataset, lines.append, entries)[1] == entries
    moved = sorted((ext / "benign").iterdir())[0]
    moved.rename(ext / "malignant" / moved.name)
    sorted((ext / "malignant").glob("test_*"))[-1].unlink()
    with pytest.raises(RayganError, match=r"^isic: 1 image changed label \(malignant/renamed_test_"
                                          r"benign_000.jpg benign -> malignant\), 1 removed since "
                                          r"sweep 's' scored .*ext; its stored scores belong to "
                                          r"the set as it was: restore it at .*ext to resume$"):
        sweep_external_sets(cfg, dataset, lines.append, entries)


@pytest.mark.ray
def test_sweep_tests_every_trial_on_an_external_set(tiny_dataset, tmp_path):
    # An external collection in the class-folder layout: another collection's test split plus 3
    # pictures that are also training images (which the audit must drop).
    other = mirrored(tiny_dataset / "test", tmp_path / "other")
    ext = tmp_path / "ext"
    for old, new in (("benign", "nv"), ("malignant", "mel")):
        shutil.copytree(other / old, ext / "test" / new)
        shutil.copytree(other / old, ext / "train" / new)
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
    assert "3 duplicate a training image (3 malignant) and are dropped" in proc.stdout
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
    second = mirrored(tiny_dataset / "test", tmp_path / "second")
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
