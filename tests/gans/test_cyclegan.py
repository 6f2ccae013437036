"""CycleGAN specifics: shapes, the cycle loss, the history pool, and translating context images."""

import io

import numpy as np
import pytest
import torch
from torch.nn.functional import interpolate

from raygan.config import GANConfig
from raygan.gans import build_gan, fit_gan
from raygan.gans.cyclegan import POOL_SIZE, num_blocks
from raygan.images import to_float

CFG = GANConfig(width=4, batch_size=8, steps=2, log_every=1)


def _images(n: int, res: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, res, res), dtype=np.uint8)


def _blobs(n: int, res: int, dark: bool, seed: int) -> np.ndarray:
    """Smooth, learnable images: a pale background and one soft blob (dark when malignant)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    out = np.empty((n, 3, res, res), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(res * 0.3, res * 0.7, 2)
        alpha = np.clip(res / 5 - np.hypot(yy - cy, xx - cx), 0, 1)
        color = np.array([90, 55, 30] if dark else [220, 175, 160], float)[:, None, None]
        out[i] = np.rint(np.array([236, 196, 186], float)[:, None, None] * (1 - alpha)
                         + color * alpha)
    return out


def _gan(cfg: GANConfig = CFG, res: int = 32, seed: int = 0, context: bool = True):
    gan = build_gan("cyclegan", cfg, res, seed=seed)
    if context:
        gan.set_context(_images(16, res, seed=1))
    return gan


@pytest.mark.parametrize("res", [32, 64])
def test_generators_and_discriminators_map_shapes(res):
    gan = _gan(res=res)
    x = torch.rand(2, 3, res, res) * 2 - 1
    for key in ("G", "F"):
        y = gan.nets[key](x)
        assert y.shape == x.shape and y.abs().max() <= 1
    for key in ("D", "D_B"):  # a 6 x 6 map of patch scores: 34 px patches at 32, 70 px at 64
        assert gan.nets[key](x).shape == (2, 1, 6, 6)
    assert num_blocks(res) == 3 and num_blocks(128) == num_blocks(224) == 6


def test_optimizers_pair_the_generators_and_the_discriminators():
    gan = _gan()
    for key, nets in (("G", ("G", "F")), ("D", ("D", "D_B"))):
        in_opt = {id(p) for g in gan.opts[key].param_groups for p in g["params"]}
        assert in_opt == {id(p) for k in nets for p in gan.nets[k].parameters()}
    assert set(gan.opts) == {"G", "D"}


def test_cycle_loss_is_finite_and_decreases():
    gan = _gan(GANConfig(width=8, batch_size=4, steps=20, log_every=1))
    gan.set_context(_blobs(8, 32, dark=False, seed=1))
    history = fit_gan(gan, _blobs(8, 32, dark=True, seed=2), seed=0)
    cycle = [row["loss/cycle"] for row in history]
    assert np.all(np.isfinite(cycle))
    assert np.mean(cycle[-3:]) < 0.6 * np.mean(cycle[:3]), cycle


def test_history_pool_fills_then_replaces_deterministically_per_gen():
    def run(seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        gan = _gan()
        gen = torch.Generator().manual_seed(seed)
        outs = []
        for b in range(4):  # batches of 20 images, each image constant at its own index
            fake = torch.arange(20 * b, 20 * b + 20, dtype=torch.float).view(20, 1, 1, 1)
            outs.append(gan._query_pool("D", fake.expand(20, 3, 32, 32), gen)[:, 0, 0, 0])
            assert gan.pool_counts["D"] == min(20 * (b + 1), POOL_SIZE)
        return outs, gan.pools["D"][:, 0, 0, 0].clone()

    outs, pool = run(0)
    # Until the pool is full, D sees the fakes themselves and they are stored in order.
    torch.testing.assert_close(torch.cat(outs)[:50], torch.arange(50.0))
    # After that, about half of the fakes swap with a stored one, which D sees instead.
    later = torch.cat(outs)[50:]
    swapped = later != torch.arange(50.0, 80.0)
    assert 0 < swapped.sum() < 30 and (later[swapped] < torch.arange(50.0, 80.0)[swapped]).all()
    assert (pool >= 50).any() and pool.unique().numel() == POOL_SIZE
    again, pool_again = run(0)
    torch.testing.assert_close(torch.cat(again), torch.cat(outs))
    torch.testing.assert_close(pool_again, pool)
    assert not torch.equal(run(1)[1], pool)


def test_resume_with_a_full_pool_is_exact():
    cfg = GANConfig(width=4, batch_size=8, steps=8, log_every=1)  # 64 fakes: the pool replaces
    whole = _gan(cfg)
    fit_gan(whole, _images(8), seed=0)
    half = _gan(GANConfig(**{**cfg.__dict__, "steps": 7}))
    fit_gan(half, _images(8), seed=0)
    assert half.pool_counts == {"D": POOL_SIZE, "D_B": POOL_SIZE}
    buf = io.BytesIO()
    torch.save(half.state_dict(), buf)
    buf.seek(0)
    resumed = _gan(cfg, seed=3)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    fit_gan(resumed, _images(8), seed=0, start_step=7)
    for k in ("D", "D_B"):
        torch.testing.assert_close(resumed.pools[k], whole.pools[k], rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.generate(4, 0), whole.generate(4, 0))


def test_samples_are_translations_of_context_images():
    gan = _gan()
    rngs = [torch.Generator().manual_seed(i) for i in range(6)]
    sources = gan.generator_input(rngs)
    context = to_float(gan.context)
    for x in sources:  # every input is one of the benign context images, untouched
        assert any(torch.equal(x, c) for c in context)
    before = gan.generate(6, seed=0)
    gan.set_context(_images(16, seed=2))
    assert not np.array_equal(before, gan.generate(6, seed=0))


def test_full_size_context_is_downsampled_to_the_generator_resolution():
    gan = _gan()
    gan.set_context(_images(4, res=64))
    x = gan.generator_input([torch.Generator().manual_seed(0)])
    idx = torch.randint(4, (1,), generator=torch.Generator().manual_seed(0))
    want = interpolate(to_float(gan.context[idx]), size=(32, 32), mode="bilinear",
                       antialias=True, align_corners=False)
    torch.testing.assert_close(x, want)


def test_missing_context_raises():
    gan = _gan(context=False)
    with pytest.raises(RuntimeError, match="set_context"):
        gan.generate(2, seed=0)
    with pytest.raises(RuntimeError, match="set_context"):
        fit_gan(gan, _images(8), seed=0)
