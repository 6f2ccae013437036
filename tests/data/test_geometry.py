"""How a non-square image becomes the square working resolution: crop, squash or pad; the
choice per dataset (card key, setting), in the cache's key and the data fingerprint."""

import numpy as np
import pytest
from PIL import Image

from raygan.data.dataset import _decode, fingerprint_changes, load_dataset, to_square
from raygan.data.sources import geometry_of, load_source
from raygan.errors import RayganError

W, H, RES = 120, 60, 32  # a 2:1 image


def _marked(path) -> None:
    """A grey 120 x 60 image with a red disk of radius 10 at its centre and a blue 10 px band
    at its left and right edges."""
    a = np.full((H, W, 3), 128, np.uint8)
    yy, xx = np.mgrid[:H, :W]
    a[(yy - H / 2 + 0.5) ** 2 + (xx - W / 2 + 0.5) ** 2 <= 100] = (255, 0, 0)
    a[:, :10] = a[:, -10:] = (0, 0, 255)
    Image.fromarray(a).save(path)


def _red(x: np.ndarray) -> np.ndarray:
    return (x[0] > 200) & (x[1] < 60) & (x[2] < 60)


def test_crop_keeps_the_aspect_ratio_and_the_centre(tmp_path):
    _marked(tmp_path / "a.png")
    x = _decode(tmp_path / "a.png", RES, "crop")
    assert x.shape == (3, RES, RES)
    rows, cols = np.nonzero(_red(x))
    # The 60 px centre square is scaled by 32/60: the disk (diameter 20) is ~10.7 px across in
    # both directions, round, centred; the blue edges lie outside the crop.
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(height - width) <= 1 and 9 <= height <= 12
    assert abs(rows.mean() - (RES - 1) / 2) < 1 and abs(cols.mean() - (RES - 1) / 2) < 1
    assert not (x[2] > 200).any()


def test_squash_changes_the_aspect_ratio_and_pad_keeps_the_whole_image(tmp_path):
    _marked(tmp_path / "a.png")
    squash = _decode(tmp_path / "a.png", RES, "squash")
    pad = _decode(tmp_path / "a.png", RES, "pad")
    assert squash.shape == pad.shape == (3, RES, RES)
    rows, cols = np.nonzero(_red(squash))
    assert np.ptp(rows) > 1.5 * np.ptp(cols)  # the round disk is twice as tall as wide
    assert (squash[2, :, 0] > 200).all()  # the blue edges reach the sides
    # pad: the whole image, scaled by 32/120, centred between black bands of 8 px
    assert (pad[:, :8] == 0).all() and (pad[:, -8:] == 0).all()
    assert (pad[2, 8:-8, 0] > 150).all()  # blue edges kept
    rows, cols = np.nonzero(_red(pad))
    assert abs(np.ptp(rows) - np.ptp(cols)) <= 1


def test_a_square_image_is_the_same_by_every_geometry(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "s.png")
    out = [_decode(tmp_path / "s.png", RES, g) for g in ("crop", "squash", "pad")]
    assert (out[0] == out[1]).all() and (out[0] == out[2]).all()
    assert to_square(Image.fromarray(a[:RES, :RES]), RES, "pad").size == (RES, RES)


def _dataset(root) -> None:
    """The Kaggle layout, two marked 2:1 images per folder."""
    for split in ("train", "test"):
        for cls in ("benign", "malignant"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(2):
                _marked(d / f"{i}.png")


def test_the_cache_and_the_fingerprint_key_on_the_geometry(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGAN_CACHE", str(tmp_path / "cache"))
    _dataset(tmp_path / "d")
    crop = load_dataset(tmp_path / "d", RES, "crop")
    squash = load_dataset(tmp_path / "d", RES, "squash")
    assert (crop.train.x != squash.train.x).any()  # not read back from the other's cache
    assert len(list((tmp_path / "cache").iterdir())) == 2
    again = load_dataset(tmp_path / "d", RES, "crop")
    assert (again.train.x == crop.train.x).all()
    changed, _ = fingerprint_changes(squash.fingerprint, crop.fingerprint)
    assert changed == ["geometry: squash -> crop"]
    # a fingerprint from before the geometry was recorded was decoded squashed
    old = {k: v for k, v in squash.fingerprint.items() if k != "geometry"}
    assert fingerprint_changes(old, squash.fingerprint) == ([], [])
    assert fingerprint_changes(old, crop.fingerprint)[0] == ["geometry: squash -> crop"]


def test_a_cards_geometry_holds_over_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGAN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "img").mkdir()
    rows = ["id,dx"]
    for i in range(8):
        _marked(tmp_path / "img" / f"i{i}.png")
        rows.append(f"i{i},{'mel' if i % 2 else 'nv'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    body = 'images = "img"\nlabels = "labels.csv"\nid = "id"\nlabel = "dx"\npositive = ["mel"]\n'
    (tmp_path / "plain.toml").write_text(body)
    (tmp_path / "pad.toml").write_text(body + 'geometry = "pad"\n')
    assert geometry_of(tmp_path / "pad.toml", "crop") == "pad"
    assert geometry_of(tmp_path / "plain.toml", "squash") == "squash"
    padded = load_source(tmp_path / "pad.toml", RES, geometry="crop")
    assert padded.geometry == "pad" and (padded.train.x[:, :, :8] == 0).all()
    cropped = load_source(tmp_path / "plain.toml", RES, geometry="crop")
    assert cropped.geometry == "crop" and not (cropped.train.x[:, 2] > 200).any()
    (tmp_path / "bad.toml").write_text(body + 'geometry = "stretch"\n')
    with pytest.raises(RayganError, match="geometry = 'stretch' must be one of crop, squash, pad"):
        load_source(tmp_path / "bad.toml", RES)
