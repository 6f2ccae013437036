"""The report's fidelity stage: rebuild each generator of a finished sweep (every family, GAN
or diffusion) from its checkpoint, resample its fill, and measure it (domain FD, KID,
precision / recall / density / coverage, memorization and the closest (generated, training)
pairs, and optionally CAS, which trains one classifier per generated run). It trains models
(the feature extractor that the distances are measured in, and CAS's classifiers), so it lives
outside `raygan.eval`, which only computes on what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raygan.cell import Cell
from raygan.classifiers import check_classifier_name, fit_classifier, predict_proba, read_weights
from raygan.config import DEFAULT_CLASSIFIER, ClassifierConfig
from raygan.data import carve_validation, cell_split
from raygan.data.splits import CellSplit, Pools
from raygan.errors import RayganError
from raygan.eval.fidelity import FeatureExtractor, GeneratedRun, fidelity_row
from raygan.eval.memorization import PAIRS_SHOWN, pairs_png
from raygan.eval.numbers import Trial
from raygan.gans.checkpoint import load_checkpoint, sample_checkpoint
from raygan.images import check_images
from raygan.metrics import binary_metrics


@dataclass
class Fidelity:
    """What the fidelity stage measured: a row per generated run (its numbers, as the report's
    table and the results folder's fidelity.csv hold them) and, per run, the PNG of its closest
    (generated, training) pairs, which only the report folder keeps."""

    rows: list[dict[str, Any]]
    pairs: dict[Cell, bytes] = field(default_factory=dict)


def held_out(pools: Pools, split: CellSplit) -> np.ndarray:
    """Train-split indices of the real malignant images a cell's generator never saw: the pool
    budgets draw from, less the cell's budget (its training images and the part of it that
    validates), and less every image of a group (lesion, patient) the budget holds."""
    seen = np.concatenate([split.malignant, split.val])
    out = np.setdiff1d(pools.malignant, seen)
    if pools.groups is not None:
        out = out[~np.isin(pools.groups[out], pools.groups[split.malignant])]
    return out


def sweep_fidelity(cfg, dataset, checkpoints: dict[Cell, str],
                   trials: list[Trial], y: np.ndarray, max_images: int = 500,
                   extractor_epochs: int = 10, with_cas: bool = False,
                   log=None, extractor_file=None) -> Fidelity:
    """`fidelity_row` of every run of a finished sweep: each generator is rebuilt from its
    checkpoint file and resamples (up to `max_images` of) the very fill its arm trained on.
    Precision, recall, density and coverage compare that fill with as many of the cell's
    held-out real malignant images (`held_out`), the memorization check with the cell's own N
    training images, whose `PAIRS_SHOWN` closest pairs are drawn.

    With `with_cas`, each row also gets the generator's Classification Accuracy Score: the
    sweep's classifier (same config and initial weights, the run's seed) trained on the cell's
    real benign training images plus as many generated malignant images as there are real
    malignant training images (the pool budgets draw from: 1197 on skin-cancer-mvb under
    `budget` validation, 1017 under `study`). Under `study` validation that is the `all-real`
    arm's class ratio. Under `budget` validation (the default) it is not: all-real trains on 956
    real malignant images (241 of its budget validate), while CAS and, with the default fill
    target, every filled arm train on 1197 malignant images (`raygan.data.arms.all_real_note`
    states the counts in the report).

    The feature extractor is trained once per sweep and kept in `extractor_file` (when given):
    its training is not bit-for-bit repeatable on CPU (it varies with the thread count, and
    was seen to vary with machine load), so a report written again reuses it and repeats the
    distances exactly."""
    x, y_train = dataset.train.x, dataset.train.y
    groups = dataset.train.groups
    pools = carve_validation(y_train, cfg.val_fraction, cfg.split_seed, cfg.validation, groups)
    fill_target = pools.fill_target(cfg.fill_target)
    # The feature extractor is a measuring instrument of the report (distances), never a model
    # that a cell selects, so it trains on the study's split whatever the sweep's validation.
    study = carve_validation(y_train, cfg.val_fraction, cfg.split_seed, "study", groups)
    train = np.concatenate([study.benign, study.malignant])
    if extractor_file is not None and Path(extractor_file).is_file():
        state = torch.load(extractor_file, map_location="cpu", weights_only=True)
        if state["resolution"] != cfg.resolution:
            raise RayganError(f"{extractor_file} was trained at {state['resolution']} px, the "
                             f"sweep runs at {cfg.resolution} px; delete it to train a new one")
        extractor = FeatureExtractor.from_state_dict(state)
        if log:
            log(f"feature extractor: reused {extractor_file}")
    else:
        extractor = train_feature_extractor(x[train], y_train[train], x[study.val],
                                            y_train[study.val], seed=0, epochs=extractor_epochs)
        if extractor_file is not None:
            torch.save(extractor.state_dict(), extractor_file)
    rows, pairs = [], {}
    test_auc = {t.cell: binary_metrics(y, t.p)["auc"] for t in trials}
    real_feat = extractor.features(x[pools.malignant])
    ccfg = cfg.classifier  # CAS trains the sweep's classifier, from its initial weights if any
    init = (read_weights(ccfg.weights, ccfg.name, cfg.resolution)
            if with_cas and ccfg.weights else None)
    cells = sorted(checkpoints, key=lambda c: c.sort_key)
    for i, cell in enumerate(cells):  # one run's images at a time: memory stays one run's
        family, budget, seed = cell.gan, cell.budget, cell.seed
        split = cell_split(pools, budget, seed)  # what the generator trained on, and its val
        # Sampling is seeded per image, so the first images are the very fill the arm used.
        n_fid = max(1, min(cell.fill_count(len(split.malignant), fill_target), max_images))
        fake = sample_checkpoint(family, cfg.gan_config(family, budget), cfg.resolution, seed,
                                 load_checkpoint(checkpoints[cell]), x[split.benign],
                                 max(n_fid, pools.num_malignant if with_cas else 0))
        run = GeneratedRun(cell, fake[:n_fid], x[split.malignant], x[held_out(pools, split)])
        row, memo = fidelity_row(run, real_feat, extractor, test_auc)
        pairs[cell] = pairs_png(run.fake, run.train, memo.closest(PAIRS_SHOWN))
        if with_cas:  # CAS early-stops on the cell's validation images, as its arm did
            score = cas(fake[:pools.num_malignant], x[split.benign], x[split.val],
                        y_train[split.val], dataset.test.x, y, ccfg, seed, init=init)
            row["cas_auc"], row["cas_acc"] = score["auc"], score["acc"]
            if log:
                log(f"CAS {i + 1}/{len(checkpoints)}: {family} N={budget} seed {seed}: "
                    f"AUC {score['auc']:.3f}")
        rows.append(row)
    return Fidelity(rows, pairs)


def train_feature_extractor(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    epochs: int = 30,
    device: str = "cpu",
    classifier: str = DEFAULT_CLASSIFIER,
) -> FeatureExtractor:
    """Train a registry classifier (the study's 2-block CNN unless `classifier` names another)
    on real benign/malignant images and wrap its penultimate layer for features."""
    x = check_images(x, "x")
    check_images(x_val, "x_val")
    cfg = ClassifierConfig(name=check_classifier_name(classifier), epochs=epochs)
    fit = fit_classifier(cfg, x, y, x_val, y_val, seed, device=device)
    return FeatureExtractor(fit.model, x.shape[-1], device)


def cas(
    fake_malignant: np.ndarray,
    real_benign: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cfg: ClassifierConfig,
    seed: int,
    device: str = "cpu",
    init: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Classification Accuracy Score: train the classifier of `cfg` (the sweep's: its
    registry key in `cfg.name`) on synthetic malignant + real benign images, test on real."""
    fake_malignant = check_images(fake_malignant, "fake_malignant")
    real_benign = check_images(real_benign, "real_benign")
    check_images(x_val, "x_val")
    x_test = check_images(x_test, "x_test")
    sides = {a.shape[-2:] for a in (fake_malignant, real_benign, x_val, x_test)}
    if len(sides) != 1:
        raise ValueError(f"all image sets must share one resolution, got {sorted(sides)}")
    x = np.concatenate([real_benign, fake_malignant])
    y = np.concatenate([np.zeros(len(real_benign)), np.ones(len(fake_malignant))]).astype(np.int64)
    fit = fit_classifier(cfg, x, y, x_val, y_val, seed, device=device, init=init)
    return binary_metrics(y_test, predict_proba(fit.model, x_test, device=device))
