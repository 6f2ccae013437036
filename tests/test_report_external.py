"""The report covers every test set: the test split and each external set, each in a section of
its own with its own Holm families, Youden-threshold metrics and a row of the budget plot; and
`raygan report --external-test` tests a finished sweep's saved classifiers without retraining.
On a real MLflow sqlite store; no Ray."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from PIL import Image
from sklearn.metrics import roc_auc_score
from sweep_helpers import saved_sweep

from raygan import cli, tracking
from raygan.artifacts import CLASSIFIER_FILE
from raygan.cell import Cell
from raygan.classifiers import TwoBlockCNN, classifier_state, load_classifier, predict_proba
from raygan.config import load_config
from raygan.data.sources import external_set
from raygan.eval.leakage import without_external_duplicates
from raygan.eval.numbers import TestSet, Trial, comparisons, per_trial
from raygan.eval.plots import budget_figure
from raygan.eval.report import write_report
from raygan.eval.stats import holm
from raygan.metrics import metrics_at
from raygan.report_stage import sweep_data

ARMS = ("real", "oversample", "gan:dcgan")


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

def _external(root: Path, test_images: Path, duplicates: list[Path]) -> Path:
    """A class-folder collection: the test split's images plus copies of training images."""
    for cls in ("benign", "malignant"):
        shutil.copytree(test_images / cls, root / cls)
    for f in duplicates:
        shutil.copy(f, root / "malignant" / f"dup_{f.name}")
    return root


def _logged(tmp_path: Path, data: Path, old_spec: Path, n_old: int, old_dups: int) -> str:
    """Sweep `s`: config.json with external set `old`, and per (arm, seed) a finished classifier
    run with a saved (untrained, seeded) classifier, its Youden threshold, its test scores and
    its scores on `old`; the parent run logs the audit's count, as the sweep does."""
    folder = saved_sweep(tmp_path / "runs", "s", data)
    cfg = load_config(folder / "config.json")
    cfg = cfg.from_dict({**cfg.to_dict(), "external": {"old": str(old_spec)}})
    (folder / "config.json").write_text(cfg.to_json())
    uri = tracking.resolve_uri()
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "s", {"external_duplicates.old": old_dups})
    ctx = tracking.TrackingContext(uri, exp, parent, "s")
    rng = np.random.default_rng(0)
    for k, arm in enumerate(ARMS):
        for seed in (0, 1):
            torch.manual_seed(10 * k + seed)
            threshold = 0.45 + 0.01 * k
            state = classifier_state(TwoBlockCNN(cfg.resolution), cfg.resolution, threshold)
            params = {"arm": arm, "budget": 5, "seed": seed}
            with tracking.child_run(ctx, f"{arm}-n5-s{seed}", params,
                                    {"raygan.kind": "classifier"}) as child:
                child.metrics({"test/youden/threshold": threshold})
                for name, n in (("test_p_malignant.npy", 24),
                                ("ext_old_p_malignant.npy", n_old)):
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
    uri = _logged(tmp_path, data_copy, old, n_old=24, old_dups=2)
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

    # A name the sweep already tested is read back, not tested again under the same name.
    assert cli.main(["report", "--name", "s", "--output", runs,
                     "--external-test", f"old={new}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already tested external set 'old'" in err[0]
