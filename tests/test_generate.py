"""`raygan generate`: from a sweep's MLflow run and config.json, and from a checkpoint file
alone, which carries the arguments that rebuild its GAN; both give the trained GAN's images."""

import csv
import sys
from pathlib import Path

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
    (["--checkpoint", "X", "--count", "2", "--pairs", "3"], "only its sweep knows"),
])
def test_generate_names_one_source(capsys, tmp_path, argv, needle):
    code = cli.main(["generate", "--out", str(tmp_path / "png"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "png").exists()


def _fails(capsys, *argv: str) -> str:
    """The one error line of `raygan generate argv` (exit 2)."""
    capsys.readouterr()
    code = cli.main(["generate", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("count", ["0", "-3", "1000001"])
def test_count_out_of_bounds_is_refused_before_anything_loads(capsys, tmp_path, count):
    # No such checkpoint or sweep: the count is told first, and --out is not created.
    for source in (["--checkpoint", str(tmp_path / "none.pt")], ["--sweep", "nope", "--run", RUN]):
        msg = _fails(capsys, *source, "--count", count, "--out", str(tmp_path / "png"))
        assert "--count must be between 1 and 1,000,000" in msg, msg
    assert not (tmp_path / "png").exists()


def test_out_under_a_file_or_unwritable_is_one_line_before_loading(capsys, tmp_path, trained):
    from test_files import unwritable_folder

    _, path, _ = trained
    (tmp_path / "f").write_text("a file")
    missing = str(tmp_path / "none.pt")  # were the checkpoint read first, this would be told
    for source in ([missing], [str(path)]):
        msg = _fails(capsys, "--checkpoint", *source, "--count", "2", "--out",
                     str(tmp_path / "f" / "png"))
        assert f"--out {tmp_path / 'f' / 'png'}: {tmp_path / 'f'} is a file, not a folder" in msg
    msg = _fails(capsys, "--checkpoint", missing, "--count", "2", "--out", "/proc/raygan-png")
    assert "a kernel filesystem" in msg
    with unwritable_folder(tmp_path) as ro:
        msg = _fails(capsys, "--checkpoint", missing, "--count", "2", "--out", str(ro / "png"))
        assert f"{ro} is not writable" in msg
    assert (tmp_path / "f").read_text() == "a file"


def test_chunks_stream_the_same_images_with_bounded_memory(tmp_path, trained):
    from raygan.gans.export import sample_chunks, write_samples

    spec, path, _ = trained
    gan = spec.build()
    gan.load_state_dict(load_checkpoint(path)["gan"])
    whole = gan.generate(10, seed=0)
    chunks = sample_chunks(gan, 10, seed=0, chunk=4)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert np.array_equal(np.concatenate(list(sample_chunks(gan, 10, 0, chunk=4))), whole)
    # A generator: a million images cost one chunk until the next is asked for.
    first = next(sample_chunks(gan, 1_000_000, seed=0, chunk=4))
    assert np.array_equal(first, whole[:4])

    out, seen = tmp_path / "png", []

    def watched():
        """The chunks, each drawn only once the previous one is on disk with its rows."""
        for c in sample_chunks(gan, 10, seed=0, chunk=4):
            if seen:
                assert len(list(out.glob("*.png"))) == sum(seen)
                assert len(_manifest(out)) == sum(seen)
            seen.append(len(c))
            yield c

    write_samples(out, watched(), 0, {"gan": "dcgan"})
    assert seen == [4, 4, 2] and np.array_equal(_pngs(out), whole)
    assert [int(r["index"]) for r in _manifest(out)] == list(range(10))


def test_generate_past_one_chunk_gives_todays_images(capsys, tmp_path, trained):
    from raygan.gans.export import CHUNK

    spec, path, _ = trained
    gan = spec.build()
    gan.load_state_dict(load_checkpoint(path)["gan"])
    count = CHUNK + 3
    out = tmp_path / "png"
    assert cli.main(["generate", "--checkpoint", str(path), "--count", str(count), "--out",
                     str(out)]) == 0
    assert np.array_equal(_pngs(out), gan.generate(count, seed=0))  # one call, all in memory
    assert len(_manifest(out)) == count


def test_an_out_folder_with_earlier_images_is_refused_or_replaced(capsys, tmp_path, trained):
    _, path, expected = trained
    out = tmp_path / "png"
    assert cli.main(["generate", "--checkpoint", str(path), "--count", str(COUNT), "--out",
                     str(out)]) == 0
    (out / "mine.png").write_bytes(b"the user's own picture")
    (out / "notes.txt").write_text("keep me")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    msg = _fails(capsys, "--checkpoint", str(path), "--count", "2", "--out", str(out))
    assert f"--out {out} already holds manifest.csv and {COUNT + 1} PNGs" in msg
    assert "--overwrite" in msg
    # --overwrite with a checkpoint that fails: the earlier images are kept.
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    msg = _fails(capsys, "--checkpoint", str(tmp_path / "bad.pt"), "--count", "2", "--out",
                 str(out), "--overwrite")
    assert "not a raygan GAN checkpoint" in msg
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert cli.main(["generate", "--checkpoint", str(path), "--count", "2", "--out", str(out),
                     "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "000000.png", "000001.png", "manifest.csv", "mine.png", "notes.txt"]
    assert (out / "mine.png").read_bytes() == b"the user's own picture"
    assert [r["file"] for r in _manifest(out)] == ["000000.png", "000001.png"]
    assert np.array_equal(np.stack([np.asarray(Image.open(out / f"00000{i}.png"))
                                    .transpose(2, 0, 1) for i in range(2)]), expected[:2])


def test_overwrite_never_writes_over_a_png_no_manifest_lists(capsys, tmp_path, trained):
    _, path, _ = trained
    out = tmp_path / "png"
    out.mkdir()
    (out / "000001.png").write_bytes(b"someone else's")
    msg = _fails(capsys, "--checkpoint", str(path), "--count", "2", "--out", str(out))
    assert "already holds 1 PNG;" in msg
    msg = _fails(capsys, "--checkpoint", str(path), "--count", "2", "--out", str(out),
                 "--overwrite")
    assert "holds 000001.png, which no manifest.csv there lists" in msg
    assert sorted(p.name for p in out.iterdir()) == ["000001.png"]


def test_pairs_put_the_images_nearest_to_the_cells_training_images_beside_them(
        capsys, data_copy, tmp_path, trained):
    from raygan.data import carve_validation, cell_split
    from raygan.eval.memorization import measure
    from raygan.fidelity_stage import held_out
    from raygan.report_stage import sweep_data, sweep_folder

    runs, out = tmp_path / "runs", tmp_path / "png"
    saved_sweep(runs, "g", data_copy)
    _log_sweep(trained[1])
    capsys.readouterr()
    assert cli.main(["generate", "--sweep", "g", "--run", RUN, "--count", "20", "--pairs", "3",
                     "--out", str(out), "--output", str(runs)]) == 0
    assert f"the 3 closest (generated, training) pairs in {out / 'pairs.png'}" in \
        capsys.readouterr().out
    # What they show, recomputed from the images written and the cell's training images.
    _, cfg = sweep_folder("g", str(runs))
    data = sweep_data(cfg, "g", None)
    pools = carve_validation(data.train.y, cfg.val_fraction, cfg.split_seed, cfg.validation,
                             data.train.groups)
    split = cell_split(pools, 5, 0)
    files = [r["file"] for r in _manifest(out)]
    images = np.stack([np.asarray(Image.open(out / f)).transpose(2, 0, 1) for f in files])
    x = data.train.x
    expected = measure(images, x[split.malignant], x[held_out(pools, split)]).closest(3)
    with open(out / "pairs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["training_image"]) for r in rows] == [
        (files[p.fake], data.train.files[split.malignant[p.train]]) for p in expected]
    assert [float(r["distance"]) for r in rows] == [round(p.distance, 6) for p in expected]
    assert all(r["training_image"].startswith("train/malignant/") for r in rows)
    grid = np.asarray(Image.open(out / "pairs.png"))  # the closest pair first: generated, train
    up = lambda img: np.kron(img.transpose(1, 2, 0), np.ones((2, 2, 1), np.uint8))  # noqa: E731
    np.testing.assert_array_equal(grid[10:74, 10:74], up(images[expected[0].fake]))
    np.testing.assert_array_equal(grid[10:74, 76:140], up(x[split.malignant[expected[0].train]]))
    # The pairs are the run's files: refused without --overwrite, replaced with it.
    msg = _fails(capsys, "--sweep", "g", "--run", RUN, "--count", "4", "--out", str(out),
                 "--output", str(runs))
    assert "already holds manifest.csv and 20 PNGs and pairs.png and pairs.csv" in msg
    assert cli.main(["generate", "--sweep", "g", "--run", RUN, "--count", "4", "--out", str(out),
                     "--output", str(runs), "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [*files[:4], "manifest.csv"]


def test_a_pairs_file_no_generate_wrote_is_never_written_over(tmp_path):
    from raygan.errors import RayganError
    from raygan.gans.export import previous_files

    out = tmp_path / "png"
    out.mkdir()
    (out / "pairs.png").write_bytes(b"someone else's")
    with pytest.raises(RayganError, match="already holds pairs.png; pass --overwrite"):
        previous_files(out, 2, overwrite=False)
    assert previous_files(out, 2, overwrite=True) == []  # kept, and nothing writes it
    with pytest.raises(RayganError, match="holds pairs.png, which no earlier raygan generate"):
        previous_files(out, 2, overwrite=True, pairs=True)
    (out / "manifest.csv").write_text("file,index\n000000.png,0\n")  # an earlier generate's
    assert previous_files(out, 2, overwrite=True, pairs=True) == [out / "manifest.csv",
                                                                 out / "pairs.png"]


def _artifact_file(run_name: str, name: str):
    """The local file of artifact `name` of the MLflow run `run_name` (sqlite store)."""
    from urllib.parse import urlparse

    from mlflow.tracking import MlflowClient

    from raygan import tracking

    client = MlflowClient(tracking.resolve_uri())
    exp = client.get_experiment_by_name("raygan")
    run = next(r for r in client.search_runs([exp.experiment_id]) if r.info.run_name == run_name)
    return run, Path(urlparse(run.info.artifact_uri).path) / name


def test_a_deleted_gan_checkpoint_names_the_run_and_its_path(capsys, data_copy, tmp_path,
                                                            trained):
    _, path, _ = trained
    saved_sweep(tmp_path / "runs", "g", data_copy)
    _log_sweep(path)
    run, file = _artifact_file(RUN, "gan.pt")
    file.unlink()
    msg = _fails(capsys, "--sweep", "g", "--run", RUN, "--count", "2", "--out",
                 str(tmp_path / "png"), "--output", str(tmp_path / "runs"))
    assert f"run {RUN} ({run.info.run_id}) holds no gan.pt ({run.info.artifact_uri}/gan.pt is " \
           "missing)" in msg
    assert "it was deleted from the run" in msg and "older raygan" not in msg
    assert "raygan run --resume --name g" in msg
    assert not (tmp_path / "png").exists()


def test_a_deleted_experiment_gives_the_restore_command(capsys, data_copy, tmp_path, trained):
    from mlflow.tracking import MlflowClient

    from raygan import tracking

    _, path, _ = trained
    saved_sweep(tmp_path / "runs", "g", data_copy)
    _log_sweep(path)
    uri = tracking.resolve_uri()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("raygan").experiment_id
    client.delete_experiment(exp)
    msg = _fails(capsys, "--sweep", "g", "--run", RUN, "--count", "2", "--out",
                 str(tmp_path / "png"), "--output", str(tmp_path / "runs"))
    assert f"experiment 'raygan' (id {exp})" in msg and "is deleted" in msg
    assert f"mlflow experiments restore --experiment-id {exp}" in msg
    assert "no sweep named" not in msg
