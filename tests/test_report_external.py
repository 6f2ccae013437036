"""The report covers every test set: the test split and each external set, each in a section of
its own with its own Holm families, Youden-threshold metrics and a row of the budget plot; and
`raygan report --external-test` tests a finished sweep's saved classifiers without retraining.
On a real MLflow sqlite store; no Ray."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from PIL import Image
from sklearn.metrics import roc_auc_score
from sweep_helpers import saved_sweep
from test_external import mirrored

from raygan import cli, tracking
from raygan.artifacts import CLASSIFIER_FILE
from raygan.cell import ALL, ALL_REAL, Cell
from raygan.classifiers import TwoBlockCNN, classifier_state, load_classifier, predict_proba
from raygan.config import load_config
from raygan.data.sources import external_set
from raygan.eval.bundle import image_digest
from raygan.eval.external import fingerprint_entry, load_external
from raygan.eval.leakage import without_external_duplicates
from raygan.eval.numbers import TestSet, Trial, comparisons, per_trial
from raygan.eval.plots import budget_figure
from raygan.eval.report import write_report
from raygan.eval.stats import holm
from raygan.metrics import metrics_at
from raygan.report_stage import sweep_data

ARMS = ("real", "oversample", "gan:dcgan")
LOGGED_ARMS = ("real", "oversample", ALL_REAL)  # the logged sweep's grid: no GAN training


def _scores(y: np.ndarray, signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, len(y)))))


def _trials(y: np.ndarray, gan_signal: float, offset: int) -> list[Trial]:
    """real, oversample and gan:dcgan at N=50, seeds 0-2, each with a validation threshold."""
    signal = {"real": 0.3, "oversample": 0.35, "gan:dcgan": gan_signal}
    return [Trial(Cell(arm, 50, s), _scores(y, signal[arm], offset + 10 * k + s),
                  threshold=0.3 + 0.1 * s, run_id=f"{arm}-{s}")
            for k, arm in enumerate(ARMS) for s in range(3)]


def test_every_test_set_gets_its_own_section_tests_and_panels(tmp_path):
    import matplotlib.pyplot as plt

    y = np.array([0] * 200 + [1] * 200)
    y_ext = np.array([0] * 240 + [1] * 60)  # another prevalence, as an external collection has
    trials = _trials(y, 2.0, 0)  # the GAN clearly wins in distribution...
    ext = TestSet("isic", y_ext, _trials(y_ext, 0.35, 500), external=True, duplicates=7)
    paths = write_report(trials, y, tmp_path, "two sets", external=[ext])
    md = (tmp_path / "report.md").read_text()
    assert "## Test split: 400 images (200 malignant)" in md
    assert ("## External test set isic: 300 images (60 malignant); 7 duplicates of training "
            "images dropped by the duplicate audit") in md
    test_part, ext_part = md.split("## External test set isic")
    ext_part = ext_part.split("## The published study")[0]
    for part in (test_part, ext_part):
        for heading in ("### At a threshold chosen on validation (Youden's J)",
                        "### Conclusions", "### Across seeds", "### Per-seed comparisons"):
            assert part.count(heading) == 1, heading
    # ...and not on the external set, where it has oversample's signal.
    assert "gan:dcgan better than oversample" in test_part
    assert "gan:dcgan better than oversample" not in ext_part
    assert "AUC (secondary: the primary comparison on this test set" in ext_part

    # Holm within each test set: the CSV's adjusted p-values of a set are Holm over that set's
    # own family, not over both sets together.
    saved = list(csv.DictReader((tmp_path / "comparisons.csv").open()))
    assert {r["test_set"] for r in saved} == {"test", "isic"}
    for name, ts_y, ts_trials in (("test", y, trials), ("isic", y_ext, ext.trials)):
        rows = [r for r in saved if r["test_set"] == name and r["level"] == "seed"]
        raw = [float(r[k]) for r in rows for k in ("p_auc", "p_acc")]
        adjusted = [float(r[k + "_holm"]) for r in rows for k in ("p_auc", "p_acc")]
        assert np.allclose(adjusted, holm(raw))
        assert len(rows) == len([c for c in comparisons(ts_trials, ts_y) if c["level"] == "seed"])

    # The Youden columns: metrics at each trial's validation threshold, beside those at 0.5.
    head = next(line for line in ext_part.splitlines() if line.startswith("| arm | N | acc"))
    assert "acc (0.5) | acc (Youden)" in head and "Youden threshold" in head
    gan = [t for t in ext.trials if t.arm == "gan:dcgan"]
    youden = np.mean([metrics_at(y_ext, t.p, t.threshold)["youden/acc"] for t in gan])
    at_half = np.mean([((t.p >= 0.5) == y_ext).mean() for t in gan])
    row = next(line for line in ext_part.splitlines() if line.startswith("| gan:dcgan | 50 |"))
    assert row.split(" | ")[2:4] == [f"{at_half:.3f}", f"{youden:.3f}"]
    assert row.rstrip(" |").endswith(f"{np.mean([0.3, 0.4, 0.5]):.3f}")

    # One row of two panels per test set, named by the set.
    fig = budget_figure({"test split": per_trial(trials, y), "isic": per_trial(ext.trials, y_ext)})
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert len(titles) == 4
    assert titles[0].startswith("test split\naccuracy") and titles[3].startswith("isic\nAUC")
    png = tmp_path / "budget_plot.png"
    assert png in paths
    assert Image.open(png).size == (1210, 990)  # 11 x 4.5 inches a row, 2 rows, at 110 dpi


def test_an_external_set_whose_size_changed_is_refused(tmp_path):
    from raygan.errors import RayganError

    y = np.array([0, 1] * 20)
    ext = TestSet("isic", y[:30], _trials(y, 1.0, 0), external=True, duplicates=0)
    with pytest.raises(RayganError, match="scores on external set 'isic', which now has 30"):
        write_report(_trials(y, 1.0, 0), y, tmp_path, "changed", external=[ext])


def test_parent_run_carries_each_external_sets_results(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {})
    rows = [{"arm": "gan:dcgan", "budget": 50, "seed": s, "test/auc": 0.8, "test/acc": 0.7,
             "test/balanced_acc": 0.7, "ext/isic/auc": 0.5 + 0.1 * s, "ext/isic/acc": 0.6,
             "ext/isic/balanced_acc": 0.55, "ext/isic/youden/acc": 0.1} for s in range(2)]
    tracking.log_results(uri, parent, rows)
    metrics = MlflowClient(uri).get_run(parent).data.metrics
    assert metrics["ext_isic_auc.gan_dcgan.n50"] == pytest.approx(0.55)
    assert metrics["ext_isic_auc.gan_dcgan.n50.sd"] == pytest.approx(np.std([0.5, 0.6], ddof=1))
    assert metrics["ext_isic_acc.gan_dcgan.n50"] == pytest.approx(0.6)
    assert metrics["test_auc.gan_dcgan.n50"] == pytest.approx(0.8)
    assert not any("youden" in k for k in metrics)  # the summary is the 0.5 / AUC figures
    table = MlflowClient(uri).load_table(exp, tracking.RESULTS_TABLE, run_ids=[parent])
    assert table.loc[0, "ext_isic_auc"] == pytest.approx(0.55)


# ---- raygan report --external-test, on a sweep logged with real saved classifiers ----------

def _external(root: Path, split: Path, duplicates: list[Path]) -> Path:
    """A class-folder collection: `split`'s pictures mirrored (none a sweep image, none a
    near-duplicate of one) plus copies of training images."""
    mirrored(split, root)
    for f in duplicates:
        shutil.copy(f, root / "malignant" / f"dup_{f.name}")
    return root


def _logged(tmp_path: Path, data: Path, old_spec: Path, fingerprint: bool = True) -> str:
    """Sweep `s`: config.json with external set `old` and, as the sweep keeps it, the set's
    fingerprint (unless not `fingerprint`, as an older raygan wrote it); per (arm, seed) a
    finished classifier run with a saved (untrained, seeded) classifier, its Youden threshold,
    its test scores and its scores on `old` in the order the fingerprint records; the parent
    run logs the audit's count, as the sweep does."""
    folder = saved_sweep(tmp_path / "runs", "s", data)
    cfg = replace(load_config(folder / "config.json"), external={"old": str(old_spec)},
                  arms=LOGGED_ARMS, seeds=(0, 1))  # the grid is what is logged: a whole sweep
    ext = load_external("old", str(old_spec), cfg.resolution, sweep_data(cfg, "s", None).train,
                        False, "")
    if fingerprint:
        cfg = replace(cfg, data_fingerprint={**cfg.data_fingerprint,
                                             "external/old": fingerprint_entry(ext)})
    (folder / "config.json").write_text(cfg.to_json())
    uri = tracking.resolve_uri()
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {"external_duplicates.old": ext.duplicates})
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    rng = np.random.default_rng(0)
    for k, arm in enumerate(LOGGED_ARMS):
        for seed in (0, 1):
            torch.manual_seed(10 * k + seed)
            threshold = 0.45 + 0.01 * k
            state = classifier_state(TwoBlockCNN(cfg.resolution), cfg.resolution, threshold)
            cell = Cell(arm, ALL if arm == ALL_REAL else 5, seed)
            params = {"arm": arm, "budget": cell.budget, "seed": seed}
            with tracking.child_run(ctx, cell.run_name, params,
                                    {"raygan.kind": "classifier"}) as child:
                child.metrics({"test/youden/threshold": threshold})
                for name, n in (("test_p_malignant.npy", 24),
                                ("ext_old_p_malignant.npy", len(ext.tested))):
                    buf = io.BytesIO()
                    np.save(buf, rng.uniform(size=n).astype(np.float32))
                    child.artifact(buf.getvalue(), name)
                buf = io.BytesIO()
                torch.save(state, buf)
                child.artifact(buf.getvalue(), CLASSIFIER_FILE)
    tracking.end_run(uri, parent)
    return uri


def test_report_tests_saved_classifiers_on_a_new_set_without_retraining(
        capsys, data_copy, tmp_path):
    train_mal = sorted((data_copy / "train" / "malignant").iterdir())
    old = _external(tmp_path / "old", data_copy / "test", train_mal[:2])
    new = _external(tmp_path / "new", data_copy / "test", train_mal[2:5])
    uri = _logged(tmp_path, data_copy, old)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan").experiment_id
    before = {r.info.run_id: r.info.status for r in client.search_runs([exp])}
    runs = str(tmp_path / "runs")

    assert cli.main(["report", "--name", "s", "--output", runs,
                     "--external-test", f"new={new}"]) == 0
    out = capsys.readouterr().out
    assert "external test old: 24 images" in out and "2 duplicate a training image" in out
    assert "external test new: 24 images" in out and "3 duplicate a training image" in out
    after = {r.info.run_id: r.info.status for r in client.search_runs([exp])}
    assert after == before  # no run trained, none added
    md = (tmp_path / "runs" / "s" / "report" / "report.md").read_text()
    assert "6 classifier trials" in md and "3 test sets" in md
    # every duplicate is a malignant training image: the audit leaves a label-selected subset
    assert ("## External test set old: 24 images (12 malignant); 2 duplicates of training "
            "images dropped by the duplicate audit, all malignant: a label-selected subset; "
            "prevalence 50.0 % after the audit (53.8 % before)") in md
    assert ("## External test set new: 24 images (12 malignant); 3 duplicates of training "
            "images dropped by the duplicate audit, all malignant: a label-selected subset; "
            "prevalence 50.0 % after the audit (55.6 % before)") in md
    # budget validation: 9 of all-real's 40 real malignant images validate, a filled arm has 40
    assert ("- `all-real` trains on 31 real malignant images: its budget is every real malignant "
            "training image (40), and under `budget` validation 9 of them validate instead") in md
    assert "trains on 40 malignant images (the fill target), 9 more than all-real." in md

    # The new set's scores are the saved classifiers' own predictions on the audited set.
    dataset_train = sweep_data(load_config(tmp_path / "runs" / "s" / "config.json"), "s",
                               None).train
    audited, _, _ = without_external_duplicates(dataset_train, external_set(new, 32))
    trials, _ = tracking.sweep_results(uri, "raygan", "s")
    aucs = []
    for t in trials:
        if t.arm == "real":
            state = torch.load(client.download_artifacts(t.run_id, CLASSIFIER_FILE,
                                                         str(tmp_path)), weights_only=True)
            aucs.append(roc_auc_score(audited.y, predict_proba(load_classifier(state),
                                                               audited.x)))
    parent = client.get_run(tracking.find_parent(uri, exp, "s")).data.metrics
    assert parent["ext_new_auc.real.n5"] == pytest.approx(np.mean(aucs), abs=1e-6)
    saved = list(csv.DictReader((tmp_path / "runs" / "s" / "report" /
                                 "comparisons.csv").open()))
    assert {r["test_set"] for r in saved} == {"test", "old", "new"}

    # A name the sweep already tested is read back, not tested again under the same name: the
    # flag says where the set moved, and another set there is refused, naming the difference.
    assert cli.main(["report", "--name", "s", "--output", runs,
                     "--external-test", f"old={new}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and (f"error: old: 2 removed, 3 added (e.g. malignant/dup_"
                              f"train_malignant_002.jpg) since sweep 's' scored {new}") in err[0]
    assert f"under another name: --external-test NEWNAME={new}" in err[0]


def _report(capsys, tmp_path: Path, *argv: str) -> tuple[int, list[str], str]:
    """(exit code, stderr lines, stdout) of `raygan report --name s` with `argv`."""
    code = cli.main(["report", "--name", "s", "--output", str(tmp_path / "runs"), *argv])
    out, err = capsys.readouterr()
    mlflow_says = " INFO mlflow."  # MLflow's own log, e.g. as it creates the store's tables
    return code, [line for line in err.strip().splitlines() if mlflow_says not in line], out


def test_stored_external_scores_follow_each_image_and_a_moved_or_changed_set_is_named(
        capsys, data_copy, tmp_path):
    train_mal = sorted((data_copy / "train" / "malignant").iterdir())
    old = _external(tmp_path / "old", data_copy / "test", train_mal[:2])
    uri = _logged(tmp_path, data_copy, old)
    entry = load_config(tmp_path / "runs" / "s" / "config.json").data_fingerprint["external/old"]
    scored = [p.split(":")[0] for p in entry["scored"].split()]
    trials, _ = tracking.sweep_results(uri, "raygan", "s")
    stored = {t.cell.run_name: dict(zip(scored, t.p, strict=True))
              for t in tracking.external_scores(uri, trials, "old")}
    # Every file renamed so that the load order runs backwards: positions change, ids do not.
    files = sorted(old.rglob("*.jpg"))
    for i, f in enumerate(files):
        f.rename(f.with_name(f"{len(files) - i:03d}_{f.name}"))
    code, err, _ = _report(capsys, tmp_path)
    assert code == 0, err
    ext = external_set(old, 32)
    id_of = {image_digest(f): i for f, i in zip(ext.files, ext.ids, strict=True)}
    with (tmp_path / "runs" / "s" / "results" / "scores" / "old.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and [id_of[r["image"]] for r in rows] != scored
    for r in rows:
        assert set(r) == {"image", "label", *stored}
        for run, scores in stored.items():
            assert float(r[run]) == pytest.approx(float(scores[id_of[r["image"]]]), abs=1e-6)

    # The set moved: one line naming it and its path, and how to point the report at it.
    moved = old.rename(tmp_path / "moved")
    code, err, _ = _report(capsys, tmp_path)
    assert code == 2 and len(err) == 1, err
    assert err[0] == (f"error: external test set old: {old} does not exist; sweep 's' scored it "
                      "there; if it moved, point the report at it with --external-test "
                      "old=NEWPATH (checked to be the same set)")
    code, err, out = _report(capsys, tmp_path, "--external-test", f"old={moved}")
    assert code == 0, err
    assert f"external test old: 24 images from {moved}" in out
    md = (tmp_path / "runs" / "s" / "report" / "report.md").read_text()
    assert "## External test set old: 24 images (12 malignant)" in md

    # One image moved from benign to malignant, one removed: refused, naming both.
    first = sorted((moved / "benign").iterdir())[0]
    first.rename(moved / "malignant" / first.name)
    sorted((moved / "malignant").glob("*_test_malignant_*"))[-1].unlink()
    code, err, _ = _report(capsys, tmp_path, "--external-test", f"old={moved}")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: old: 1 image changed label (malignant/{first.name} benign "
                             f"-> malignant), 1 removed since sweep 's' scored {moved}; its "
                             "stored scores belong to the set as it was: restore it, or test")


def test_report_external_test_refuses_the_sweeps_own_data_and_one_class_sets(
        capsys, data_copy, tmp_path):
    train_mal = sorted((data_copy / "train" / "malignant").iterdir())
    _logged(tmp_path, data_copy, _external(tmp_path / "old", data_copy / "test", train_mal[:2]))
    code, err, _ = _report(capsys, tmp_path, "--external-test", f"mine={data_copy / 'test'}")
    assert code == 2 and len(err) == 1, err
    assert f"error: mine={data_copy / 'test'} is the sweep's own test split" in err[0]
    one = mirrored(data_copy / "test", tmp_path / "one")
    shutil.rmtree(one / "malignant")
    shutil.copytree(data_copy / "train" / "malignant", one / "malignant")
    code, err, _ = _report(capsys, tmp_path, "--external-test", f"one={one}")
    assert code == 2 and len(err) == 1, err
    assert (f"error: external test set one={one} leaves 12 benign and 0 malignant images after "
            "the duplicate audit (40 of its 52 images, 40 malignant, duplicate") in err[0]


def test_a_stored_set_no_report_can_test_is_left_out_with_a_note(capsys, data_copy, tmp_path):
    # A sweep of an older raygan scored a set that the audit leaves with benign images only.
    one = mirrored(data_copy / "test", tmp_path / "one")
    shutil.rmtree(one / "malignant")
    shutil.copytree(data_copy / "train" / "malignant", one / "malignant")
    _logged(tmp_path, data_copy, one, fingerprint=False)
    code, err, out = _report(capsys, tmp_path)
    assert code == 0, err
    assert ("note: sweep 's' keeps no fingerprint of external set old (an older raygan): its "
            "stored scores are matched to the images by position, unchecked") in out
    assert (f"note: external test old is left out of the report: external test set old={one} "
            "leaves 12 benign and 0 malignant images after the duplicate audit") in out
    md = (tmp_path / "runs" / "s" / "report" / "report.md").read_text()
    assert "External test set old" not in md and "## Test split" in md
