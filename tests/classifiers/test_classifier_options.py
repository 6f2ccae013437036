"""`--classifier` and `--classifier-weights` on the command line: listed in --help, a bad value
refused in one line (exit 2) before Ray starts, a good one in the resolved config; and each
classifier's Ray memory reservation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import ray
import torch

from raygan import cli
from raygan.classifiers import REGISTRY, TwoBlockCNN, classifier_state
from raygan.config import ClassifierConfig
from raygan.options import sweep_config
from raygan.orchestrate.classifier_stage import trial_resources
from raygan.orchestrate.memory import MIB, classifier_trial_bytes

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "classifier_fit.json"


def _fails(capsys, *argv: str) -> str:
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert not ray.is_initialized()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("command", ["run", "tune"])
def test_help_lists_the_classifier_choice(capsys, command):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--classifier {" + ",".join(REGISTRY) + "}" in out
    assert "--classifier-weights FILE" in out


@pytest.mark.parametrize("command", ["run", "tune"])
def test_unknown_classifier_is_refused_in_one_line(capsys, command, tmp_path):
    msg = _fails(capsys, command, "--classifier", "unknown", "--output", str(tmp_path),
                 "--dry-run")
    assert "'unknown'" in msg and all(name in msg for name in REGISTRY)
    assert not any(tmp_path.iterdir())  # nothing written


def test_missing_weights_file_is_refused_before_the_data_is_read(capsys, tmp_path):
    # No --data: the weights are checked first, so no dataset is needed to see the error.
    msg = _fails(capsys, "run", "--profile", "smoke", "--classifier-weights",
                 str(tmp_path / "nope.pt"), "--output", str(tmp_path / "runs"), "--dry-run")
    assert "nope.pt: no such file" in msg
    assert not (tmp_path / "runs").exists()


def test_weights_of_another_classifier_are_refused(capsys, tmp_path):
    path = tmp_path / "classifier.pt"
    torch.save(classifier_state(TwoBlockCNN(32), 32), path)
    msg = _fails(capsys, "run", "--profile", "smoke", "--classifier", "resnet20",
                 "--classifier-weights", str(path), "--output", str(tmp_path / "runs"),
                 "--dry-run")
    assert "holds a cnn classifier, the sweep trains resnet20" in msg
    torch.save(TwoBlockCNN(64).state_dict(), path)  # the CNN's head fits one side only
    msg = _fails(capsys, "run", "--profile", "smoke", "--classifier-weights", str(path),
                 "--output", str(tmp_path / "runs"), "--dry-run")
    assert "does not fit a cnn classifier at 32 px" in msg


def test_the_options_reach_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = sweep_config({"profile": "smoke", "classifier": "resnet20",
                        "classifier_weights": "w.pt"})
    assert cfg.classifier.name == "resnet20"
    assert cfg.classifier.weights == str(tmp_path / "w.pt")  # absolute: a resume finds it
    assert json.loads(cfg.to_json())["classifier"]["name"] == "resnet20"
    assert sweep_config({"profile": "smoke"}).classifier == ClassifierConfig(epochs=2, patience=2)


def test_each_classifier_reserves_its_own_memory():
    small = trial_resources(ClassifierConfig(name="cnn"), 32)["memory"]
    big = trial_resources(ClassifierConfig(name="resnet20"), 32)["memory"]
    assert big > small
    gpu = [trial_resources(ClassifierConfig(name=n, use_gpu=True), 32)["memory"]
           for n in REGISTRY]
    assert len(set(gpu)) == 1  # on a GPU the activations are not in Ray's memory


@pytest.mark.skipif(not BENCH.is_file(), reason="benchmarks/classifier_fit.py not run")
def test_reservations_cover_the_measured_peaks():
    figures = json.loads(BENCH.read_text())["figures"]
    for name in REGISTRY:
        for key, text in figures[name].items():
            m = re.fullmatch(r"peak (\d+) px, batch (\d+)", key)
            if m:
                peak_mib = int(text.split()[0])
                reserved = classifier_trial_bytes(int(m[2]), int(m[1]), False, name)
                assert reserved >= peak_mib * MIB, (name, key)



LAPTOP_6 = Path(__file__).resolve().parents[2] / "results" / "laptop-6"


def test_a_sweep_from_before_the_choice_reports_the_studys_cnn():
    from raygan.config import SweepConfig
    from raygan.report_stage import _classifier

    saved = json.loads((LAPTOP_6 / "config.json").read_text())
    assert "name" not in saved["classifier"]  # written before the choice existed
    assert _classifier(SweepConfig.from_dict(saved)).startswith("`cnn`, the study's 2-block CNN")


def test_the_report_names_the_sweeps_classifier(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(LAPTOP_6, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["classifier"]["name"] = "resnet20"
    (folder / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    assert cli.main(["report", "--results", str(folder), "--output", str(out)]) == 0
    report = (out / "laptop-6" / "report" / "report.md").read_text()
    assert "Classifier of every trial: `resnet20`, CIFAR ResNet-20" in report
    assert "`cnn`" not in report
