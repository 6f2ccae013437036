"""Getting the dataset: download the Kaggle dataset, or install a downloaded copy, into ROOT.

`fetch` downloads through `kagglehub` (the optional extra `raygan[download]`) and hands the
download to `install`, which takes a folder or a zip archive, finds the Kaggle layout inside it,
copies only the layout's images into ROOT and checks the result. `install` needs no network, so
tests run it on a small local archive.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from raygan.data.dataset import CLASSES, KAGGLE_ID, LAYOUT, SPLITS, _list_files, resolve_root
from raygan.errors import RayganError

# The counts of the Kaggle dataset (split/class: images), to tell a partial download.
KAGGLE_COUNTS = {"train/benign": 1440, "train/malignant": 1197, "test/benign": 360,
                 "test/malignant": 300}
MAX_DEPTH = 4  # how deep below a download `install` looks for the layout's root


def counts(root: Path | str) -> dict[str, int]:
    """Images per `split/class` of the dataset at `root`; its layout is checked first."""
    return {key: len(files) for key, files in _list_files(resolve_root(root)).items()}


def _is_layout(folder: Path) -> bool:
    return all((folder / s / c).is_dir() for s in SPLITS for c in CLASSES)


def find_layout(folder: Path) -> Path:
    """The shallowest folder at or below `folder` that holds {train,test}/{benign,malignant}."""
    level = [folder]
    for _ in range(MAX_DEPTH + 1):
        for candidate in sorted(level):
            if _is_layout(candidate):
                return candidate
        level = [p for f in level for p in f.iterdir() if p.is_dir() and not p.is_symlink()]
    raise RayganError(f"no {LAYOUT} inside {folder}; is it the Kaggle dataset {KAGGLE_ID}?")


def install(source: Path | str, dest: Path | str,
            log: Callable[[str], None] = print) -> dict[str, int]:
    """Copy the dataset in `source` (a folder or a .zip) into `dest`; returns its counts.

    The images are copied into a temporary sibling of `dest` and moved into place only once
    they are checked, so an interrupted install never leaves a half dataset at `dest`."""
    source, dest = Path(source), Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise RayganError(f"{dest} exists and is not empty; remove it, or check it with "
                          f"raygan data check {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        if source.is_file():
            try:
                with zipfile.ZipFile(source) as archive:
                    members = archive.infolist()
                    log(f"unpacking {source.name}: {len(members)} entries")
                    archive.extractall(Path(tmp) / "unpacked")
            except zipfile.BadZipFile as exc:
                raise RayganError(f"{source} is not a zip archive ({exc}); download it again"
                                  ) from None
            source = Path(tmp) / "unpacked"
        elif not source.is_dir():
            raise RayganError(f"{source} does not exist")
        root = find_layout(source)
        staged = Path(tmp) / "dataset"
        for split in SPLITS:
            for cls in CLASSES:
                shutil.copytree(root / split / cls, staged / split / cls)
                log(f"copied {split}/{cls}")
        found = counts(staged)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        staged.rename(dest)
    short = {k: (n, KAGGLE_COUNTS[k]) for k, n in found.items() if n != KAGGLE_COUNTS[k]}
    log(f"dataset in {dest}: " + ", ".join(f"{k} {n}" for k, n in found.items()))
    if short:
        log("note: the Kaggle dataset has other counts: " + ", ".join(
            f"{k} {n} here, {want} there" for k, (n, want) in short.items()))
    return found


def fetch(dest: Path | str, log: Callable[[str], None] = print) -> dict[str, int]:
    """Download the Kaggle dataset with kagglehub (its own progress bar) and install it."""
    try:
        import kagglehub
    except ImportError:
        raise RayganError("downloading needs kagglehub: pip install 'raygan[download]' (or "
                          f"download the Kaggle dataset {KAGGLE_ID} by hand, unpack it as "
                          f"{LAYOUT} and pass --data ROOT)") from None
    log(f"downloading the Kaggle dataset {KAGGLE_ID} (kagglehub)")
    try:
        path = kagglehub.dataset_download(KAGGLE_ID)
    except Exception as exc:  # noqa: BLE001  (offline, no credentials, Kaggle down: one line)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayganError(f"cannot download the Kaggle dataset {KAGGLE_ID} ({first}); download "
                          f"it by hand, unpack it as {LAYOUT} and pass --data ROOT (or set "
                          "RAYGAN_DATA)") from None
    return install(path, dest, log)
