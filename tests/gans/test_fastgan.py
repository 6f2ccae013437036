"""FastGAN specifics: SLE gating, every size, D's reconstruction decoders, DiffAugment training."""

import numpy as np
import pytest
import torch

from raygan.config import GANConfig
from raygan.gans import build_gan, fit_gan
from raygan.gans.fastgan import SLE, Discriminator, Generator, quadrant, reconstruction_loss

TINY = GANConfig(z_dim=8, width=4)


def test_sle_gates_channels_from_the_low_resolution_map():
    torch.manual_seed(0)
    sle = SLE(c_low=16, c_high=8)
    low, high = torch.randn(2, 16, 8, 8), torch.ones(2, 8, 64, 64)
    out = sle(low, high)
    assert out.shape == high.shape
    # One gate in (0, 1) per image and channel, constant over space.
    assert torch.all((out > 0) & (out < 1))
    assert torch.allclose(out, out[..., :1, :1].expand_as(out))
    assert not torch.allclose(sle(low + torch.randn_like(low), high), out)


@pytest.mark.parametrize(("resolution", "targets"), [
    (16, [16]), (32, [32]), (64, [64]), (128, [64, 128]), (112, [112]), (224, [112, 224]),
])
def test_sle_pairs_exist_at_every_generation_size(resolution, targets):
    G = Generator(z_dim=8, width=4, resolution=resolution)
    assert sorted(int(side) for side in G.sle) == targets
    assert G(torch.randn(2, 8, 1, 1)).shape == (2, 3, resolution, resolution)


@pytest.mark.parametrize("resolution", [32, 64, 128, 224])
def test_builds_and_samples_at_every_resolution(resolution):
    gan = build_gan("fastgan", TINY, resolution, seed=0)
    G = gan.nets["G"].eval()
    with torch.no_grad():  # what `generate` does, on 2 images rather than a 64-image chunk
        fake = G(gan.generator_input([torch.Generator().manual_seed(i) for i in range(2)]))
    assert fake.shape == (2, 3, resolution, resolution)
    assert fake.abs().max() <= 1 and fake.std() > 0
    logits = gan.nets["D"](fake)
    assert logits.shape[0] == 2 and torch.isfinite(logits).all()


@pytest.mark.parametrize("resolution", [32, 224])
def test_upscale_generates_at_half_size(resolution):
    pytest.importorskip("raygan.gans.sr")
    gan = build_gan("fastgan", GANConfig(z_dim=8, width=4, upscale=True), resolution, seed=0)
    assert gan.gen_resolution == resolution // 2
    G = gan.nets["G"].eval()
    with torch.no_grad():  # as in `generate`
        half = G(gan.generator_input([torch.Generator().manual_seed(i) for i in range(2)]))
        assert half.shape == (2, 3, resolution // 2, resolution // 2)
        # The path `generate` takes, on 2 images rather than a 64-image sampling chunk.
        assert gan.sr.upscale(gan.nets, half).shape == (2, 3, resolution, resolution)


def test_quadrant_picks_the_named_quarter():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert quadrant(x, 0).flatten().tolist() == [0, 1, 4, 5]
    assert quadrant(x, 3).flatten().tolist() == [10, 11, 14, 15]


@pytest.mark.parametrize(("resolution", "rec"), [(16, 16), (32, 32), (64, 32), (112, 28)])
def test_decoders_reconstruct_at_the_right_size_with_finite_loss(resolution, rec):
    torch.manual_seed(0)
    D = Discriminator(width=4, resolution=resolution)
    real = torch.rand(2, 3, resolution, resolution) * 2 - 1
    for part in range(4):
        logits, whole, part_rec = D(real, part)
        assert whole.shape == part_rec.shape == (2, 3, rec, rec)
        loss = reconstruction_loss(real, whole, part_rec, part)
        assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert D.decode_part.net[-2].parametrizations.weight.original.grad is not None


def test_training_step_with_diffaugment_gives_finite_losses():
    cfg = GANConfig(z_dim=8, width=4, batch_size=8, steps=2, log_every=1, checkpoint_every=2,
                    diffaugment="color,translation,cutout")
    gan = build_gan("fastgan", cfg, 32, seed=0)
    real = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    history = fit_gan(gan, real, seed=0)
    assert [h["step"] for h in history] == [1, 2]
    for row in history:
        assert {"loss/G", "loss/D", "loss/rec"} <= row.keys()
        assert all(np.isfinite(v) for v in row.values()), row
