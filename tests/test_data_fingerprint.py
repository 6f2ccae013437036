"""A sweep keeps the fingerprint of its data: a resume or a report on other data is refused."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import ray
from sweep_helpers import logged_sweep, saved_sweep

from raygan import cli
from raygan.cell import Cell
from raygan.data import load_dataset
from raygan.data.dataset import digest_of_test, fingerprint_changes
from raygan.errors import RayganError
from raygan.eval.numbers import Trial, check_paired


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized()
    return err[0]


def _other_data(data: Path, tmp_path: Path) -> Path:
    """A copy of `data` whose test/malignant keeps 3 of its 12 images."""
    other = Path(shutil.copytree(data, tmp_path / "other"))
    for f in sorted((other / "test" / "malignant").iterdir())[3:]:
        f.unlink()
    return other


def test_fingerprint_names_what_changed(data_copy, tmp_path):
    before = load_dataset(data_copy, 32).fingerprint
    assert before["test/malignant"]["files"] == 12
    after = load_dataset(_other_data(data_copy, tmp_path), 32).fingerprint
    assert fingerprint_changes(before, after) == (["test/malignant: 12 -> 3 files"], [])
    assert digest_of_test(before) != digest_of_test(after)
    victim = data_copy / "train" / "benign" / "train_benign_000.jpg"
    victim.write_bytes(victim.read_bytes() + b"\0")
    changed, _ = fingerprint_changes(before, load_dataset(data_copy, 32).fingerprint)
    assert len(changed) == 1 and changed[0].startswith("train/benign: 40 files, ")


def test_resume_on_other_data_is_refused(capsys, data_copy, tmp_path):
    runs = tmp_path / "runs"
    config = saved_sweep(runs, "s", data_copy) / "config.json"
    saved = config.read_text()
    assert json.loads(saved)["data_fingerprint"]["test/malignant"]["files"] == 12
    other = _other_data(data_copy, tmp_path)
    msg = _one_error(capsys, cli.run_main(["--output", str(runs), "--name", "s", "--resume",
                                             "--data", str(other), "--dry-run"]))
    assert "on other data: test/malignant: 12 -> 3 files" in msg and "--data" in msg
    assert config.read_text() == saved


def test_resume_on_a_copy_of_the_data_goes_on(capsys, data_copy, tmp_path):
    runs = tmp_path / "runs"
    saved_sweep(runs, "s", data_copy)
    copy = Path(shutil.copytree(data_copy, tmp_path / "copy", copy_function=shutil.copyfile))
    assert cli.run_main(["--output", str(runs), "--name", "s", "--resume", "--data",
                           str(copy), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "other modification times" in out and "names and sizes match" in out


def test_report_refuses_other_data(capsys, data_copy, tmp_path):
    p = np.linspace(0.0, 1.0, 24)
    logged_sweep(tmp_path, data_copy, "s", [("real", "5", 0, p), ("oversample", "5", 0, p)])
    capsys.readouterr()
    other = _other_data(data_copy, tmp_path)
    msg = _one_error(capsys, cli.report_main(["--name", "s", "--output", str(tmp_path / "runs"),
                                          "--data", str(other)]))
    assert "not the data sweep 's' ran on: test/malignant: 12 -> 3 files" in msg


def test_report_refuses_runs_tested_on_other_test_sets(capsys, data_copy, tmp_path):
    from raygan.tracking import TEST_DATA_TAG

    p = np.linspace(0.0, 1.0, 24)
    logged_sweep(tmp_path, data_copy, "s", [("real", "5", 0, p), ("oversample", "5", 0, p)],
                 tags={TEST_DATA_TAG: "0123456789abcdef"})
    capsys.readouterr()
    msg = _one_error(capsys, cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]))
    assert "tested on different test sets" in msg and "0123456789abcdef" in msg


def test_report_refuses_predictions_of_another_length(capsys, data_copy, tmp_path):
    p = np.linspace(0.0, 1.0, 24)
    logged_sweep(tmp_path, data_copy, "s", [("real", "5", 0, p), ("oversample", "5", 0, p[:15])])
    capsys.readouterr()
    msg = _one_error(capsys, cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]))
    assert "run oversample-n5-s0 holds 15 test scores but the test set has 24 images" in msg
    with pytest.raises(RayganError, match="cannot be paired"):
        check_paired([Trial(Cell("real", 5, 0), p[:3])], np.zeros(24, dtype=int))


def test_report_of_runs_tagged_with_the_sweeps_test_data(capsys, data_copy, tmp_path):
    from raygan.tracking import TEST_DATA_TAG

    rng = np.random.default_rng(0)
    tag = digest_of_test(load_dataset(data_copy, 32).fingerprint)
    logged_sweep(tmp_path, data_copy, "s", [(arm, "5", 0, rng.uniform(size=24))
                                            for arm in ("real", "oversample", "classic")],
                 tags={TEST_DATA_TAG: tag})
    assert cli.report_main(["--name", "s", "--output", str(tmp_path / "runs")]) == 0
    assert "3 classifier trials" in (tmp_path / "runs" / "s" / "report" / "report.md").read_text()


def test_report_exclude_leaks_adds_a_sensitivity_section(capsys, data_copy, tmp_path):
    from sklearn.metrics import roc_auc_score

    for i in (3, 7):  # two training lesions re-captured in the test split
        shutil.copy(data_copy / "train" / "malignant" / f"train_malignant_{i:03d}.jpg",
                    data_copy / "test" / "malignant" / f"zz_recapture_{i}.jpg")
    test = load_dataset(data_copy, 32).test
    assert len(test) == 26
    recaptured = np.array(["zz_recapture" in f for f in test.files])
    rng = np.random.default_rng(1)
    # the real arm is perfect on the re-captures only; the sensitivity set must lose them
    p_real = np.where(recaptured, 0.99, rng.uniform(size=26))
    p_over = rng.uniform(size=26)
    logged_sweep(tmp_path, data_copy, "s", [("real", "5", 0, p_real),
                                            ("oversample", "5", 0, p_over)])
    runs = str(tmp_path / "runs")
    assert cli.report_main(["--name", "s", "--output", runs, "--exclude-leaks"]) == 0
    assert "leakage audit: 2 test images re-capture a training lesion" in capsys.readouterr().out
    report = tmp_path / "runs" / "s" / "report"
    md = (report / "report.md").read_text()
    assert ("## Test split without re-captured lesions (sensitivity): 24 images (12 malignant); "
            "2 test images that re-capture a training lesion dropped by the leakage audit") in md
    assert "2 test sets" in md and "## Test split: 26 images (14 malignant)" in md
    rows = [line.split(",") for line in (report / "comparisons.csv").read_text().splitlines()]
    head = rows[0]
    noleak = [r for r in rows[1:] if r[head.index("test_set")] == "test-noleak"]
    assert len(noleak) == 1  # real against oversample, one seed
    keep = ~recaptured
    want = roc_auc_score(test.y[keep], p_real[keep]) - roc_auc_score(test.y[keep], p_over[keep])
    got = float(noleak[0][head.index("d_auc")])
    assert got == pytest.approx(-want if noleak[0][head.index("arm")] == "oversample" else want)

    # a sweep that tested without them already has no second section to give
    cfg = json.loads((tmp_path / "runs" / "s" / "config.json").read_text())
    (tmp_path / "runs" / "s" / "config.json").write_text(json.dumps({**cfg,
                                                                     "exclude_leaks": True}))
    assert cli.report_main(["--name", "s", "--output", runs, "--exclude-leaks"]) == 2
    assert "drop --exclude-leaks from the report" in capsys.readouterr().err
