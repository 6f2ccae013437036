"""DDPM (Ho et al. 2020), sampled with DDIM (Song et al. 2021): a diffusion model as a fill.

Not a GAN, so its arm is `diffusion:ddpm`; it plugs into the same interface and the same GAN
stage (Ray Train DDP, checkpoints, resume, the quality probe and gate, `raygan generate`).
Everything comes from diffusers, nothing is written by hand and nothing downloads:

- the network is diffusers' `UNet2DModel`, built from a config with a seeded random init: a
  ladder of residual blocks (`DownBlock2D` / `UpBlock2D`) with a sinusoidal timestep embedding,
  its channels set by `GANConfig.width` (MULTIPLIERS and DEEP below: levels per resolution);
- training (`DDPMScheduler`): each image gets a timestep t drawn uniformly from the
  MAX_DIFFUSION_STEPS noise levels and Gaussian noise, both from the step's RNG, so a resumed
  run repeats exactly; the UNet predicts the noise (epsilon) under an MSE loss, on the DDPM
  paper's linear schedule (see SCHEDULE), of images centred on the mean colour of the real
  images it trains on (Denoiser);
- sampling (`DDIMScheduler`, eta 0, the DDIM paper's evenly spaced timesteps, x0 clipped to
  [-1, 1]): each image starts from its own Gaussian noise, drawn from its own RNG
  (base.latent_seed), and eta 0 adds no noise after it, so an image depends on its seed and
  index alone, whatever the batch split or the number of workers. `sample_steps` UNet passes
  per image for every image a sweep uses, `probe_sample_steps` for the quality probe's
  (GANConfig).

Samples come from the EMA of the UNet's weights when `GANConfig.ema` > 0, as the diffusion
papers sample (the profiles set it). `diffaugment` does nothing here (there is no
discriminator); the profiles leave it off for this family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from raygan.bounds import MAX_DIFFUSION_STEPS
from raygan.cell import DIFFUSION_ARM_PREFIX
from raygan.gans.base import GAN, register
from raygan.gans.layers import unwrap
from raygan.images import to_float

if TYPE_CHECKING:
    from diffusers import UNet2DModel

# The DDPM paper's linear betas (1e-4 to 0.02) and DDIM's evenly spaced "leading" timesteps
# (with 10 steps: 900, 800, ..., 0), as the DDIM paper sampled its 32 px models. The cosine
# schedule was tried first (2026-12-06, width 16, N = 200, 1500 steps): its last noise level
# keeps 2e-9 of the signal, so a noise prediction there turns into a clipped, saturated image
# prediction, and with DDIM's last level as the first step the samples came out in wrong,
# saturated colours (green and blue skin; quality/gap 8.3 at 10 steps, 4.7 at 50).
SCHEDULE = {"beta_schedule": "linear", "beta_start": 1e-4, "beta_end": 0.02}
SPACING = "leading"
MAX_GRAD_NORM = 1.0  # gradient clipping, as the DDPM paper and diffusers' examples train
# Channel multiplier of each level, from full resolution down, by the number of levels: the
# maps halve down to 8 px (7 px on the 224 = 7 * 32 ladder is too small: 14 px), so 16 px has
# two levels, 32 px three (32, 16, 8), 64 px four, 112 px four, 128 and 224 px five.
MULTIPLIERS = {2: (1, 2), 3: (1, 2, 2), 4: (1, 2, 2, 4), 5: (1, 1, 2, 2, 4)}
DEEP = 112  # px from which a level has two residual blocks and the lowest level attention, as
# the DDPM paper's models; below, one block and no attention keep a CPU step cheap


def levels(resolution: int) -> int:
    """Resolutions the UNet works at: halvings of `resolution` down to at least 8 px."""
    count, side = 1, resolution
    while side % 2 == 0 and side // 2 >= 8:
        count, side = count + 1, side // 2
    return count


def build_unet(width: int, resolution: int) -> UNet2DModel:
    """The denoiser: a diffusers UNet2DModel of `width` channels at full resolution."""
    from diffusers import UNet2DModel  # here: importing diffusers takes seconds

    mults = MULTIPLIERS[levels(resolution)]
    deep = resolution >= DEEP
    channels = tuple(width * m for m in mults)
    down = ["DownBlock2D"] * len(mults)
    up = ["UpBlock2D"] * len(mults)
    if deep:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=resolution, in_channels=3, out_channels=3, block_out_channels=channels,
        layers_per_block=2 if deep else 1, down_block_types=tuple(down),
        up_block_types=tuple(up),
        add_attention=deep,  # the middle block's attention, at the lowest resolution
        norm_num_groups=_groups(width), attention_head_dim=min(64, channels[-1]))


class Denoiser(nn.Module):
    """The UNet, on images centred on the mean colour of the real images it trains on.

    Each channel c becomes (x - m_c) / (1 + |m_c|), which keeps [-1, 1] within [-1, 1] (so
    DDIM's clipping of its image predictions still holds) and gives the data mean zero. A noise
    prediction at the noisy levels, where DDIM's first steps fix an image's colours, then need
    not carry the mean colour in an offset of a few thousandths. Without it (2026-12-06, width
    16, N = 200) every sample came out grey-green, channel means (130, 126, 126) after 6000
    steps against the real (179, 137, 134), and the quality probe's gap was 5.0 after 1000
    steps; with it, the same run's samples are skin-coloured and the gap was 1.1. The mean is a
    buffer: checkpoints and the EMA carry it.
    """

    def __init__(self, unet: UNet2DModel):
        super().__init__()
        self.unet = unet
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The predicted noise of centred images `x` at noise levels `t`."""
        return self.unet(x, t, return_dict=False)[0]

    def centre(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / (1 + self.mean.abs())

    def uncentre(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.mean.abs()) + self.mean


def _groups(width: int) -> int:
    """Group-norm groups: 32 as the DDPM paper, fewer where `width` has no 32 groups (every
    level's channels are a multiple of `width`, so these divide them all)."""
    groups = 32
    while width % groups:
        groups //= 2
    return groups


def schedule() -> dict:
    """The noise schedule that training and sampling share."""
    return {"num_train_timesteps": MAX_DIFFUSION_STEPS, **SCHEDULE, "prediction_type": "epsilon",
            "clip_sample": True}


@register
class DDPM(GAN):
    """A UNet denoiser trained on noise prediction; DDIM (eta 0) samples from its EMA."""

    name = "ddpm"
    arm_prefix = DIFFUSION_ARM_PREFIX
    # MiB per image x pixel x width channel (base.GAN): benchmarks/peak_memory.py, 2026-12-06,
    # the larger of its slopes between batch 16 and 64 at width 16 (1.7e-4 at 32 px, 2.2e-4
    # at 64 px: 2040 MiB peak at batch 64), rounded up
    memory_slope_mib = 2.2e-4
    generator_key = "unet"
    # A fill of a thousand images costs `sample_steps` UNet passes per image: too costly for the
    # CPU profiles' hour, so there it runs when --arms names it (docs/running.md).
    cpu_default = False

    def build(self) -> dict[str, nn.Module]:
        from diffusers import DDPMScheduler

        self.noise = DDPMScheduler(**schedule())
        return {"unet": Denoiser(build_unet(self.cfg.width, self.gen_resolution))}

    @torch.no_grad()
    def set_training_images(self, images: torch.Tensor) -> None:
        """Centre on the images' mean colour (Denoiser), in the UNet and its EMA alike."""
        total = torch.zeros(3, dtype=torch.float64)
        for lo in range(0, len(images), 256):  # in pieces: 224 px images are large as floats
            total += to_float(images[lo : lo + 256]).double().sum((0, 2, 3))
        mean = (total / (len(images) * images.shape[-1] * images.shape[-2])).float()
        for net in (unwrap(self.nets["unet"]), self.G_ema):
            if net is not None:
                net.mean.copy_(mean.view(1, 3, 1, 1))

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        net, opt = self.nets["unet"], self.opts["unet"]
        n = real.shape[0]
        # Drawn on the CPU from the step's RNG, whatever the device: a resumed run repeats.
        t = torch.randint(0, MAX_DIFFUSION_STEPS, (n,), generator=gen).to(real.device)
        noise = torch.randn(real.shape, generator=gen).to(real.device)
        noisy = self.noise.add_noise(unwrap(net).centre(real), noise, t)
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(noisy, t).float(), noise)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), MAX_GRAD_NORM)
        opt.step()
        return {"loss/denoise": loss.item()}

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        """Each image's start noise x_T, from its own RNG."""
        shape = (3, self.gen_resolution, self.gen_resolution)
        return torch.stack([torch.randn(shape, generator=g) for g in rngs])

    def sample(self, G: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """DDIM from x_T = `inputs` with eta 0: deterministic, so each image is a function of
        its start noise alone."""
        from diffusers import DDIMScheduler

        ddim = DDIMScheduler(**schedule(), timestep_spacing=SPACING)
        ddim.set_timesteps(self.cfg.probe_sample_steps if self.probing else self.cfg.sample_steps)
        x = inputs
        for t in ddim.timesteps:
            x = ddim.step(G(x, t.to(x.device)), t, x, eta=0.0, return_dict=False)[0]
        return G.uncentre(x).clamp(-1.0, 1.0)
