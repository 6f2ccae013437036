"""A trained GAN's images as files (`raygan generate`): `000000.png ...` in a folder, and a
manifest row per image (manifest.csv): its file, index, latent seed, the cell and, where the
cell's fill is known, whether the image is part of it. Images are sampled through the GAN that
`from_checkpoint` rebuilds, so image i is the very image i the sweep sampled; nothing here reads
MLflow or a sweep's folder (the caller hands over the checkpoint).

Images stream to disk: they are sampled `CHUNK` at a time, and each chunk's PNGs and manifest
rows are written before the next is sampled, so memory stays bounded whatever the count. Image
i has its own latent RNG (`latent_seed`), so the chunking never changes a pixel."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from raygan.artifacts import MANIFEST_FILE, PAIRS_CSV, PAIRS_PNG
from raygan.bounds import BOUNDS
from raygan.errors import RayganError
from raygan.gans.base import GAN, SAMPLE_CHUNK, latent_seed
from raygan.gans.checkpoint import GANSpec, from_checkpoint, read_checkpoint

CHUNK = 4 * SAMPLE_CHUNK  # images in memory at a time; a multiple of the generator's own chunk
MAX_COUNT = BOUNDS["count"].hi  # --count's ceiling (raygan/bounds.py)
IMAGE_NAME = re.compile(r"\d{6,}\.png")  # the names write_samples gives: 000000.png, ...


def image_name(index: int) -> str:
    """The file name of image `index`."""
    return f"{index:06d}.png"


def check_count(count: int | None) -> None:
    """A --count within bounds (None: the caller's default), before anything is loaded."""
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise RayganError(f"--count must be between 1 and {MAX_COUNT:,}, got {count:,}; write "
                          "more images in several runs into separate --out folders")


def previous_files(out: Path, count: int, overwrite: bool, pairs: bool = False) -> list[Path]:
    """The files of an earlier `raygan generate` in `out` that writing `count` images there
    (and, with `pairs`, pairs.png and pairs.csv) replaces (its manifest, the PNGs it lists and
    the pairs it wrote beside them; nothing else), checked before any work: a folder that holds
    a manifest, PNGs or pairs is refused without `overwrite`, and a file that no earlier
    generate wrote is never removed or written over."""
    manifest = out / MANIFEST_FILE
    pngs = sorted(p.name for p in out.glob("*.png")) if out.is_dir() else []
    has_manifest = manifest.is_file()
    # pairs.png and pairs.csv are an earlier generate's where its manifest lies beside them.
    drawn = [out / n for n in (PAIRS_PNG, PAIRS_CSV) if (out / n).is_file()]
    pngs = [n for n in pngs if n != PAIRS_PNG]
    if not has_manifest and not pngs and not drawn:
        return []
    if drawn and not has_manifest and pairs:
        raise RayganError(f"--out {out} holds {drawn[0].name}, which no earlier raygan generate "
                          "there wrote and --pairs would write over; move it, or pick another "
                          "--out")
    held = " and ".join([MANIFEST_FILE] * has_manifest
                     + [f"{len(pngs)} PNG{'s' if len(pngs) != 1 else ''}"] * bool(pngs)
                     + [p.name for p in drawn])
    if not overwrite:
        raise RayganError(f"--out {out} already holds {held}; pass --overwrite to replace the "
                          f"images of the earlier raygan generate (the PNGs its {MANIFEST_FILE} "
                          "lists), or pick another --out")
    listed = _listed(manifest) if has_manifest else set()
    foreign = [n for n in pngs if n not in listed and IMAGE_NAME.fullmatch(n)
               and int(n[:-4]) < count]
    if foreign:
        raise RayganError(f"--out {out} holds {foreign[0]}"
                          f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}, which "
                          f"no {MANIFEST_FILE} there lists and which this run would write over; "
                          "move them, or pick another --out")
    return ([out / n for n in sorted(listed & set(pngs))] + [manifest] * has_manifest
            + drawn * has_manifest)


def _listed(manifest: Path) -> set[str]:
    """The PNG names a raygan manifest lists (plain names in `out`, never a path elsewhere)."""
    try:
        with open(manifest, newline="") as f:
            reader = csv.DictReader(f)
            if "file" not in (reader.fieldnames or []):
                raise ValueError("no 'file' column")
            names = {row["file"] for row in reader}
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise RayganError(f"--out {manifest.parent} holds a {MANIFEST_FILE} that is not raygan's "
                          f"({exc}); move it, or pick another --out") from None
    return {n for n in names if n and Path(n).name == n and n.endswith(".png")}


def sample_chunks(gan: GAN, count: int, seed: int, chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """Images 0 .. count-1 of `gan` under `seed` (uint8 NCHW), `chunk` at a time: together the
    very images of `gan.generate(count, seed)`, never more than `chunk` of them sampled ahead."""
    for start in range(0, count, chunk):
        yield gan.generate(min(chunk, count - start), seed, start)


def write_samples(out: Path | str, chunks: Iterable[np.ndarray], seed: int,
                  columns: dict[str, Any], n_fill: int | None = None,
                  previous: Iterable[Path] = ()) -> Path:
    """`out/000000.png ...` of the uint8 NCHW images of `chunks` (sampled with `seed`), and the
    manifest (its path returned) with a row per image: index, latent seed, `columns` and, where
    the cell's fill `n_fill` is known, whether the image is part of it. Each chunk's PNGs, then
    its rows, reach the disk before the next chunk is drawn, so the manifest lists only images
    that exist; the `previous` files (`previous_files`) are removed just before the first write,
    once the GAN has given its first images."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index, f, writer = 0, None, None
    try:
        for images in chunks:
            if f is None:
                for path in previous:
                    path.unlink(missing_ok=True)
                f = open(out / MANIFEST_FILE, "w", newline="")
            rows = []
            for img in images:
                name = image_name(index)
                Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).save(out / name)
                fill = {} if n_fill is None else {"in_fill": int(index < n_fill)}
                rows.append({"file": name, "index": index, "latent_seed": latent_seed(seed, index),
                             **columns, **fill})
                index += 1
            if writer is None and rows:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
            if rows:
                writer.writerows(rows)
            f.flush()
    finally:
        if f is not None:
            f.close()
    return out / MANIFEST_FILE


def _columns(spec: GANSpec) -> dict[str, Any]:
    return {"gan": spec.family, "budget": spec.budget, "seed": spec.seed}


def export_cell(out: Path | str, spec: GANSpec, checkpoint: dict[str, Any],
                context: np.ndarray, count: int, n_fill: int | None = None,
                previous: Iterable[Path] = (),
                watch: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None
                ) -> Path:
    """Images 0 .. count-1 of a cell's trained GAN (rebuilt from `spec` and `checkpoint`, with
    the cell's benign training images as `context`) streamed to `out` with their manifest;
    `watch` sees each chunk on its way (e.g. `ClosestPairs.watch`) and hands it on."""
    gan = from_checkpoint(spec.family, spec.gan_config, spec.resolution, spec.seed, checkpoint,
                          context)
    chunks = sample_chunks(gan, count, spec.seed)
    return write_samples(out, watch(chunks) if watch else chunks, spec.seed, _columns(spec),
                         n_fill, previous)


def export_checkpoint(path: Path | str, count: int, out: Path | str,
                      previous: Iterable[Path] = ()) -> GANSpec:
    """Images 0 .. count-1 of the GAN a checkpoint file rebuilds on its own (a bad file is a
    RayganError before anything is written), streamed to `out`; the file's GANSpec returned."""
    spec, checkpoint = read_checkpoint(path)
    no_context = np.zeros((0, 3, spec.resolution, spec.resolution), np.uint8)
    export_cell(out, spec, checkpoint, no_context, count, previous=previous)
    return spec
