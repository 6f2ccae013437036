"""The whole sweep: check everything, load data, GAN stage -> object store -> classifier stage."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import ray

from raygan import tracking
from raygan.artifacts import CONFIG_FILE, RESULTS_CSV, RESULTS_JSON, RESULTS_MD
from raygan.cell import KIND_CLASSIFIER, Cell
from raygan.classifiers import read_weights
from raygan.config import SweepConfig, check_name, load_config, validate
from raygan.data import Dataset, Pools, Split, carve_validation, check_budgets
from raygan.data.dataset import digest_of_test, fingerprint_changes
from raygan.data.sources import load_source
from raygan.errors import RayganError
from raygan.eval.external import sweep_external_sets
from raygan.eval.leakage import without_leaks
from raygan.eval.table import markdown, rows_csv
from raygan.files import writable_folder, write_atomic
from raygan.gans import REGISTRY
from raygan.orchestrate.classifier_stage import (
    grid_cells,
    result_row,
    run_classifier_stage,
    trial_resources,
)
from raygan.orchestrate.cluster import Job, check_fits, check_reachable, connect, resolve_address
from raygan.orchestrate.gan_stage import (
    DRIVER_MEMORY,
    ImageHub,
    gan_cells,
    reuse_gans,
    run_gan_stage,
    worker_resources,
)
from raygan.orchestrate.handoff import SweepData
from raygan.orchestrate.interrupt import CtrlC
from raygan.orchestrate.lock import check_free, hold


@dataclass(frozen=True)
class Prepared:
    """Everything the sweep needs, checked before any Ray work starts."""

    cfg: SweepConfig
    dataset: Dataset
    pools: Pools
    fill_target: int
    tracking_uri: str
    out_dir: Path
    resume: bool = False  # continue the interrupted sweep of the same name
    external: dict[str, Split] = field(default_factory=dict)  # NAME -> external test set
    external_duplicates: dict[str, int] = field(default_factory=dict)  # NAME -> images dropped


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    table_md: str
    out_dir: Path
    parent_run_id: str
    wall_s: float


def machine_cpu_s() -> float | None:
    """CPU-seconds the whole machine has spent busy since boot (user, nice, system, irq,
    softirq, steal from /proc/stat), or None where there is no /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def num_trials(cfg: SweepConfig) -> tuple[int, int]:
    """(GAN trainings, classifier trials) that the sweep will run."""
    return len(gan_cells(cfg)), len(grid_cells(cfg))


STORAGE_TIMEOUT_S = 10.0  # how long the pre-flight check waits for a remote --storage
GPU_FIX = "add --no-gpu to train on CPUs, or join a cluster with GPUs (--address)"


def grid_jobs(cfg: SweepConfig) -> list[Job]:
    """Each distinct kind of trial of the grid, as Ray must place it."""
    jobs = {}
    for name in cfg.gan_names:
        for budget in cfg.budgets:
            gcfg = cfg.gan_config(name, budget)
            n = gcfg.num_workers
            bundles = (*[worker_resources(gcfg, name, cfg.resolution)] * n,
                       {"memory": DRIVER_MEMORY})  # the workers, and the trial that drives them
            what = f"each {name} training ({n} Ray Train worker{'s' if n != 1 else ''})"
            jobs[what + repr(bundles)] = Job(what, bundles, {
                "CPU": "lower --gan-workers, or join a bigger cluster (--address)",
                "GPU": GPU_FIX,
                "memory": "lower --gan-batch-size or --gan-width, or join a cluster with bigger"
                          " nodes (--address)"})
    if grid_cells(cfg):
        bundles = (trial_resources(cfg.classifier, cfg.resolution),)
        jobs[repr(bundles)] = Job("each classifier trial", bundles, {
            "CPU": "join a bigger cluster (--address)", "GPU": GPU_FIX,
            "memory": "join a cluster with bigger nodes (--address)"})
    return list(jobs.values())


def resumed_config(cfg: SweepConfig, add_seeds: tuple[int, ...] = (),
                   log: Callable[[str], None] = print,
                   tracking_uri: str | None = None) -> SweepConfig:
    """The config an interrupted (or finished) sweep ran with, from its `config.json`; where
    it runs (address, storage, data root) may change, what it computes may not, except that
    `add_seeds` extends its grid with more seeds (every finished cell is kept). It logs to the
    MLflow store its config.json records, from any working directory, unless `tracking_uri`
    (or $MLFLOW_TRACKING_URI) names another; a store that holds no run of a sweep whose folder
    says it ran is refused, naming both."""
    if not cfg.sweep_name:
        raise RayganError("--resume needs the --name of the sweep to continue (see the folders "
                          f"in {cfg.output}/)")
    check_name(cfg.sweep_name)
    path = Path(cfg.output).resolve() / cfg.sweep_name / CONFIG_FILE
    if not path.is_file():
        raise RayganError(f"nothing to resume: {path} does not exist; check --name and --output, "
                          "or start the sweep without --resume")
    saved = load_config(path)
    new = tuple(dict.fromkeys(s for s in add_seeds if s not in saved.seeds))
    seeds = saved.seeds + new
    if new:
        log(f"resume adds seed{'s' if len(new) > 1 else ''} {', '.join(map(str, new))}: "
            f"the grid now has seeds {', '.join(map(str, seeds))}")
    uri = tracking.sweep_store(saved.tracking_uri, path.parent, saved.output,
                               tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"), log)
    tracking.check_writable(uri)  # an unreachable server would be retried for minutes
    _check_resumable(saved, path.parent, uri)
    return replace(saved, sweep_name=cfg.sweep_name, output=cfg.output, seeds=seeds,
                   address=cfg.address or saved.address, tracking_uri=uri,
                   storage=cfg.storage or saved.storage, data=cfg.data or saved.data)


def _check_resumable(saved: SweepConfig, folder: Path, uri: str) -> None:
    """A sweep whose folder says it ran (its config.json records a store, or it holds results
    or Ray's trial folders) must have its parent run in `uri`: resuming it elsewhere would
    train everything again and overwrite its results."""
    marks = [n for n in (RESULTS_MD, RESULTS_CSV, RESULTS_JSON) if (folder / n).exists()]
    if (folder / "ray").is_dir() and any((folder / "ray").iterdir()):
        marks.append("ray/")
    if not saved.tracking_uri and not marks:
        return  # a config.json of an older raygan, and nothing ran: as before
    if tracking.sweep_exists(uri, saved.experiment, saved.sweep_name):
        return
    said = (f"its config.json names MLflow store {saved.tracking_uri}" if saved.tracking_uri
            else f"it holds {', '.join(marks)}")
    raise RayganError(
        f"cannot resume sweep {saved.sweep_name!r}: its folder {folder} says it ran ({said}), "
        f"but MLflow store {uri} holds no run of it in experiment {saved.experiment!r}; set "
        "MLFLOW_TRACKING_URI to the store it logged to, or start anew under another --name")


def check_storage(storage: str) -> None:
    """--storage is reachable before anything is written: a local folder (or file://) is proven
    writable; a remote one (s3://, gs://, ...) is opened with pyarrow, as Ray opens it, and
    listed, within STORAGE_TIMEOUT_S (Ray itself would fail only after its trials started)."""
    if not storage:
        return  # the sweep's own folder, checked with --output
    if "://" not in storage or storage.startswith("file://"):
        path = Path(storage[len("file://"):] if storage.startswith("file://") else storage)
        # Its nearest existing folder: a dry run creates nothing.
        writable_folder(next(p for p in (path, *path.parents) if p.exists() or p == p.parent),
                        f"--storage {storage}:")
        return
    result: dict[str, BaseException | None] = {}

    def probe() -> None:
        try:
            import pyarrow.fs

            fs, path = pyarrow.fs.FileSystem.from_uri(storage)
            fs.get_file_info(path)
            result["error"] = None
        except Exception as exc:  # noqa: BLE001 - any failure: the storage is not usable
            result["error"] = exc

    # A daemon thread: a store that never answers (no route, a metadata server that is not
    # there) cannot hold the command past the timeout.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(STORAGE_TIMEOUT_S)
    fix = ("check the URI, the network and the credentials, or leave --storage out to keep "
           "Ray's files in the sweep's folder")
    if "error" not in result:
        raise RayganError(f"--storage {storage} did not answer within {STORAGE_TIMEOUT_S:.0f} s;"
                          f" {fix}")
    if result["error"] is not None:
        reason = str(result["error"]).strip().splitlines()[0][:200]
        raise RayganError(f"--storage {storage} cannot be reached ({reason}); {fix}")


def _check_output(output: str, out_dir: Path) -> None:
    """The sweep's folder can be created and written: --output is proven writable with a probe
    file (not under /proc or another kernel filesystem, not read-only), and so is the sweep's
    own folder where it exists already."""
    writable_folder(output, "--output")
    if out_dir.exists():
        writable_folder(out_dir, "--output")


def _check_same_data(saved: SweepConfig, dataset: Dataset, log: Callable[[str], None]) -> None:
    """A resumed sweep must read the data it started on: its test split above all."""
    if not saved.data_fingerprint:
        log(f"note: the config.json of sweep {saved.sweep_name!r} holds no data fingerprint "
            "(written by an older raygan); that the data is the same cannot be checked")
        return
    changed, touched = fingerprint_changes(saved.data_fingerprint, dataset.fingerprint)
    if changed:
        raise RayganError(f"cannot resume sweep {saved.sweep_name!r} on other data: "
                          f"{'; '.join(changed)} ({dataset.root}); resume with the --data the "
                          "sweep started with, or start a new sweep")
    if touched:
        log(f"note: the files of {', '.join(touched)} have other modification times than when "
            "the sweep started (a copy?); their names and sizes match")


def prepare(cfg: SweepConfig, tracking_uri: str | None = None,
            log: Callable[[str], None] = print, resume: bool = False,
            add_seeds: tuple[int, ...] = ()) -> Prepared:
    """Validate the config, read and check the data, check budgets and the MLflow store.
    A resumed sweep may grow by `add_seeds` (e.g. a one-seed laptop run made a 3-seed one)."""
    if resume:
        cfg = resumed_config(cfg, add_seeds, log, tracking_uri)
    validate(cfg, REGISTRY)
    if cfg.classifier.weights:  # a missing, unreadable or other model's file fails here
        read_weights(cfg.classifier.weights, cfg.classifier.name, cfg.resolution)
    if not cfg.sweep_name:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        cfg = replace(cfg, sweep_name=f"{cfg.profile}-{stamp}")
    out_dir = Path(cfg.output).resolve() / cfg.sweep_name
    _check_output(cfg.output, out_dir)
    check_free(cfg.sweep_name, out_dir)
    uri = cfg.tracking_uri if resume else tracking.resolve_uri(tracking_uri)
    # The folder knows its store and place: a resume, a hint or a report from any working
    # directory finds both (config.json holds them absolute).
    cfg = replace(cfg, output=str(out_dir.parent), tracking_uri=uri)
    tracking.check_writable(uri)
    if cfg.gans_from:  # a name the store does not hold fails here, before any data or Ray
        if cfg.gans_from == cfg.sweep_name:
            raise RayganError(f"--gans-from {cfg.gans_from} names this sweep itself; name "
                              "another sweep, or continue this one with --resume")
        tracking.find_source(uri, cfg.gans_from, cfg.experiment)
    check_storage(cfg.storage)
    check_reachable(resolve_address(cfg.address))
    t0 = time.perf_counter()
    dataset = load_source(cfg.data or None, cfg.resolution, cfg.classes or None,
                          cfg.test_fraction, cfg.split_seed, cfg.geometry)
    if resume:
        _check_same_data(cfg, dataset, log)
    saved = cfg.data_fingerprint if resume else None  # its external sets' too, checked below
    cfg = replace(cfg, data=dataset.root, data_fingerprint=dataset.fingerprint)
    log(f"data: {len(dataset.train)} train / {len(dataset.test)} test images at "
        f"{cfg.resolution} px from {dataset.root} ({time.perf_counter() - t0:.1f} s)")
    if cfg.exclude_leaks:
        dataset, n_dropped = without_leaks(dataset)
        log(f"leakage audit: {n_dropped} test images re-capture a training lesion and are "
            f"excluded ({len(dataset.test)} test images left)")
    # Audited against every training/validation image, checked, fingerprinted: before training.
    sets, entries = sweep_external_sets(cfg, dataset, log, saved)
    cfg = replace(cfg, data_fingerprint={**cfg.data_fingerprint, **entries})
    external = {name: e.tested for name, e in sets.items()}
    duplicates = {name: e.duplicates for name, e in sets.items()}
    pools = carve_validation(dataset.train.y, cfg.val_fraction, cfg.split_seed, cfg.validation,
                             dataset.train.groups)
    fill_target = pools.fill_target(cfg.fill_target)
    check_budgets(pools, cfg.budgets if any(a != "all-real" for a in cfg.arms) else (),
                  fill_target)
    if not resume and (out_dir / CONFIG_FILE).exists():
        raise RayganError(f"a sweep named {cfg.sweep_name!r} already exists in {out_dir}; add "
                          "--resume to continue it, or pick another --name")
    return Prepared(cfg, dataset, pools, fill_target, uri, out_dir, resume, external, duplicates)


def run_sweep(prep: Prepared, log: Callable[[str], None] = print,
              verbose: bool = True) -> SweepResult:
    """Run both stages on Ray, log every run to MLflow, write the results table; the sweep's
    lock is held throughout. Unless `verbose`, Ray prints nothing: one line per trial instead."""
    with hold(prep.cfg.sweep_name, prep.out_dir, log), CtrlC() as ctrl_c:
        return _run_sweep(prep, log, ctrl_c, verbose)


def _run_sweep(prep: Prepared, log: Callable[[str], None], ctrl_c: CtrlC,
               verbose: bool) -> SweepResult:
    cfg, t_start = prep.cfg, time.perf_counter()
    cpu_start = machine_cpu_s()
    experiment_id = tracking.setup(prep.tracking_uri, cfg.experiment)  # cheap: before Ray
    resources = connect(cfg.address, verbose)
    check_fits(grid_jobs(cfg), cfg.address)  # Ray would wait forever for a trial that can't fit
    ray_s = time.perf_counter() - t_start
    data_tags = {tracking.TEST_DATA_TAG: digest_of_test(cfg.data_fingerprint)}
    parent = None
    if prep.resume:
        parent = tracking.find_parent(prep.tracking_uri, experiment_id, cfg.sweep_name)
    done: dict[str, Any] = {}
    if parent is not None:
        tracking.reopen(prep.tracking_uri, parent)
        done, removed = tracking.resume_cleanup(prep.tracking_uri, experiment_id, parent)
        log(f"resuming sweep {cfg.sweep_name}: {len(done)} finished runs are kept"
            + (f", {len(removed)} unfinished ones deleted and run again" if removed else ""))
    else:
        parent = tracking.start_parent(prep.tracking_uri, experiment_id, cfg.sweep_name,
                                       {**cfg.to_dict(), "fill_target_resolved": prep.fill_target,
                                        **{f"external_duplicates.{n}": k
                                           for n, k in prep.external_duplicates.items()}},
                                       data_tags)
    # Only now, with every check passed and the parent run in its store: a sweep that failed a
    # check may run again by that name, and a folder with a config.json has runs to resume.
    prep.out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(prep.out_dir / CONFIG_FILE, cfg.to_json())
    parent_log = tracking.attach(prep.tracking_uri, parent)
    parent_log.tag("raygan.seeds", ",".join(map(str, cfg.seeds)))  # `seeds`: the first run's
    trained = {c.gan_key: done[c.gan_run_name].info.run_id for c in gan_cells(cfg)
               if c.gan_run_name in done}
    kept = [result_row(tracking.run_cell(run), run.data.metrics) for run in done.values()
            if run.data.tags.get("raygan.kind") == KIND_CLASSIFIER]
    ctx = tracking.TrackingContext(prep.tracking_uri, experiment_id, parent, cfg.sweep_name,
                                   data_tags)
    status = "FAILED"
    clock = {"start": time.perf_counter() - ray_s, "ray": time.perf_counter()}
    try:
        storage = cfg.storage or str(prep.out_dir / "ray")
        log(f"ray: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
            f"storage {storage}; MLflow {prep.tracking_uri} (parent run {parent})")
        data = SweepData.put(prep.dataset, prep.pools, prep.fill_target, prep.external)
        hub = ImageHub.remote()
        clock["put"] = time.perf_counter()
        n_gan, n_clf = num_trials(cfg)
        log(f"stage 1/2: {n_gan} GAN trainings")
        if cfg.gans_from:
            trained.update(reuse_gans(cfg, prep.pools, prep.fill_target, ctx, trained, log))
        failed = run_gan_stage(cfg, data, hub, ctx, storage, resources.get("CPU", 1),
                               finished=trained, verbose=verbose)
        ctrl_c.check()
        generated = ray.get(hub.refs_of.remote([c.gan_key for c in gan_cells(cfg)]))
        clock["gans"] = time.perf_counter()
        log(f"stage 2/2: {n_clf - len(kept)} classifier trials"
            + (f" ({len(kept)} finished before)" if kept else ""))
        rows = kept + run_classifier_stage(cfg, data, generated, ctx, storage,
                                           skip=frozenset(done), verbose=verbose)
        ctrl_c.check()
        clock["classifiers"] = time.perf_counter()
        gates = {g.cell: g for g in tracking.gan_gates(prep.tracking_uri, experiment_id, parent)}
        for row in rows:
            cell = Cell(row["arm"], row["budget"], row["seed"])
            if cell.is_gan and cell.gan_key in failed:
                row["error"] = f"GAN training failed: {failed[cell.gan_key]}"
            if cell in gates:
                row["gan_gap"], row["gan_converged"] = gates[cell].gap, gates[cell].converged
        table = write_results(prep.out_dir, rows)
        for name in (RESULTS_MD, RESULTS_CSV, CONFIG_FILE):
            parent_log.file(prep.out_dir / name)
        tracking.log_results(prep.tracking_uri, parent, rows)
        clock["results"] = time.perf_counter()
        stages = dict(zip(("ray_start", "data_put", "gan_stage", "classifier_stage",
                           "results"), np.diff(list(clock.values())), strict=True))
        cpu_end = machine_cpu_s()
        if cpu_start is not None and cpu_end is not None:
            stages["machine_cpu"] = cpu_end - cpu_start  # logged as time/machine_cpu_s
        parent_log.metrics({f"time/{k}_s": v for k, v in stages.items()})
        log("stage times: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()))
        status = "FINISHED"
        return SweepResult(rows, table, prep.out_dir, parent, time.perf_counter() - t_start)
    except KeyboardInterrupt:
        status = "KILLED"
        ctrl_c.stopping()  # a second Ctrl-C from here on waits for the cleanup
        raise
    finally:
        close_parent(prep.tracking_uri, parent, status, log)


def close_parent(uri: str, parent: str, status: str, log: Callable[[str], None]) -> None:
    """End the sweep's parent run with `status`; when the run ends in an error (a full disk
    may refuse MLflow as well), a failure to close it is a note, never a second error that
    hides the first."""
    if status == "FINISHED":
        tracking.end_run(uri, parent, status)
        return
    try:
        tracking.end_run(uri, parent, status)
    except Exception as exc:  # noqa: BLE001 - the error that stopped the sweep comes first
        log(f"note: could not mark the parent run {parent} {status} in {uri}: "
            f"{str(exc).strip().splitlines()[0][:200]}")


def write_results(out_dir: Path, rows: list[dict[str, Any]]) -> str:
    """Write the sweep's results (results.md, .csv, .json) into `out_dir`, each through a
    temporary file and `os.replace`: a full disk leaves the previous files whole, never an
    empty one. Returns the markdown table."""
    table = markdown(rows)
    write_atomic(out_dir / RESULTS_MD, table)
    write_atomic(out_dir / RESULTS_CSV, rows_csv(rows))
    write_atomic(out_dir / RESULTS_JSON, json.dumps(rows, indent=1, default=str))
    return table
