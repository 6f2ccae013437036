"""Memorization made visible: each generated image's nearest training image, in pixels.

A generator trained on N real images can hand them back. Every generated image is compared with
the N real malignant images its generator trained on (the cell's budget) by per-pixel RMS
distance at `NEAR_COPY_SIZE` px ([0, 1] scale): the nearest one, its index and the distance.
The yardstick is real data the generator never saw: the same distance of each held-out real
malignant image (a training image outside the cell's budget) to the cell's N images. The
nearest-neighbour ratio of a generated image is its distance over the median held-out distance:
about 1 for an image as far from the training set as a fresh real lesion is, near 0 for a copy.

Pixels, not a classifier's features, because a copy is a pixel fact: two different lesions
that a classifier maps to one feature are not a copy, a copy is the same picture. A fill whose
share of near-copies reaches `COPIED_FILL` is flagged: a fill made of training copies is not a
synthetic fill, whatever its FD, KID or test AUC."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from raygan.artifacts import PAIRS_CSV, PAIRS_PNG
from raygan.images import check_images, resize

# A generated image whose nearest real training image is within this per-pixel RMS (32 px, [0, 1])
# counts as a near copy. Measured on skin-cancer-mvb (64 px load, 32 px compare): the distance of
# each real train image to its nearest OTHER train image has 1st percentile 0.022 (median 0.067),
# and held-out test images reach their nearest train image within 0.020 for only 5 of 660 (0.8 %),
# all of them re-captures of a training lesion that the leakage audit also flags. So 0.02 means
# "as close to a training image as a second photo of the same lesion": a generator that does not
# memorize puts about 1 % of its images below it, the same as fresh real data.
NEAR_COPY_RMS = 0.02
NEAR_COPY_SIZE = 32  # px, the side both image sets are resized to before comparing
# A fill with at least this share of near-copies is flagged as made of training copies: five
# times the ~1 % that fresh real images show (above), so re-captured lesions alone do not flag.
COPIED_FILL = 0.05
PAIRS_SHOWN = 8  # closest (generated, training) pairs the report draws per generated run


def flat_unit(images: np.ndarray, size: int = NEAR_COPY_SIZE) -> np.ndarray:
    """(n, 3 * size * size) float64 in [0, 1], resized with antialiasing."""
    t = torch.from_numpy(np.ascontiguousarray(images)).double().div_(255.0)
    return resize(t, size).reshape(len(images), -1).numpy()


def nearest(query: np.ndarray, ref: np.ndarray, exclude_self: bool = False,
            chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index): the per-pixel RMS distance of each flat query row to its nearest flat
    ref row, and that row's index (the first of equals). `exclude_self` when query is ref."""
    ref_sq = (ref * ref).sum(1)
    dist, index = np.empty(len(query)), np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        d2 = (q * q).sum(1)[:, None] + ref_sq[None] - 2.0 * q @ ref.T
        if exclude_self:
            rows = np.arange(len(q))
            d2[rows, start + rows] = np.inf
        best = d2.argmin(1)
        # The expansion above cancels badly near 0; recompute the winner exactly, so that an
        # exact copy reads 0 and not rounding noise.
        dist[start : start + len(q)] = np.sqrt(((q - ref[best]) ** 2).mean(1))
        index[start : start + len(q)] = best
    return dist, index


@dataclass(frozen=True)
class Pair:
    """A generated image and its nearest training image."""

    fake: int  # index of the generated image in its fill (or in generate's output)
    train: int  # index of its nearest training image among the cell's N
    distance: float  # per-pixel RMS distance, [0, 1] scale at NEAR_COPY_SIZE px
    ratio: float  # distance / the median held-out real image's distance (NaN without one)


@dataclass(frozen=True)
class Memorization:
    """Each generated image's nearest training image and distance, with the same distance of
    held-out real images as the yardstick."""

    distance: np.ndarray  # (n_fake,) RMS distance to the nearest training image
    nearest: np.ndarray  # (n_fake,) its index among the training images
    real_distance: np.ndarray  # (n_held_out,) held-out real images' RMS distance to the same

    @property
    def scale(self) -> float:
        """The median held-out real image's distance to its nearest training image: what a
        fresh lesion of the class reads; NaN without held-out images."""
        return float(np.median(self.real_distance)) if len(self.real_distance) else float("nan")

    @property
    def ratio(self) -> np.ndarray:
        """Each generated image's distance over `scale`: 1 = as far from the training images as
        a typical fresh real lesion, 0 = a copy."""
        return self.distance / self.scale

    def closest(self, k: int) -> list[Pair]:
        """The `k` generated images nearest to a training image, closest first (ties: lower
        index first)."""
        order = np.lexsort((np.arange(len(self.distance)), self.distance))[:k]
        ratio = self.ratio
        return [Pair(int(i), int(self.nearest[i]), float(self.distance[i]), float(ratio[i]))
                for i in order]

    def summary(self) -> dict[str, float]:
        """The numbers a results folder keeps: the share of near-copies in the fill and among
        the held-out real images (the yardstick), and the ratio's minimum, 5th percentile and
        median over the fill."""
        ratio = self.ratio
        return {"near_copies": near_copy_share(self.distance),
                "real_near_copies": (near_copy_share(self.real_distance)
                                     if len(self.real_distance) else float("nan")),
                "nn_ratio_min": float(ratio.min()),
                "nn_ratio_p05": float(np.quantile(ratio, 0.05)),
                "nn_ratio_median": float(np.median(ratio))}


def measure(fake: np.ndarray, train: np.ndarray, held_out: np.ndarray,
            size: int = NEAR_COPY_SIZE) -> Memorization:
    """The `Memorization` of generated images `fake` against the generator's training images
    `train`, with `held_out` (real images of the class it never saw; may be empty) as the
    yardstick. All uint8 NCHW."""
    fake, train = check_images(fake, "fake"), check_images(train, "train")
    held_out = check_images(held_out, "held_out")
    if len(fake) == 0 or len(train) == 0:
        raise ValueError(f"need generated and training images, got {len(fake)} and {len(train)}")
    ref = flat_unit(train, size)
    dist, index = nearest(flat_unit(fake, size), ref)
    real = nearest(flat_unit(held_out, size), ref)[0] if len(held_out) else np.zeros(0)
    return Memorization(dist, index, real)


def near_copy_share(distances: np.ndarray, threshold: float = NEAR_COPY_RMS) -> float:
    """Share of generated images within `threshold` of a real image (memorized near copies)."""
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"distances must be a non-empty 1-D array, got shape {d.shape}")
    return float(np.mean(d <= threshold))


def copied(share: float) -> bool:
    """Whether a fill with this share of near-copies is made of training copies."""
    return share >= COPIED_FILL


def pairs_png(fake: np.ndarray, train: np.ndarray, pairs: list[Pair], cols: int = 4,
              side: int = 64) -> bytes:
    """A PNG of `pairs`, `cols` to a row: each the generated image (left) beside its nearest
    training image (right), both shown at `side` px, over a caption of rank, RMS distance and
    nearest-neighbour ratio."""
    from PIL import Image, ImageDraw

    if not pairs:
        raise ValueError("no pairs to draw")
    fake, train = check_images(fake, "fake"), check_images(train, "train")
    gap, pad, caption = 2, 10, 12
    tile_w, tile_h = 2 * side + gap, side + caption
    cols = min(cols, len(pairs))
    rows = -(-len(pairs) // cols)
    sheet = Image.new("RGB", (cols * tile_w + (cols + 1) * pad, rows * tile_h + (rows + 1) * pad),
                      "white")
    draw = ImageDraw.Draw(sheet)

    def tile(img: np.ndarray) -> Image.Image:
        return Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).resize(
            (side, side), Image.NEAREST)

    for rank, p in enumerate(pairs):
        x = pad + (rank % cols) * (tile_w + pad)
        y = pad + (rank // cols) * (tile_h + pad)
        sheet.paste(tile(fake[p.fake]), (x, y))
        sheet.paste(tile(train[p.train]), (x + side + gap, y))
        ratio = f" {p.ratio:.2f}x" if np.isfinite(p.ratio) else ""
        draw.text((x, y + side + 1), f"{rank + 1}: {p.distance:.3f}{ratio}", fill="black")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class ClosestPairs:
    """The `k` closest (generated, training) pairs of images that stream by in chunks, found
    without holding more than `k` generated images (`raygan generate --pairs`)."""

    train: np.ndarray  # the generator's training images, uint8 NCHW
    held_out: np.ndarray  # real images of the class it never saw (the ratio's yardstick)
    k: int  # pairs to keep
    size: int = NEAR_COPY_SIZE
    _ref: np.ndarray = field(init=False, repr=False)
    _distance: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _nearest: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    # index -> (distance, image) of the k closest generated images so far
    _kept: dict[int, tuple[float, np.ndarray]] = field(default_factory=dict, init=False,
                                                       repr=False)

    def __post_init__(self):
        self.train = check_images(self.train, "train")
        self.held_out = check_images(self.held_out, "held_out")
        if len(self.train) == 0:
            raise ValueError("need training images to pair with")
        self._ref = flat_unit(self.train, self.size)

    def watch(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """`chunks`, unchanged, measured on their way through."""
        start = 0
        for images in chunks:
            dist, index = nearest(flat_unit(check_images(images, "images"), self.size),
                                  self._ref)
            self._distance.append(dist)
            self._nearest.append(index)
            # Keep the images of the k closest so far; a later image loses a tie.
            mine = np.lexsort((np.arange(len(dist)), dist))[:self.k]
            candidates = [*self._kept.items(),
                          *((start + int(i), (float(dist[i]), images[i].copy())) for i in mine)]
            candidates.sort(key=lambda kv: (kv[1][0], kv[0]))
            self._kept = dict(candidates[:self.k])
            start += len(images)
            yield images

    def result(self) -> Memorization:
        """What the images seen so far measure: as `measure` gives for all of them at once."""
        real = (nearest(flat_unit(self.held_out, self.size), self._ref)[0]
                if len(self.held_out) else np.zeros(0))
        return Memorization(np.concatenate([np.zeros(0), *self._distance]),
                            np.concatenate([np.zeros(0, np.int64), *self._nearest]), real)

    def write(self, out: Path | str, name_of: Callable[[int], str],
              train_names: list[str]) -> list[Pair]:
        """`out/pairs.png` (the k closest pairs, closest first) and `out/pairs.csv` (rank, the
        generated file, the training image's name, distance, ratio); `name_of(i)` is generated
        image i's file, `train_names[j]` training image j's. Returns the pairs written."""
        memo = self.result()
        pairs = memo.closest(self.k)
        fake = np.stack([self._kept[p.fake][1] for p in pairs])
        shown = [Pair(i, p.train, p.distance, p.ratio) for i, p in enumerate(pairs)]
        out = Path(out)
        (out / PAIRS_PNG).write_bytes(pairs_png(fake, self.train, shown))
        with (out / PAIRS_CSV).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["rank", "file", "training_image", "distance", "ratio"])
            for rank, p in enumerate(pairs, 1):
                w.writerow([rank, name_of(p.fake), train_names[p.train], f"{p.distance:.6f}",
                            f"{p.ratio:.4f}"])
        return pairs
