"""Every kind of dataset raygan reads, as one `Dataset`: the Kaggle layout, a class-folder layout
and a dataset card (a TOML file that describes a folder of images plus a label CSV).

A dataset with no test split of its own gets one carved (stratified, by whole groups where the
card names a group column, seeded). Every source goes through the same checks and decoding as the
Kaggle layout (`raygan/data/dataset.py`), and through its cache.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from raygan.config import GEOMETRIES
from raygan.data.dataset import (
    CLASSES,
    IMAGE_SUFFIXES,
    SPLITS,
    Dataset,
    Split,
    _check_file_name,
    _list_files,
    decode_listing,
    fingerprint,
    load_dataset,
    resolve_root,
)
from raygan.data.splits import carve_test
from raygan.errors import RayganError

CARD_KEYS = {  # key: (required, type, meaning)
    "images": (True, str, "the folder of images, relative to the card's folder or absolute"),
    "labels": (True, str, "the label CSV, relative to the card's folder or absolute"),
    "id": (True, str, "the CSV column holding each image's file name or stem"),
    "label": (True, str, "the CSV column holding each image's label"),
    "positive": (True, list, "the label values of the scarce class, e.g. [\"mel\"]"),
    "negative": (False, list, "the label values of the other class; default: every other value"),
    "split": (False, str, "a CSV column: train or test per image; default: carve a test split"),
    "group": (False, str, "a CSV column: patient or lesion id; splits keep each group whole"),
    "geometry": (False, str, "how non-square images become square: crop (keep the centre, the "
                             "aspect ratio kept), squash or pad; default: the sweep's --geometry"),
}
CARD_CLASSES = ("negative", "positive")  # label 0, label 1 of a card's dataset
SPLIT_VALUES = {"train": "train", "training": "train", "val": "train", "valid": "train",
                "validation": "train", "test": "test", "testing": "test"}  # raygan carves val
DEFAULT_TEST_FRACTION = 0.2  # share of each class carved off as test where a dataset has none


def load_source(spec: str | os.PathLike | None, resolution: int,
                classes: tuple[str, str] | None = None,
                test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
                geometry: str = "crop") -> Dataset:
    """The dataset `spec` names (a folder in the Kaggle or class-folder layout, or a `.toml`
    card; empty = $RAYGAN_DATA, else ./data/skin-cancer-mvb) at `resolution` px. `classes`
    names a class-folder layout's (negative, positive) folders; `test_fraction` and `seed`
    carve the test split of a dataset that has none; `geometry` makes non-square images square
    (a card's own `geometry` key holds over it)."""
    if classes is not None:
        classes = tuple(classes)
        if len(classes) != 2 or classes[0] == classes[1] or not all(classes):
            raise RayganError(f"--classes {','.join(classes)}: name two different classes, "
                              "NEGATIVE,POSITIVE (the second is the scarce one)")
    if spec and Path(spec).expanduser().suffix.lower() == ".toml":
        return load_card(spec, resolution, test_fraction, seed, geometry)
    if spec and Path(spec).expanduser().is_file():
        raise RayganError(f"dataset {spec} is a file; pass a folder (the Kaggle or class-folder "
                          "layout) or a dataset card ending in .toml")
    root = resolve_root(spec)
    classes = classes or CLASSES
    if (root / "train").exists() or (root / "test").exists():
        if classes == CLASSES:
            return load_dataset(root, resolution, geometry)  # the Kaggle layout
        layout = f"ROOT/{{train,test}}/{{{classes[0]},{classes[1]}}}/*"
        listing = _list_files(root, classes, SPLITS, layout)
        train, test = decode_listing(root, listing, resolution, classes,
                                     extra=f"classes={','.join(classes)}", geometry=geometry)
        return Dataset(str(root), resolution, train, test, fingerprint(listing, geometry),
                       classes, geometry)
    flat = _list_files(root, classes, (), f"ROOT/{{{classes[0]},{classes[1]}}}/* (or under "
                                           "train/ and test/)")
    files = [p for cls in classes for p in flat[cls]]
    y = np.asarray([i for i, cls in enumerate(classes) for _ in flat[cls]])
    in_test = carve_test(y, test_fraction, seed)
    listing = {f"{split}/{cls}": [p for p, t, lab in zip(files, in_test, y, strict=True)
                                  if lab == i and t == (split == "test")]
               for split in SPLITS for i, cls in enumerate(classes)}
    extra = f"classes={','.join(classes)}|test_fraction={test_fraction}|seed={seed}"
    train, test = decode_listing(root, listing, resolution, classes, extra=extra,
                                 geometry=geometry)
    return Dataset(str(root), resolution, train, test, fingerprint(listing, geometry), classes,
                   geometry)


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The card's keys, checked, with `images` and `labels` resolved to absolute paths."""
    path = Path(path).expanduser()
    fix = f"see the README, 'Bring your own dataset' (keys: {', '.join(CARD_KEYS)})"
    try:
        card = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RayganError(f"dataset card {path} does not exist; pass the path of a .toml "
                          "card") from None
    except OSError as exc:
        raise RayganError(f"cannot read dataset card {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RayganError(f"dataset card {path} is not valid TOML ({exc}); {fix}") from None
    unknown = sorted(set(card) - set(CARD_KEYS))
    if unknown:
        raise RayganError(f"dataset card {path}: unknown key {unknown[0]!r}; {fix}")
    for key, (required, kind, meaning) in CARD_KEYS.items():
        if key not in card:
            if required:
                raise RayganError(f"dataset card {path} lacks the key {key!r} ({meaning}); {fix}")
            continue
        value = card[key]
        if not isinstance(value, kind) or (kind is str and not value.strip()):
            raise RayganError(f"dataset card {path}: {key} = {value!r} must be "
                              f"{'a list' if kind is list else 'a non-empty string'} ({meaning})")
        if key == "geometry" and value not in GEOMETRIES:
            raise RayganError(f"dataset card {path}: geometry = {value!r} must be one of "
                              f"{', '.join(GEOMETRIES)} ({meaning})")
        if kind is list:
            if not value or not all(isinstance(v, (str, int, float)) for v in value):
                raise RayganError(f"dataset card {path}: {key} = {value!r} must be a non-empty "
                                  f"list of label values ({meaning})")
    for key in ("images", "labels"):
        p = Path(card[key]).expanduser()
        card[key] = (p if p.is_absolute() else path.resolve().parent / p).resolve()
    if not card["images"].is_dir():
        raise RayganError(f"dataset card {path}: images folder {card['images']} does not exist "
                          "(relative paths resolve against the card's folder)")
    if not card["labels"].is_file():
        raise RayganError(f"dataset card {path}: label CSV {card['labels']} does not exist "
                          "(relative paths resolve against the card's folder)")
    return card


def _value(v: Any) -> str | float:
    """A label value as compared: a number where it reads as one ('1', '1.0', 1), else text."""
    text = str(v).strip()
    try:
        return float(text)
    except ValueError:
        return text


def _read_rows(csv_path: Path, columns: list[str], card_path: Path) -> list[dict[str, str]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RayganError(f"cannot read label CSV {csv_path}: {exc}; save it as UTF-8 CSV with a "
                          "header row") from None
    if not header:
        raise RayganError(f"label CSV {csv_path} is empty; it needs a header row and one row per "
                          "image")
    for col in columns:
        if col not in header:
            raise RayganError(f"dataset card {card_path}: column {col!r} is not in {csv_path}; "
                              f"its columns are: {', '.join(header)}")
    if not rows:
        raise RayganError(f"label CSV {csv_path} has a header but no rows")
    return rows


def _index_images(folder: Path) -> dict[str, list[Path]]:
    """Every image under `folder` by its relative path, its file name and its stem."""
    index: dict[str, list[Path]] = {}
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith("."):
            rel = p.relative_to(folder).as_posix()
            for key in {rel, p.name, p.stem, rel.rsplit(".", 1)[0]}:
                index.setdefault(key, []).append(p)
    return index


def load_card(path: str | os.PathLike, resolution: int,
              test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
              geometry: str = "crop") -> Dataset:
    """The dataset a card describes: its positive label values are label 1, the rest label 0
    (or those of `negative`); a test split comes from its `split` column, or is carved; its
    images made square by its `geometry` key, else by `geometry`."""
    card_path = Path(path).expanduser().resolve()
    card = read_card(card_path)
    geometry = card.get("geometry", geometry)
    csv_path, images = card["labels"], card["images"]
    cols = [card[k] for k in ("id", "label", "split", "group") if k in card]
    rows = _read_rows(csv_path, cols, card_path)
    positive = {_value(v) for v in card["positive"]}
    negative = {_value(v) for v in card["negative"]} if "negative" in card else None
    seen = sorted({r[card["label"]].strip() for r in rows})
    shown = ", ".join(map(repr, seen[:20])) + (" ..." if len(seen) > 20 else "")
    labels = [_value(r[card["label"]]) for r in rows]
    if not any(v in positive for v in labels):
        raise RayganError(f"dataset card {card_path}: no row of {csv_path} has a positive label "
                          f"{sorted(map(str, card['positive']))} in column {card['label']!r}; "
                          f"the values there are: {shown}")
    keep = [i for i, v in enumerate(labels) if v in positive or negative is None or v in negative]
    if not any(labels[i] not in positive for i in keep):
        raise RayganError(f"dataset card {card_path}: every kept row of {csv_path} is positive, "
                          f"so the negative class is empty; the values in column "
                          f"{card['label']!r} are: {shown}")
    if len(keep) < len(rows):
        warnings.warn(f"{len(rows) - len(keep)} rows of {csv_path} have a label in neither "
                      "`positive` nor `negative` and are left out", stacklevel=2)
    index = _index_images(images)
    files, missing, ambiguous, used = [], [], [], {}
    for i in keep:
        key = rows[i][card["id"]].strip()
        found = index.get(key, [])
        if not found:
            missing.append(key or f"(empty, row {i + 2})")
        elif len(found) > 1:
            ambiguous.append(key)
        else:
            if found[0] in used:
                raise RayganError(f"label CSV {csv_path}: rows {used[found[0]] + 2} and {i + 2} "
                                  f"both name image {key!r}; keep one row per image")
            used[found[0]] = i
            files.append(found[0])
    if missing:
        raise RayganError(f"dataset card {card_path}: {len(missing)} of {len(keep)} ids in column "
                          f"{card['id']!r} match no image in {images} (e.g. {missing[0]!r}); give "
                          "file names or stems relative to the images folder, or drop those rows")
    if ambiguous:
        raise RayganError(f"dataset card {card_path}: {len(ambiguous)} ids match more than one "
                          f"image in {images} (e.g. {ambiguous[0]!r}); give file names with "
                          "their suffix")
    for p in files:
        _check_file_name(p)
    y = np.asarray([int(labels[i] in positive) for i in keep])
    groups = None
    if "group" in card:  # an image without a group id is a group of its own
        groups = np.asarray([rows[i][card["group"]].strip() or f"~{p.name}"
                             for i, p in zip(keep, files, strict=True)])
    if "split" in card:
        values = [rows[i][card["split"]].strip().lower() for i in keep]
        odd = sorted(set(values) - set(SPLIT_VALUES))
        if odd:
            raise RayganError(f"dataset card {card_path}: column {card['split']!r} holds "
                              f"{odd[0]!r}; use train or test (val/validation count as train: "
                              "raygan carves its own validation split)")
        in_test = np.asarray([SPLIT_VALUES[v] == "test" for v in values])
        if not in_test.any():
            in_test = carve_test(y, test_fraction, seed, groups)
    else:
        in_test = carve_test(y, test_fraction, seed, groups)
    if groups is not None:
        both = set(groups[in_test]) & set(groups[~in_test])
        if both:
            raise RayganError(f"dataset card {card_path}: group {sorted(both)[0]!r} (column "
                              f"{card['group']!r}) has images in both train and test; fix the "
                              f"{card['split']!r} column")
    for split, mask in (("train", ~in_test), ("test", in_test)):
        for label, name in enumerate(CARD_CLASSES):
            if not (mask & (y == label)).any():
                raise RayganError(f"dataset card {card_path}: the {split} split holds no "
                                  f"{name} image; fix column {card.get('split')!r} or add rows")
    listing = {f"{split}/{name}": sorted(p for p, lab, t in zip(files, y, in_test, strict=True)
                                         if lab == label and t == (split == "test"))
               for split in SPLITS for label, name in enumerate(CARD_CLASSES)}
    group_of = dict(zip(files, groups, strict=True)) if groups is not None else None
    h = hashlib.sha256(card_path.read_bytes() + csv_path.read_bytes())
    extra = f"card={h.hexdigest()[:16]}|test_fraction={test_fraction}|seed={seed}"
    train, test = decode_listing(images, listing, resolution, CARD_CLASSES, group_of, extra,
                                 geometry)
    fp = {**fingerprint(listing, geometry), **fingerprint({"card": [card_path, csv_path]})}
    return Dataset(str(card_path), resolution, train, test, fp, CARD_CLASSES, geometry)


def geometry_of(spec: str | os.PathLike | None, geometry: str) -> str:
    """The geometry the dataset `spec` loads with: its card's `geometry` key, else `geometry`."""
    if spec and Path(spec).expanduser().suffix.lower() == ".toml":
        return read_card(spec).get("geometry", geometry)
    return geometry


def external_set(spec: str | os.PathLike, resolution: int,
                 classes: tuple[str, str] | None = None, geometry: str = "crop") -> Split:
    """Every image of the dataset `spec` as one test set (an external collection is tested
    whole, whatever splits it ships), non-square images made square by `geometry` (its card's
    own key holds over it)."""
    ds = load_source(spec, resolution, classes, geometry=geometry)
    groups = (None if ds.train.groups is None
              else np.concatenate([ds.train.groups, ds.test.groups]))
    return Split(np.concatenate([ds.train.x, ds.test.x]), np.concatenate([ds.train.y, ds.test.y]),
                 [*ds.train.files, *ds.test.files], groups)
