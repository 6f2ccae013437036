"""Every kind of dataset raygan reads, as one `Dataset`: the Kaggle layout, a class-folder layout
and a dataset card (a TOML file that describes a folder of images plus a label CSV).

A dataset with no test split of its own gets one carved (stratified, by whole groups where the
card names a group column, seeded). Every source goes through the same checks and decoding as the
Kaggle layout (`raygan/data/dataset.py`), and through its cache.
"""

from __future__ import annotations

import csv
import hashlib
import io
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
    content_ids,
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
                geometry: str = "crop", whole: bool = False) -> Dataset:
    """The dataset `spec` names (a folder in the Kaggle or class-folder layout, or a `.toml`
    card; empty = $RAYGAN_DATA, else ./data/skin-cancer-mvb) at `resolution` px. `classes`
    names a class-folder layout's (negative, positive) folders; `test_fraction` and `seed`
    carve the test split of a dataset that has none; `geometry` makes non-square images square
    (a card's own `geometry` key holds over it); with `whole`, nothing is carved and a dataset
    without splits of its own loads as one test split (an external set)."""
    if classes is not None:
        classes = tuple(classes)
        if len(classes) != 2 or classes[0] == classes[1] or not all(classes):
            raise RayganError(f"--classes {','.join(classes)}: name two different classes, "
                              "NEGATIVE,POSITIVE (the second is the scarce one)")
    if spec and Path(spec).expanduser().suffix.lower() == ".toml":
        return load_card(spec, resolution, test_fraction, seed, geometry, whole)
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
    in_test = np.ones(len(y), bool) if whole else carve_test(y, test_fraction, seed)
    listing = {f"{split}/{cls}": [p for p, t, lab in zip(files, in_test, y, strict=True)
                                  if lab == i and t == (split == "test")]
               for split in SPLITS for i, cls in enumerate(classes)}
    extra = f"classes={','.join(classes)}|" + (
        "whole" if whole else f"test_fraction={test_fraction}|seed={seed}")
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
    for key, want, ok in (("images", "the folder of images", Path.is_dir),
                          ("labels", "the label CSV file", Path.is_file)):
        where = card[key]
        if ok(where):
            continue
        what = ("a folder" if where.is_dir() else "a file" if where.exists()
                else "a broken link" if where.is_symlink() else None)
        if what is None:
            raise RayganError(f"dataset card {path}: {key} = {where} does not exist; it must "
                              f"name {want} (relative paths resolve against the card's folder)")
        raise RayganError(f"dataset card {path}: {key} = {where} is {what}, but {key} must "
                          f"name {want}")
    return card


def _value(v: Any) -> str | float:
    """A label value as compared: a number where it reads as one ('1', '1.0', 1), else text."""
    text = str(v).strip()
    try:
        return float(text)
    except ValueError:
        return text


def _read_rows(csv_path: Path, columns: list[str], card_path: Path
               ) -> list[tuple[int, dict[str, str]]]:
    """The CSV's rows as (line number, {column: value, stripped}) for `columns`; a file that is
    not UTF-8, or a row that lacks a field or holds too many, is an error naming its line."""
    try:
        raw = csv_path.read_bytes()
    except OSError as exc:
        raise RayganError(f"cannot read label CSV {csv_path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise RayganError(f"label CSV {csv_path} line {line}: byte 0x{raw[exc.start]:02x} is not "
                          "UTF-8 text; save the file as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, line = [], 1
    try:
        for fields in reader:
            if any(f.strip() for f in fields):  # blank lines are skipped, as csv.DictReader does
                records.append((line, [f.strip() for f in fields], reader.line_num))
            line = reader.line_num + 1
    except csv.Error as exc:
        problem = ("a quote opened there is never closed" if "end of data" in str(exc)
                   else str(exc))
        raise RayganError(f"label CSV {csv_path} line {line}: {problem}; save it as CSV with "
                          "one row per line") from None
    if not records:
        raise RayganError(f"label CSV {csv_path} is empty; it needs a header row and one row per "
                          "image")
    header = records[0][1]
    for col in columns:
        if col not in header:
            raise RayganError(f"dataset card {card_path}: column {col!r} is not in {csv_path}; "
                              f"its columns are: {', '.join(header)}")
        if header.count(col) > 1:
            raise RayganError(f"label CSV {csv_path} line {records[0][0]}: the header names "
                              f"column {col!r} twice; rename one")
    index = {col: header.index(col) for col in columns}
    rows = []
    for line, fields, last in records[1:]:
        lacking = [col for col in columns if index[col] >= len(fields)]
        if lacking:
            raise RayganError(f"label CSV {csv_path} line {line}: {len(fields)} of the header's "
                              f"{len(header)} fields, so no value for column {lacking[0]!r}; "
                              "complete the row or delete it")
        if any(fields[len(header):]):
            raise RayganError(f"label CSV {csv_path} line {line}: {len(fields)} fields, the "
                              f"header has {len(header)}; quote values that hold a comma")
        if last > line and any("\n" in fields[i] or "\r" in fields[i] for i in index.values()):
            raise RayganError(f"label CSV {csv_path} line {line}: a quoted value runs on to line "
                              f"{last}; close its quote")
        odd = [col for col, i in index.items() if any(ord(c) < 32 for c in fields[i])]
        if odd:
            char = next(c for c in fields[index[odd[0]]] if ord(c) < 32)
            raise RayganError(f"label CSV {csv_path} line {line}: the value in column {odd[0]!r} "
                              f"holds the control character {char!r}; save the file as plain "
                              "UTF-8 CSV text")
        rows.append((line, {col: fields[i] for col, i in index.items()}))
    if not rows:
        raise RayganError(f"label CSV {csv_path} has a header but no rows")
    return rows


def _check_label(text: str, line: int, csv_path: Path, card: dict[str, Any]) -> str | float:
    """A row's label value, as compared; empty, NaN, a value that matches one of the card's
    only in case, or text where the positive values are numbers (and `negative` is not given,
    so it would silently count as negative) is an error naming the line."""
    col = card["label"]
    value = _value(text)
    if text == "" or value != value:  # empty, or NaN as pandas writes a missing value
        raise RayganError(f"label CSV {csv_path} line {line}: the label in column {col!r} is "
                          f"{'empty' if text == '' else repr(text)}; give the row a label or "
                          "delete it")
    named = {_value(v): side for side in ("negative", "positive") for v in card.get(side, [])}
    if value in named:
        return value
    for v, side in named.items():
        if isinstance(v, str) and v.casefold() == text.casefold():
            raise RayganError(f"label CSV {csv_path} line {line}: label {text!r} in column "
                              f"{col!r} matches the {side} value {v!r} only in case; labels "
                              f"compare exactly, so write {v!r}")
    numeric = all(isinstance(_value(v), float) for v in card["positive"])
    if "negative" not in card and numeric and isinstance(value, str):
        raise RayganError(f"label CSV {csv_path} line {line}: label {text!r} in column {col!r} "
                          f"is not a number, but the positive values are "
                          f"({', '.join(map(str, card['positive']))}) and every other value "
                          "would count as negative; fix the row, or list the other class's "
                          "values as `negative`")
    return value


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
              geometry: str = "crop", whole: bool = False) -> Dataset:
    """The dataset a card describes: its positive label values are label 1, the rest label 0
    (or those of `negative`); a test split comes from its `split` column, or is carved; its
    images made square by its `geometry` key, else by `geometry`. With `whole`, every image
    goes to the test split (an external set is tested whole)."""
    card_path = Path(path).expanduser().resolve()
    card = read_card(card_path)
    geometry = card.get("geometry", geometry)
    csv_path, images = card["labels"], card["images"]
    cols = list(dict.fromkeys(card[k] for k in ("id", "label", "split", "group") if k in card))
    rows = _read_rows(csv_path, cols, card_path)
    first: dict[str, int] = {}
    for line, r in rows:
        key = r[card["id"]]
        if not key:
            raise RayganError(f"label CSV {csv_path} line {line}: the id in column "
                              f"{card['id']!r} is empty; give the image's file name or stem, or "
                              "delete the row")
        if key in first:
            raise RayganError(f"label CSV {csv_path} lines {first[key]} and {line} both give id "
                              f"{key!r}; keep one row per image")
        first[key] = line
    labels = [_check_label(r[card["label"]], line, csv_path, card) for line, r in rows]
    positive = {_value(v) for v in card["positive"]}
    negative = {_value(v) for v in card["negative"]} if "negative" in card else None
    seen = sorted({r[card["label"]] for _, r in rows})
    shown = ", ".join(map(repr, seen[:20])) + (" ..." if len(seen) > 20 else "")
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
        left = sorted({rows[i][1][card["label"]] for i in set(range(len(rows))) - set(keep)})
        warnings.warn(f"{len(rows) - len(keep)} rows of {csv_path} have a label in neither "
                      f"`positive` nor `negative` ({', '.join(map(repr, left[:10]))}) and are "
                      "left out", stacklevel=2)
    index = _index_images(images)
    files, missing, ambiguous, used = [], [], [], {}
    for i in keep:
        line, r = rows[i]
        found = index.get(r[card["id"]], [])
        if not found:
            missing.append((line, r[card["id"]]))
        elif len(found) > 1:
            ambiguous.append((line, found))
        else:
            if found[0] in used:
                raise RayganError(f"label CSV {csv_path} lines {used[found[0]]} and {line} both "
                                  f"name image {found[0].relative_to(images).as_posix()}; keep "
                                  "one row per image")
            used[found[0]] = line
            files.append(found[0])
    if missing:
        more = (f" (and {len(missing) - 1} more of the {len(keep)} rows)" if len(missing) > 1
                else "")
        line, key = missing[0]
        raise RayganError(f"label CSV {csv_path} line {line}: id {key!r} in column {card['id']!r} "
                          f"matches no image in {images}{more}; give file names or stems "
                          "relative to the images folder, or delete those rows")
    if ambiguous:
        line, found = ambiguous[0]
        more = f" (and {len(ambiguous) - 1} more rows)" if len(ambiguous) > 1 else ""
        raise RayganError(f"label CSV {csv_path} line {line}: its id matches "
                          f"{len(found)} images in {images} "
                          f"({', '.join(f.relative_to(images).as_posix() for f in found)}){more}; "
                          "give file names with their suffix")
    for p in files:
        _check_file_name(p)
    y = np.asarray([int(labels[i] in positive) for i in keep])
    groups = None
    if "group" in card:  # an image without a group id is a group of its own
        groups = np.asarray([rows[i][1][card["group"]] or f"~{p.name}"
                             for i, p in zip(keep, files, strict=True)])
    in_test = np.ones(len(y), bool)
    if "split" in card:
        values = [rows[i][1][card["split"]].lower() for i in keep]
        odd = sorted(set(values) - set(SPLIT_VALUES))
        if odd:
            raise RayganError(f"dataset card {card_path}: column {card['split']!r} holds "
                              f"{odd[0]!r}; use train or test (val/validation count as train: "
                              "raygan carves its own validation split)")
        if not whole:
            in_test = np.asarray([SPLIT_VALUES[v] == "test" for v in values])
    if not whole and not ("split" in card and in_test.any()):
        in_test = carve_test(y, test_fraction, seed, groups)
    if groups is not None and not whole:
        both = set(groups[in_test]) & set(groups[~in_test])
        if both:
            raise RayganError(f"dataset card {card_path}: group {str(sorted(both)[0])!r} (column "
                              f"{card['group']!r}) has images in both train and test; fix the "
                              f"{card['split']!r} column")
    for split, mask in (() if whole else (("train", ~in_test), ("test", in_test))):
        for label, name in enumerate(CARD_CLASSES):
            if not (mask & (y == label)).any():
                raise RayganError(f"dataset card {card_path}: the {split} split holds no "
                                  f"{name} image; fix column {card.get('split')!r} or add rows")
    listing = {f"{split}/{name}": sorted(p for p, lab, t in zip(files, y, in_test, strict=True)
                                         if lab == label and t == (split == "test"))
               for split in SPLITS for label, name in enumerate(CARD_CLASSES)}
    group_of = dict(zip(files, groups, strict=True)) if groups is not None else None
    h = hashlib.sha256(card_path.read_bytes() + csv_path.read_bytes())
    extra = (f"card={h.hexdigest()[:16]}|" +
             ("whole" if whole else f"test_fraction={test_fraction}|seed={seed}"))
    train, test = decode_listing(images, listing, resolution, CARD_CLASSES, group_of, extra,
                                 geometry)
    fp = {**fingerprint(listing, geometry), **fingerprint({"card": [card_path, csv_path]})}
    return Dataset(str(card_path), resolution, train, test, fp, CARD_CLASSES, geometry)


def geometry_of(spec: str | os.PathLike | None, geometry: str) -> str:
    """The geometry the dataset `spec` loads with: its card's `geometry` key, else `geometry`."""
    if spec and Path(spec).expanduser().suffix.lower() == ".toml":
        return read_card(spec).get("geometry", geometry)
    return geometry


def image_folder(spec: str | os.PathLike) -> Path:
    """The folder a dataset's `Split.files` are relative to: a card's images, else the root."""
    path = Path(spec).expanduser()
    return read_card(path)["images"] if path.suffix.lower() == ".toml" else resolve_root(path)


def external_set(spec: str | os.PathLike, resolution: int,
                 classes: tuple[str, str] | None = None, geometry: str = "crop") -> Split:
    """Every image of the dataset `spec` as one test set (an external collection is tested
    whole, whatever splits it ships, and nothing is carved from it), non-square images made
    square by `geometry` (its card's own key holds over it), with each image's content id
    (`Split.ids`), by which a sweep's stored scores are matched to it."""
    ds = load_source(spec, resolution, classes, geometry=geometry, whole=True)
    groups = (None if ds.train.groups is None
              else np.concatenate([ds.train.groups, ds.test.groups]))
    files = [*ds.train.files, *ds.test.files]
    folder = image_folder(spec)
    try:
        ids = content_ids([folder / f for f in files])
    except OSError as exc:
        raise RayganError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return Split(np.concatenate([ds.train.x, ds.test.x]), np.concatenate([ds.train.y, ds.test.y]),
                 files, groups, ids)
