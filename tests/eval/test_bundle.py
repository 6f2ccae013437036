"""A results folder: written from a report's inputs, read back alone, the same report again."""

import csv
import json

import numpy as np
import pytest

from raygan.cell import Cell, Gate
from raygan.cli import main
from raygan.eval.bundle import image_digest, read_results, write_results
from raygan.eval.numbers import TestSet, Trial
from raygan.eval.report import write_report
from raygan.eval.verdicts import Primary
from raygan.profiles import profile_config


def _scores(y, signal, seed):
    rng = np.random.default_rng(seed)
    return (1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, len(y)))))).astype(
        np.float32)


def _sets():
    y = np.array([0] * 60 + [1] * 40)
    y_ext = np.array([0] * 50 + [1] * 10)
    arms = {"real": 0.3, "oversample": 0.4, "gan:dcgan": 0.8}

    def trials(y, k):
        out = [Trial(Cell(arm, b, s), _scores(y, sig, k + 100 * i + 10 * b + s), 0.4 + 0.01 * s)
               for i, (arm, sig) in enumerate(arms.items()) for b in (50, 200) for s in (0, 1, 2)]
        return out + [Trial(Cell("all-real", "all", s), _scores(y, 1.5, k + 999 + s), 0.5)
                      for s in (0, 1, 2)]

    test = TestSet("test", y, trials(y, 0), ids=tuple(image_digest(f"t/{i}.jpg")
                                                      for i in range(len(y))))
    ext = TestSet("isic", y_ext, trials(y_ext, 5000), external=True, duplicates=4,
                  duplicates_malignant=4)
    gates = [Gate(Cell("gan:dcgan", b, s), steps=900, max_steps=1000, stopped_early=True,
                  gap=0.2 + 0.1 * s, converged="yes") for b in (50, 200) for s in (0, 1, 2)]
    curves = {Cell("gan:dcgan", b, s): [(100, 3.0), (200, 0.5 + s)] for b in (50, 200)
              for s in (0, 1, 2)}
    fidelity = [{"arm": "gan:dcgan", "budget": b, "seed": s, "fd": 1.5, "kid": 0.01,
                 "near_copies": 0.0, "cas_auc": 0.8 + 0.01 * s, "test_auc": 0.7,
                 "converged": "yes"} for b in (50, 200) for s in (0, 1, 2)]
    return test, ext, gates, curves, fidelity


def test_a_results_folder_rebuilds_the_same_report(tmp_path):
    test, ext, gates, curves, fidelity = _sets()
    cfg = profile_config("laptop")
    primary = Primary.of_config(cfg)
    direct = write_report(test.trials, test.y, tmp_path / "direct", "r", gates=gates,
                          curves=curves, fidelity=fidelity, external=[ext], primary=primary,
                          notes=["all-real trained on 956 real malignant images"])
    write_results(tmp_path / "results", cfg.to_json(), [test, ext], gates, curves, fidelity,
                  ["all-real trained on 956 real malignant images"])
    res = read_results(tmp_path / "results")
    assert [s.name for s in res.sets] == ["test", "isic"]
    assert res.sets[0].ids == test.ids and res.sets[1].duplicates_malignant == 4
    assert res.gates == gates and res.curves == curves  # typed back: Gates, Cell-keyed curves
    again = write_report(res.sets[0].trials, res.sets[0].y, tmp_path / "again", "r",
                         gates=res.gates, curves=res.curves, fidelity=res.fidelity,
                         external=res.sets[1:], primary=primary, notes=res.notes)
    for a, b in zip(direct, again, strict=True):
        if a.suffix in (".md", ".csv"):
            assert a.read_text() == b.read_text(), a.name
    # scores only: no image, no file name of the data
    assert not list((tmp_path / "results").rglob("*.png"))
    assert "t/0.jpg" not in (tmp_path / "results" / "scores" / "test.csv").read_text()


def test_report_results_works_from_the_folder_alone(tmp_path, capsys):
    test, ext, gates, curves, fidelity = _sets()
    cfg = profile_config("laptop")
    cfg_json = json.dumps({**cfg.to_dict(), "sweep_name": "bundled", "budgets": [50, 200],
                           "seeds": [0, 1, 2],  # the grid the folder's trials fill
                           "arms": ["real", "oversample", "gan:dcgan", "all-real"]})
    write_results(tmp_path / "results", cfg_json, [test, ext], gates, curves, fidelity)
    out = tmp_path / "out"
    assert main(["report", "--results", str(tmp_path / "results"), "--output", str(out)]) == 0
    summary = (out / "bundled" / "report" / "summary.md").read_text()
    assert summary.startswith("# bundled at a glance")
    assert "## Primary comparison" in summary and "declared before the run" in summary
    # what needs the data or MLflow is refused, in one line, before any work
    code = main(["report", "--results", str(tmp_path / "results"), "--fidelity"])
    assert code == 2 and "--fidelity needs the sweep's data" in capsys.readouterr().err


def test_a_broken_results_folder_is_one_line(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    assert "is not a raygan results folder" in capsys.readouterr().err
    test, ext, gates, curves, fidelity = _sets()
    write_results(tmp_path / "r", profile_config("laptop").to_json(), [test])
    (tmp_path / "r" / "scores" / "test.csv").write_text("image,label\n")
    with pytest.raises(Exception, match="incomplete or malformed"):
        read_results(tmp_path / "r")


def _folder(path, name, classifier, signal):
    """A results folder of sweep `name` trained with `classifier`: the test split of `_sets`
    (same images) with the GAN fill's signal set to `signal`, and ISIC 2017."""
    test, ext, gates, curves, fidelity = _sets()
    for ts in (test, ext):
        ts.trials[:] = [Trial(t.cell, _scores(ts.y, signal, 7000 + i), t.threshold)
                        if t.cell.arm == "gan:dcgan" else t for i, t in enumerate(ts.trials)]
    cfg = profile_config("laptop")
    cfg_json = json.dumps({**cfg.to_dict(), "sweep_name": name, "budgets": [50, 200],
                           "seeds": [0, 1, 2], "classifier": {"name": classifier},
                           "arms": ["real", "oversample", "gan:dcgan", "all-real"]})
    write_results(path, cfg_json, [test, ext], gates, curves, fidelity)
    return path


def test_report_results_compares_another_results_folder(tmp_path, capsys):
    a = _folder(tmp_path / "a", "twin", "resnet20", 0.4)
    b = _folder(tmp_path / "b", "main", "cnn", 0.8)
    out = tmp_path / "out"
    assert main(["report", "--results", str(a), "--compare", str(b), "--output", str(out)]) == 0
    md = (out / "twin" / "report" / "report.md").read_text()
    assert "## Across sweeps" in md and "`twin` (resnet20)" in md and "`main` (cnn)" in md
    rows = list(csv.DictReader((out / "twin" / "report" / "across_sweeps.csv").open()))
    assert {r["test_set"] for r in rows} == {"test", "isic"}
    assert {(r["sweep_a"], r["classifier_a"], r["sweep_b"], r["classifier_b"]) for r in rows} \
        == {("twin", "resnet20", "main", "cnn")}
    assert len(rows) == 4  # gan:dcgan vs oversample at N=50 and 200, on each test set
    # the two differ only in the fill's scores: its difference is larger in `main`
    assert all(float(r["d_b"]) > float(r["d_a"]) for r in rows)
    # the other folder's set of the same name on other images is left out, not compared
    sets = json.loads((b / "sets.json").read_text())
    ext = b / next(s["file"] for s in sets["sets"] if s["name"] == "isic")
    lines = ext.read_text().splitlines()
    ext.write_text("\n".join([lines[0], *(("x" + ln) for ln in lines[1:])]) + "\n")
    out2 = tmp_path / "out2"
    assert main(["report", "--results", str(a), "--compare", str(b), "--output", str(out2)]) == 0
    md = (out2 / "twin" / "report" / "report.md").read_text()
    assert "`main` was not tested on `isic`: left out." in md
    # a folder that is not one, or the folder itself, is one line, exit 2
    assert main(["report", "--results", str(a), "--compare", str(tmp_path / "nope")]) == 2
    assert "takes another sweep's results folder" in capsys.readouterr().err
    assert main(["report", "--results", str(a), "--compare", str(a)]) == 2
    assert "is the results folder being reported" in capsys.readouterr().err
