"""The diffusion family (`diffusion:ddpm`): what the registry-parametrized contracts in
test_gans.py and test_ddp.py do not say about it, and its arm through config and profiles.

Those contracts already hold it to a training step that moves the weights with finite losses,
seeded sampling that does not depend on the batch split, checkpoint round trips (EMA
included), bf16 and channels-last training that resumes exactly, and 2-worker gloo DDP."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from raygan.config import GANConfig, validate
from raygan.errors import RayganError
from raygan.eval.quality import QualityProbe
from raygan.gans import REGISTRY, build_gan, fit_gan
from raygan.gans.ddpm import DDPM, Denoiser, levels
from raygan.gans.train import step_generator
from raygan.images import to_float
from raygan.profiles import profile_config

RES = 32
CFG = GANConfig(width=8, batch_size=8, steps=2, checkpoint_every=1, log_every=1, beta1=0.9,
                sample_steps=4, probe_sample_steps=2)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, as every GAN worker runs: on a busy 2-core machine two threads
    made these tiny UNet passes ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _real(n: int = 8, res: int = RES) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 3, res, res), dtype=np.uint8)


def _unet_passes(gan: DDPM) -> list[int]:
    """A list that grows by the batch size at every pass of the sampling UNet."""
    calls: list[int] = []
    net = gan.G_ema if gan.G_ema is not None else gan.nets["unet"]
    net.register_forward_hook(lambda _m, args, _out: calls.append(args[0].shape[0]))
    return calls


def test_ddpm_is_a_diffusion_family_not_a_gan():
    cls = REGISTRY["ddpm"]
    assert cls is DDPM and cls.arm == "diffusion:ddpm" and not cls.cpu_default
    gan = build_gan("ddpm", CFG, RES, seed=0)
    assert set(gan.nets) == {"unet"} and type(gan.nets["unet"].unet).__name__ == "UNet2DModel"


def test_timesteps_and_noise_come_from_the_steps_rng_alone():
    real = to_float(torch.from_numpy(_real()))
    losses = []
    for rng_seed, global_seed in ((0, 1), (0, 2), (1, 1)):
        gan = build_gan("ddpm", CFG, RES, seed=0)
        torch.manual_seed(global_seed)  # the global RNG must not matter
        losses.append(gan.step(real, step_generator(rng_seed, 0, 0))["loss/denoise"])
    assert np.isfinite(losses).all()
    assert losses[0] == losses[1] and losses[0] != losses[2]


def test_an_image_depends_on_its_seed_and_index_alone():
    gan = build_gan("ddpm", CFG, RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    whole = gan.generate(8, seed=3)
    np.testing.assert_array_equal(
        whole, np.concatenate([gan.generate(3, seed=3), gan.generate(5, seed=3, start=3)]))
    torch.manual_seed(123)  # DDIM with eta 0 draws nothing after the start noise
    np.testing.assert_array_equal(whole, gan.generate(8, seed=3))
    # No image sees another: one image's start noise alone gives (up to float rounding of a
    # batch of one against a batch of 64) the same image as the batched pass.
    rngs = [torch.Generator().manual_seed(7), torch.Generator().manual_seed(8)]
    inputs = gan.generator_input(rngs)
    with torch.no_grad():
        batched = gan.sample(gan.nets["unet"].eval(), inputs)
        alone = gan.sample(gan.nets["unet"], inputs[1:])
    torch.testing.assert_close(batched[1:], alone, atol=1e-4, rtol=0)
    assert not torch.equal(batched[0], batched[1])


def test_fills_take_sample_steps_and_the_quality_probe_probe_sample_steps():
    gan = build_gan("ddpm", dataclasses.replace(CFG, ema=0.9), RES, seed=0)
    passes = _unet_passes(gan)
    gan.generate(5, seed=0)
    assert passes == [64] * CFG.sample_steps  # one fixed chunk of 64 images, 4 DDIM steps
    passes.clear()
    probe = QualityProbe(_real(16), _real(16)[::-1], seed=0, num_fakes=16)
    metrics = probe(gan)
    assert passes == [64] * CFG.probe_sample_steps and np.isfinite(metrics["quality/fd"])
    assert not gan.probing  # the probe's setting ends with the probe
    passes.clear()
    gan.generate(5, seed=0)
    assert len(passes) == CFG.sample_steps


class Oracle(Denoiser):
    """The exact noise prediction for data that hold one image, `target`, under `gan`'s
    training schedule: eps = (x_t - sqrt(abar_t) c) / sqrt(1 - abar_t), c the centred target;
    `first_error` is added to the first prediction, whose image prediction `first_x0` keeps."""

    def __init__(self, gan: DDPM, target: torch.Tensor, mean: torch.Tensor,
                 first_error: float = 0.0):
        super().__init__(torch.nn.Identity())
        self.mean.copy_(mean.view(1, 3, 1, 1))
        self.abar, self.error = gan.noise.alphas_cumprod, first_error
        self.target = self.centre(target)
        self.first_x0 = None

    def forward(self, x, t):
        a = self.abar[int(t)]
        eps = (x - a.sqrt() * self.target) / (1 - a).sqrt()
        if self.first_x0 is None:
            eps = eps + self.error
            self.first_x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        return eps


@pytest.mark.parametrize("steps", [1, 2, 10, 50])
def test_ddim_with_the_exact_noise_prediction_returns_the_one_training_image(steps):
    """Training's schedule and sampling's agree: where the data are one image, the UNet's ideal
    prediction leads DDIM from any start noise to that image (centred on a mean colour and
    back), at every number of steps."""
    gan = build_gan("ddpm", dataclasses.replace(CFG, sample_steps=steps), RES, seed=0)
    target = torch.rand(3, RES, RES, generator=torch.Generator().manual_seed(0)) * 1.8 - 0.9
    noise = torch.randn(4, 3, RES, RES, generator=torch.Generator().manual_seed(1))
    oracle = Oracle(gan, target, torch.tensor([0.4, 0.08, -0.3]))
    torch.testing.assert_close(gan.sample(oracle, noise), target.expand(4, -1, -1, -1),
                               atol=1e-4, rtol=0)


def test_a_small_error_at_the_first_step_does_not_saturate_the_image():
    """The first DDIM step turns the noise prediction into an image prediction, dividing by the
    signal its noise level keeps; where that is almost none (the cosine schedule's last level
    keeps 2e-9) an error of 0.01 became a clipped, saturated image, and whole samples came out
    in wrong colours. Here an error of 0.01 moves the image by well under its range."""
    gan = build_gan("ddpm", dataclasses.replace(CFG, sample_steps=10), RES, seed=0)
    noise = torch.randn(2, 3, RES, RES, generator=torch.Generator().manual_seed(1))
    oracle = Oracle(gan, torch.zeros(3, RES, RES), torch.zeros(3), first_error=0.01)
    gan.sample(oracle, noise)
    assert oracle.first_x0.abs().max() < 1.0


def test_training_images_fix_the_mean_colour_that_checkpoints_and_the_ema_carry():
    """The UNet sees images centred on their mean colour; [-1, 1] stays within [-1, 1]."""
    pink = np.zeros((8, 3, RES, RES), np.uint8)
    pink[:, 0], pink[:, 1], pink[:, 2] = 230, 140, 140
    gan = build_gan("ddpm", dataclasses.replace(CFG, ema=0.5), RES, seed=0)
    fit_gan(gan, pink, seed=0)
    want = torch.tensor([230, 140, 140]) / 127.5 - 1
    for net in (gan.nets["unet"], gan.G_ema):
        torch.testing.assert_close(net.mean.flatten(), want)
    edges = torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    centred = gan.nets["unet"].centre(edges)
    assert centred.abs().max() <= 1.0 and centred[0, 0, 0, 0] == -1.0  # red's bottom stays -1
    torch.testing.assert_close(gan.nets["unet"].uncentre(centred), edges)
    other = build_gan("ddpm", dataclasses.replace(CFG, ema=0.5), RES, seed=0)
    other.load_state_dict(gan.state_dict())
    torch.testing.assert_close(other.G_ema.mean.flatten(), want)
    np.testing.assert_array_equal(gan.generate(2, 0), other.generate(2, 0))


def test_more_sampling_steps_give_other_images():
    gan = build_gan("ddpm", CFG, RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    few = gan.generate(2, seed=0)
    gan.cfg = dataclasses.replace(CFG, sample_steps=8)
    assert not np.array_equal(few, gan.generate(2, seed=0))


def test_checkpoint_round_trip_keeps_the_ema_samples():
    cfg = dataclasses.replace(CFG, ema=0.5)
    gan = build_gan("ddpm", cfg, RES, seed=0)
    fit_gan(gan, _real(), seed=0)
    buf = io.BytesIO()
    torch.save(gan.state_dict(), buf)
    buf.seek(0)
    other = build_gan("ddpm", cfg, RES, seed=1)
    other.load_state_dict(torch.load(buf, weights_only=True))
    np.testing.assert_array_equal(gan.generate(4, 9), other.generate(4, 9))


@pytest.mark.parametrize(("resolution", "count"), [(16, 2), (32, 3), (64, 4), (112, 4),
                                                   (128, 5), (224, 5)])
def test_every_resolution_and_the_half_size_of_upscale(resolution, count):
    """16 and 112 px are the half sizes that `upscale` trains at, below 32 and 224 px."""
    assert levels(resolution) == count
    if resolution in (16, 32):
        gan = build_gan("ddpm", CFG, resolution, seed=0)
        fit_gan(gan, _real(8, resolution), seed=0)
        assert gan.generate(2, 0).shape == (2, 3, resolution, resolution)


def test_upscaled_ddpm_samples_at_half_size_and_brings_them_to_full_size():
    gan = build_gan("ddpm", dataclasses.replace(CFG, upscale=True), RES, seed=0)
    assert gan.gen_resolution == 16
    history = fit_gan(gan, _real(), seed=0)
    assert all(np.isfinite(v) for row in history for v in row.values())
    assert gan.generate(3, 0).shape == (3, 3, RES, RES)


# --- the arm through the config and the profiles ---------------------------------------------


def test_paper_runs_the_diffusion_arm_and_the_cpu_profiles_do_not():
    paper, laptop = profile_config("paper"), profile_config("laptop")
    assert "diffusion:ddpm" in paper.arms and "ddpm" in paper.gan_names
    for name in ("smoke", "laptop", "overnight"):
        assert "diffusion:ddpm" not in profile_config(name).arms
    # the laptop grid as it was before the diffusion family existed
    assert laptop.arms == ("real", "oversample", "classic", "gan:dcgan", "gan:pggan",
                           "gan:cyclegan", "gan:infogan", "gan:fastgan", "all-real")
    # a CPU run that names it trains a CPU-sized model; the paper's GPU model is larger
    assert laptop.gan_config("ddpm").width < paper.gan_config("ddpm").width
    assert laptop.gan_config("ddpm").diffaugment == ""  # no discriminator to augment for


def test_the_diffusion_arm_validates_when_named():
    from raygan.options import sweep_config

    for profile in ("laptop", "smoke", "overnight"):
        cfg = validate(sweep_config({"profile": profile, "arms": "oversample,diffusion:ddpm"}),
                       REGISTRY)
        assert cfg.arms == ("oversample", "diffusion:ddpm") and cfg.gan_names == ("ddpm",)
    both = validate(sweep_config({"arms": "real,oversample,gan:dcgan,diffusion:ddpm,"
                                          "classic+diffusion:ddpm"}), REGISTRY)
    assert both.gan_names == ("dcgan", "ddpm")


@pytest.mark.parametrize(("arms", "match"), [
    ("real,gan:ddpm", r"arm 'gan:ddpm': ddpm is a diffusion family; its arm is diffusion:ddpm"),
    ("real,classic+gan:ddpm", r"its arm is diffusion:ddpm"),
    ("real,diffusion:dcgan", r"arm 'diffusion:dcgan': dcgan is a gan family; its arm is "
                             r"gan:dcgan"),
    ("real,diffusion:nope", r"unknown GAN 'nope' in arm 'diffusion:nope'.*diffusion:ddpm"),
])
def test_an_arm_with_the_wrong_kind_of_model_is_one_error(arms, match):
    from raygan.options import sweep_config

    with pytest.raises(RayganError, match=match) as err:
        validate(sweep_config({"arms": arms}), REGISTRY)
    assert "\n" not in str(err.value)
