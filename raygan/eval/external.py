"""External test sets: loaded whole, audited against the sweep's training images, checked before
any training (a set that is the sweep's own data, or that the audit leaves with too few images
of a class, is refused), and fingerprinted, so that a report matches the sweep's stored scores
to the images by content id and refuses a set that changed. A finished sweep's classifiers are
tested on a new set without retraining: each classifier trial stores its weights
(`classifier.pt`), which load with `torch.load(..., weights_only=True)`. A shortcut probe's
state names its probe, whose view applies to the new images as it did to its own
(raygan/data/probes.py); the colour probe's state holds its logistic regression."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from raygan.classifiers import load_classifier, predict_proba
from raygan.classifiers.colour import ColourModel, load_colour
from raygan.data.dataset import EXTERNAL_KEY, Split
from raygan.data.probes import is_linear, probe_view
from raygan.errors import RayganError
from raygan.metrics import binary_metrics, metrics_at

MIN_PER_CLASS = 2  # images of each class an external set needs: DeLong's variance takes two
LABELS = ("benign", "malignant")  # label 0, label 1, as messages name them


@dataclass(frozen=True)
class ExternalSet:
    """One external set at the sweep's resolution: every image, and those the audit leaves."""

    name: str
    spec: str  # the dataset as given (a folder or a .toml card)
    whole: Split  # every image of the collection, with content ids
    tested: Split  # less the duplicates of training images, unless they are kept
    duplicates: int  # images that duplicate a training or validation image
    duplicates_malignant: int  # ... of which malignant
    kept: bool  # the duplicates stay in `tested`

    def describe(self) -> str:
        """The progress line of the set: its size, its source and what the audit did."""
        return (f"external test {self.name}: {len(self.tested)} images from {self.spec}; "
                f"{self.duplicates} duplicate a training image ({self.duplicates_malignant} "
                f"malignant) and are {'kept' if self.kept else 'dropped'}")


def load_external(name: str, spec: str, resolution: int, train: Split, keep: bool,
                  moved: str, geometry: str = "crop") -> ExternalSet:
    """External set `name` (dataset `spec`) at `resolution`, its non-square images made square
    by `geometry` (a card's own key holds over it), audited against the `train` split; a `spec`
    that does not exist is an error whose fix is `moved` (where it came from)."""
    from raygan.data.sources import external_set
    from raygan.eval.leakage import without_external_duplicates

    if not Path(spec).expanduser().exists():
        raise RayganError(f"external test set {name}: {spec} does not exist; {moved}")
    whole = external_set(spec, resolution, geometry=geometry)
    tested, pairs, duplicates = without_external_duplicates(train, whole, keep)
    malignant = int(whole.y[sorted({p["external_index"] for p in pairs})].sum())
    return ExternalSet(name, str(spec), whole, tested, duplicates, malignant, keep)


def _digests(x: np.ndarray) -> list[bytes]:
    return [hashlib.sha256(np.ascontiguousarray(img).tobytes()).digest() for img in x]


def check_testable(ext: ExternalSet, dataset) -> None:
    """An external set must come from elsewhere than the sweep's own data (same decoded
    images), and keep at least MIN_PER_CLASS images of each class after the duplicate audit."""
    train, test = set(_digests(dataset.train.x)), set(_digests(dataset.test.x))
    whole, tested = _digests(ext.whole.x), _digests(ext.tested.x)
    what = None
    if whole and all(d in train for d in whole):
        what = "training split"
    elif tested and all(d in test or d in train for d in tested):  # what the audit leaves
        what = ("data (its training and test splits)" if any(d in train for d in whole)
                else "test split")
    if what:
        raise RayganError(f"{ext.name}={ext.spec} is the sweep's own {what} (the same "
                          "images); an external test set must come from another collection, "
                          f"so drop --external-test {ext.name} or name another")
    n_mal = int(ext.tested.y.sum())
    n_ben = len(ext.tested) - n_mal
    if min(n_ben, n_mal) < MIN_PER_CLASS:
        audit = (f" ({ext.duplicates} of its {len(ext.whole)} images, {ext.duplicates_malignant} "
                 f"malignant, duplicate a training image and were dropped)"
                 if ext.duplicates and not ext.kept else "")
        raise RayganError(f"external test set {ext.name}={ext.spec} leaves {n_ben} benign and "
                          f"{n_mal} malignant images after the duplicate audit{audit}; its AUC "
                          f"needs at least {MIN_PER_CLASS} of each class: add images of the "
                          f"missing class, or drop --external-test {ext.name}")


def _pairs(text: str) -> list[tuple[str, int]]:
    return [(i, int(label)) for i, label in (p.rsplit(":", 1) for p in text.split())]


def fingerprint_entry(ext: ExternalSet) -> dict[str, Any]:
    """What a sweep keeps of an external set (under `EXTERNAL_KEY + name` in its data
    fingerprint): its size, and each image's content id and label, those it scored in the order
    of their scores, and those the audit dropped. Digests and labels only, no file name."""
    scored = " ".join(f"{i}:{int(y)}" for i, y in zip(ext.tested.ids, ext.tested.y, strict=True))
    kept = set(ext.tested.ids)
    dropped = " ".join(f"{i}:{int(y)}" for i, y in zip(ext.whole.ids, ext.whole.y, strict=True)
                       if i not in kept)
    table = sorted(f"{i}:{int(y)}" for i, y in zip(ext.whole.ids, ext.whole.y, strict=True))
    return {"files": len(ext.whole), "malignant": int(ext.whole.y.sum()),
            "digest": hashlib.sha256(" ".join(table).encode()).hexdigest()[:16],
            "scored": scored, "dropped": dropped}


def external_changes(entry: dict[str, Any], ext: ExternalSet) -> list[str]:
    """How the set differs from the one the sweep fingerprinted, e.g. '2 images changed label
    (ISIC_0012.jpg benign -> malignant, ...)', '1 removed'; empty when it is the same set."""
    old = dict(_pairs(entry.get("scored", "")) + _pairs(entry.get("dropped", "")))
    new = dict(zip(ext.whole.ids, (int(v) for v in ext.whole.y), strict=True))
    file_of = dict(zip(ext.whole.ids, ext.whole.files, strict=True))
    relabeled = [i for i in new if i in old and old[i] != new[i]]
    removed = [i for i in old if i not in new]
    added = [i for i in new if i not in old]
    changes = []
    if relabeled:
        i = relabeled[0]
        more = ", ..." if len(relabeled) > 1 else ""
        changes.append(f"{len(relabeled)} image{'s' if len(relabeled) > 1 else ''} changed "
                       f"label ({file_of[i]} {LABELS[old[i]]} -> {LABELS[new[i]]}{more})")
    if removed:
        changes.append(f"{len(removed)} removed")
    if added:
        changes.append(f"{len(added)} added (e.g. {file_of[added[0]]})")
    return changes


def check_unchanged(ext: ExternalSet, entry: dict[str, Any], sweep: str, fix: str) -> None:
    """The set must be the one sweep `sweep` scored (its fingerprint `entry`); else an error
    naming what changed, with `fix`."""
    changes = external_changes(entry, ext)
    if changes:
        raise RayganError(f"{ext.name}: {', '.join(changes)} since sweep {sweep!r} scored "
                          f"{ext.spec}; its stored scores belong to the set as it was: {fix}")


def score_order(entry: dict[str, Any], ext: ExternalSet) -> np.ndarray:
    """For each image of `ext.tested`, the position of its score among the sweep's stored
    scores (which follow the fingerprint's `scored` order): scores are matched by content id,
    never by position."""
    position = {i: k for k, (i, _) in enumerate(_pairs(entry.get("scored", "")))}
    if set(ext.tested.ids) != set(position):
        raise RayganError(f"the duplicate audit of external set {ext.name!r} keeps other images "
                          f"({len(ext.tested)}) than the sweep scored ({len(position)}): the "
                          "training data changed since the sweep ran; pass the sweep's data "
                          "with --data")
    return np.asarray([position[i] for i in ext.tested.ids], dtype=np.int64)


def sweep_external_sets(cfg, dataset, log: Callable[[str], None],
                        saved: dict[str, dict[str, Any]] | None = None
                        ) -> tuple[dict[str, ExternalSet], dict[str, dict[str, Any]]]:
    """Every external set of the sweep `cfg`, loaded, audited and checked before any training
    (`check_testable`), with the entries its data fingerprint keeps of them. `saved` is the
    saved data fingerprint of a sweep being resumed (None: a new sweep): each of its external
    sets must be the one it started on."""
    sets, entries = {}, {}
    for name, spec in cfg.external.items():
        moved = (f"put it back there: sweep {cfg.sweep_name!r} scored it there"
                 if saved is not None else f"pass an existing folder or .toml card as "
                                           f"--external-test {name}=DATASET")
        ext = load_external(name, spec, cfg.resolution, dataset.train,
                            cfg.keep_external_duplicates, moved, cfg.geometry)
        if saved is not None:
            entry = saved.get(EXTERNAL_KEY + name)
            if entry:
                check_unchanged(ext, entry, cfg.sweep_name, f"restore it at {spec} to resume")
            else:
                log(f"note: sweep {cfg.sweep_name!r} keeps no fingerprint of external set "
                    f"{name} (an older raygan); that it is the same set cannot be checked")
        check_testable(ext, dataset)
        log(ext.describe())
        sets[name], entries[EXTERNAL_KEY + name] = ext, fingerprint_entry(ext)
    return sets, entries


def trial_classifier(uri: str, run_id: str) -> tuple[nn.Module | ColourModel, dict]:
    """The classifier a finished trial trained (eval mode; the colour probe's logistic
    regression), and its saved state (resolution, validation threshold, probe), from the run's
    `classifier.pt` artifact."""
    from raygan import tracking

    with tempfile.TemporaryDirectory() as tmp:
        path = tracking.classifier_file(uri, run_id, tmp)
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if is_linear(str(state.get("probe", ""))):
        return load_colour(state), state
    return load_classifier(state), state


def saved_predict(model: nn.Module | ColourModel, state: dict, x: np.ndarray) -> np.ndarray:
    """P(malignant) of a saved classifier on uint8 NCHW `x`, seen through its probe's view."""
    x = probe_view(str(state.get("probe", "")), x)
    if isinstance(model, ColourModel):
        return model.predict_proba(x)
    return predict_proba(model, x)


def evaluate_trial(uri: str, run_id: str, test: Split) -> tuple[dict[str, float], np.ndarray]:
    """(metrics at 0.5 and at the trial's validation Youden threshold, P(malignant) per image)
    of a finished classifier trial on the images of `test`."""
    model, state = trial_classifier(uri, run_id)
    if test.x.shape[-1] != state["resolution"]:
        raise RayganError(f"the test set is at {test.x.shape[-1]} px, the classifier was trained "
                          f"at {state['resolution']} px; load the test set at that resolution")
    p = saved_predict(model, state, test.x)
    return {**binary_metrics(test.y, p), **metrics_at(test.y, p, state["threshold"])}, p
