"""Read the Kaggle layout `ROOT/{train,test}/{benign,malignant}/*.jpg` into uint8 NCHW arrays.

Decoded arrays are cached on disk, keyed by every file's relative path, size and modification
time plus the resolution and the geometry, so a second load skips JPEG decoding entirely. The
geometry says how an image that is not square becomes the square working resolution: `crop`
(resize the short side to the resolution, keep the centre: torchvision's Resize + CenterCrop, the
aspect ratio kept), `squash` (resize both sides: the aspect ratio changes) or `pad` (resize the
long side, pad the short one with black, centred). The same listing gives
the data's fingerprint, which a sweep keeps so that a resume or a report can tell other data.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from raygan.config import GEOMETRIES
from raygan.errors import RayganError

CLASSES = ("benign", "malignant")  # label 0, label 1
SPLITS = ("train", "test")
DEFAULT_ROOT = "data/skin-cancer-mvb"  # relative to the working directory
KAGGLE_ID = "fanconic/skin-cancer-malignant-vs-benign"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
LAYOUT = "ROOT/{train,test}/{benign,malignant}/*.jpg"
CACHE_VERSION = 2  # bump when the decoding changes, so stale caches are ignored
GEOMETRY_KEY = "geometry"  # the fingerprint's entry that records the geometry (not a folder)
OLD_GEOMETRY = "squash"  # what a fingerprint without that entry was decoded with
EXTERNAL_KEY = "external/"  # a sweep's data fingerprint keeps its external sets' under this prefix


@dataclass(frozen=True)
class Split:
    """One split: images `x` (N, 3, H, W) uint8, labels `y` (N,) int64 (1 = malignant)."""

    x: np.ndarray
    y: np.ndarray
    files: list[str] = field(default_factory=list)  # paths relative to the root, POSIX style
    groups: np.ndarray | None = None  # (N,) str group id (patient, lesion) per image, or None
    ids: tuple[str, ...] = ()  # content id per image (`content_ids`), where known: external sets

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """The train and test splits of one dataset root at one resolution."""

    root: str  # absolute path of the dataset root
    resolution: int  # px, square
    train: Split
    test: Split
    fingerprint: dict[str, dict[str, Any]] = field(default_factory=dict)  # see `fingerprint`
    classes: tuple[str, str] = CLASSES  # names of label 0 and label 1 (the scarce class)
    geometry: str = "crop"  # how non-square images became square (GEOMETRIES)


def resolve_root(path: str | os.PathLike | None = None) -> Path:
    """`path`, else $RAYGAN_DATA, else ./data/skin-cancer-mvb; it must exist."""
    root = Path(path or os.environ.get("RAYGAN_DATA") or DEFAULT_ROOT).expanduser()
    if not root.is_dir():
        raise RayganError(
            f"dataset folder {root} does not exist; download the Kaggle dataset {KAGGLE_ID}, "
            f"unpack it as {LAYOUT} and pass --data ROOT (or set RAYGAN_DATA)"
        )
    return root.resolve()


def _list_files(root: Path, classes: tuple[str, ...] = CLASSES, splits: tuple[str, ...] = SPLITS,
                layout: str = LAYOUT) -> dict[str, list[Path]]:
    """Image files per `split/class` (`class` alone where `splits` is empty), sorted; the layout
    is checked before any decoding."""
    listing = {}
    for split in splits or ("",):
        for cls in classes:
            where = f"{split}/{cls}" if split else cls
            folder = root / where
            if not folder.is_dir():
                if folder.exists() or folder.is_symlink():
                    what = "a file, not a folder" if folder.exists() else "a broken link"
                    raise RayganError(f"{where} in {root} is {what}; expected the layout "
                                      f"{layout}")
                raise RayganError(f"missing folder {where} in {root}; expected the layout "
                                  f"{layout}")
            try:
                entries = sorted(folder.iterdir())
            except OSError as exc:
                raise RayganError(f"cannot list folder {folder}: {exc.strerror}; check its "
                                  "permissions") from None
            files, skipped = [], []
            for p in entries:
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                    _check_file_name(p)
                    files.append(p)
                elif not p.name.startswith("."):
                    skipped.append(p.name)
            if skipped:
                warnings.warn(f"skipping {len(skipped)} non-image entries in {folder} "
                              f"(e.g. {skipped[0]})", stacklevel=3)
            if not files:
                raise RayganError(f"folder {where} in {root} holds no images; expected "
                                  f"{layout}")
            listing[where] = files
    return listing


def _check_file_name(path: Path) -> None:
    """File names go into the cache key, the results and MLflow, all of which need UTF-8."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise RayganError(f"file name {os.fsencode(path.name)!r} in {path.parent} is not valid "
                          "UTF-8; rename the file") from None


def fingerprint(listing: dict[str, list[Path]], geometry: str | None = None
                ) -> dict[str, dict[str, Any]]:
    """Per `split/class` folder: its number of files, their bytes, a digest of their names and
    sizes, and a digest of their modification times; and the `geometry` the images were decoded
    with, where given (same files, other geometry: other images)."""
    out: dict[str, dict[str, Any]] = {}
    if geometry is not None:
        out[GEOMETRY_KEY] = {"geometry": geometry}
    for key, files in listing.items():
        names, times, total = hashlib.sha256(), hashlib.sha256(), 0
        for p in files:
            st = p.stat()
            total += st.st_size
            names.update(f"{p.name}:{st.st_size}|".encode())
            times.update(f"{st.st_mtime_ns}|".encode())
        out[key] = {"files": len(files), "bytes": total, "names": names.hexdigest()[:16],
                    "mtimes": times.hexdigest()[:16]}
    return out


def content_ids(paths: list[Path]) -> tuple[str, ...]:
    """Each file's id: 12 hex digits of the SHA-256 of its bytes, so an image keeps its id
    wherever it lies and whatever it is called (a second file of the same bytes gets `~2`)."""
    ids, seen = [], {}
    for p in paths:
        h = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
        seen[h] = seen.get(h, 0) + 1
        ids.append(h if seen[h] == 1 else f"{h}~{seen[h]}")
    return tuple(ids)


def fingerprint_changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
                        ) -> tuple[list[str], list[str]]:
    """(how the data changed, e.g. 'test/malignant: 300 -> 12 files'; the folders whose files
    only have new modification times, as a copy of the same data has). The external sets'
    entries (`EXTERNAL_KEY`) are compared by `raygan.eval.external`, not here."""
    changed, touched = [], []
    was, now = (fp.get(GEOMETRY_KEY, {}).get("geometry", OLD_GEOMETRY) for fp in (old, new))
    if was != now:
        changed.append(f"geometry: {was} -> {now}")
    for key in sorted(k for k in (set(old) | set(new)) - {GEOMETRY_KEY}
                      if not k.startswith(EXTERNAL_KEY)):
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            changed.append(f"{key}: {'new' if a is None else 'gone'}")
        elif a["files"] != b["files"]:
            changed.append(f"{key}: {a['files']} -> {b['files']} files")
        elif a["bytes"] != b["bytes"]:
            changed.append(f"{key}: {a['files']} files, {a['bytes']} -> {b['bytes']} bytes")
        elif a["names"] != b["names"]:
            changed.append(f"{key}: {a['files']} files of {a['bytes']} bytes, but other names or "
                           "sizes")
        elif a.get("mtimes") != b.get("mtimes"):
            touched.append(key)
    return changed, touched


def digest_of_test(fp: dict[str, dict[str, Any]]) -> str:
    """One short digest of the test split's names and sizes (a tag on every classifier run)."""
    parts = [f"{k}:{v['files']}:{v['bytes']}:{v['names']}" for k, v in sorted(fp.items())
             if k.startswith("test/")]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _to_rgb(img: Image.Image, path: Path) -> Image.Image:
    """8-bit RGB. PIL's own conversion clips high-bit-depth grey to 0..255, which turns almost
    every 16-bit, 32-bit or float image into a blank one, so those are scaled here: 16-bit by
    its full range (/ 257), 32-bit integer and float by the image's own min..max."""
    if img.mode.startswith("I;16"):
        grey = np.asarray(img, dtype=np.float64) / 257.0
    elif img.mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float64)
        finite = a[np.isfinite(a)]
        if finite.size == 0 or finite.min() == finite.max():
            raise RayganError(f"image {path} (mode {img.mode}) holds a single value, "
                              "nothing to scale to 8 bits; replace it with an 8-bit image")
        lo, hi = finite.min(), finite.max()
        grey = (np.nan_to_num(a, nan=lo, posinf=hi, neginf=lo) - lo) * (255.0 / (hi - lo))
    else:
        return img.convert("RGB")
    return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).convert("RGB")


def to_square(img: Image.Image, resolution: int, geometry: str) -> Image.Image:
    """`img` at `resolution` x `resolution` px by `geometry` (crop, squash or pad)."""
    w, h = img.size
    if (w, h) == (resolution, resolution):
        return img
    size = (resolution, resolution)
    if geometry == "squash" or w == h:
        return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if geometry == "crop":  # the centre square of the original, then resized
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        return img.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + side,
                                                                 top + side), reducing_gap=2.0)
    if geometry != "pad":
        raise ValueError(f"unknown geometry {geometry!r}; use one of {', '.join(GEOMETRIES)}")
    scale = resolution / max(w, h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = Image.new("RGB", size)  # black
    out.paste(img.resize(inner, Image.Resampling.BILINEAR, reducing_gap=2.0),
              ((resolution - inner[0]) // 2, (resolution - inner[1]) // 2))
    return out


def _decode(path: Path, resolution: int, geometry: str = "crop") -> np.ndarray:
    """One image as (3, R, R) uint8; grayscale/RGBA become RGB, other sizes are brought to the
    square by `geometry` (`to_square`)."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = _to_rgb(img, path)
    except Image.DecompressionBombError as exc:
        raise RayganError(f"image {path} is too large to decode safely ({exc}); downscale it, "
                          "or remove it") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise RayganError(f"cannot read image {path}: {exc}; remove or replace the file") from None
    return np.asarray(to_square(rgb, resolution, geometry), dtype=np.uint8).transpose(2, 0, 1)


def _cache_path(root: Path, listing: dict[str, list[Path]], resolution: int,
                extra: str = "", geometry: str = "crop") -> Path:
    """The cache file of these files at `resolution` by `geometry`; `extra` describes whatever
    else decides the arrays (a card's labels, groups and split): empty for the Kaggle layout."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|{resolution}|{geometry}".encode())
    if extra:
        h.update(f"|{extra}".encode())
    for files in listing.values():
        for p in files:
            st = p.stat()
            h.update(f"|{p.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}".encode())
    folder = Path(os.environ.get("RAYGAN_CACHE") or Path.home() / ".cache" / "raygan")
    return folder / f"{root.name}-{resolution}px-{h.hexdigest()[:16]}.npz"


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None  # missing, truncated or empty: decode again
    need = {f"{s}_{k}" for s in SPLITS for k in ("x", "y", "files")}
    return arrays if need <= set(arrays) else None


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError as exc:
        warnings.warn(f"cannot write the dataset cache {path}: {exc}", stacklevel=3)


def load_dataset(path: str | os.PathLike | None, resolution: int,
                 geometry: str = "crop") -> Dataset:
    """Check the layout, then decode (or read from the cache) both splits at `resolution` px,
    non-square images made square by `geometry`."""
    root = resolve_root(path)
    listing = _list_files(root)
    train, test = decode_listing(root, listing, resolution, CLASSES, geometry=geometry)
    return Dataset(str(root), resolution, train, test, fingerprint(listing, geometry),
                   geometry=geometry)


def decode_listing(root: Path, listing: dict[str, list[Path]], resolution: int,
                   classes: tuple[str, str], groups: dict[Path, str] | None = None,
                   extra: str = "", geometry: str = "crop") -> tuple[Split, Split]:
    """The train and test splits of a `split/class` listing (files under `root`), decoded at
    `resolution` px by `geometry` or read from the cache; label = the class's index in
    `classes`."""
    cache = _cache_path(root, listing, resolution, extra, geometry)
    arrays = _read_cache(cache)
    if arrays is None:
        arrays = {}
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for split in SPLITS:
                files = [p for cls in classes for p in listing[f"{split}/{cls}"]]
                labels = [i for i, cls in enumerate(classes) for _ in listing[f"{split}/{cls}"]]
                x = list(pool.map(lambda p: _decode(p, resolution, geometry), files))
                # An external set loads whole, as one split: the other one is empty.
                arrays[f"{split}_x"] = (np.stack(x) if x else
                                        np.zeros((0, 3, resolution, resolution), np.uint8))
                arrays[f"{split}_y"] = np.asarray(labels, dtype=np.int64)
                arrays[f"{split}_files"] = np.asarray([p.relative_to(root).as_posix()
                                                       for p in files])
                if groups is not None:
                    arrays[f"{split}_groups"] = np.asarray([groups[p] for p in files], dtype=str)
        _write_cache(cache, arrays)
    return tuple(Split(arrays[f"{s}_x"], arrays[f"{s}_y"].astype(np.int64),
                       [str(f) for f in arrays[f"{s}_files"]],
                       arrays.get(f"{s}_groups") if groups is not None else None)
                 for s in SPLITS)
