"""Shortcut probes: what a classifier learns from a lesion image without the lesion.

A probe is an arm of the grid (`probe:<name>`) that trains on the very training set of the
`oversample` arm of its cell, under the same budgets, seeds, validation split and test sets, but
sees every image (training, validation, each test set) through its probe's view:

- `occlude-25`, `occlude-50`: a central disk covering 25 % / 50 % of the image area is filled with
  mid-grey, so the classifier sees the skin around the lesion, the image's border, vignetting,
  rulers and colour calibration, but not the lesion's centre;
- `border`: only an outer frame of the image is kept (BORDER_FRACTION of the side on each edge,
  44 % of the area), the rest mid-grey;
- `colour`: no image at all: per-channel colour histograms and moments, which a pixel permutation
  does not change, go to a logistic regression (raygan/classifiers/colour.py), not to the CNN.

A disk and not a lesion mask: an Otsu mask on the blue channel (32 px, 200 training images per
class, 2026-12-07) marked 21 % of a benign image but 31 % of a malignant one, and took the dark
vignetted corners for lesion in 47 % of malignant images against 18 % of benign ones; a mask of
that shape hands the probe the lesion's size and outline, the very features it must not see.
A disk of fixed size is the same for every image, so what the probe scores above chance comes
from outside it. The same view applies wherever a probe's classifier meets images: its
training, its validation, its test sets and, through its saved state, any external set the
report tests later. Numpy only, no Ray.
"""

from __future__ import annotations

import numpy as np

from raygan.cell import PROBE_PREFIX
from raygan.errors import RayganError

NEUTRAL = 128  # the fill of the hidden pixels: mid-grey in every channel, the same for every image
BORDER_FRACTION = 1 / 8  # `border` keeps this share of the side on each edge
COLOUR_BINS = 16  # histogram bins per channel of the colour probe
# name -> (what the probe keeps, share of the image area the occluding disk covers or None)
PROBES = {
    "occlude-25": ("everything but a central disk of 25 % of the area", 0.25),
    "occlude-50": ("everything but a central disk of 50 % of the area", 0.50),
    "border": (f"an outer frame of 1/{round(1 / BORDER_FRACTION)} of the side on each edge",
               None),
    "colour": ("per-channel colour histograms and moments, no spatial layout (a logistic "
               "regression, no CNN)", None),
}
PROBE_ARMS = tuple(PROBE_PREFIX + name for name in PROBES)
COLOUR = PROBE_PREFIX + "colour"


def probe_name(arm: str) -> str:
    """The probe of a `probe:<name>` arm; '' for every other arm."""
    return arm[len(PROBE_PREFIX):] if arm.startswith(PROBE_PREFIX) else ""


def check_probe(arm: str) -> str:
    """`arm` if it is a known probe; else a one-line RayganError listing the known ones."""
    if probe_name(arm) not in PROBES:
        raise RayganError(f"unknown probe {arm!r}; known probes: {', '.join(PROBE_ARMS)} "
                          "(--probes adds them all)")
    return arm


def is_linear(arm: str) -> bool:
    """Whether the probe of `arm` is the colour probe's linear model rather than the CNN."""
    return arm == COLOUR


def keep_mask(arm: str, size: int) -> np.ndarray:
    """(size, size) bool: the pixels the probe of `arm` sees (all of them for a non-probe arm
    and the colour probe, which has no spatial view)."""
    name = probe_name(arm)
    if name not in PROBES and name:
        check_probe(arm)
    centre = (np.arange(size) + 0.5 - size / 2) / size  # pixel centres, in image sides
    if name.startswith("occlude"):
        share = PROBES[name][1]
        r2 = share / np.pi  # a disk of `share` of the unit square's area
        return (centre[:, None] ** 2 + centre[None, :] ** 2) > r2
    if name == "border":
        inner = np.abs(centre) < 0.5 - BORDER_FRACTION
        return ~(inner[:, None] & inner[None, :])
    return np.ones((size, size), bool)


def probe_view(arm: str, images: np.ndarray) -> np.ndarray:
    """uint8 NCHW `images` as the classifier of `arm` sees them: hidden pixels set to NEUTRAL
    for an occluding or border probe; the images themselves for every other arm."""
    if not probe_name(arm) or is_linear(arm):
        return images
    keep = keep_mask(arm, images.shape[-1])
    if images.shape[-2] != images.shape[-1]:
        raise ValueError(f"probe images must be square, got {images.shape}")
    return np.where(keep, images, np.uint8(NEUTRAL)).astype(np.uint8)


def colour_features(images: np.ndarray) -> np.ndarray:
    """(N, 3 * (COLOUR_BINS + 2)) float64: per channel, the share of pixels in each of
    COLOUR_BINS equal bins of 0..255, then the channel's mean and SD (scaled to 0..1). Every
    feature is a function of each channel's value histogram: a permutation of the pixels leaves
    it unchanged."""
    x = np.asarray(images)
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    bins = (flat.astype(np.int64) * COLOUR_BINS) // 256
    hist = np.zeros((n, c, COLOUR_BINS))
    for k in range(COLOUR_BINS):
        hist[:, :, k] = (bins == k).mean(-1)
    moments = np.stack([flat.mean(-1) / 255.0, flat.std(-1) / 255.0], -1)
    return np.concatenate([hist, moments], -1).reshape(n, -1)
