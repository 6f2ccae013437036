"""Every registered GAN family: a training step, sampling contract, determinism, checkpoints."""

import io

import numpy as np
import pytest
import torch

from raygan.cell import FAMILY_PREFIXES, family_arm
from raygan.config import DIFFAUGMENT_POLICIES, GANConfig
from raygan.gans import GAN, GENERATED_ARMS, REGISTRY, build_gan, fit_gan, register
from raygan.gans.diffaugment import POLICIES
from raygan.profiles import ALL_ARMS

RES = 32
CFG = GANConfig(z_dim=16, width=8, batch_size=8, steps=2, checkpoint_every=1, log_every=1,
                sample_steps=3, probe_sample_steps=2)  # ddpm: few DDIM steps


def _real(n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 3, RES, RES), dtype=np.uint8)


def _build(name: str, cfg: GANConfig, resolution: int, seed: int):
    """build_gan, plus fixed random benign images for families that need context."""
    gan = build_gan(name, cfg, resolution, seed=seed)
    if type(gan).needs_context:
        rng = np.random.default_rng(1)
        gan.set_context(rng.integers(0, 256, (16, 3, resolution, resolution), dtype=np.uint8))
    return gan


@pytest.fixture(params=sorted(REGISTRY))
def name(request) -> str:
    return request.param


def test_registry_has_dcgan():
    assert "dcgan" in REGISTRY


def test_each_family_declares_its_arm_and_memory_slope():
    for family, cls in REGISTRY.items():
        assert cls.arm == cls.arm_prefix + family == family_arm(family)
        assert cls.memory_slope_mib > 0
    # cell.py names the families that are no GANs without importing them: the same ones
    assert FAMILY_PREFIXES == {f: c.arm_prefix for f, c in REGISTRY.items()
                               if c.arm_prefix != "gan:"}
    # The arm order the grid and its tables have always used: the study's first GAN first,
    # then the diffusion model, which is no GAN and says so.
    assert GENERATED_ARMS == ("gan:dcgan", "gan:pggan", "gan:cyclegan", "gan:infogan",
                              "gan:fastgan", "diffusion:ddpm")
    # config, below the plug-ins, spells out every arm; the registry is its source.
    assert ALL_ARMS == ("real", "oversample", "classic", *GENERATED_ARMS, "all-real")


def test_a_family_whose_arm_prefix_cell_does_not_know_is_refused():
    class Flow(GAN):
        name, arm_prefix, memory_slope_mib = "flow", "flow:", 1.0

    class Misnamed(GAN):  # a diffusion family that cell.py would parse back as gan:misnamed
        name, arm_prefix, memory_slope_mib = "misnamed", "diffusion:", 1.0

    with pytest.raises(ValueError, match="arm prefix 'flow:'"):
        register(Flow)
    with pytest.raises(ValueError, match="FAMILY_PREFIXES"):
        register(Misnamed)
    assert "flow" not in REGISTRY and "misnamed" not in REGISTRY


def test_a_family_without_a_memory_slope_is_refused():
    class Unsized(GAN):
        name = "unsized"

    with pytest.raises(ValueError, match="memory_slope_mib"):
        register(Unsized)
    assert "unsized" not in REGISTRY


def test_diffaugment_implements_the_policy_names_config_validates():
    assert tuple(POLICIES) == DIFFAUGMENT_POLICIES


def test_training_step_gives_finite_losses_and_moves_weights(name):
    gan = _build(name, CFG, RES, seed=0)
    G = gan.nets[type(gan).generator_key]
    before = {k: p.detach().clone() for k, p in G.named_parameters()}
    history = fit_gan(gan, _real(), seed=0)
    assert [h["step"] for h in history] == [1, 2]
    for row in history:
        for key, value in row.items():
            assert np.isfinite(value), (key, value)
    changed = any(not torch.equal(before[k], p) for k, p in G.named_parameters())
    assert changed, "a training step left the generator untouched"


def test_samples_shape_dtype_range(name):
    gan = _build(name, CFG, RES, seed=0)
    fake = gan.generate(5, seed=1)
    assert fake.shape == (5, 3, RES, RES)
    assert fake.dtype == np.uint8
    # Seeded: the same seed gives the same images, another seed others; and the images of one
    # call differ from each other (one latent per image, not one per call).
    assert np.array_equal(gan.generate(5, seed=1), fake)
    assert not np.array_equal(gan.generate(5, seed=2), fake)
    assert not np.array_equal(fake[0], fake[1]) and fake.std() > 0


def test_samples_do_not_depend_on_batching(name):
    gan = _build(name, CFG, RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    whole = gan.generate(70, seed=3)  # crosses a sampling chunk boundary
    parts = np.concatenate([gan.generate(30, seed=3), gan.generate(40, seed=3, start=30)])
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_array_equal(gan.generate(70, seed=3)[65:], gan.generate(5, 3, start=65))
    assert not np.array_equal(whole[:10], gan.generate(10, seed=4))


def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b, c = (_build(name, CFG, RES, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.generate(4, 0), b.generate(4, 0))
    assert not np.array_equal(a.generate(4, 0), c.generate(4, 0))


def test_checkpoint_round_trip(name):
    gan = _build(name, CFG, RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    buf = io.BytesIO()
    torch.save({"gan": gan.state_dict(), "step": 2}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    other = _build(name, CFG, RES, seed=5)
    other.load_state_dict(state["gan"])
    np.testing.assert_array_equal(gan.generate(6, 9), other.generate(6, 9))


def test_resume_equals_uninterrupted(name):
    whole = _build(name, CFG, RES, seed=0)
    fit_gan(whole, _real(), seed=0)
    half = _build(name, GANConfig(**{**CFG.__dict__, "steps": 1}), RES, seed=0)
    fit_gan(half, _real(), seed=0)
    resumed = _build(name, CFG, RES, seed=0)
    resumed.load_state_dict(half.state_dict())
    fit_gan(resumed, _real(), seed=0, start_step=1)
    np.testing.assert_array_equal(whole.generate(4, 0), resumed.generate(4, 0))


@pytest.mark.parametrize("resolution", [32, 64, 128, 224])
def test_dcgan_every_resolution(resolution):
    gan = build_gan("dcgan", GANConfig(z_dim=8, width=4), resolution, seed=0)
    assert gan.generate(2, 0).shape == (2, 3, resolution, resolution)
    logits = gan.nets["D"](torch.zeros(2, 3, resolution, resolution))
    assert logits.shape == (2,)


SWITCHES = {"ema": {"ema": 0.9}, "amp": {"amp": True}, "channels_last": {"channels_last": True}}


@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_speed_and_ema_switches_train_and_resume_exactly(name, switch):
    cfg = GANConfig(**{**CFG.__dict__, **SWITCHES[switch]})
    whole = _build(name, cfg, RES, seed=0)
    history = fit_gan(whole, _real(), seed=0)
    assert all(np.isfinite(v) for row in history for v in row.values())
    half = _build(name, GANConfig(**{**cfg.__dict__, "steps": 1}), RES, seed=0)
    fit_gan(half, _real(), seed=0)
    buf = io.BytesIO()
    torch.save(half.state_dict(), buf)  # the EMA weights travel with the checkpoint
    buf.seek(0)
    resumed = _build(name, cfg, RES, seed=0)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    fit_gan(resumed, _real(), seed=0, start_step=1)
    np.testing.assert_array_equal(whole.generate(4, 0), resumed.generate(4, 0))


def test_ema_generator_is_the_average_that_sampling_uses(name):
    gan = _build(name, GANConfig(**{**CFG.__dict__, "ema": 0.5}), RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    G = gan.nets[type(gan).generator_key]
    assert any(not torch.equal(a, b) for a, b in zip(gan.G_ema.parameters(), G.parameters(),
                                                      strict=True))
    with_ema = gan.generate(4, 0)
    ema, gan.G_ema = gan.G_ema, None
    assert not np.array_equal(with_ema, gan.generate(4, 0))  # the raw G samples otherwise
    gan.G_ema = ema
    np.testing.assert_array_equal(with_ema, gan.generate(4, 0))
