"""Optuna tuning of each GAN's batch size and steps, judged on validation AUC downstream.

For every GAN x budget cell, one Ray Tune run: Optuna's TPE sampler (through `OptunaSearch`,
random for its first STARTUP_TRIALS trials, then guided by the results) proposes (batch size,
steps), a trial trains the GAN on the cell's N real images, fills the malignant class, trains
the classifier and reports its validation AUC each epoch, so ASHA can stop weak trials early. The
test split is never read. `OptunaSearch` takes no grid, so the loop over cells is here, outside
the searcher. A trial trains its GAN in-process on its own cores: a `TorchTrainer` start-up
(about 20 s on a CPU node) would cost more than a small GAN's whole training.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.search.optuna import OptunaSearch

from raygan import tracking
from raygan.artifacts import BEST_FILE, CONFIG_FILE, TRIALS_CSV
from raygan.cell import Cell
from raygan.classifiers import fit_classifier, read_weights
from raygan.config import SweepConfig
from raygan.data.arms import training_set
from raygan.data.splits import cell_split
from raygan.errors import RayganError
from raygan.files import write_atomic
from raygan.gans import build_gan, fit_gan
from raygan.orchestrate.cluster import connect
from raygan.orchestrate.handoff import SweepData
from raygan.orchestrate.interrupt import CtrlC
from raygan.orchestrate.lock import hold
from raygan.orchestrate.memory import MIB, PROCESS_MIB, classifier_trial_bytes, gan_worker_bytes
from raygan.orchestrate.progress import tune_verbosity
from raygan.orchestrate.sweep import Prepared

BATCH_SIZES = (8, 16, 32, 64, 128)  # candidates; those above the profile's batch x 2 are dropped
METRIC = "val/auc"
# TPE proposes at random until this many trials have reported, then from a model of the results.
# Optuna's default (10) exceeds the default 8 trials per cell, which left the search random.
STARTUP_TRIALS = 3
# Trials of one cell in flight at once: TPE can only learn from trials that have reported, so
# this many at a time keeps most proposals informed (on a cluster: other cells do not wait).
MAX_CONCURRENT = 3


def search_space(steps: int, batch_size: int) -> dict[str, Any]:
    """Batch size from `BATCH_SIZES` up to twice the profile's; steps log-uniform in
    [steps / 2, steps x 2], around what the profile gives the family."""
    batches = [b for b in BATCH_SIZES if b <= 2 * batch_size] or [batch_size]
    return {"batch_size": tune.choice(batches),
            "steps": tune.lograndint(max(2, steps // 2), 2 * steps + 1)}


def make_searcher(seed: int) -> Searcher:
    """Optuna's TPE sampler, seeded, random for its first STARTUP_TRIALS trials, with at most
    MAX_CONCURRENT trials in flight so that later proposals see earlier results."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
    return ConcurrencyLimiter(OptunaSearch(sampler=sampler), max_concurrent=MAX_CONCURRENT)


def tuning_trial(config: dict[str, Any], *, data: SweepData, sweep: SweepConfig,
                 cell: Cell, init: dict[str, torch.Tensor] | None = None) -> None:
    """Train the GAN with the proposed settings, fill, train the classifier; report val AUC."""
    budget, seed = cell.budget, cell.seed
    gcfg = dataclasses.replace(sweep.gan_config(cell.gan, budget), num_workers=1,
                               batch_size=int(config["batch_size"]), steps=int(config["steps"]))
    torch.set_num_threads(gcfg.cpus_per_worker)
    device = "cuda" if gcfg.use_gpu and torch.cuda.is_available() else "cpu"
    x_train, y_train = data.train()
    gan = build_gan(cell.gan, gcfg, sweep.resolution, seed, device)
    split = cell_split(data.pools, budget, seed)
    gan.set_context(x_train[split.benign])
    fit_gan(gan, x_train[split.malignant], seed)
    n_fill = cell.fill_count(len(split.malignant), data.fill_target)
    fake = gan.generate(max(n_fill, 1), seed)
    x, y = training_set(cell, x_train, data.pools, data.fill_target, fake)

    def on_epoch(epoch: int, row: dict[str, float]) -> None:
        tune.report({METRIC: row[METRIC], "val/acc": row["val/acc"]})

    fit_classifier(sweep.classifier, x, y, x_train[split.val], y_train[split.val], seed,
                   device=device, on_epoch=on_epoch, init=init)


def _tune_cell(prep: Prepared, cell: Cell, data: SweepData, storage: str,
               num_samples: int, resources: dict[str, float],
               verbose: bool = True) -> tune.ResultGrid:
    cfg = prep.cfg
    base = cfg.gan_config(cell.gan, cell.budget)
    ccfg = cfg.classifier  # initial weights read on the driver (checked by prepare())
    init = read_weights(ccfg.weights, ccfg.name, cfg.resolution) if ccfg.weights else None
    trainable = tune.with_resources(
        tune.with_parameters(tuning_trial, data=data, sweep=cfg, cell=cell, init=init),
        resources)
    name = f"{cfg.sweep_name}-tune-{cell.gan}-n{cell.budget}"
    path = Path(storage) / name
    if tune.Tuner.can_restore(str(path)):  # an interrupted tuning run continues
        tuner = tune.Tuner.restore(str(path), trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=search_space(base.steps, base.batch_size),
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="max", num_samples=num_samples,
                search_alg=make_searcher(cell.seed),
                scheduler=ASHAScheduler(max_t=cfg.classifier.epochs, grace_period=2,
                                        reduction_factor=2)),
            run_config=tune.RunConfig(name=name, storage_path=storage,
                                      verbose=tune_verbosity(verbose)),
        )
    return tuner.fit()


def read_best(path: Path) -> dict[str, dict[str, int]]:
    """The best settings of the cells tuned so far ({} before the first); a truncated or
    foreign file is a RayganError."""
    if not path.exists():
        return {}
    try:
        best = json.loads(path.read_text())
        ok = isinstance(best, dict) and all(isinstance(v, dict) for v in best.values())
        problem = "" if ok else "not a map of '<gan>@<budget>' to settings"
    except (OSError, ValueError) as exc:
        problem = str(exc)
    if problem:
        raise RayganError(f"cannot read {path} ({problem}): it is truncated or was edited; "
                          "delete it to tune every cell again, or restore it from the artifacts "
                          "of the tuning run's MLflow parent run")
    return best


def run_tuning(prep: Prepared, num_samples: int,
               log: Callable[[str], None] = print,
               verbose: bool = True) -> dict[str, dict[str, int]]:
    """Tune every GAN x budget cell of the config (on its first seed); write and return the best
    settings per cell, ready for `full_grid.py --gan-configs`; the run's lock is held
    throughout."""
    with hold(prep.cfg.sweep_name, prep.out_dir, log), CtrlC() as ctrl_c:
        return _run_tuning(prep, num_samples, log, ctrl_c, verbose)


def _run_tuning(prep: Prepared, num_samples: int, log: Callable[[str], None],
                ctrl_c: CtrlC, verbose: bool) -> dict[str, dict[str, int]]:
    cfg = prep.cfg
    best_path = prep.out_dir / BEST_FILE
    best = read_best(best_path)
    total = connect(cfg.address, verbose)
    experiment_id = tracking.setup(prep.tracking_uri, cfg.experiment)
    parent = tracking.find_parent(prep.tracking_uri, experiment_id, cfg.sweep_name)
    if parent is None:
        parent = tracking.start_parent(prep.tracking_uri, experiment_id, cfg.sweep_name,
                                       {**cfg.to_dict(), "num_samples": num_samples})
    else:
        tracking.reopen(prep.tracking_uri, parent)
    # Only now, with Ray, MLflow and the parent run in place: a run that failed them may run
    # again by that name, and a folder with a config.json has a parent run to resume.
    prep.out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(prep.out_dir / CONFIG_FILE, cfg.to_json())
    done = tracking.finished_children(prep.tracking_uri, experiment_id, parent)
    ctx = tracking.TrackingContext(prep.tracking_uri, experiment_id, parent, cfg.sweep_name)
    status = "FAILED"
    try:
        storage = cfg.storage or str(prep.out_dir / "ray")
        data = SweepData.put(prep.dataset, prep.pools, prep.fill_target, with_test=False)
        use_gpu = cfg.gan.use_gpu and total.get("GPU", 0) > 0
        seed = cfg.seeds[0]
        for gan in cfg.gan_names:
            gcfg = cfg.gan_config(gan)
            # One process trains the GAN (at up to twice the profile's batch) and then the
            # classifier: both reservations, with the process's fixed part counted once.
            memory = (gan_worker_bytes(gan, gcfg.width, 2 * gcfg.batch_size, 1, cfg.resolution,
                                       use_gpu)
                      + classifier_trial_bytes(cfg.classifier.batch_size, cfg.resolution, use_gpu,
                                               cfg.classifier.name)
                      - PROCESS_MIB * MIB)
            resources = {"cpu": gcfg.cpus_per_worker, "gpu": 1 if use_gpu else 0,
                         "memory": memory}
            for budget in cfg.budgets:
                cell = Cell.of_gan(gan, budget, seed)
                key, run = f"{gan}@{budget}", cell.tune_run_name
                if run in done and key in best:
                    log(f"{key}: tuned before: {best[key]}")
                    continue
                log(f"tuning {key}: {num_samples} Optuna trials")
                grid = _tune_cell(prep, cell, data, storage, num_samples, resources, verbose)
                result = grid.get_best_result(metric=METRIC, mode="max", scope="all")
                best[key] = {k: int(result.config[k]) for k in ("batch_size", "steps")}
                write_atomic(best_path, json.dumps(best, indent=1))  # kept if a later cell fails
                frame = grid.get_dataframe(filter_metric=METRIC, filter_mode="max")
                score = float(frame[METRIC].max())
                params = {"gan": gan, "budget": budget, "seed": seed, "num_samples": num_samples,
                          **{f"best.{k}": v for k, v in best[key].items()}}
                tags = {"raygan.kind": "tuning", "raygan.gan": gan, "raygan.budget": str(budget)}
                with tracking.child_run(ctx, run, params, tags) as child:
                    child.metrics({f"best/{METRIC}": score, "num_trials": len(frame)})
                    child.artifact(frame.to_csv(index=False).encode(), TRIALS_CSV)
                log(f"{key}: best {best[key]} (val AUC {score:.3f})")
                ctrl_c.check()  # Ctrl-C during the cell: stop here, this cell is kept
        tracking.attach(prep.tracking_uri, parent).file(best_path)
        status = "FINISHED"
        return best
    except KeyboardInterrupt:
        status = "KILLED"
        ctrl_c.stopping()  # a second Ctrl-C from here on waits for the cleanup
        raise
    finally:
        tracking.end_run(prep.tracking_uri, parent, status)
