"""`raygan run --gans-from SWEEP` (another sweep's GAN trainings copied instead of trained) and
`raygan report --compare SWEEP` (two sweeps' primary verdicts side by side), on a real MLflow
store; the end-to-end test runs both on real smoke sweeps with Ray."""

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import ray
from mlflow.tracking import MlflowClient
from sweep_helpers import logged_sweep, run_sweep_cli, sweep_command

from raygan import cli, tracking
from raygan.artifacts import GAN_CHECKPOINT, SAMPLES_PNG
from raygan.cell import KIND_GAN, Cell, Trial
from raygan.data.dataset import digest_of_test
from raygan.data.splits import cell_split
from raygan.errors import RayganError
from raygan.eval.verdicts import Primary, primary_family
from raygan.orchestrate.gan_stage import reuse_gans, training_params
from raygan.orchestrate.sweep import prepare
from raygan.profiles import profile_config

RUN = "train:dcgan-n5-s0"
REPORT = Path(__file__).resolve().parents[1] / "sweeps" / "report.py"


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not ray.is_initialized()
    return err[0]


def _config(data: Path, tmp_path: Path, name: str, **over):
    cfg = profile_config("smoke")
    return replace(cfg, data=str(data), budgets=(5,), arms=("real", "oversample", "gan:dcgan"),
                   output=str(tmp_path / "runs"), sweep_name=name, **over)


def _source(prep, uri: str) -> tuple[str, str]:
    """Sweep `prep` in MLflow with one finished GAN training (params as a sweep logs them, a
    loss history over steps, a checkpoint and a sample grid); (parent id, GAN run id)."""
    cfg = prep.cfg
    exp = tracking.setup(uri, cfg.experiment)
    parent = tracking.start_parent(uri, exp, cfg.sweep_name, cfg.to_dict())
    ctx = tracking.TrackingContext(uri, exp, parent, cfg.sweep_name)
    cell = Cell.of_gan("dcgan", 5, 0)
    num_real = len(cell_split(prep.pools, 5, 0).malignant)
    params = training_params(cfg, cell, num_real, cell.fill_count(num_real, prep.fill_target))
    with tracking.child_run(ctx, RUN, params, cell.tags(KIND_GAN)) as run:
        for step in (5, 10, 15, 20):
            run.metrics({"loss/G": 1.0 / step, "quality/gap": 2.0 - step / 20}, step=step)
        run.metrics({"steps_trained": 20, "num_generated": 30, "quality/final_gap": 1.0})
        run.tag("raygan.converged", "no")
        run.artifact(b"weights" * 100, GAN_CHECKPOINT)
        run.artifact(b"png bytes", SAMPLES_PNG)
    tracking.end_run(uri, parent)
    return parent, run.run_id


@pytest.fixture
def source(data_copy, tmp_path, monkeypatch):
    """Sweep `a` of the smoke profile (budget 5, dcgan) logged to the test's MLflow store."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    uri = tracking.resolve_uri()
    prep = prepare(_config(data_copy, tmp_path, "a"), log=lambda _: None)
    return (uri, *_source(prep, uri), prep)


def _new_sweep(prep, uri: str) -> tracking.TrackingContext:
    exp = tracking.setup(uri, prep.cfg.experiment)
    parent = tracking.start_parent(uri, exp, prep.cfg.sweep_name, prep.cfg.to_dict())
    return tracking.TrackingContext(uri, exp, parent, prep.cfg.sweep_name)


def test_a_matching_gan_training_is_copied_whole(source, data_copy, tmp_path):
    uri, _, src_id, _ = source
    resnet = replace(profile_config("smoke").classifier, name="resnet20")
    prep = prepare(_config(data_copy, tmp_path, "b", gans_from="a", classifier=resnet),
                   log=lambda _: None)
    ctx = _new_sweep(prep, uri)
    lines = []
    copied = reuse_gans(prep.cfg, prep.pools, prep.fill_target, ctx, {}, lines.append)
    assert list(copied) == ["gan:dcgan-n5-s0"]
    assert lines == [f"gans from a: 1 reused ({RUN}); 0 to train"]
    client = MlflowClient(uri)
    src, new = client.get_run(src_id), client.get_run(copied["gan:dcgan-n5-s0"])
    assert new.info.run_name == RUN and new.info.status == "FINISHED"
    assert new.data.tags["mlflow.parentRunId"] == ctx.parent_run_id
    assert new.data.tags["raygan.sweep"] == "b"
    assert new.data.tags[tracking.REUSED_TAG] == f"a/{src_id}"
    assert new.data.tags["raygan.converged"] == "no" and new.data.tags["raygan.kind"] == "gan"
    assert new.data.params == src.data.params and new.data.metrics == src.data.metrics
    history = [(m.step, m.value) for m in client.get_metric_history(new.info.run_id, "loss/G")]
    assert sorted(history) == [(5, 0.2), (10, 0.1), (15, 1 / 15), (20, 0.05)]
    # Every reader of the new sweep's GAN runs finds the copy: the checkpoint, the gates.
    ckpt = tracking.gan_checkpoint(uri, "raygan", "b", RUN, str(tmp_path / "dl"))
    assert Path(ckpt).read_bytes() == b"weights" * 100
    gates, curves = tracking.sweep_gates(uri, "raygan", "b")
    assert [(g.cell, g.steps, g.converged) for g in gates] == [(Cell.of_gan("dcgan", 5, 0), 20,
                                                                  "no")]
    assert curves[Cell.of_gan("dcgan", 5, 0)] == [(5, 1.75), (10, 1.5), (15, 1.25), (20, 1.0)]
    # Cells finished here already (a resumed sweep) are not copied again.
    assert reuse_gans(prep.cfg, prep.pools, prep.fill_target, ctx, copied, lines.append) == {}


def test_other_gan_settings_or_data_are_not_reused_and_say_why(source, data_copy, tmp_path):
    uri = source[0]
    smoke = profile_config("smoke")
    for name, over, why in (
            ("c", {"gan": replace(smoke.gan, steps=30)},
             f"note: {RUN} of sweep a is not reused: steps 20 there, 30 here"),
            ("d", {"fill_target": 25},
             f"note: {RUN} of sweep a is not reused: num_fill"),
            ("e", {"split_seed": 1},
             "note: no GAN of sweep a is reused: split_seed 0 there, 1 here")):
        prep = prepare(_config(data_copy, tmp_path, name, gans_from="a", **over),
                       log=lambda _: None)
        lines = []
        assert reuse_gans(prep.cfg, prep.pools, prep.fill_target, _new_sweep(prep, uri), {},
                          lines.append) == {}
        assert lines[0].startswith(why), lines
        if name != "e":
            assert lines[1] == f"gans from a: 0 reused; 1 to train ({RUN})"
    src, mine = tracking.find_source(uri, "a", "raygan"), source[3].cfg.to_dict()
    assert tracking.data_mismatch(src, mine) == ""
    fp = {**mine["data_fingerprint"], "test/malignant": {
        **mine["data_fingerprint"]["test/malignant"], "files": 3, "mtimes": "other"}}
    assert tracking.data_mismatch(src, {**mine, "data_fingerprint": fp}) == (
        "other data: test/malignant.files 12 there, 3 here")
    touched = {**mine["data_fingerprint"], "test/malignant": {
        **mine["data_fingerprint"]["test/malignant"], "mtimes": "other"}}
    assert tracking.data_mismatch(src, {**mine, "data_fingerprint": touched}) == ""
    # an external test set is not what the GANs train on: its entry (absent there) is no reason
    tested = {**mine["data_fingerprint"], "external/isic": {"digest": "56d6250f989530d5"}}
    assert tracking.data_mismatch(src, {**mine, "data_fingerprint": tested}) == ""


def test_a_gan_trained_before_a_setting_existed_is_reused_at_its_default(data_copy, tmp_path,
                                                                         monkeypatch):
    """A sweep of a raygan without the diffusion family's `sample_steps` and
    `probe_sample_steps` (settings no GAN reads): its GAN runs lack those params, and a sweep
    that keeps them at their defaults reuses the runs; one that changes a setting does not."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    uri = tracking.resolve_uri()
    prep = prepare(_config(data_copy, tmp_path, "old"), log=lambda _: None)
    cfg, cell = prep.cfg, Cell.of_gan("dcgan", 5, 0)
    num_real = len(cell_split(prep.pools, 5, 0).malignant)
    params = training_params(cfg, cell, num_real, cell.fill_count(num_real, prep.fill_target))
    old = {k: v for k, v in params.items() if k not in ("sample_steps", "probe_sample_steps")}
    ctx = _new_sweep(prep, uri)
    with tracking.child_run(ctx, RUN, old, cell.tags(KIND_GAN)) as run:
        run.metrics({"steps_trained": 20})
    tracking.end_run(uri, ctx.parent_run_id)
    for name, gan, reused in (("same", cfg.gan, 1),
                              ("other", replace(cfg.gan, probe_sample_steps=3), 0)):
        new = prepare(_config(data_copy, tmp_path, name, gans_from="old", gan=gan),
                      log=lambda _: None)
        lines = []
        copied = reuse_gans(new.cfg, new.pools, new.fill_target, _new_sweep(new, uri), {},
                            lines.append)
        assert len(copied) == reused, lines
        if not reused:
            assert lines[0] == (f"note: {RUN} of sweep old is not reused: probe_sample_steps "
                                f"absent there, 3 here")


def test_gans_from_an_unknown_sweep_or_another_store_fails_before_ray(
        source, capsys, data_copy, tmp_path, monkeypatch):
    args = ["--profile", "smoke", "--data", str(data_copy), "--output", str(tmp_path / "runs"),
            "--budgets", "5"]
    msg = _one_error(capsys, cli.run_main([*args, "--name", "b", "--gans-from", "nope"]))
    assert msg.startswith("error: --gans-from nope: no sweep of that name in the MLflow store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    msg = _one_error(capsys, cli.run_main([*args, "--name", "b", "--gans-from", "a"]))
    assert msg.startswith("error: --gans-from a: no sweep of that name in the MLflow store")
    assert not (tmp_path / "runs" / "b").exists()
    msg = _one_error(capsys, cli.run_main([*args, "--name", "x", "--gans-from", "x"]))
    assert msg.startswith("error: --gans-from x names this sweep itself")
    with pytest.raises(RayganError, match="no sweep of that name"):
        tracking.find_source(f"sqlite:///{tmp_path}/other.db", "a", "raygan")


def _scores(y: np.ndarray, signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, len(y)))))


def test_report_compare_sets_two_sweeps_verdicts_side_by_side(capsys, data_copy, tmp_path):
    from raygan.data import load_dataset

    y = load_dataset(data_copy, 32).test.y
    tag = {tracking.TEST_DATA_TAG: digest_of_test(load_dataset(data_copy, 32).fingerprint)}

    def trials(gan_signal, budgets):
        return [(arm, str(b), s, _scores(y, sig, 10 * s + b + i))
                for b in budgets for s in (0, 1, 2)
                for i, (arm, sig) in enumerate((("real", 0.5), ("oversample", 0.5),
                                                ("gan:dcgan", gan_signal)))]

    a_trials, b_trials = trials(6.0, (5, 10)), trials(0.5, (5,))
    logged_sweep(tmp_path, data_copy, "A", a_trials, tags=tag)
    logged_sweep(tmp_path, data_copy, "B", b_trials, tags=tag)
    config = tmp_path / "runs" / "B" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()),
                                  "classifier": {"name": "resnet20"}}))
    runs = str(tmp_path / "runs")
    capsys.readouterr()  # what MLflow said as it made the store
    msg = _one_error(capsys, cli.report_main(["--name", "A", "--output", runs,
                                              "--compare", "nope"]))
    assert msg.startswith("error: --compare nope: no sweep of that name in")
    # the grids' GAN arms have no GAN training logged: reported as partial sweeps
    assert cli.report_main(["--name", "A", "--output", runs, "--compare", "B",
                            "--partial"]) == 0
    md = (tmp_path / "runs" / "A" / "report" / "report.md").read_text()
    section = md.split("## Across sweeps")[1]
    # The verdicts are each sweep's own primary family, decided as its own report decides it.
    want = {}
    for sweep, ts in (("A", a_trials), ("B", b_trials)):
        rows = primary_family([Trial(Cell(a, b, s), p) for a, b, s, p in ts], y, Primary())
        want[sweep] = {(r["arm"], str(r["budget"])): r for r in rows}
    a5, b5 = want["A"][("gan:dcgan", "5")], want["B"][("gan:dcgan", "5")]
    assert a5["verdict"] != b5["verdict"], (a5["verdict"], b5["verdict"])
    assert (f"| 5 | `gan:dcgan` | `oversample` | {a5['verdict']} | {a5['d']:+.3f} "
            f"[{a5['lo']:+.3f}, {a5['hi']:+.3f}] | {b5['verdict']} | {b5['d']:+.3f} "
            f"[{b5['lo']:+.3f}, {b5['hi']:+.3f}] | {b5['d'] - a5['d']:+.3f} |") in section
    assert "`A` (cnn)" in section and "`B` (resnet20)" in section
    assert ("The primary verdicts do not all agree across classifiers (cnn / resnet20): 0 of "
            f"1 cells agree, 1 differ: `gan:dcgan` at N=5 ({a5['verdict']} / "
            f"{b5['verdict']}).") in section
    assert "Left out, only in `A`: `gan:dcgan` at N=10." in section
    rows = list(csv.DictReader((tmp_path / "runs" / "A" / "report" /
                                "across_sweeps.csv").open()))
    assert [(r["arm"], r["budget"], r["classifier_a"], r["classifier_b"], r["agree"])
            for r in rows] == [("gan:dcgan", "5", "cnn", "resnet20", "False")]
    # Refused in one line: the sweep itself, a sweep tested on other test images, and, from a
    # results folder alone (no MLflow to read the other sweep from), a sweep's name instead of
    # its results folder.
    msg = _one_error(capsys, cli.report_main(["--name", "A", "--output", runs, "--compare", "A",
                                              "--partial"]))
    assert msg.startswith("error: --compare A names the sweep being reported")
    saved = json.loads(config.read_text())
    saved["data_fingerprint"]["test/malignant"]["files"] = 3
    config.write_text(json.dumps(saved))
    msg = _one_error(capsys, cli.report_main(["--name", "A", "--output", runs, "--compare", "B",
                                              "--partial"]))
    assert msg.startswith("error: --compare B: that sweep was tested on other test images")
    msg = _one_error(capsys, cli.report_main(["--results", f"{runs}/A/results", "--output", runs,
                                              "--compare", "B"]))
    assert msg.startswith("error: --compare B: with --results, --compare takes another sweep's "
                          "results folder")


@pytest.mark.ray
def test_second_sweep_with_gans_from_trains_no_gan(tiny_dataset, tmp_path):
    """A smoke sweep, then the same grid with resnet20 and --gans-from: its one matching GAN
    cell is copied (no Ray Train run), the cell the first lacks trains; then report --compare."""
    common = ("--profile", "smoke", "--data", str(tiny_dataset), "--arms",
              "real,oversample,gan:dcgan", "--gan-steps", "6", "--seeds", "0")
    run_sweep_cli(tmp_path, *common, "--budgets", "5")  # sweep t, the study's CNN
    second_argv, env, _ = sweep_command(tmp_path, *common, "--budgets", "5,10", "--classifier",
                                        "resnet20", "--gans-from", "t", "--name", "u")
    second = subprocess.run(second_argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert (f"gans from t: 1 reused ({RUN}); 1 to train (train:dcgan-n10-s0)"
            in second.stdout)
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("raygan").experiment_id],
                              "tags.`raygan.kind` = 'gan'")
    by = {(r.data.tags["raygan.sweep"], r.info.run_name): r for r in runs}
    first, copy = by[("t", RUN)], by[("u", RUN)]
    assert copy.data.tags[tracking.REUSED_TAG] == f"t/{first.info.run_id}"
    assert tracking.REUSED_TAG not in by[("u", "train:dcgan-n10-s0")].data.tags
    digest = [Path(client.download_artifacts(r.info.run_id, GAN_CHECKPOINT,
                                             str(tmp_path / r.info.run_id))).read_bytes()
              for r in (first, copy)]
    assert digest[0] == digest[1]
    # Ray Train ran only the GAN that the first sweep lacks.
    trained = sorted(p.name for p in (tmp_path / "runs" / "u" / "ray").iterdir()
                     if p.name.startswith("u-gan_"))
    assert trained == ["u-gan_dcgan-n10-s0"], trained
    params = client.get_run(tracking.find_parent(
        env["MLFLOW_TRACKING_URI"], copy.info.experiment_id, "u")).data.params
    assert params["gans_from"] == "t" and params["classifier.name"] == "resnet20"
    assert json.loads((tmp_path / "runs" / "u" / "config.json").read_text())["gans_from"] == "t"
    rep = subprocess.run([sys.executable, str(REPORT), "--name", "u", "--output",
                          str(tmp_path / "runs"), "--compare", "t"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-2000:]
    section = (tmp_path / "runs" / "u" / "report" / "report.md").read_text().split(
        "## Across sweeps")[1]
    assert "`u` (resnet20)" in section and "`t` (cnn)" in section
    assert "of 1 cells agree" in section
    assert "Left out, only in `u`: `gan:dcgan` at N=10." in section
