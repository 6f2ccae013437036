"""Optuna tuning per GAN x budget cell on a real local Ray; its result feeds the main job."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import sweep_command

from raygan.orchestrate.tuning import MAX_CONCURRENT, STARTUP_TRIALS, make_searcher, search_space

TUNE = Path(__file__).resolve().parents[1] / "sweeps" / "tune_gans.py"


def _run(tmp_path, *args, code=0):
    argv, env, uri = sweep_command(tmp_path, *args)
    argv[1] = str(TUNE)
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == code, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, uri


def test_search_space_bounds():
    space = search_space(steps=100, batch_size=32)
    assert set(space["batch_size"].categories) == {8, 16, 32, 64}
    assert space["steps"].lower == 50 and space["steps"].upper == 201


def _search(searcher, n, reward):
    """Propose and complete `n` trials one at a time (no Ray needed); their configs."""
    searcher.set_search_properties("val/auc", "max", search_space(steps=100, batch_size=32))
    configs = []
    for i in range(n):
        config = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"val/auc": reward(config)})
        configs.append(config)
    return configs


def _reward(config):
    """A known optimum: batch 16 and 180 steps."""
    return 1.0 - abs(config["steps"] - 180) / 200 - 0.2 * (config["batch_size"] != 16)


def test_tuner_is_seeded_tpe_that_leaves_random_search_within_the_default_trials():
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    default_num_samples = 8  # sweeps/tune_gans.py --num-samples
    assert STARTUP_TRIALS < default_num_samples and MAX_CONCURRENT <= STARTUP_TRIALS
    tpe = _search(make_searcher(seed=3), default_num_samples, _reward)
    assert tpe == _search(make_searcher(seed=3), default_num_samples, _reward)  # seeded
    assert tpe != _search(make_searcher(seed=4), default_num_samples, _reward)
    # The same seed with random proposals throughout agrees on the start-up trials only.
    random = _search(OptunaSearch(sampler=optuna.samplers.TPESampler(
        seed=3, n_startup_trials=1000)), default_num_samples, _reward)
    assert tpe[:STARTUP_TRIALS] == random[:STARTUP_TRIALS]
    assert tpe[STARTUP_TRIALS:] != random[STARTUP_TRIALS:]
    # Over a longer search, TPE's guided proposals score better than random ones.
    n = 24
    guided = [_reward(c) for c in _search(make_searcher(seed=0), n, _reward)[STARTUP_TRIALS:]]
    blind = [_reward(c) for c in _search(OptunaSearch(sampler=optuna.samplers.RandomSampler(
        seed=0)), n, _reward)[STARTUP_TRIALS:]]
    assert sum(guided) / len(guided) > sum(blind) / len(blind) + 0.05


@pytest.mark.ray
def test_tuning_writes_best_configs_and_resumes(tiny_dataset, tmp_path):
    args = ("--profile", "smoke", "--data", str(tiny_dataset), "--arms", "gan:dcgan",
            "--budgets", "10,20", "--gan-steps", "8", "--num-samples", "3")
    proc, uri = _run(tmp_path, *args)
    best_file = tmp_path / "runs" / "t" / "best_gan_configs.json"
    best = json.loads(best_file.read_text())
    assert set(best) == {"dcgan@10", "dcgan@20"}
    for cfg in best.values():
        assert cfg["batch_size"] in (8, 16, 32) and 4 <= cfg["steps"] <= 16

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    for budget in (10, 20):
        run = runs[f"tune:dcgan-n{budget}-s0"]
        assert run.info.status == "FINISHED"
        # The best score is the best validation AUC in the logged table of trials.
        trials_csv = client.download_artifacts(run.info.run_id, "trials.csv", str(tmp_path))
        with open(trials_csv) as f:
            scores = [float(r["val/auc"]) for r in csv.DictReader(f)]
        assert run.data.metrics["best/val/auc"] == max(scores) and len(scores) == 3
        assert run.data.metrics["num_trials"] == 3
        assert int(run.data.params["best.steps"]) == best[f"dcgan@{budget}"]["steps"]
    # Test data never reaches tuning: no test metric anywhere.
    assert not any(k.startswith("test/") for r in runs.values() for k in r.data.metrics)

    # A resumed (here: already finished) tuning run trains nothing again.
    proc2, _ = _run(tmp_path, "--resume", "--data", str(tiny_dataset))
    assert "tuned before" in proc2.stdout and "Optuna trials" not in proc2.stdout
    assert json.loads(best_file.read_text()) == best
    names = [r.info.run_name for r in client.search_runs([exp.experiment_id])]
    assert names.count("tune:dcgan-n10-s0") == 1

    # The main job takes the tuned settings per cell.
    full = Path(__file__).resolve().parents[1] / "sweeps" / "full_grid.py"
    argv, env, _ = sweep_command(tmp_path / "x", "--profile", "smoke", "--data",
                                 str(tiny_dataset), "--budgets", "10,20", "--gan-configs",
                                 str(best_file), "--dry-run")
    (tmp_path / "x").mkdir()
    out = subprocess.run([sys.executable, str(full), *argv[2:]], cwd=tmp_path / "x", env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f'"steps": {best["dcgan@20"]["steps"]}' in out.stdout and '"dcgan@20"' in out.stdout
