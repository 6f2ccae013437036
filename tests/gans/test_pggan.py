"""PGGAN specifics: the growth schedule, its checkpointing, full-size output, equalized lr."""

import io

import numpy as np
import pytest
import torch

from raygan.config import GANConfig
from raygan.gans import build_gan, fit_gan
from raygan.gans.pggan import (
    EqualConv2d,
    EqualLinear,
    num_stages,
    real_at_stage,
    schedule,
)
from raygan.images import to_float

CFG = GANConfig(z_dim=16, width=8, batch_size=4, steps=8, checkpoint_every=8, log_every=8)


def _real(n: int, res: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 3, res, res), dtype=np.uint8)


@pytest.mark.parametrize(("steps", "stages"), [(200, 4), (200, 6), (1000, 5), (10, 5), (7, 4)])
def test_schedule_grows_to_full_resolution(steps, stages):
    plan = [schedule(t, steps, stages) for t in range(steps)]
    grow = min(steps, max(stages, -(-steps // 2)))  # the growing half of the steps
    assert plan[0] == (0, 1.0)
    assert [s for s, _ in plan] == sorted(s for s, _ in plan)
    assert {s for s, _ in plan} == set(range(stages))  # no stage is skipped
    assert plan[-1][0] == stages - 1
    if steps >= 2 * stages:
        assert plan[-1][1] == 1.0  # the last step trains the stabilized full-size G
    assert schedule(steps, steps, stages) == (stages - 1, 1.0)
    for stage in range(1, stages):
        alphas = [a for s, a in plan if s == stage]
        assert alphas == sorted(alphas) and all(0.0 <= a <= 1.0 for a in alphas)
        assert alphas[0] < 1.0  # every new stage fades in
        if grow % stages == 0:
            assert alphas[0] == 0.0
        if grow >= 2 * stages:
            assert alphas[-1] == 1.0
    if grow % (2 * stages) == 0:  # evenly split: fade-in and stabilize halves of equal length
        per = grow // stages
        assert [a for s, a in plan if s == 1].count(1.0) == per // 2
    if steps >= 2 * stages:  # the full-size G trains at least the second half of the run
        assert all(p == (stages - 1, 1.0) for p in plan[-(steps // 2):])


def test_schedule_survives_checkpoint():
    cfg = GANConfig(**{**CFG.__dict__, "steps": 24})
    gan = build_gan("pggan", cfg, 32, seed=0)
    real = to_float(torch.from_numpy(_real(4, 32)))
    for i in range(4):
        gan.train_step(real, torch.Generator().manual_seed(i))
    G = gan.nets["G"]
    assert gan.steps_done == 4 and (G.stage, G.alpha) == schedule(4, 24, 4) == (1, 2 / 3)
    buf = io.BytesIO()
    torch.save(gan.state_dict(), buf)
    buf.seek(0)
    other = build_gan("pggan", cfg, 32, seed=1)
    other.load_state_dict(torch.load(buf, weights_only=True))
    assert other.steps_done == 4
    for k in ("G", "D"):
        assert (other.nets[k].stage, other.nets[k].alpha) == (G.stage, G.alpha)
    np.testing.assert_array_equal(gan.generate(3, 0), other.generate(3, 0))


def test_full_schedule_trains_every_stage_and_ends_grown():
    gan = build_gan("pggan", CFG, 32, seed=0)
    history = fit_gan(gan, _real(4, 32), seed=0)
    assert all(np.isfinite(v) for v in history[-1].values())
    assert gan.steps_done == 8 and (gan.nets["G"].stage, gan.nets["G"].alpha) == (3, 1.0)
    assert gan.generate(2, 0).shape == (2, 3, 32, 32)


def test_generator_is_full_size_at_every_stage():
    gan = build_gan("pggan", CFG, 32, seed=0)
    G, z = gan.nets["G"], gan.generator_input([torch.Generator().manual_seed(i) for i in range(2)])
    for stage, side in [(0, 4), (1, 8), (3, 32)]:
        for alpha in (0.5, 1.0):
            G.stage, G.alpha = stage, alpha
            assert G(z).shape == (2, 3, 32, 32)
            assert G(z, full_size=False).shape == (2, 3, side, side)
    G.stage, G.alpha = 0, 1.0
    assert gan.generate(2, 0).shape == (2, 3, 32, 32)
    with torch.no_grad():
        small = G(z, full_size=False)
        assert torch.equal(G(z), small.repeat_interleave(8, 2).repeat_interleave(8, 3))


def test_fade_in_blends_old_and_new_paths():
    gan = build_gan("pggan", CFG, 32, seed=0)
    G, z = gan.nets["G"], torch.randn(2, 16)
    G.stage, G.alpha = 1, 1.0
    new = G(z, full_size=False)
    G.stage, G.alpha = 0, 1.0
    old = G(z)[:, :, ::4, ::4]  # the 4 px output, nearest-upsampled to 8 px
    G.stage, G.alpha = 1, 0.25
    torch.testing.assert_close(G(z, full_size=False), 0.75 * old + 0.25 * new)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    pooled = torch.nn.functional.avg_pool2d(real, 4)
    torch.testing.assert_close(real_at_stage(real, 1, 1.0, 4), pooled)
    coarse = torch.nn.functional.avg_pool2d(real, 8).repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(real_at_stage(real, 1, 0.0, 4), coarse)


def test_equalized_lr_layers_have_unit_variance_raw_weights():
    gan = build_gan("pggan", GANConfig(z_dim=64, width=16), 64, seed=0)
    layers = [m for net in gan.nets.values() for m in net.modules()
              if isinstance(m, (EqualConv2d, EqualLinear))]
    assert len(layers) > 10
    assert not any(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
                   for net in gan.nets.values() for m in net.modules())
    raw = torch.cat([m.weight.detach().flatten() for m in layers])
    assert abs(raw.mean().item()) < 0.01 and abs(raw.std().item() - 1.0) < 0.01
    conv = next(m for m in layers if isinstance(m, EqualConv2d) and m.weight.shape[-1] == 3)
    assert conv.scale == pytest.approx(np.sqrt(2 / conv.weight[0].numel()))


@pytest.mark.parametrize(("resolution", "base"), [(224, 7), (64, 4)])
def test_builds_at_224_and_64(resolution, base):
    gan = build_gan("pggan", GANConfig(z_dim=8, width=4, steps=100), resolution, seed=0)
    stages = num_stages(resolution)
    assert base * 2 ** (stages - 1) == resolution
    G, D = gan.nets["G"], gan.nets["D"]
    z = gan.generator_input([torch.Generator().manual_seed(i) for i in range(2)])
    for stage in (0, stages - 1):
        side = base * 2**stage
        for net in (G, D):
            net.stage, net.alpha = stage, 0.5 if stage else 1.0
        assert G(z, full_size=False).shape == (2, 3, side, side)
        assert D(torch.zeros(2, 3, side, side)).shape == (2,)
    real = to_float(torch.from_numpy(_real(2, resolution)))
    gan.steps_done = 99  # the last step: the full-size, stabilized networks
    losses = gan.train_step(real, torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in losses.values())
    assert (G.stage, G.alpha) == (stages - 1, 1.0)
    assert G(z).shape == (2, 3, resolution, resolution)


def test_logistic_r1_loss_penalizes_the_critics_slope_on_real_images():
    import dataclasses

    cfg = dataclasses.replace(CFG, r1=0.1, ema=0.9)
    gan = build_gan("pggan", cfg, 32, seed=0)
    history = fit_gan(gan, _real(4, 32), seed=0)
    row = history[-1]
    assert "loss/R1" in row and "loss/GP" not in row
    assert row["loss/R1"] > 0 and all(np.isfinite(v) for v in row.values())
    # the logistic losses are softplus terms: D's sums two, each > 0
    assert row["loss/D"] > 0 and row["loss/G"] > 0
    # the same seed gives the same run; r1 = 0 is the paper's WGAN-GP loss
    again = build_gan("pggan", cfg, 32, seed=0)
    assert fit_gan(again, _real(4, 32), seed=0)[-1] == row
    wgan = fit_gan(build_gan("pggan", CFG, 32, seed=0), _real(4, 32), seed=0)[-1]
    assert "loss/GP" in wgan and "loss/R1" not in wgan


def test_lazy_r1_regularizes_every_kth_step_with_k_times_the_weight():
    import dataclasses

    real = to_float(torch.from_numpy(_real(4, 32)))
    every = dataclasses.replace(CFG, r1=0.1)
    lazy = dataclasses.replace(every, r1_every=4)
    a, b = build_gan("pggan", every, 32, seed=0), build_gan("pggan", lazy, 32, seed=0)
    first = [g.train_step(real, torch.Generator().manual_seed(0))["loss/R1"] for g in (a, b)]
    # same weights, same batch: the lazy step's penalty is the same slope, weighted 4x
    assert first[1] == pytest.approx(4 * first[0], rel=1e-5) and first[0] > 0
    later = [b.train_step(real, torch.Generator().manual_seed(k))["loss/R1"] for k in (1, 2, 3)]
    assert later == [0.0, 0.0, 0.0]
    assert b.train_step(real, torch.Generator().manual_seed(4))["loss/R1"] > 0  # step 4 again
