"""`raygan generate`: a trained GAN's images and their manifest (`raygan.gans.export`), from a
checkpoint file alone, or from a finished sweep's GAN training: its config.json, its checkpoint
downloaded from MLflow and its data (the cell's benign context and fill count).

Every bad argument (the count, the sources, the --out folder and what it holds) is a one-line
RayganError before the GAN or any data is loaded, and --out is left as it was found."""

from __future__ import annotations

import math
import os
from pathlib import Path

from raygan.artifacts import MANIFEST_FILE
from raygan.cell import Cell
from raygan.errors import RayganError


def gan_training(run: str) -> Cell:
    """The cell of a GAN training's run name (`train:<gan>-n<budget>-s<seed>`)."""
    try:
        cell = Cell.from_run_name(run)
    except RayganError:
        cell = None
    if cell is None or not cell.is_gan or cell.gan_run_name != run:
        raise RayganError(f"--run {run!r} is not a GAN training's name; use "
                          "train:<gan>-n<budget>-s<seed>, e.g. train:dcgan-n50-s0")
    return cell


def generate(out: Path | str, count: int | None = None, checkpoint: str | None = None,
             sweep: str | None = None, run: str | None = None, output: str = "runs",
             data: str | None = None, overwrite: bool = False, pairs: int | None = None) -> str:
    """Write `count` images (default: the cell's fill) of the GAN of `checkpoint`, or of the
    GAN training `run` of sweep `sweep` under `output`, to the folder `out`; returns the line
    that says what was written. An `out` that holds an earlier run's images is refused unless
    `overwrite`, which replaces that run's files (those its manifest lists, and its pairs) and
    nothing else. With `pairs` (K), also pairs.png and pairs.csv: the K images nearest to one
    of the cell's real training images, each beside it (`raygan.eval.memorization`)."""
    from raygan.bounds import BOUNDS
    from raygan.files import writable_folder
    from raygan.gans.export import MAX_COUNT, check_count, previous_files

    check_count(count)
    if pairs is not None:
        BOUNDS["pairs"].check("--pairs", pairs)
    if checkpoint is not None:
        given = [f"--{k}" for k, v in (("sweep", sweep), ("run", run), ("data", data)) if v]
        if given:
            raise RayganError(f"--checkpoint samples the file alone; drop {', '.join(given)}")
        if pairs is not None:
            raise RayganError("--pairs pairs the images with the GAN's real training images, "
                              "which only its sweep knows: use --sweep NAME --run "
                              "train:<gan>-n<budget>-s<seed>, or drop --pairs")
        if count is None:
            raise RayganError("--checkpoint needs --count (a checkpoint does not know its cell's "
                              "fill); pass e.g. --count 100")
    elif sweep is None or run is None:
        raise RayganError("name the GAN training: --sweep NAME --run "
                          "train:<gan>-n<budget>-s<seed>, or pass --checkpoint FILE")
    else:
        gan_training(run)
    out = Path(out)
    created = [p for p in (out, *out.parents) if not p.exists()]
    writable_folder(out, "--out")
    try:
        # The cell's fill is not known yet: check against the largest count it could be.
        previous = previous_files(out, count or MAX_COUNT, overwrite, pairs is not None)
        if checkpoint is not None:
            return _from_file(checkpoint, count, out, previous)
        return _from_sweep(sweep, run, count, out, output, data, previous, pairs)
    finally:
        for folder in created:  # a failure before the first image leaves no empty folders
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _from_sweep(sweep: str, run: str, count: int | None, out: Path, output: str,
                data: str | None, previous: list[Path], pairs: int | None = None) -> str:
    """The GAN rebuilt from config.json and its MLflow run, sampled as the sweep sampled it;
    with `pairs`, its images' closest pairs with the cell's real training images beside them."""
    import tempfile

    from raygan import tracking
    from raygan.data import carve_validation, cell_split
    from raygan.gans.checkpoint import GANSpec, load_checkpoint
    from raygan.gans.export import export_cell
    from raygan.report_stage import sweep_data, sweep_folder

    cell = gan_training(run)
    gan, budget, seed = cell.gan, cell.budget, cell.seed
    folder, cfg = sweep_folder(sweep, output)
    if gan not in cfg.gan_names or budget not in cfg.budgets or seed not in cfg.seeds:
        raise RayganError(f"sweep {sweep!r} has no GAN training {run!r}: its GANs "
                          f"are {', '.join(cfg.gan_names) or 'none'}, budgets "
                          f"{', '.join(map(str, cfg.budgets))}, seeds "
                          f"{', '.join(map(str, cfg.seeds))}")
    # The checkpoint first: a deleted experiment or a missing gan.pt is told before the data
    # is loaded.
    with tempfile.TemporaryDirectory() as tmp:
        uri = tracking.sweep_store(cfg.tracking_uri, folder, cfg.output,
                                   os.environ.get("MLFLOW_TRACKING_URI"))
        path = tracking.gan_checkpoint(uri, cfg.experiment, sweep, run, tmp)
        state = load_checkpoint(path)
    dataset = sweep_data(cfg, sweep, data)
    pools = carve_validation(dataset.train.y, cfg.val_fraction, cfg.split_seed,
                             cfg.validation, dataset.train.groups)
    split = cell_split(pools, budget, seed)  # the GAN's real images and benign context
    n_fill = cell.fill_count(len(split.malignant), pools.fill_target(cfg.fill_target))
    count = count or n_fill
    if not count:
        raise RayganError(f"cell {run!r} has no fill (its budget reaches the fill "
                          "target); pass --count")
    spec = GANSpec(gan, cfg.gan_config(gan, budget), cfg.resolution, seed, budget)
    x = dataset.train.x
    tracker = None
    if pairs:
        from raygan.eval.memorization import ClosestPairs
        from raygan.fidelity_stage import held_out

        tracker = ClosestPairs(x[split.malignant], x[held_out(pools, split)], pairs)
    export_cell(out, spec, state, x[split.benign], count, n_fill, previous,
                tracker.watch if tracker else None)
    said = (f"{count} images of {run} ({cfg.resolution} px; the first "
            f"{min(count, n_fill)} are the cell's fill) in {out}, manifest {out / MANIFEST_FILE}")
    if tracker is None:
        return said
    return said + "; " + _pairs_said(tracker, out, [dataset.train.files[i]
                                                    for i in split.malignant])


def _pairs_said(tracker, out: Path, train_names: list[str]) -> str:
    """Write the closest pairs beside the images; the words that say what they show."""
    from raygan.artifacts import PAIRS_PNG
    from raygan.eval.memorization import COPIED_FILL, NEAR_COPY_RMS, copied
    from raygan.gans.export import image_name

    shown = tracker.write(out, image_name, train_names)
    share = tracker.result().summary()["near_copies"]
    ratio = (f", {shown[0].ratio:.2f} x the median held-out real image's"
             if math.isfinite(shown[0].ratio) else "")
    flag = (f", {COPIED_FILL:.0%} or more: a fill of training copies" if copied(share) else "")
    return (f"the {len(shown)} closest (generated, training) pairs in {out / PAIRS_PNG} "
            f"(closest {shown[0].distance:.3f} RMS{ratio}; {share:.1%} of the images within "
            f"{NEAR_COPY_RMS:g} of a training image{flag})")


def _from_file(checkpoint: str, count: int, out: Path, previous: list[Path]) -> str:
    """The GAN rebuilt from the arguments its file carries: no MLflow, config.json or data."""
    from raygan.gans.export import export_checkpoint

    spec = export_checkpoint(checkpoint, count, out, previous)
    return (f"{count} images of {checkpoint} ({spec.family}, N={spec.budget}, seed "
            f"{spec.seed}, {spec.resolution} px) in {out}, manifest {out / MANIFEST_FILE}")
