"""Memorization made visible (raygan.eval.memorization): each generated image's nearest training
image, the nearest-neighbour ratio against held-out real images, the flag of a fill made of
training copies, the closest pairs as a PNG, and how the report and its results folder carry
them."""

import csv
import io
import math

import numpy as np
import pytest
from PIL import Image

from raygan.cell import Cell, Gate
from raygan.data.splits import CellSplit, Pools
from raygan.eval.bundle import read_results, write_results
from raygan.eval.memorization import (
    COPIED_FILL,
    NEAR_COPY_RMS,
    ClosestPairs,
    Pair,
    copied,
    measure,
    pairs_png,
)
from raygan.eval.numbers import TestSet, Trial
from raygan.eval.report import write_report
from raygan.fidelity_stage import held_out


def lesions(n: int, seed: int, side: int = 32) -> np.ndarray:
    """`n` distinct smooth images: a dark blob of random size and place on pale skin, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    out = np.empty((n, 3, side, side), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(8, side - 8, 2)
        r = rng.uniform(4, 9)
        alpha = np.clip(r - np.hypot(yy - cy, xx - cx), 0, 1)
        skin, spot = rng.uniform(170, 240, 3), rng.uniform(30, 120, 3)
        img = skin[:, None, None] * (1 - alpha) + spot[:, None, None] * alpha
        out[i] = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def images():
    """(train, held_out, fill): 40 training images; 60 held-out real images of the same kind;
    a fill of 30 fresh images and exact copies of training images 3, 17, 29 (twice) and 8."""
    train, real = lesions(40, seed=0), lesions(60, seed=1)
    fresh = lesions(30, seed=2)
    fill = np.concatenate([fresh[:10], train[[3, 17]], fresh[10:20], train[[29, 29, 8]],
                           fresh[20:]])
    return train, real, fill


COPIES = {10: 3, 11: 17, 22: 29, 23: 29, 24: 8}  # fill index -> training index


def test_a_fill_with_training_copies_is_flagged_and_its_pairs_find_the_originals(images):
    train, real, fill = images
    memo = measure(fill, train, real)
    summary = memo.summary()
    assert summary["near_copies"] == len(COPIES) / len(fill)  # 5 of 35
    assert copied(summary["near_copies"]) and summary["near_copies"] >= COPIED_FILL
    pairs = memo.closest(len(COPIES))
    assert {p.fake: p.train for p in pairs} == COPIES
    assert [p.fake for p in pairs] == sorted(COPIES)  # ties at 0: lower index first
    assert all(p.distance == 0.0 and p.ratio == 0.0 for p in pairs)
    # The next pair is a fresh image, as far from the training set as fresh real ones are.
    fresh = memo.closest(len(COPIES) + 1)[-1]
    assert fresh.fake not in COPIES and fresh.distance > NEAR_COPY_RMS and fresh.ratio > 0.5


def test_a_fresh_fill_reads_as_far_as_held_out_real_images(images):
    train, real, fill = images
    fresh = np.delete(fill, list(COPIES), axis=0)
    memo = measure(fresh, train, real)
    summary = memo.summary()
    assert summary["near_copies"] == 0.0 and not copied(summary["near_copies"])
    assert summary["real_near_copies"] == 0.0  # no held-out image re-captures a training one
    # Same kind of image as the held-out ones: the ratio's median near 1.
    assert 0.8 < summary["nn_ratio_median"] < 1.25
    assert summary["nn_ratio_min"] <= summary["nn_ratio_p05"] <= summary["nn_ratio_median"]
    assert memo.scale == pytest.approx(float(np.median(memo.real_distance)))
    # The definition: each image's RMS distance at 32 px to its nearest training image, brute
    # force, over the held-out real images' median of the same.
    flat = lambda a: a.reshape(len(a), -1).astype(float) / 255  # noqa: E731  (32 px already)
    d = np.sqrt(((flat(fresh)[:, None] - flat(train)[None]) ** 2).mean(2))
    d_real = np.sqrt(((flat(real)[:, None] - flat(train)[None]) ** 2).mean(2)).min(1)
    np.testing.assert_allclose(memo.distance, d.min(1), rtol=1e-9)
    assert memo.nearest.tolist() == d.argmin(1).tolist()
    np.testing.assert_allclose(memo.ratio, d.min(1) / np.median(d_real), rtol=1e-9)


def test_without_held_out_images_the_ratio_is_unknown(images):
    train, _, fill = images
    memo = measure(fill, train, np.zeros((0, 3, 32, 32), np.uint8))
    summary = memo.summary()
    assert summary["near_copies"] == len(COPIES) / len(fill)
    assert math.isnan(summary["real_near_copies"]) and math.isnan(summary["nn_ratio_median"])
    assert math.isnan(memo.closest(1)[0].ratio) and memo.closest(1)[0].distance == 0.0


def test_streamed_pairs_equal_the_pairs_of_the_whole_fill(images, tmp_path):
    train, real, fill = images
    tracker = ClosestPairs(train, real, k=4)
    chunks = [fill[:7], fill[7:11], fill[11:30], fill[30:]]
    passed = list(tracker.watch(iter(chunks)))
    assert all(a is b for a, b in zip(passed, chunks, strict=True))  # unchanged, in order
    whole, streamed = measure(fill, train, real), tracker.result()
    np.testing.assert_array_equal(streamed.distance, whole.distance)
    np.testing.assert_array_equal(streamed.nearest, whole.nearest)
    assert streamed.closest(4) == whole.closest(4)
    written = tracker.write(tmp_path, "{:06d}.png".format,
                            [f"train/malignant/{j}.jpg" for j in range(40)])
    assert written == whole.closest(4)
    rows = list(csv.DictReader((tmp_path / "pairs.csv").open()))
    assert [(r["file"], r["training_image"]) for r in rows] == [
        ("000010.png", "train/malignant/3.jpg"), ("000011.png", "train/malignant/17.jpg"),
        ("000022.png", "train/malignant/29.jpg"), ("000023.png", "train/malignant/29.jpg")]
    assert {float(r["distance"]) for r in rows} == {0.0}
    grid = np.asarray(Image.open(tmp_path / "pairs.png"))
    assert grid.shape[2] == 3 and grid.shape[1] > 4 * 2 * 64  # four pairs side by side


def test_the_pairs_png_shows_each_generated_image_beside_its_training_image(images):
    train, _, fill = images
    pairs = [Pair(22, 29, 0.0, 0.0), Pair(0, 5, 0.1, 1.2)]
    png = np.asarray(Image.open(io.BytesIO(pairs_png(fill, train, pairs, cols=2, side=64))))
    pad, gap, side = 10, 2, 64
    up = lambda img: np.kron(img.transpose(1, 2, 0), np.ones((2, 2, 1), np.uint8))  # noqa: E731
    for rank, p in enumerate(pairs):
        x = pad + rank * (2 * side + gap + pad)
        np.testing.assert_array_equal(png[pad:pad + side, x:x + side], up(fill[p.fake]))
        np.testing.assert_array_equal(png[pad:pad + side, x + side + gap:x + 2 * side + gap],
                                      up(train[p.train]))
    with pytest.raises(ValueError, match="no pairs"):
        pairs_png(fill, train, [])


def test_held_out_images_are_those_the_generator_never_saw():
    groups = np.array([f"L{i // 2}" for i in range(20)])  # two images per lesion
    pools = Pools(benign=np.arange(0), malignant=np.arange(20), val=np.arange(0),
                  validation="budget", groups=groups)
    split = CellSplit(benign=np.arange(0), malignant=np.array([0, 1, 4]), val=np.array([7]))
    # Not its training images, not its validation part, not the other photo of lesion L2 (5).
    assert held_out(pools, split).tolist() == [2, 3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                               18, 19]
    no_groups = Pools(np.arange(0), np.arange(20), np.arange(0), "budget")
    assert 5 in held_out(no_groups, split).tolist() and 7 not in held_out(no_groups, split)


def _fidelity_rows(copied_share: float) -> list[dict]:
    base = {"fd": 2.0, "kid": 0.05, "real_near_copies": 0.0, "nn_ratio_min": 0.4,
            "nn_ratio_p05": 0.7, "nn_ratio_median": 0.98, "precision": 0.81, "recall": 0.42,
            "density": 0.9, "coverage": 0.77, "prdc_k": 5, "prdc_images": 35, "test_auc": 0.7}
    return [{"arm": "gan:dcgan", "budget": 50, "seed": 0, **base, "near_copies": 0.0},
            {"arm": "diffusion:ddpm", "budget": 50, "seed": 0, **base,
             "near_copies": copied_share, "nn_ratio_min": 0.0, "recall": 0.03}]


def test_the_report_flags_a_copied_fill_draws_pairs_and_the_results_folder_keeps_numbers(
        tmp_path, images):
    from raygan.config import SweepConfig
    from raygan.profiles import profile_config

    train, _, fill = images
    y = np.array([0, 1] * 20)
    rng = np.random.default_rng(0)
    arms = ("real", "oversample", "gan:dcgan", "diffusion:ddpm")
    trials = [Trial(Cell(a, 50, 0), rng.uniform(size=len(y))) for a in arms]
    gates = [Gate(Cell(a, 50, 0), 100, 100, False, 0.5, "yes") for a in arms[2:]]
    fidelity = _fidelity_rows(0.4)
    pairs = {Cell("diffusion:ddpm", 50, 0): pairs_png(fill, train, measure(
        fill, train, train[:0]).closest(4))}
    out = tmp_path / "report"
    paths = write_report(trials, y, out, "m", fidelity=fidelity, gates=gates, pairs=pairs)
    md = (out / "report.md").read_text()
    gate_rows = [ln for ln in md.split("## GAN quality gate")[1].splitlines()
                 if ln.startswith("| diffusion:ddpm | 50 | 0 |")]
    assert gate_rows and gate_rows[0].endswith("| 40.0% (**training copies**: 5% or more) |")
    assert "| gan:dcgan | 50 | 0 | 100 (100) | no | 0.50 | yes | 0.0% |" in md
    assert ("1 generated fill is made of training copies (5% or more of the images are "
            "near-copies of the cell's N real training images): diffusion:ddpm N=50 seed 0 "
            "(40%). A fill made of training copies is not a synthetic fill") in md
    assert "precision | recall | density | coverage |" in md and "| 0.81 | 0.03 |" in md
    assert "| 0.00 / 0.98 |" in md and "k = 5" in md and "35 of each per run" in md
    png = out / "pairs" / "diffusion_ddpm-n50-s0.png"
    assert png in paths and png.read_bytes()[:4] == b"\x89PNG"
    assert "![diffusion:ddpm-n50-s0](pairs/diffusion_ddpm-n50-s0.png)" in md
    # The results folder: the numbers, never an image; its report rebuilds the tables.
    cfg = SweepConfig.from_dict({**profile_config("smoke").to_dict(), "budgets": [50],
                                 "arms": list(arms), "seeds": [0]})
    folder = tmp_path / "results"
    write_results(folder, cfg.to_json(), [TestSet("test", y, trials)], gates, None, fidelity)
    assert not [p for p in folder.rglob("*") if p.suffix == ".png"]
    back = read_results(folder)
    assert back.fidelity == fidelity
    again = tmp_path / "again"
    write_report(trials, y, again, "m", fidelity=back.fidelity, gates=back.gates)
    md2 = (again / "report.md").read_text()
    assert "which a results folder does not keep" in md2 and not (again / "pairs").exists()
    table = lambda t: t.split("## Fidelity against")[1].split("![")[0]  # noqa: E731
    assert table(md2).split("| arm |")[1] == table(md).split("| arm |")[1]


def test_a_fidelity_section_from_before_prdc_says_it_was_not_measured(tmp_path):
    y = np.array([0, 1] * 20)
    trials = [Trial(Cell(a, 50, 0), np.linspace(0, 1, len(y))) for a in ("real", "gan:dcgan")]
    old = [{"arm": "gan:dcgan", "budget": 50, "seed": 0, "fd": 2.0, "kid": 0.05,
            "near_copies": 0.0, "test_auc": 0.7}]
    write_report(trials, y, tmp_path, "old", fidelity=old)
    md = (tmp_path / "report.md").read_text()
    assert "were not measured for this sweep (its fidelity section predates them)" in md
    assert "| gan:dcgan | 50 | 0 | 2.00 | 0.0500 | 0.0% | 0.700 | unknown |" in md


@pytest.fixture(scope="module")
def dcgan_checkpoint(tmp_path_factory):
    """gan.pt of a DCGAN trained as the smoke sweep's cell N=5 seed 0 trains it."""
    from raygan.gans import fit_gan
    from raygan.gans.checkpoint import GANSpec, save_checkpoint
    from raygan.profiles import profile_config

    cfg = profile_config("smoke")
    spec = GANSpec("dcgan", cfg.gan_config("dcgan", 5), cfg.resolution, seed=0, budget=5)
    gan = spec.build()
    real = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    history = fit_gan(gan, real, seed=0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt"), spec, gan.state_dict(),
                           spec.gan_config.steps, history)


def test_report_fidelity_measures_every_generated_run_and_keeps_its_pairs_out_of_results(
        capsys, data_copy, tmp_path, dcgan_checkpoint):
    """`raygan report --fidelity --cas` of a finished sweep (its GAN training's gan.pt and its
    arm's test scores in MLflow, no Ray): the new columns in report.md, fidelity.csv and the
    results folder, the pairs PNG in the report folder alone, and `report --results` rebuilding
    it."""
    from sweep_helpers import saved_sweep

    from raygan import cli, tracking
    from raygan.cell import KIND_GAN

    runs = tmp_path / "runs"
    saved_sweep(runs, "f", data_copy, grid={"arms": ["gan:dcgan"], "seeds": [0]})
    uri = tracking.resolve_uri()
    exp = tracking.setup(uri, "raygan")
    ctx = tracking.TrackingContext(uri, exp, tracking.start_parent(uri, exp, "f", {}), "f")
    cell = Cell("gan:dcgan", 5, 0)
    grid = tmp_path / "samples.png"  # every GAN training logs its sample grid
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(grid)
    with tracking.child_run(ctx, cell.gan_run_name, cell.params, cell.tags(KIND_GAN)) as run:
        run.file(dcgan_checkpoint)
        run.file(grid)
    with tracking.child_run(ctx, cell.run_name, cell.params,
                            {"raygan.kind": "classifier"}) as run:
        scores = tmp_path / "test_p_malignant.npy"
        np.save(scores, np.random.default_rng(1).uniform(size=24))
        run.file(scores)
    tracking.end_run(uri, ctx.parent_run_id)
    capsys.readouterr()
    assert cli.main(["report", "--name", "f", "--output", str(runs), "--fidelity", "--cas"]) == 0
    assert "CAS 1/1: dcgan N=5 seed 0: AUC" in capsys.readouterr().out
    report = runs / "f" / "report"
    md = (report / "report.md").read_text()
    assert "| arm | N | seed | domain FD | KID | precision | recall | density | coverage |" in md
    row = next(ln for ln in md.split("## Fidelity against")[1].splitlines()
               if ln.startswith("| gan:dcgan | 5 | 0 |"))
    assert "k = 5" in md and "35 of each per run" in md  # 40 malignant, 5 in the budget
    pairs = report / "pairs" / "gan_dcgan-n5-s0.png"
    assert pairs.read_bytes()[:4] == b"\x89PNG" and "(pairs/gan_dcgan-n5-s0.png)" in md
    with open(report / "fidelity.csv") as f:
        (saved,) = list(csv.DictReader(f))
    for key in ("precision", "recall", "density", "coverage", "nn_ratio_min", "nn_ratio_median",
                "cas_auc"):
        assert math.isfinite(float(saved[key])), key
    assert 0 <= float(saved["recall"]) <= 1 and saved["prdc_images"] == "35"
    assert float(saved["nn_ratio_min"]) <= float(saved["nn_ratio_median"])
    results = runs / "f" / "results"
    assert (results / "fidelity.csv").read_text() == (report / "fidelity.csv").read_text()
    assert not [p for p in results.rglob("*") if p.suffix == ".png"]  # numbers only
    again = tmp_path / "again"
    assert cli.main(["report", "--results", str(results), "--name", "f", "--output",
                     str(again)]) == 0
    md2 = (again / "f" / "report" / "report.md").read_text()
    assert row in md2 and "which a results folder does not keep" in md2
