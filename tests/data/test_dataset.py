"""Reading the Kaggle layout: shapes, labels, layout errors, corrupt files, the array cache."""

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_COUNTS
from PIL import Image

from raygan.data import load_dataset, resolve_root
from raygan.data.dataset import _cache_path, _list_files
from raygan.errors import RayganError


def test_load_shapes_labels_and_files(tiny_dataset, isolated_cache):
    ds = load_dataset(tiny_dataset, 32)
    n_train, n_test = 2 * TINY_COUNTS["train"], 2 * TINY_COUNTS["test"]
    assert ds.train.x.shape == (n_train, 3, 32, 32) and ds.train.x.dtype == np.uint8
    assert ds.test.x.shape == (n_test, 3, 32, 32)
    assert ds.train.y.tolist() == [0] * TINY_COUNTS["train"] + [1] * TINY_COUNTS["train"]
    assert all(f.startswith("train/benign/") for f in ds.train.files[: TINY_COUNTS["train"]])
    assert all(f.startswith("test/malignant/") for f in ds.test.files[TINY_COUNTS["test"]:])
    # Malignant blobs are dark and large: the decoded pixels must show it.
    assert ds.train.x[ds.train.y == 1].mean() < ds.train.x[ds.train.y == 0].mean() - 20
    assert ds.root == str(Path(tiny_dataset).resolve()) and ds.resolution == 32


def test_second_load_comes_from_cache(tiny_dataset, isolated_cache):
    first = load_dataset(tiny_dataset, 32)
    assert len(list(isolated_cache.glob("*.npz"))) == 1
    t0 = time.perf_counter()
    second = load_dataset(tiny_dataset, 32)
    assert time.perf_counter() - t0 < 5  # generous: the contract (under 1 s) is a benchmark
    np.testing.assert_array_equal(first.train.x, second.train.x)
    assert first.test.files == second.test.files
    load_dataset(tiny_dataset, 64)  # another resolution is another cache entry
    assert len(list(isolated_cache.glob("*.npz"))) == 2


def test_cache_key_follows_file_changes(tiny_dataset, tmp_path, isolated_cache):
    root = Path(shutil.copytree(tiny_dataset, tmp_path / "data"))
    before = _cache_path(root, _list_files(root), 32)
    load_dataset(root, 32)
    victim = root / "train" / "benign" / "train_benign_000.jpg"
    Image.new("RGB", (48, 48), (0, 255, 0)).save(victim)
    os.utime(victim, ns=(1, 1))
    after = _cache_path(root, _list_files(root), 32)
    assert before != after
    ds = load_dataset(root, 32)
    green = ds.train.x[ds.train.files.index("train/benign/train_benign_000.jpg")]
    assert green[1].mean() > 200 and green[0].mean() < 50  # re-decoded, not the stale array


def test_truncated_cache_is_decoded_again(tiny_dataset, isolated_cache):
    ref = load_dataset(tiny_dataset, 32)
    (cache,) = isolated_cache.glob("*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    again = load_dataset(tiny_dataset, 32)
    np.testing.assert_array_equal(ref.train.x, again.train.x)


def test_root_resolution_order(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGAN_DATA", str(tiny_dataset))
    assert resolve_root(None) == Path(tiny_dataset).resolve()
    monkeypatch.delenv("RAYGAN_DATA")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RayganError, match="fanconic/skin-cancer-malignant-vs-benign"):
        resolve_root(None)
    (tmp_path / "data" / "skin-cancer-mvb").mkdir(parents=True)
    assert resolve_root(None) == (tmp_path / "data" / "skin-cancer-mvb").resolve()


@pytest.fixture
def data_copy(tiny_dataset, tmp_path, isolated_cache) -> Path:
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


def test_missing_class_folder_shows_layout(data_copy):
    shutil.rmtree(data_copy / "train" / "benign")
    with pytest.raises(RayganError, match=r"train/benign.*\{train,test\}/\{benign,malignant\}"):
        load_dataset(data_copy, 32)


def test_empty_class_folder(data_copy):
    for f in (data_copy / "test" / "benign").iterdir():
        f.unlink()
    with pytest.raises(RayganError, match="holds no images"):
        load_dataset(data_copy, 32)


def test_corrupt_and_truncated_images_are_named(data_copy):
    bad = data_copy / "test" / "malignant" / "zz_bad.jpg"
    bad.write_bytes(b"garbage")
    with pytest.raises(RayganError, match="zz_bad.jpg"):
        load_dataset(data_copy, 32)
    good = (data_copy / "test" / "benign" / "test_benign_000.jpg").read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(RayganError, match="zz_bad.jpg"):
        load_dataset(data_copy, 32)


def test_tolerated_inputs(data_copy):
    (data_copy / "train" / "benign" / "notes.txt").write_text("not an image")
    Image.new("L", (100, 60), 128).save(data_copy / "train" / "benign" / "zz_gray.png")
    Image.new("RGBA", (48, 48), (10, 20, 30, 40)).save(data_copy / "train" / "benign" / "zz.png")
    with pytest.warns(UserWarning, match="non-image"):
        ds = load_dataset(data_copy, 32)
    assert len(ds.train) == 2 * TINY_COUNTS["train"] + 2
    gray = ds.train.x[ds.train.files.index("train/benign/zz_gray.png")]
    assert gray.shape == (3, 32, 32) and (gray == 128).all()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode says")
def test_unreadable_class_folder(data_copy):
    folder = data_copy / "train" / "malignant"
    folder.chmod(0)
    try:
        with pytest.raises(RayganError, match=r"cannot list folder .*train/malignant"):
            load_dataset(data_copy, 32)
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("kind", ["broken link", "file"])
def test_class_folder_that_is_no_folder(data_copy, kind):
    folder = data_copy / "test" / "benign"
    shutil.rmtree(folder)
    if kind == "file":
        folder.write_text("not a folder")
    else:
        folder.symlink_to(data_copy / "nowhere")
    want = "a file, not a folder" if kind == "file" else "a broken link"
    with pytest.raises(RayganError, match=f"test/benign in .* is {want}; expected the layout"):
        load_dataset(data_copy, 32)


def test_non_utf8_file_name_is_named(data_copy):
    good = data_copy / "train" / "benign" / "train_benign_000.jpg"
    shutil.copy(good, os.fsdecode(bytes(data_copy / "train" / "benign") + b"/\xff.jpg"))
    with pytest.raises(RayganError, match=r"file name b'\\xff.jpg' in .*benign is not valid UTF-8"):
        load_dataset(data_copy, 32)


def _decoded(data_copy: Path, name: str) -> np.ndarray:
    ds = load_dataset(data_copy, 48)  # the tiny images' own size: no resampling
    return ds.train.x[ds.train.files.index(f"train/benign/{name}")]


def test_high_bit_depth_images_are_scaled_not_blank(data_copy):
    folder = data_copy / "train" / "benign"
    ramp = np.tile(np.arange(48), (48, 1))  # 0..47 along each row
    Image.fromarray((ramp * 65535 // 47).astype(np.uint16)).save(folder / "zz16.png")
    Image.fromarray((ramp * 1000 - 20000).astype(np.int32)).save(folder / "zz32.tif")
    Image.fromarray((ramp / 47).astype(np.float32)).save(folder / "zzf.tif")
    assert [Image.open(folder / n).mode for n in ("zz16.png", "zz32.tif", "zzf.tif")] == [
        "I;16", "I", "F"]
    want = np.rint(ramp * 255 / 47)
    for name in ("zz16.png", "zz32.tif", "zzf.tif"):
        img = _decoded(data_copy, name)
        assert img.shape == (3, 48, 48) and (img[0] == img[1]).all() and (img[0] == img[2]).all()
        assert np.abs(img[0] - want).max() <= 1, name  # the full ramp, 0 to 255
    Image.fromarray(np.full((48, 48), 32896, dtype=np.uint16)).save(folder / "zz16.png")
    assert (_decoded(data_copy, "zz16.png") == 128).all()  # 16-bit by its range: 128 x 257


def test_constant_float_image_is_refused(data_copy):
    bad = data_copy / "train" / "benign" / "zz_flat.tif"
    Image.fromarray(np.full((48, 48), 3.5, dtype=np.float32)).save(bad)
    with pytest.raises(RayganError, match=r"zz_flat.tif \(mode F\) holds a single value"):
        load_dataset(data_copy, 32)


def test_decompression_bomb_is_named(data_copy, monkeypatch):
    Image.new("RGB", (100, 100), (200, 150, 140)).save(data_copy / "test" / "benign" / "zz_big.png")
    # PIL refuses images above twice MAX_IMAGE_PIXELS; a low limit keeps the file small while
    # the tiny 48 x 48 images stay within it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 48 * 48)
    with pytest.raises(RayganError, match=r"image .*zz_big.png is too large to decode safely \("):
        load_dataset(data_copy, 32)
