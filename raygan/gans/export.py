"""A trained GAN's images as files (`raygan generate`): `000000.png ...` in a folder, and a
manifest row per image (manifest.csv): its file, index, latent seed, the cell and, where the
cell's fill is known, whether the image is part of it. Images are sampled through
`sample_checkpoint`, so image i is the very image i the sweep sampled; nothing here reads
MLflow or a sweep's folder (the caller hands over the checkpoint)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from raygan.artifacts import MANIFEST_FILE
from raygan.gans.checkpoint import (
    GANSpec,
    latent_seeds,
    read_checkpoint,
    sample_checkpoint,
    sample_file,
)


def write_samples(out: Path | str, images: np.ndarray, seed: int, columns: dict[str, Any],
                  n_fill: int | None = None) -> Path:
    """`out/000000.png ...` of uint8 NCHW `images` sampled with `seed`, and the manifest (its
    path returned) with a row per image: index, latent seed, `columns` and, where the cell's
    fill `n_fill` is known, whether the image is part of it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (img, z) in enumerate(zip(images, latent_seeds(seed, len(images)), strict=True)):
        name = f"{i:06d}.png"
        Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).save(out / name)
        fill = {} if n_fill is None else {"in_fill": int(i < n_fill)}
        rows.append({"file": name, "index": i, "latent_seed": z, **columns, **fill})
    with open(out / MANIFEST_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out / MANIFEST_FILE


def _columns(spec: GANSpec) -> dict[str, Any]:
    return {"gan": spec.family, "budget": spec.budget, "seed": spec.seed}


def export_cell(out: Path | str, spec: GANSpec, checkpoint: dict[str, Any],
                context: np.ndarray, count: int, n_fill: int | None = None) -> Path:
    """Images 0 .. count-1 of a cell's trained GAN (rebuilt from `spec` and `checkpoint`, with
    the cell's benign training images as `context`) written to `out` with their manifest."""
    images = sample_checkpoint(spec.family, spec.gan_config, spec.resolution, spec.seed,
                               checkpoint, context, count)
    return write_samples(out, images, spec.seed, _columns(spec), n_fill)


def export_checkpoint(path: Path | str, count: int, out: Path | str) -> GANSpec:
    """Images 0 .. count-1 of the GAN a checkpoint file rebuilds on its own (a bad file is a
    RayganError before anything is written), written to `out`; the file's GANSpec returned."""
    spec, checkpoint = read_checkpoint(path)
    write_samples(out, sample_file(spec, checkpoint, count), spec.seed, _columns(spec))
    return spec
