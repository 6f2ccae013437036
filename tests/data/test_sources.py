"""Every dataset source: the Kaggle layout, class folders, dataset cards; carved test splits and
the one-line errors each source gives for bad input."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from raygan.data import load_dataset
from raygan.data.sources import external_set, load_source
from raygan.errors import RayganError

SIZE = 16  # px


def _png(path: Path, value: int) -> None:
    """A tiny PNG whose pixels encode `value`, so that a test can tell images apart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((SIZE, SIZE, 3), value % 256, np.uint8)
    a[0, 0] = [value // 256, value % 256, 7]
    Image.fromarray(a).save(path)


def _card(tmp: Path, rows: list[tuple], header: str = "image_id,dx,lesion_id",
          extra: str = "", name: str = "card.toml", files: bool = True) -> Path:
    """A card over tmp/images with a label CSV of `rows` (id, label, group)."""
    (tmp / "meta").mkdir(parents=True, exist_ok=True)
    lines = [header] + [",".join(map(str, r)) for r in rows]
    (tmp / "meta" / "labels.csv").write_text("\n".join(lines) + "\n")
    if files:
        for i, r in enumerate(rows):
            _png(tmp / "images" / f"{r[0]}.png", i)
    card = tmp / "cards" / name
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text('images = "../images"\nlabels = "../meta/labels.csv"\nid = "image_id"\n'
                    f'label = "dx"\npositive = ["mel"]\n{extra}')
    return card


def _ham_rows(n_lesions: int = 40, seed: int = 0) -> list[tuple]:
    """HAM10000-like rows: lesions of 1-3 images each, 25 % of lesions melanoma."""
    rng = np.random.default_rng(seed)
    rows = []
    for lesion in range(n_lesions):
        dx = "mel" if lesion % 4 == 0 else rng.choice(["nv", "bkl"])
        for k in range(int(rng.integers(1, 4))):
            rows.append((f"ISIC_{lesion:03d}_{k}", dx, f"HAM_{lesion:03d}"))
    return rows


def test_kaggle_layout_is_loaded_and_cached_as_before(tiny_dataset, isolated_cache):
    old = load_dataset(tiny_dataset, 32)
    new = load_source(tiny_dataset, 32)
    assert np.array_equal(old.train.x, new.train.x) and np.array_equal(old.test.y, new.test.y)
    assert old.train.files == new.train.files and old.fingerprint == new.fingerprint
    assert new.train.groups is None and new.classes == ("benign", "malignant")
    assert len(list(isolated_cache.glob("*.npz"))) == 1  # one cache file serves both


def test_class_folders_with_their_own_split(tiny_dataset, tmp_path, isolated_cache):
    root = tmp_path / "data"
    for split in ("train", "test"):
        for old, new in (("benign", "nevus"), ("malignant", "melanoma")):
            shutil.copytree(tiny_dataset / split / old, root / split / new)
    ds = load_source(root, 32, classes=("nevus", "melanoma"))
    kaggle = load_dataset(tiny_dataset, 32)
    assert np.array_equal(ds.train.x, kaggle.train.x) and np.array_equal(ds.train.y, kaggle.train.y)
    assert ds.classes == ("nevus", "melanoma")
    assert all(f.startswith("train/melanoma/") for f, y in zip(ds.train.files, ds.train.y,
                                                                strict=True) if y == 1)
    swapped = load_source(root, 32, classes=("melanoma", "nevus"))  # labels follow the order
    flipped = dict(zip(swapped.train.files, swapped.train.y, strict=True))
    assert all(flipped[f] == 1 - y for f, y in zip(ds.train.files, ds.train.y, strict=True))
    with pytest.raises(RayganError, match=r"missing folder train/nevus .*\{nevus,melanoma\}"):
        load_source(tiny_dataset, 32, classes=("nevus", "melanoma"))


def test_flat_class_folders_get_a_stratified_seeded_test_split(tmp_path, isolated_cache):
    for i in range(30):
        _png(tmp_path / "data" / "nevus" / f"n{i}.png", i)
    for i in range(10):
        _png(tmp_path / "data" / "melanoma" / f"m{i}.png", 100 + i)
    ds = load_source(tmp_path / "data", 16, classes=("nevus", "melanoma"), test_fraction=0.2,
                     seed=3)
    assert (len(ds.train), len(ds.test)) == (32, 8)
    assert int(ds.test.y.sum()) == 2 and int(ds.train.y.sum()) == 8  # stratified
    assert set(ds.train.files).isdisjoint(ds.test.files)
    assert {k.split("/")[0] for k in ds.fingerprint} == {"train", "test", "geometry"}
    again = load_source(tmp_path / "data", 16, classes=("nevus", "melanoma"), test_fraction=0.2,
                        seed=3)
    assert again.test.files == ds.test.files
    other = load_source(tmp_path / "data", 16, classes=("nevus", "melanoma"), test_fraction=0.2,
                        seed=4)
    assert other.test.files != ds.test.files
    assert len(list(isolated_cache.glob("*.npz"))) == 2  # one per carve, none stale


def test_card_labels_groups_and_relative_paths(tmp_path, isolated_cache):
    rows = _ham_rows()
    card = _card(tmp_path, rows, extra='group = "lesion_id"\n')
    ds = load_source(card, 16, test_fraction=0.25, seed=1)
    assert ds.root == str(card.resolve()) and ds.classes == ("negative", "positive")
    label = {f"{r[0]}.png": int(r[1] == "mel") for r in rows}
    group = {f"{r[0]}.png": r[2] for r in rows}
    for split in (ds.train, ds.test):
        assert [label[f] for f in split.files] == split.y.tolist()
        assert [group[f] for f in split.files] == split.groups.tolist()
        for f, x in zip(split.files, split.x, strict=True):  # each file's own pixels
            i = [r[0] for r in rows].index(f[:-4])
            assert x[0, 0, 0] == i // 256 and x[1, 0, 0] == i % 256
    assert len(ds.train) + len(ds.test) == len(rows)
    assert set(ds.train.groups).isdisjoint(ds.test.groups)  # no lesion on both sides
    assert 0 < ds.test.y.sum() and 0 < (ds.test.y == 0).sum()
    # Absolute paths work as well, from a card anywhere.
    elsewhere = tmp_path / "other" / "abs.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f'images = "{tmp_path / "images"}"\nlabels = "{tmp_path}/meta/labels.csv"'
                         '\nid = "image_id"\nlabel = "dx"\npositive = ["mel"]\ngroup = "lesion_id"'
                         '\n')
    same = load_source(elsewhere, 16, test_fraction=0.25, seed=1)
    assert same.test.files == ds.test.files and np.array_equal(same.train.x, ds.train.x)


def test_card_with_split_column_and_negative_values(tmp_path, isolated_cache):
    rows = [(f"img{i}", ["mel", "nv", "bkl"][i % 3], "train" if i < 24 else "Test", f"p{i}")
            for i in range(30)]
    card = _card(tmp_path, rows, header="image_id,dx,split,patient",
                 extra='split = "split"\nnegative = ["nv"]\n')
    with pytest.warns(UserWarning, match="10 rows .* neither"):
        ds = load_source(card, 16)
    assert len(ds.train) == 16 and len(ds.test) == 4  # bkl rows left out, the CSV's split kept
    assert all(int(f[3:-4]) >= 24 for f in ds.test.files)


@pytest.mark.parametrize("extra, csv_rows, header, message", [
    ('group = "patient"\n', None, None,
     r"column 'patient' is not in .*labels.csv; its columns are: image_id, dx, lesion_id"),
    ("", [("a", "nv", "g"), ("b", "bkl", "g2")], None,
     r"no row .* positive label \['mel'\] in column 'dx'; the values there are: 'bkl', 'nv'"),
    ("", [("a", "mel", "g"), ("b", "mel", "g2")], None, r"negative class is empty"),
    ('split = "lesion_id"\n', None, None, r"column 'lesion_id' holds 'ham_000'; use train or test"),
    ('posittive = ["x"]\n', None, None, r"unknown key 'posittive'"),
])
def test_card_errors_say_what_is_wrong(tmp_path, isolated_cache, extra, csv_rows, header,
                                       message):
    card = _card(tmp_path, csv_rows or _ham_rows(), extra=extra,
                 **({"header": header} if header else {}))
    with pytest.raises(RayganError, match=message):
        load_source(card, 16)


def test_card_ids_that_match_no_file(tmp_path, isolated_cache):
    rows = _ham_rows()
    card = _card(tmp_path, rows)
    for name in ("ISIC_001_0.png", "ISIC_004_0.png"):
        (tmp_path / "images" / name).unlink()
    with pytest.raises(RayganError, match=r"labels.csv line 5: id 'ISIC_001_0' in column "
                                          r"'image_id' matches no image in .*images \(and 1 more "
                                          r"of the \d+ rows\)"):
        load_source(card, 16)


def _malformed(tmp: Path, lines: list[str], extra: str = "", data: bytes | None = None) -> str:
    """The one-line error of a card over 6 good rows (a-f, mel and nv) plus `lines`."""
    rows = [("a", "mel", "g1"), ("b", "nv", "g2"), ("c", "mel", "g3"), ("d", "nv", "g4"),
            ("e", "mel", "g5"), ("f", "nv", "g6")]
    card = _card(tmp, rows, extra=extra)
    csv_file = tmp / "meta" / "labels.csv"
    csv_file.write_bytes(data if data is not None else
                         (csv_file.read_text() + "".join(f"{x}\n" for x in lines)).encode())
    with pytest.raises(RayganError) as info:
        load_source(card, 16)
    message = str(info.value)
    assert "\n" not in message and "labels.csv" in message
    return message


@pytest.mark.parametrize("lines, extra, expected", [
    (["g"], "", r"line 8: 1 of the header's 3 fields, so no value for column 'dx'"),
    (["g,"], "", r"line 8: the label in column 'dx' is empty"),
    (["g,nan,g7"], "", r"line 8: the label in column 'dx' is 'nan'"),
    (["g,MEL,g7"], "", r"line 8: label 'MEL' in column 'dx' matches the positive value 'mel' "
                       r"only in case"),
    ([",nv,g7"], "", r"line 8: the id in column 'image_id' is empty"),
    (["b,mel,g7"], "", r"lines 3 and 8 both give id 'b'; keep one row per image"),
    (["b.png,mel,g7"], "", r"lines 3 and 8 both name image b.png"),
    (["g,nv,g7"], "", r"line 8: id 'g' in column 'image_id' matches no image in .*images;"),
    (["g,nv,g7,x,y"], "", r"line 8: 5 fields, the header has 3; quote values that hold a comma"),
    (['g,"nv', "h,mel,g8"], "", r"line 8: a quote opened there is never closed"),
    (['g,"nv', 'x",g7'], "", r"line 8: a quoted value runs on to line 9; close its quote"),
])
def test_every_malformed_csv_row_is_named_by_line(tmp_path, isolated_cache, lines, extra,
                                                  expected):
    # line 1 the header, lines 2-7 the good rows, line 8 the malformed one
    assert re.search(expected, _malformed(tmp_path, lines, extra))


def test_malformed_label_values_and_encodings_are_named_by_line(tmp_path, isolated_cache):
    numeric = _card(tmp_path / "n", [("a", "1.0", "g"), ("b", "0.0", "g"), ("c", "yes", "g")],
                    extra="", name="n.toml")
    numeric.write_text(numeric.read_text().replace('positive = ["mel"]', 'positive = ["1.0"]'))
    with pytest.raises(RayganError, match=r"line 4: label 'yes' in column 'dx' is not a number, "
                                          r"but the positive values are \(1.0\)"):
        load_source(numeric, 16)
    header = b"image_id,dx,lesion_id\na,mel,g1\nb,nv,g2\n"
    message = _malformed(tmp_path / "e", [], data=header + "c,n\u00e6vus,g3\n".encode("latin-1"))
    assert re.search(r"labels.csv line 4: byte 0xe6 is not UTF-8 text; save the file as UTF-8",
                     message)
    message = _malformed(tmp_path / "z", [], data=header + b"c,nv\0,g3\n")
    assert re.search(r"labels.csv line 4: the value in column 'dx' holds the control character "
                     r"'\\x00'", message)
    # A card with `negative` leaves other values out, naming them, as documented.
    ok = _card(tmp_path / "k", [(f"i{i}", ["mel", "nv", "bkl"][i % 3], f"g{i}")
                                for i in range(30)], extra='negative = ["nv"]\n')
    with pytest.warns(UserWarning, match=r"10 rows of .* neither .* \('bkl'\) and are left out"):
        load_source(ok, 16)


def test_card_missing_pieces(tmp_path, isolated_cache):
    card = _card(tmp_path, _ham_rows())
    with pytest.raises(RayganError, match="does not exist; pass the path of a .toml card"):
        load_source(tmp_path / "nope.toml", 16)
    card.write_text(card.read_text().replace('positive = ["mel"]\n', ""))
    with pytest.raises(RayganError, match="lacks the key 'positive'"):
        load_source(card, 16)
    card.write_text('images = "../gone"\nlabels = "../meta/labels.csv"\nid = "image_id"\n'
                    'label = "dx"\npositive = ["mel"]\n')
    with pytest.raises(RayganError, match=r"images = .*gone does not exist; it must name the "
                                          r"folder of images \(relative paths resolve"):
        load_source(card, 16)
    # `images` at a file and `labels` at a folder: what each is, and what it must be.
    card.write_text('images = "../meta/labels.csv"\nlabels = "../images"\nid = "image_id"\n'
                    'label = "dx"\npositive = ["mel"]\n')
    with pytest.raises(RayganError, match=r"images = .*labels.csv is a file, but images must "
                                          r"name the folder of images$"):
        load_source(card, 16)
    card.write_text('images = "../images"\nlabels = "../images"\nid = "image_id"\n'
                    'label = "dx"\npositive = ["mel"]\n')
    with pytest.raises(RayganError, match=r"labels = .*images is a folder, but labels must name "
                                          r"the label CSV file$"):
        load_source(card, 16)
    card.write_text("images = [unclosed\n")
    with pytest.raises(RayganError, match="is not valid TOML"):
        load_source(card, 16)


def test_every_image_rule_applies_to_cards(tmp_path, isolated_cache):
    card = _card(tmp_path, _ham_rows())
    (tmp_path / "images" / "ISIC_002_0.png").write_bytes(b"not a png")
    with pytest.raises(RayganError, match=r"cannot read image .*ISIC_002_0.png"):
        load_source(card, 16)


def test_empty_class_folder_is_named(tmp_path, isolated_cache):
    for i in range(5):
        _png(tmp_path / "d" / "nv" / f"{i}.png", i)
    (tmp_path / "d" / "mel").mkdir()
    with pytest.raises(RayganError, match=r"folder mel in .* holds no images"):
        load_source(tmp_path / "d", 16, classes=("nv", "mel"))
    with pytest.raises(RayganError, match="name two different classes"):
        load_source(tmp_path / "d", 16, classes=("nv", "nv"))


def test_too_few_images_to_carve_a_test_split(tmp_path, isolated_cache):
    for i in range(5):
        _png(tmp_path / "d" / "nv" / f"{i}.png", i)
    _png(tmp_path / "d" / "mel" / "0.png", 9)
    with pytest.raises(RayganError, match="positive class has 1 images: too few to carve"):
        load_source(tmp_path / "d", 16, classes=("nv", "mel"))


def test_groups_that_forbid_a_test_split_say_why_in_plain_text(tmp_path, isolated_cache):
    one = _card(tmp_path / "one", [(f"i{i}", "mel" if i % 3 == 0 else "nv", "L1")
                                   for i in range(12)], extra='group = "lesion_id"\n')
    with pytest.raises(RayganError, match=r"^all 12 images are in one group \('L1'\), so a test "
                                          r"split that keeps each group on one side is "
                                          r"impossible; give the card a `split` column"):
        load_source(one, 16)
    rows = [(f"i{i}", "mel" if i < 4 else "nv", "P" if i < 4 else f"N{i}") for i in range(12)]
    mel = _card(tmp_path / "mel", rows, extra='group = "lesion_id"\n')
    with pytest.raises(RayganError, match=r"^all 4 positive images are in one group \('P'\), so "
                                          r"a test split .* cannot hold positive images on both "
                                          r"sides"):
        load_source(mel, 16)
    rows = [(f"i{i}", "mel" if i % 2 else "nv", f"L{i % 4}", "test" if i < 6 else "train")
            for i in range(12)]
    both = _card(tmp_path / "both", rows, header="image_id,dx,lesion_id,split",
                 extra='group = "lesion_id"\nsplit = "split"\n')
    with pytest.raises(RayganError, match=r"group 'L0' \(column 'lesion_id'\) has images in both "
                                          r"train and test") as info:
        load_source(both, 16)
    assert "np." not in str(info.value)


def test_a_small_external_set_loads_whole_with_content_ids(tmp_path, isolated_cache):
    # Too few images to carve a test split from, but an external set is tested whole.
    card = _card(tmp_path, [("a", "mel", "g"), ("b", "nv", "g"), ("c", "nv", "g")],
                 extra='group = "lesion_id"\n')
    ext = external_set(card, 16)
    assert ext.files == ["b.png", "c.png", "a.png"] and ext.y.tolist() == [0, 0, 1]
    assert ext.groups.tolist() == ["g", "g", "g"]
    assert len(set(ext.ids)) == 3 and all(len(i) == 12 for i in ext.ids)
    # The id is the file's content: the same bytes under another name keep it.
    (tmp_path / "images" / "a.png").rename(tmp_path / "images" / "z.png")
    (tmp_path / "meta" / "labels.csv").write_text("image_id,dx,lesion_id\nz,mel,g\nb,nv,g\n"
                                                  "c,nv,g\n")
    moved = external_set(card, 16)
    assert dict(zip(moved.ids, moved.files, strict=True))[ext.ids[2]] == "z.png"
    flat = tmp_path / "flat"
    for cls, n in (("benign", 2), ("malignant", 1)):
        for i in range(n):
            _png(flat / cls / f"{cls}{i}.png", 50 + 10 * i + n)
    assert external_set(flat, 16).y.tolist() == [0, 0, 1]


README = Path(__file__).resolve().parents[2] / "README.md"
DOCS_CARD = Path(__file__).resolve().parents[2] / "docs" / "cards" / "isic2017.toml"


def test_readme_card_examples_use_the_card_keys():
    import re
    import tomllib

    from raygan.data.sources import CARD_KEYS

    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2  # HAM10000 and ISIC 2020
    for text in [*blocks, DOCS_CARD.read_text()]:
        card = tomllib.loads(text)
        assert set(card) <= set(CARD_KEYS)
        assert {k for k, (required, _, _) in CARD_KEYS.items() if required} <= set(card)


@pytest.mark.skipif(not os.environ.get("RAYGAN_EXTERNAL"), reason="RAYGAN_EXTERNAL not set")
def test_the_docs_card_reads_the_shared_external_set(tmp_path, isolated_cache):
    root = Path(os.environ["RAYGAN_EXTERNAL"])
    folder = tmp_path / "ISIC2017"  # the folder a user unpacks, with the card copied in
    folder.mkdir()
    (folder / "images").symlink_to(root / "images")
    (folder / "labels.csv").symlink_to(root / "labels.csv")
    shutil.copy(DOCS_CARD, folder)
    ext = external_set(folder / "isic2017.toml", 32)
    assert len(ext) == 658 and int(ext.y.sum()) == 120
