"""Near-duplicate audit between train and test: a perceptual hash plus a small-thumbnail distance,
and byte-identical duplicates within train; the same audit of an external test set against every
training and validation image (collections that come from one archive share pictures)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from scipy.fft import dctn

from raygan.images import resize

__all__ = [
    "MAX_HAMMING",
    "MAX_THUMB_RMS",
    "audit",
    "audit_external",
    "exact_duplicates",
    "exclude_mask",
    "hamming",
    "phash",
    "thumb_rms",
    "thumbnails",
    "without_external_duplicates",
]

# Defaults chosen on skin-cancer-mvb (64 px load; 2637 train x 660 test = 1.74 M pairs), looking
# at side-by-side pictures of the closest pairs. Neither cue suffices alone: lesions are centred
# blobs on skin, so unrelated images share low frequencies (pHash distance: median 30 bits, 0.1 %
# of pairs <= 14, 259 pairs <= 8, most of them different lesions), and a raw colour thumbnail
# calls two bland lesions closer (RMS 0.027) than two photos of one lesion under other lighting
# (RMS 0.09 to 0.17). Requiring both, on a z-scored grey thumbnail that ignores lighting, gives:
#   hash <= 8 and thumb <= 0.10 / 0.15 / 0.20 / 0.25 / 0.30: 22 / 41 / 63 / 71 / 76 pairs
#   (16 / 25 / 28 / 32 / 35 test images). All 63 pairs up to 0.20 are re-captures of one lesion
#   (same hairs, same outline); from 0.22 on, different lesions appear (small dots on plain
#   skin), mixed with harder re-captures (strong colour change) that this audit then misses.
MAX_HAMMING = 8  # bits of the 64-bit pHash that may differ
MAX_THUMB_RMS = 0.20  # per-pixel RMS between z-scored 16 px grey thumbnails; = sqrt(2 (1 - r))

HASH_SIZE = 32  # px, the grey thumbnail the DCT runs on
HASH_BITS = 8  # the 8 x 8 lowest DCT frequencies give the 64 hash bits
THUMB_SIZE = 16  # px: small enough that a re-capture shifted by a few pixels still lines up
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L" mode


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be uint8 NCHW with 3 channels, got {arr.dtype} {arr.shape}")
    return arr


def _grey(images: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size) float32 grey thumbnails of uint8 NCHW images, resized with antialiasing."""
    x = _check_images(images, "images")
    grey = torch.from_numpy(np.tensordot(_LUMA, x.astype(np.float32), axes=([0], [1])))[:, None]
    return resize(grey, size)[:, 0].numpy()


def phash(images: np.ndarray) -> np.ndarray:
    """64-bit perceptual hash per image, (n, 64) bool: low DCT frequencies above their median."""
    coeffs = dctn(_grey(images, HASH_SIZE), type=2, norm="ortho", axes=(1, 2))
    low = coeffs[:, :HASH_BITS, :HASH_BITS].reshape(len(coeffs), -1).astype(np.float64)
    return low > np.median(low, axis=1, keepdims=True)


def hamming(hash_a: np.ndarray, hash_b: np.ndarray) -> np.ndarray:
    """(n_a, n_b) number of differing bits between every pair of hashes."""
    a, b = hash_a.astype(np.float32), hash_b.astype(np.float32)
    # Bits are 0/1, so a (1 - b) + (1 - a) b counts the differing ones; float matmul is exact here.
    return np.rint(a @ (1.0 - b).T + (1.0 - a) @ b.T).astype(np.int64)


def thumbnails(images: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """(n, size * size) grey thumbnails, each z-scored so that brightness and contrast drop out."""
    t = _grey(images, size).reshape(len(images), -1).astype(np.float64)
    t -= t.mean(1, keepdims=True)
    std = t.std(1, keepdims=True)
    return t / np.where(std > 0, std, 1.0)  # a flat image stays all zeros


def thumb_rms(thumbs_a: np.ndarray, thumbs_b: np.ndarray) -> np.ndarray:
    """(n_a, n_b) per-pixel RMS distance between every pair of thumbnails."""
    d2 = (thumbs_a**2).sum(1)[:, None] + (thumbs_b**2).sum(1)[None] - 2.0 * thumbs_a @ thumbs_b.T
    return np.sqrt(np.maximum(d2, 0.0) / thumbs_a.shape[1])


def exact_duplicates(images: np.ndarray, files: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (first, later) of byte-identical decoded images, in file order."""
    x = _check_images(images, "images")
    if len(files) != len(x):
        raise ValueError(f"{len(x)} images but {len(files)} file names")
    first: dict[bytes, int] = {}
    pairs = []
    for i, img in enumerate(x):
        key = hashlib.sha256(np.ascontiguousarray(img).tobytes()).digest()
        if key in first:
            pairs.append((first[key], i))
        else:
            first[key] = i
    return pairs


def _near_pairs(a: np.ndarray, b: np.ndarray, max_hamming: int, max_thumb_rms: float
                ) -> list[tuple[int, int, int, float]]:
    """(index in a, index in b, hash distance, thumbnail RMS) of every near-duplicate pair,
    closest first."""
    ham = hamming(phash(a), phash(b))
    rms = thumb_rms(thumbnails(a), thumbnails(b))
    hits = np.argwhere((ham <= max_hamming) & (rms <= max_thumb_rms))
    order = np.lexsort((hits[:, 1], hits[:, 0], rms[hits[:, 0], hits[:, 1]]))
    return [(int(i), int(j), int(ham[i, j]), float(rms[i, j])) for i, j in hits[order]]


def audit(
    train_x: np.ndarray,
    test_x: np.ndarray,
    train_files: Sequence[str],
    test_files: Sequence[str],
    max_hamming: int = MAX_HAMMING,
    max_thumb_rms: float = MAX_THUMB_RMS,
) -> list[dict]:
    """Train/test near-duplicate pairs (closest first), then byte-identical pairs within train.

    A train-test pair is {"kind": "train-test", "train", "test", "train_index", "test_index",
    "hamming", "rms"}; a within-train one is {"kind": "train-exact", "train", "duplicate",
    "train_index", "duplicate_index", "hamming": 0, "rms": 0.0}.
    """
    train_x, test_x = _check_images(train_x, "train_x"), _check_images(test_x, "test_x")
    if len(train_files) != len(train_x) or len(test_files) != len(test_x):
        raise ValueError(
            f"file names do not match images: train {len(train_files)} vs {len(train_x)},"
            f" test {len(test_files)} vs {len(test_x)}"
        )
    pairs = [
        {
            "kind": "train-test",
            "train": train_files[i],
            "test": test_files[j],
            "train_index": i,
            "test_index": j,
            "hamming": h,
            "rms": r,
        }
        for i, j, h, r in _near_pairs(train_x, test_x, max_hamming, max_thumb_rms)
    ]
    for i, k in exact_duplicates(train_x, train_files):
        pairs.append({
            "kind": "train-exact",
            "train": train_files[i],
            "duplicate": train_files[k],
            "train_index": i,
            "duplicate_index": k,
            "hamming": 0,
            "rms": 0.0,
        })
    return pairs


def exclude_mask(pairs: Sequence[dict], n_test: int) -> np.ndarray:
    """(n_test,) bool, True for each test image with a train near-duplicate: the ones to drop."""
    mask = np.zeros(n_test, dtype=bool)
    for p in pairs:
        if p["kind"] != "train-test":
            continue
        j = p["test_index"]
        if not 0 <= j < n_test:
            raise ValueError(f"test_index {j} is outside a test set of {n_test} images")
        mask[j] = True
    return mask


def leaked(dataset) -> np.ndarray:
    """(n_test,) bool: the test images that near-duplicate a training image (re-captures)."""
    ds = dataset
    return exclude_mask(audit(ds.train.x, ds.test.x, ds.train.files, ds.test.files),
                        len(ds.test))


def without_leaks(dataset):
    """(the dataset without its test images that near-duplicate a training image, how many
    were dropped): the `exclude_leaks` option of a sweep and of its report."""
    from dataclasses import replace

    from raygan.data import Split

    ds = dataset
    keep = ~leaked(ds)
    files = [f for f, k in zip(ds.test.files, keep, strict=True) if k]
    return replace(ds, test=Split(ds.test.x[keep], ds.test.y[keep], files)), int((~keep).sum())


def audit_external(
    train_x: np.ndarray,
    external_x: np.ndarray,
    train_files: Sequence[str],
    external_files: Sequence[str],
    max_hamming: int = MAX_HAMMING,
    max_thumb_rms: float = MAX_THUMB_RMS,
) -> list[dict]:
    """Near-duplicate pairs between the training split (training and validation images) and an
    external set, closest first: {"kind": "train-external", "train", "external", "train_index",
    "external_index", "hamming", "rms"}. The images may come at any size: both sides are
    reduced to small grey thumbnails."""
    train_x = _check_images(train_x, "train_x")
    external_x = _check_images(external_x, "external_x")
    if len(train_files) != len(train_x) or len(external_files) != len(external_x):
        raise ValueError(
            f"file names do not match images: train {len(train_files)} vs {len(train_x)},"
            f" external {len(external_files)} vs {len(external_x)}"
        )
    return [
        {"kind": "train-external", "train": train_files[i], "external": external_files[j],
         "train_index": i, "external_index": j, "hamming": h, "rms": r}
        for i, j, h, r in _near_pairs(train_x, external_x, max_hamming, max_thumb_rms)
    ]


def without_external_duplicates(train, external, keep_duplicates: bool = False):
    """(the external Split without its images that near-duplicate a training or validation
    image of the `train` Split, unless `keep_duplicates`; the duplicate pairs; how many external
    images have a duplicate)."""
    from dataclasses import replace

    pairs = audit_external(train.x, external.x, train.files, external.files)
    dup = np.zeros(len(external), dtype=bool)
    dup[[p["external_index"] for p in pairs]] = True
    if keep_duplicates or not dup.any():
        return external, pairs, int(dup.sum())
    keep = ~dup
    groups = None if external.groups is None else external.groups[keep]
    files = [f for f, k in zip(external.files, keep, strict=True) if k]
    ids = tuple(i for i, k in zip(external.ids, keep, strict=True) if k) if external.ids else ()
    return (replace(external, x=external.x[keep], y=external.y[keep], files=files, groups=groups,
                    ids=ids), pairs, int(dup.sum()))
