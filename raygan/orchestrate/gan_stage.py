"""GAN stage: one Tune trial per (GAN, budget, seed), each running a Ray Train TorchTrainer (DDP).

The trial trains through Ray Train, rebuilds the generator from the final checkpoint, samples the
fill and hands it to the `ImageHub` actor, which owns it in the object store for the whole sweep.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from ray import tune
from ray.train.torch import TorchTrainer

from raygan import tracking
from raygan.artifacts import GAN_CHECKPOINT, SAMPLES_PNG
from raygan.cell import KIND_GAN, Cell, gan_cells
from raygan.config import GANConfig, SweepConfig
from raygan.data import Pools
from raygan.data.splits import cell_split
from raygan.eval.plots import grid_png
from raygan.eval.quality import QualityProbe, verdict
from raygan.gans import fit_gan
from raygan.gans.checkpoint import GANSpec, load_checkpoint, sample_checkpoint, save_checkpoint
from raygan.gans.train import final_quality
from raygan.orchestrate.handoff import SweepData, result_cells
from raygan.orchestrate.memory import gan_worker_bytes
from raygan.orchestrate.progress import Progress, gan_label, gan_summary, tune_verbosity
from raygan.tracking import TrackingContext, attach, child_run, download_artifact

KILL_HOOK = "RAYGAN_KILL_WORKER_AFTER_STEP"  # test hook: rank 0 dies once past this step
DRIVER_MEMORY = 256 * 1024**2  # bytes reserved by each GAN trial's driving process
MIN_PROBE_IMAGES = 4  # a budget below this gets no quality probe (its halves would be empty)


@ray.remote(num_cpus=0)
class ImageHub:
    """Owns every generated dataset of a sweep, so images outlive the trials that made them."""

    def __init__(self) -> None:
        self.refs: dict[str, ray.ObjectRef] = {}

    def store(self, key: str, images: np.ndarray) -> int:
        self.refs[key] = ray.put(images)  # put by this actor: it owns the object
        return len(images)

    def refs_of(self, keys: list[str]) -> dict[str, list[ray.ObjectRef]]:
        # Each ref travels wrapped in a list, so the caller receives the ref, not the array.
        return {k: [self.refs[k]] for k in keys if k in self.refs}


def worker_resources(gcfg: GANConfig, gan: str, resolution: int) -> dict[str, float]:
    """What each Ray Train worker of one GAN training asks Ray for."""
    memory = gan_worker_bytes(gan, gcfg.width, gcfg.batch_size, gcfg.num_workers, resolution,
                              gcfg.use_gpu)
    return {"CPU": gcfg.cpus_per_worker, "memory": memory, **({"GPU": 1} if gcfg.use_gpu else {})}


def train_worker(config: dict[str, Any]) -> None:
    """Ray Train per-worker loop: resume from the last checkpoint, train, report checkpoints."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(config["threads"])
    device = str(ray.train.torch.get_device())
    cfg = GANConfig(**config["gan_cfg"])
    spec = GANSpec(config["gan"], cfg, config["resolution"], config["seed"], config["budget"])
    gan = spec.build(device)
    images = ray.get(config["images"][0])
    if config.get("context"):
        gan.set_context(ray.get(config["context"][0]))
    start, history = 0, []
    # Rank 0 probes quality and logs losses and quality to the GAN's MLflow run as training
    # goes: each row once, right after the checkpoint that holds it is registered, so a
    # worker that dies and resumes from that checkpoint never logs a row twice.
    probe = live = None
    if rank == 0:
        live = attach(config["tracking_uri"], config["run_id"])
        if cfg.eval_every and config.get("context") and len(images) >= MIN_PROBE_IMAGES:
            probe = QualityProbe(images, ray.get(config["context"][0]), config["seed"])
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # a retry after a failure: continue, don't restart
        with checkpoint.as_directory() as folder:
            state = load_checkpoint(folder)
        gan.load_state_dict(state["gan"])
        start, history = int(state["step"]), list(state["history"])
    gan.wrap(lambda m: ray.train.torch.prepare_model(
        m, parallel_strategy_kwargs=dict(gan.ddp_kwargs) or None))

    kill_after = int(os.environ.get(KILL_HOOK, "0") or 0)
    if kill_after:  # the hook's marker lives with the run, so it fires once per GAN training
        killed = Path(ray.train.get_context().get_storage().experiment_fs_path) / "killed-by-hook"

    logged = {"upto": start}

    def on_checkpoint(step: int, recent: list[dict[str, float]]) -> None:
        metrics = {"step": step, "resumed_from": start, "world_size": world, **recent[-1]}
        if kill_after and start == 0 and step > kill_after and not killed.exists():
            # Each worker's result queue holds one report, and the controller polls a worker
            # again only after it has handled the last poll's report. So the second of these
            # metrics-only reports returns only after the controller has registered the last
            # checkpoint, and the retry is sure to see it. Every rank reports: it is a barrier.
            for _ in range(2):
                ray.train.report(metrics)
            if rank == 0:
                killed.touch()  # once: a retry that somehow started over must not die again
                os._exit(1)  # a worker dies mid-training, as a crashed or preempted one does
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = None
            if rank == 0:
                save_checkpoint(Path(tmp), spec, gan.state_dict(), step, history)
                ckpt = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=ckpt)  # every rank calls it: it is a barrier
        if live is not None:
            for row in history:
                if row["step"] > logged["upto"]:
                    live.metrics({k: v for k, v in row.items() if k != "step"},
                                 step=int(row["step"]))
            logged["upto"] = step

    t0 = time.perf_counter()
    fit_gan(gan, images, config["seed"], start_step=start, rank=rank, world_size=world,
            history=history, on_checkpoint=on_checkpoint, probe=probe)
    if live is not None:  # the loop's own wall: fit() beyond it is Ray Train's start and stop
        live.metrics({"time/worker_loop_s": time.perf_counter() - t0})


def gan_trial(config: dict[str, Any], *, data: SweepData, hub, tracking: TrackingContext,
              sweep: SweepConfig, storage: str, finished: dict[str, str]) -> None:
    """Tune function trainable: train one GAN with Ray Train, sample its fill, log to MLflow.

    `finished` maps the key of a GAN trained before an interruption to its MLflow run id."""
    cell = Cell(**config["cell"])
    gan_name, budget, seed = cell.gan, cell.budget, cell.seed
    gcfg = sweep.gan_config(gan_name, budget)
    x_train = ray.get(data.x_train)
    split = cell_split(data.pools, budget, seed)  # `budget` validation: the N less its val part
    real = x_train[split.malignant]
    n_fill = cell.fill_count(len(real), data.fill_target)
    images_ref = ray.put(real)  # the trial outlives its trainer, so it may own the subset
    # Benign training images, for families that translate from them (cyclegan) or pair them
    # for super-resolution; never validation or test images.
    context = x_train[split.benign]
    if cell.gan_key in finished:  # a resumed sweep: this GAN finished before the interruption
        fake = _sample_finished(tracking, finished[cell.gan_key], gan_name, gcfg,
                                sweep.resolution, seed, context, n_fill)
        ray.get(hub.store.remote(cell.gan_key, fake))
        tune.report({"num_generated": len(fake), "reused": 1})
        return
    context_ref = ray.put(context)
    params = training_params(sweep, cell, len(real), n_fill)
    tags = {**cell.tags(KIND_GAN), "raygan.node": ray.get_runtime_context().get_node_id()}
    with child_run(tracking, cell.gan_run_name, params, tags) as run:
        t0 = time.perf_counter()
        trainer = TorchTrainer(
            train_worker,
            train_loop_config={
                "gan": gan_name, "gan_cfg": dataclasses.asdict(gcfg), "seed": seed,
                "budget": budget, "resolution": sweep.resolution, "images": [images_ref],
                "context": [context_ref],
                "threads": gcfg.cpus_per_worker, "tracking_uri": tracking.uri,
                "run_id": run.run_id,
            },
            scaling_config=ray.train.ScalingConfig(
                num_workers=gcfg.num_workers, use_gpu=gcfg.use_gpu,
                resources_per_worker=worker_resources(gcfg, gan_name, sweep.resolution),
            ),
            run_config=ray.train.RunConfig(
                name=f"{tracking.sweep}-{cell.gan_key.replace(':', '_')}", storage_path=storage,
                failure_config=ray.train.FailureConfig(max_failures=2),
                checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
            ),
        )
        result = trainer.fit()
        train_s = time.perf_counter() - t0
        with result.checkpoint.as_directory() as folder:
            state = load_checkpoint(folder)
        t1 = time.perf_counter()
        fake = sample_checkpoint(gan_name, gcfg, sweep.resolution, seed, state, context,
                                 max(n_fill, sweep.num_grid_images))
        sample_s = time.perf_counter() - t1
        ray.get(hub.store.remote(cell.gan_key, fake[:n_fill]))
        run.artifact(grid_png(fake[: sweep.num_grid_images]), SAMPLES_PNG)
        # The trained GAN, to resample or resume, with the arguments that rebuild it (written
        # here, not copied: a Ray Train checkpoint from before they were carried has none).
        spec = GANSpec(gan_name, gcfg, sweep.resolution, seed, budget)
        with tempfile.TemporaryDirectory() as tmp:
            run.file(save_checkpoint(Path(tmp), spec, state["gan"], int(state["step"]),
                                     state["history"]))
        final = {"time/train_s": train_s, "time/sample_s": sample_s, "num_generated": n_fill,
                 "resumed_from": float(result.metrics.get("resumed_from", 0)),
                 "world_size": float(result.metrics.get("world_size", 0)),
                 "steps_trained": float(state["step"]),
                 "stopped_early": float(state["history"][-1].get("stopped_early", 0.0))}
        gap = final_quality(state["history"])
        run.tag("raygan.converged", verdict(gap))
        if gap is not None:
            final["quality/final_gap"] = gap
        run.metrics(final)
        tune.report(final)


def training_params(sweep: SweepConfig, cell: Cell, num_real: int, num_fill: int
                    ) -> dict[str, Any]:
    """The MLflow params of the GAN training of `cell`: what it trains with, on how many real
    images, for how large a fill."""
    return {**cell.params, "resolution": sweep.resolution, "num_fill": num_fill,
            "num_real": num_real, **dataclasses.asdict(sweep.gan_config(cell.gan, cell.budget))}


def reuse_gans(cfg: SweepConfig, pools: Pools, fill_target: int, ctx: TrackingContext,
               done: dict[str, str], log: Callable[[str], None] = print) -> dict[str, str]:
    """The GAN trainings of sweep `cfg.gans_from` that this sweep copies instead of training
    (same settings, same data), as {gan key: id of the copy}; `done` (gan key -> run id) holds
    those finished here already. Says which cells it reused, which it trains, and why a
    training of the other sweep is not reused."""
    source = tracking.find_source(ctx.uri, cfg.gans_from, cfg.experiment)
    cells = [c for c in gan_cells(cfg) if c.gan_key not in done]
    if not cells:
        return {}
    why = tracking.data_mismatch(source, cfg.to_dict())
    if why:
        log(f"note: no GAN of sweep {cfg.gans_from} is reused: {why}")
        return {}
    wanted = {}
    for c in cells:
        num_real = len(cell_split(pools, c.budget, c.seed).malignant)
        wanted[c.gan_run_name] = training_params(cfg, c, num_real,
                                                 c.fill_count(num_real, fill_target))
    copied = tracking.copy_gan_runs(ctx.uri, source, ctx, wanted, log)
    left = [c.gan_run_name for c in cells if c.gan_run_name not in copied]
    log(f"gans from {cfg.gans_from}: {len(copied)} reused"
        + (f" ({', '.join(copied)})" if copied else "")
        + f"; {len(left)} to train" + (f" ({', '.join(left)})" if left else ""))
    return {c.gan_key: copied[c.gan_run_name] for c in cells if c.gan_run_name in copied}


def _sample_finished(tracking: TrackingContext, run_id: str, gan_name: str, gcfg: GANConfig,
                     resolution: int, seed: int, context: np.ndarray, n_fill: int) -> np.ndarray:
    """The fill of a GAN trained before a sweep was interrupted, resampled from its MLflow
    artifact: sampling is seeded per image, so these are the very images it made then."""
    with tempfile.TemporaryDirectory() as tmp:
        state = load_checkpoint(download_artifact(tracking.uri, run_id, GAN_CHECKPOINT, tmp))
    return sample_checkpoint(gan_name, gcfg, resolution, seed, state, context, n_fill)


def longest_first(cfg: SweepConfig, cells: list[Cell]) -> list[Cell]:
    """`cells` in the order Tune should start them: the longest trainings first (the most steps
    allowed, then the largest budget), so that two slots side by side do not end on one long
    training while the other slot idles (longest processing time first scheduling)."""
    return sorted(cells, key=lambda c: (-cfg.gan_config(c.gan, c.budget).steps,
                                        -(c.budget_count(0) or 0)))


def run_gan_stage(cfg: SweepConfig, data: SweepData, hub, tracking: TrackingContext,
                  storage: str, cluster_cpus: float,
                  finished: dict[str, str] | None = None, verbose: bool = True) -> dict[str, str]:
    """Train every (GAN, budget, seed) of the sweep; returns the error of each failed key.

    `finished` maps the key of a GAN trained before an interruption to its MLflow run id: that
    GAN is not trained again, its images are resampled from the run's checkpoint artifact."""
    cells = longest_first(cfg, gan_cells(cfg))
    if not cells:
        return {}
    per_job = max(c.num_workers * c.cpus_per_worker for c in map(cfg.gan_config, cfg.gan_names))
    trainable = tune.with_resources(
        tune.with_parameters(gan_trial, data=data, hub=hub, tracking=tracking, sweep=cfg,
                             storage=storage, finished=finished or {}),
        # The trial only drives its TorchTrainer, whose workers hold the cores. A fractional CPU
        # here would strand the rest of a core (2 - 0.02 CPUs fit one 1-CPU worker, not two),
        # so the trial asks for a little memory instead, which every node has.
        {"cpu": 0, "memory": DRIVER_MEMORY},
    )
    tuner = tune.Tuner(
        trainable,
        # Tune's search space takes plain values: each cell crosses as a dict, once.
        param_space={"cell": tune.grid_search([dataclasses.asdict(c) for c in cells])},
        tune_config=tune.TuneConfig(max_concurrent_trials=max(1, int(cluster_cpus // per_job))),
        run_config=tune.RunConfig(name=f"{tracking.sweep}-gans", storage_path=storage,
                                  verbose=tune_verbosity(verbose),
                                  callbacks=[Progress(len(cells), gan_summary, gan_label,
                                                     reusable=sum(c.gan_key in (finished or {})
                                                                  for c in cells))]),
    )
    results = tuner.fit()
    failed = {}
    for cell, r in result_cells(results, cells):
        if r.error is not None:
            failed[cell.gan_key] = str(r.error).splitlines()[0]
    return failed
