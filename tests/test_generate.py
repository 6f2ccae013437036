"""`raygan generate`: from a sweep's MLflow run and config.json, and from a checkpoint file
alone, which carries the arguments that rebuild its GAN; both give the trained GAN's images."""

import csv
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from sweep_helpers import saved_sweep

import raygan
from raygan import cli
from raygan.cell import KIND_GAN, Cell
from raygan.config import GANConfig
from raygan.gans import build_gan, fit_gan
from raygan.gans.checkpoint import FORMAT, GANSpec, load_checkpoint, save_checkpoint
from raygan.profiles import profile_config

RUN = "train:dcgan-n5-s0"  # the smoke sweep's DCGAN at budget 5 (saved_sweep), seed 0
COUNT = 6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A DCGAN trained as the smoke sweep's cell trains it, its gan.pt, and its own images."""
    cfg = profile_config("smoke")
    spec = GANSpec("dcgan", cfg.gan_config("dcgan", 5), cfg.resolution, seed=0, budget=5)
    gan = spec.build()
    real = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    history = fit_gan(gan, real, seed=0)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt"), spec, gan.state_dict(),
                           spec.gan_config.steps, history)
    return spec, path, gan.generate(COUNT, seed=0)


def _pngs(folder) -> np.ndarray:
    files = sorted(folder.glob("*.png"))
    return np.stack([np.asarray(Image.open(f)).transpose(2, 0, 1) for f in files])


def _manifest(folder) -> list[dict[str, str]]:
    with open(folder / "manifest.csv") as f:
        return list(csv.DictReader(f))


def _log_sweep(checkpoint) -> None:
    """Sweep `g` in MLflow: a finished GAN training RUN whose artifact is `checkpoint`."""
    from raygan import tracking

    uri = tracking.resolve_uri()
    exp = tracking.setup(uri, "raygan")
    parent = tracking.start_parent(uri, exp, "g", {})
    ctx = tracking.TrackingContext(uri, exp, parent, "g")
    cell = Cell.from_run_name(RUN)
    with tracking.child_run(ctx, RUN, cell.params, cell.tags(KIND_GAN)) as run:
        run.file(checkpoint)
    tracking.end_run(uri, parent)


def test_checkpoint_carries_the_arguments_that_rebuild_its_gan(trained):
    spec, path, _ = trained
    state = load_checkpoint(path)
    assert state["format"] == FORMAT == 2
    assert {k: state[k] for k in ("family", "resolution", "seed", "budget")} == {
        "family": "dcgan", "resolution": 32, "seed": 0, "budget": 5}
    assert GANConfig(**state["gan_config"]) == spec.gan_config
    assert GANSpec.from_dict(state) == spec


def test_generate_from_the_file_alone_equals_the_sweeps_path(capsys, data_copy, tmp_path,
                                                             trained, monkeypatch):
    spec, path, expected = trained
    saved_sweep(tmp_path / "runs", "g", data_copy)
    _log_sweep(path)
    via_sweep = tmp_path / "via_sweep"
    assert cli.main(["generate", "--sweep", "g", "--run", RUN, "--count", str(COUNT), "--out",
                     str(via_sweep), "--output", str(tmp_path / "runs")]) == 0
    # The file alone: no MLflow (its modules cannot even be imported), no config.json.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "raygan.tracking", None)
    monkeypatch.delattr(raygan, "tracking")
    (tmp_path / "runs" / "g" / "config.json").unlink()
    via_file = tmp_path / "via_file"
    capsys.readouterr()
    assert cli.main(["generate", "--checkpoint", str(path), "--count", str(COUNT), "--out",
                     str(via_file)]) == 0
    assert f"{COUNT} images of {path} (dcgan, N=5, seed 0, 32 px)" in capsys.readouterr().out
    got = _pngs(via_file)
    assert got.shape == (COUNT, 3, 32, 32) and got.dtype == np.uint8
    assert np.array_equal(got, expected)  # the trained GAN's own images ...
    assert np.array_equal(got, _pngs(via_sweep))  # ... and the sweep path's, image for image
    rows, sweep_rows = _manifest(via_file), _manifest(via_sweep)
    assert [r["file"] for r in rows] == sorted(p.name for p in via_file.glob("*.png"))
    strip = ("in_fill",)  # only the sweep's path knows the cell's fill
    assert rows == [{k: v for k, v in r.items() if k not in strip} for r in sweep_rows]


def test_an_old_checkpoint_still_samples_through_its_sweep(capsys, data_copy, tmp_path,
                                                           trained):
    _, path, expected = trained
    state = load_checkpoint(path)
    old = tmp_path / "old" / "gan.pt"  # format 1: weights, step and history only
    old.parent.mkdir()
    torch.save({k: state[k] for k in ("gan", "step", "history")}, old)
    saved_sweep(tmp_path / "runs", "g", data_copy)
    _log_sweep(old)
    out = tmp_path / "png"
    assert cli.main(["generate", "--sweep", "g", "--run", RUN, "--count", str(COUNT), "--out",
                     str(out), "--output", str(tmp_path / "runs")]) == 0
    assert np.array_equal(_pngs(out), expected)
    capsys.readouterr()
    code = cli.main(["generate", "--checkpoint", str(old), "--count", "2", "--out",
                     str(tmp_path / "png2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "format 1" in err[0] and "--sweep" in err[0], err
    assert not (tmp_path / "png2").exists()


def _bad_file(kind: str, tmp_path, trained):
    """A --checkpoint argument that cannot be sampled on its own, of the given kind."""
    path = tmp_path / "gan.pt"
    if kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "short text":
        path.write_text("hello\n")  # the weights-only unpickler fails on it with a KeyError
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "other tensors":
        torch.save({"weights": torch.zeros(2)}, path)
    elif kind == "cyclegan":
        spec = GANSpec("cyclegan", GANConfig(width=4), 32, seed=0, budget=5)
        save_checkpoint(tmp_path, spec, build_gan("cyclegan", spec.gan_config, 32, 0)
                        .state_dict(), 0, [])
    elif kind == "unknown family":
        state = load_checkpoint(trained[1])
        torch.save({**state, "family": "stylegan9"}, path)
    elif kind == "newer format":
        state = load_checkpoint(trained[1])
        torch.save({**state, "format": FORMAT + 1}, path)
    return path


@pytest.mark.parametrize("kind, needle", [
    ("missing", "no such file"),
    ("text", "not a raygan GAN checkpoint"),
    ("short text", "not a raygan GAN checkpoint"),
    ("empty", "not a raygan GAN checkpoint"),
    ("other tensors", "not a raygan GAN checkpoint"),
    ("cyclegan", "translates the sweep's benign training images"),
    ("unknown family", "'stylegan9' GAN, a family this raygan does not know"),
    ("newer format", "newer than this raygan reads"),
])
def test_a_bad_checkpoint_is_one_line_before_any_work(capsys, tmp_path, trained, kind, needle):
    path = _bad_file(kind, tmp_path, trained)
    out = tmp_path / "png"
    code = cli.main(["generate", "--checkpoint", str(path), "--count", "2", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert needle in err[0], err[0]
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["--count", "2"], "name the GAN training"),
    (["--sweep", "g", "--count", "2"], "name the GAN training"),
    (["--checkpoint", "X"], "--checkpoint needs --count"),
    (["--checkpoint", "X", "--count", "2", "--sweep", "g"], "drop --sweep"),
    (["--checkpoint", "X", "--count", "0"], "--count must be between 1 and 1,000,000"),
])
def test_generate_names_one_source(capsys, tmp_path, argv, needle):
    code = cli.main(["generate", "--out", str(tmp_path / "png"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "png").exists()
