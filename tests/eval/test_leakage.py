"""raygan.eval.leakage: the hash and thumbnail survive small edits, the audit finds planted
duplicates, and on the real dataset it finds the known re-captures and the byte-identical pair."""

from __future__ import annotations

import io
import os
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import gaussian_filter

from raygan.eval.leakage import (
    MAX_HAMMING,
    MAX_THUMB_RMS,
    audit,
    exact_duplicates,
    exclude_mask,
    hamming,
    phash,
    thumb_rms,
    thumbnails,
)


def _texture(seed: int, size: int = 64) -> np.ndarray:
    """One CHW uint8 image of smooth random structure (blotches at several scales)."""
    rng = np.random.default_rng(seed)
    img = sum(gaussian_filter(rng.normal(size=(size, size, 3)), (s, s, 0)) * s for s in (2, 5))
    img = (img - img.mean()) / img.std()
    return np.clip(128 + 40 * img, 0, 255).astype(np.uint8).transpose(2, 0, 1)


def _brighter(img: np.ndarray, delta: int = 12) -> np.ndarray:
    return np.clip(img.astype(int) + delta, 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: int = 70) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img.transpose(1, 2, 0)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).transpose(2, 0, 1).copy()


def _distances(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    pair = np.stack([a, b])
    ham = hamming(phash(pair[:1]), phash(pair[1:]))[0, 0]
    rms = thumb_rms(thumbnails(pair[:1]), thumbnails(pair[1:]))[0, 0]
    return int(ham), float(rms)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("edit", [_brighter, _jpeg, lambda x: _jpeg(_brighter(x, -10), 50)])
def test_small_edits_stay_within_both_thresholds(seed, edit):
    img = _texture(seed)
    ham, rms = _distances(img, edit(img))
    assert ham <= MAX_HAMMING and rms <= MAX_THUMB_RMS, (ham, rms)


def test_unrelated_images_exceed_both_thresholds():
    imgs = np.stack([_texture(100 + i) for i in range(12)])
    ham = hamming(phash(imgs), phash(imgs))
    rms = thumb_rms(thumbnails(imgs), thumbnails(imgs))
    off = ~np.eye(len(imgs), dtype=bool)
    assert (ham[off] > MAX_HAMMING).all() and (rms[off] > MAX_THUMB_RMS).all()
    assert (np.diag(ham) == 0).all() and np.allclose(np.diag(rms), 0.0, atol=1e-6)


def test_hamming_and_thumb_rms_match_brute_force():
    imgs = np.stack([_texture(200 + i, size=32) for i in range(6)])
    h = phash(imgs)
    assert h.shape == (6, 64) and h.dtype == bool
    assert (h.sum(1) == 32).all()  # bits above the median of 64 coefficients: exactly half
    expected = (h[:, None] != h[None]).sum(-1)
    np.testing.assert_array_equal(hamming(h, h), expected)
    t = thumbnails(imgs)
    np.testing.assert_allclose(t.mean(1), 0.0, atol=1e-9)
    np.testing.assert_allclose(t.std(1), 1.0, rtol=1e-9)
    direct = np.sqrt(((t[:, None] - t[None]) ** 2).mean(-1))
    np.testing.assert_allclose(thumb_rms(t, t), direct, atol=1e-6)


def test_thumbnail_ignores_brightness_and_contrast():
    img = _texture(7)
    flat = img.astype(float)
    washed = np.clip(0.6 * (flat - 128) + 150, 0, 255).astype(np.uint8)  # dimmer contrast, brighter
    assert thumb_rms(thumbnails(img[None]), thumbnails(washed[None]))[0, 0] < 0.05


@pytest.fixture
def planted():
    """30 train and 12 test textures; 3 test images are edited copies of train ones, and train
    holds one byte-identical pair."""
    train = np.stack([_texture(i) for i in range(30)])
    train[25] = train[3]
    test = np.stack([_texture(1000 + i) for i in range(12)])
    test[2] = _brighter(train[4])
    test[7] = _jpeg(train[17])
    test[11] = train[9]
    train_files = [f"train/{'benign' if i < 15 else 'malignant'}/{i}.jpg" for i in range(30)]
    test_files = [f"test/benign/{j}.jpg" for j in range(12)]
    return train, test, train_files, test_files


def test_audit_finds_planted_duplicates(planted):
    train, test, train_files, test_files = planted
    pairs = audit(train, test, train_files, test_files)
    near = [p for p in pairs if p["kind"] == "train-test"]
    assert {(p["train_index"], p["test_index"]) for p in near} == {(4, 2), (17, 7), (9, 11)}
    assert [p["rms"] for p in near] == sorted(p["rms"] for p in near)  # closest first
    exact = next(p for p in near if p["test_index"] == 11)
    assert exact["hamming"] == 0 and exact["rms"] == pytest.approx(0.0, abs=1e-6)
    assert exact["train"] == "train/benign/9.jpg" and exact["test"] == "test/benign/11.jpg"
    dups = [p for p in pairs if p["kind"] == "train-exact"]
    assert [(p["train_index"], p["duplicate_index"]) for p in dups] == [(3, 25)]
    assert dups[0]["duplicate"] == "train/malignant/25.jpg"


def test_audit_thresholds_are_respected(planted):
    train, test, train_files, test_files = planted
    strict = audit(train, test, train_files, test_files, max_hamming=0, max_thumb_rms=1e-6)
    assert {p["test_index"] for p in strict if p["kind"] == "train-test"} == {11}


def test_exact_duplicates_and_input_checks():
    imgs = np.stack([_texture(i, size=16) for i in range(5)])
    imgs[4] = imgs[1]
    imgs[3] = imgs[1]
    assert exact_duplicates(imgs, [str(i) for i in range(5)]) == [(1, 3), (1, 4)]
    with pytest.raises(ValueError, match="file names"):
        exact_duplicates(imgs, ["a"])
    with pytest.raises(ValueError, match="uint8 NCHW"):
        audit(imgs.astype(np.float32), imgs, list("abcde"), list("abcde"))


def test_exclude_mask(planted):
    train, test, train_files, test_files = planted
    pairs = audit(train, test, train_files, test_files)
    mask = exclude_mask(pairs, len(test))
    assert mask.dtype == bool and np.flatnonzero(mask).tolist() == [2, 7, 11]
    assert not exclude_mask([], 4).any()
    # Within-train duplicates never drop a test image.
    assert not exclude_mask([p for p in pairs if p["kind"] == "train-exact"], len(test)).any()
    with pytest.raises(ValueError, match="outside"):
        exclude_mask([{"kind": "train-test", "test_index": 5}], 5)


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("RAYGAN_DATA"), reason="RAYGAN_DATA is not set")
def test_real_dataset_audit():
    from raygan.data import load_dataset

    ds = load_dataset(os.environ["RAYGAN_DATA"], 64)
    pairs = audit(ds.train.x, ds.test.x, ds.train.files, ds.test.files)
    near = [p for p in pairs if p["kind"] == "train-test"]
    assert near, "expected at least one train/test re-capture"
    # The dataset README: re-captures are of the same lesion, so of the same class.
    assert all(ds.train.y[p["train_index"]] == ds.test.y[p["test_index"]] for p in near)
    dups = {
        frozenset(str(PurePosixPath(p[k])) for k in ("train", "duplicate"))
        for p in pairs
        if p["kind"] == "train-exact"
    }
    assert frozenset({"train/malignant/768.jpg", "train/malignant/769.jpg"}) in dups
    mask = exclude_mask(pairs, len(ds.test))
    assert 0 < mask.sum() < 0.1 * len(ds.test)


def test_external_audit_drops_planted_duplicates(planted):
    from raygan.data import Split
    from raygan.eval.leakage import audit_external, without_external_duplicates

    train, test, train_files, test_files = planted
    # The external copies come at another size, as a second collection's would.
    big = F.interpolate(torch.from_numpy(test).float(), size=(96, 96), mode="bilinear")
    external = Split(big.round().clamp(0, 255).to(torch.uint8).numpy(), np.arange(12) % 2,
                     test_files, np.array([f"p{j}" for j in range(12)]))
    pairs = audit_external(train, external.x, train_files, external.files)
    assert {(p["train_index"], p["external_index"]) for p in pairs} == {(4, 2), (17, 7), (9, 11)}
    assert all(p["kind"] == "train-external" for p in pairs)
    kept, pairs, n = without_external_duplicates(Split(train, np.zeros(30, int), train_files),
                                                 external)
    assert n == 3 and len(kept) == 9 and len(pairs) == 3
    assert kept.files == [f for j, f in enumerate(test_files) if j not in (2, 7, 11)]
    assert kept.groups.tolist() == [f"p{j}" for j in range(12) if j not in (2, 7, 11)]
    assert np.array_equal(kept.y, np.delete(external.y, [2, 7, 11]))
    same, _, n_kept = without_external_duplicates(
        Split(train, np.zeros(30, int), train_files), external, keep_duplicates=True)
    assert n_kept == 3 and same is external


@pytest.mark.skipif(not (os.environ.get("RAYGAN_DATA") and os.environ.get("RAYGAN_EXTERNAL")),
                    reason="RAYGAN_DATA and RAYGAN_EXTERNAL are not both set")
def test_real_external_set_shares_pictures_with_training(tmp_path):
    from pathlib import Path

    from raygan.data.sources import external_set, load_source
    from raygan.eval.leakage import without_external_duplicates

    ext_root = Path(os.environ["RAYGAN_EXTERNAL"])
    card = tmp_path / "isic2017.toml"
    card.write_text(f'images = "{ext_root / "images"}"\nlabels = "{ext_root / "labels.csv"}"\n'
                    'id = "image_id"\nlabel = "melanoma"\npositive = ["1.0"]\n')
    ds = load_source(os.environ["RAYGAN_DATA"], 64)
    ext = external_set(card, 64)
    kept, pairs, n = without_external_duplicates(ds.train, ext)
    assert 20 <= n < 0.2 * len(ext) and len(kept) == len(ext) - n  # 56 on 2026-12-01
    assert not {p["external"] for p in pairs} & set(kept.files)

    def pixels(path: Path) -> np.ndarray:  # the original files, both at one size
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB").resize((128, 128), Image.Resampling.BILINEAR),
                              dtype=float)

    data = Path(os.environ["RAYGAN_DATA"])
    for p in pairs[:5]:  # the closest pairs are one picture: pixels agree to ~1-2 of 255
        train_px, ext_px = pixels(data / p["train"]), pixels(ext_root / "images" / p["external"])
        other = pixels(data / ds.train.files[(p["train_index"] + 7) % len(ds.train)])
        assert np.abs(train_px - ext_px).mean() < 4.0 < 20.0 < np.abs(other - ext_px).mean()
        assert ds.train.y[p["train_index"]] == 1 == ext.y[p["external_index"]]
