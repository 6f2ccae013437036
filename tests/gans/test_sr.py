"""The ESRGAN-style SR stage: x2 shapes, RRDB residual scaling, and training that lowers L1."""

import math

import pytest
import torch
import torch.nn.functional as F

from raygan.config import GANConfig
from raygan.gans.sr import RES_SCALE, RRDB, DenseBlock, SuperResolver

CFG = GANConfig(width=8)


def _resolver(low_res: int, cfg: GANConfig = CFG) -> tuple[SuperResolver, dict, dict]:
    torch.manual_seed(0)
    sr = SuperResolver(cfg, low_res)
    nets = sr.build()
    return sr, nets, sr.build_optimizers(nets)


def _smooth_pairs(n: int, low_res: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high) pairs of smooth sinusoid images, downscaled as `GAN.step` does."""
    gen = torch.Generator().manual_seed(0)
    side = torch.linspace(0, math.pi, 2 * low_res)
    yy, xx = torch.meshgrid(side, side, indexing="ij")
    freq = torch.rand(2, n, 3, 1, 1, generator=gen) * 2 + 1
    phase = torch.rand(2, n, 3, 1, 1, generator=gen) * 2 * math.pi
    high = 0.8 * torch.sin(freq[0] * xx + phase[0]) * torch.cos(freq[1] * yy + phase[1])
    low = F.interpolate(high, scale_factor=0.5, mode="bilinear", antialias=True,
                        align_corners=False)
    return low, high


@pytest.mark.parametrize("low_res", [16, 32, 112])
def test_upscales_x2_and_d_takes_the_result(low_res):
    sr, nets, _ = _resolver(low_res)
    with torch.no_grad():
        high = sr.upscale(nets, torch.rand(2, 3, low_res, low_res) * 2 - 1)
        logits = nets["SR_D"](high)
    assert high.shape == (2, 3, 2 * low_res, 2 * low_res)
    assert high.min() >= -1 and high.max() <= 1
    assert logits.shape == (2,)


def test_dense_block_and_rrdb_scale_their_residuals():
    x = torch.randn(2, 8, 5, 5)
    block = DenseBlock(8, 4)
    with torch.no_grad():
        block.convs[-1].weight.zero_()
        block.convs[-1].bias.fill_(1.0)
        torch.testing.assert_close(block(x), x + RES_SCALE)
        rrdb = RRDB(8, 4)
        for dense in rrdb.blocks:
            dense.convs[-1].weight.zero_()
            dense.convs[-1].bias.zero_()  # each dense block is now the identity
        torch.testing.assert_close(rrdb(x), x * (1 + RES_SCALE))


def test_starts_at_the_bicubic_upscale():
    sr, nets, _ = _resolver(16)
    low, _ = _smooth_pairs(4, 16)
    with torch.no_grad():
        bicubic = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False)
        assert (sr.upscale(nets, low) - bicubic).abs().mean() < 0.01


def test_training_lowers_l1_with_finite_losses():
    sr, nets, opts = _resolver(8)
    low, high = _smooth_pairs(64, 8)

    def l1() -> float:
        with torch.no_grad():
            return F.l1_loss(sr.upscale(nets, low), high).item()

    before = l1()
    for step in range(120):
        idx = torch.randint(0, 64, (8,), generator=torch.Generator().manual_seed(step))
        losses = sr.train_step(nets, opts, low[idx], high[idx], torch.Generator().manual_seed(step))
        assert set(losses) == {"loss/SR_G", "loss/SR_D", "loss/SR_L1"}
        assert all(math.isfinite(v) for v in losses.values()), losses
    assert l1() < 0.95 * before


def test_diffaugment_step_is_finite():
    sr, nets, opts = _resolver(16, GANConfig(width=8, diffaugment="color,translation,cutout"))
    low, high = _smooth_pairs(4, 16)
    losses = sr.train_step(nets, opts, low, high, torch.Generator().manual_seed(0))
    assert all(math.isfinite(v) for v in losses.values()), losses
