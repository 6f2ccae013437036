"""PGGAN (Karras et al. 2018): progressive growing, pixel norm, equalized lr, minibatch stddev.

G and D start at 4 px (7 px when the resolution is 7 * 2^k) and double until
`gen_resolution`; each new resolution fades in (alpha 0 -> 1), then stabilizes. The growth
schedule spreads the first half of `cfg.steps` evenly over the stages (the rest trains the
full-size G) and is a pure function of the family's own step counter, which checkpoints
carry, so a resumed run continues at the same stage.

Loss: by default WGAN-GP with the paper's epsilon drift term (lambda = 10, eps_drift = 1e-3),
n_critic = 1. With `cfg.r1 > 0` the non-saturating logistic loss with an R1 penalty on real
images (StyleGAN's), which the `laptop` profile uses with a generator EMA (the paper samples
from one too). On the real data at 32 px, N=500, 1500 steps (2026-12-01, 2-core CPU): WGAN-GP
swung between quality gaps of 2.6 and 12.7 at full size (fp32 as in bf16) and its fill reached
CAS AUC 0.54-0.71; non-saturating + R1 (gamma 0.1) alone ended at gap 3.7 (CAS 0.66); with an
EMA of decay 0.995 the gap fell steadily to 1.68 (CAS 0.71). `cfg.r1_every` = k applies R1
every k steps with k times the weight (StyleGAN2's lazy regularization): at k = 16 the full-size
step is 1.3x faster, and at N=200 with 2500 steps the EMA's gap reached 0.86 (CAS 0.82).

Optimizer: Adam with the sweep's `lr` and `beta1` and the paper's beta2 = 0.99. Every profile
sets pggan's `lr` to the paper's 1e-3 and `beta1` to 0 (PGGAN_OPTIM): the GANConfig defaults
are the DCGAN paper's values for N(0, 0.02) weights, and with equalized-lr layers (unit-variance
raw weights) lr 2e-4 barely moves the networks within a sweep's budget (800 steps on 10 images:
smeared colour, no blobs; at 1e-3 / beta1 0: clean blobs).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from raygan.config import GANConfig
from raygan.gans.base import GAN, register
from raygan.gans.layers import base_size, nonsaturating_fake_and_g_step, unwrap

GP_WEIGHT = 10.0  # lambda of the gradient penalty (WGAN-GP paper)
DRIFT = 1e-3  # epsilon_drift: keeps D(real) near 0 (PGGAN paper, appendix A.1)
MBSTD_GROUP = 4  # images per minibatch-stddev group (PGGAN paper)
BETA2 = 0.99  # Adam beta2 (PGGAN paper)
# Share of the steps spent growing; the rest trains the full-size G. With the whole budget
# spread evenly (growth 1.0), the 32 px stage of a 1500-step run at N=500 got 375 steps and its
# samples ended far from the real images (random-CNN FD 2.5 against 0.25-0.5 while still at
# 8-16 px; 2026-12-01), so the last stage now gets most of the steps.
GROWTH = 0.5


def num_stages(resolution: int) -> int:
    """Number of resolutions G grows through: base size, twice that, ..., `resolution`."""
    return int(math.log2(resolution // base_size(resolution))) + 1


def channels(width: int, stage: int) -> int:
    """Feature maps at `stage`: 8 x width at the base size, halving per doubling, >= width."""
    return max(width * 8 // 2**stage, width)


def schedule(step: int, steps: int, stages: int, growth: float = GROWTH) -> tuple[int, float]:
    """(stage, alpha) at global step `step` of a `steps`-step run over `stages` resolutions.

    The first `growth` share of the steps grows G: each stage gets an even part of it, and
    every stage after the first fades in over its first half (alpha 0 -> 1) and stabilizes at
    alpha 1 over its second. The rest of the steps train the full-size G. From `steps` on:
    the full G.
    """
    grow = min(steps, max(stages, math.ceil(steps * growth)))
    if step >= grow:
        return stages - 1, 1.0
    stage, within = divmod(step * stages, grow)  # within: position in the stage, in 1/grow
    return stage, 1.0 if stage == 0 else min(1.0, 2 * within / grow)


def real_at_stage(real: torch.Tensor, stage: int, alpha: float, stages: int) -> torch.Tensor:
    """Real images average-pooled to `stage`'s side; during a fade-in blended with the coarser
    side (nearest-upsampled), as G's output is, so D sees real and fake alike."""
    factor = 2 ** (stages - 1 - stage)
    x = F.avg_pool2d(real, factor) if factor > 1 else real
    if stage > 0 and alpha < 1.0:
        coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.lerp(coarse, x, alpha)
    return x


class EqualConv2d(nn.Module):
    """Conv with N(0, 1) weights scaled at runtime by He's constant (equalized learning rate)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with N(0, 1) weights scaled at runtime by He's constant."""

    def __init__(self, c_in: int, c_out: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Scale each pixel's feature vector to unit mean square (no batch statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStd(nn.Module):
    """Append the mean feature stddev over groups of images as one extra feature map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, min(MBSTD_GROUP, n) + 1) if n % d == 0)
        y = x.view(g, n // g, c, h, w)  # group j holds images j, j + n/g, ... (official layout)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=[1, 2, 3])
        return torch.cat([x, y.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w)], dim=1)


def _conv_act(c_in: int, c_out: int, kernel: int = 3) -> list[nn.Module]:
    return [EqualConv2d(c_in, c_out, kernel), nn.LeakyReLU(0.2)]


class Generator(nn.Module):
    """z (N, z_dim) -> image (N, 3, R, R) at the current `stage` and `alpha`.

    With `full_size` (the default, used by sampling) the stage's output is nearest-upsampled to
    R, so a checkpoint taken early still yields full-size images.
    """

    def __init__(self, z_dim: int, width: int, resolution: int):
        super().__init__()
        self.s0, self.num_stages = base_size(resolution), num_stages(resolution)
        self.stage, self.alpha = 0, 1.0  # set by the family from its step counter
        ch = [channels(width, k) for k in range(self.num_stages)]
        self.dense = EqualLinear(z_dim, ch[0] * self.s0**2)
        self.first = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), *_conv_act(ch[0], ch[0]),
                                   PixelNorm())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv_act(ch[k - 1], ch[k]),
                          PixelNorm(), *_conv_act(ch[k], ch[k]), PixelNorm())
            for k in range(1, self.num_stages)
        )
        self.to_rgb = nn.ModuleList(EqualConv2d(c, 3, 1, gain=1.0) for c in ch)

    def forward(self, z: torch.Tensor, full_size: bool = True) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        x = self.first(self.dense(z).view(z.shape[0], -1, self.s0, self.s0))
        prev = x
        for block in self.blocks[: self.stage]:
            prev, x = x, block(x)
        rgb = self.to_rgb[self.stage](x)
        if self.stage > 0 and self.alpha < 1.0:
            coarse = F.interpolate(self.to_rgb[self.stage - 1](prev), scale_factor=2,
                                   mode="nearest")
            rgb = torch.lerp(coarse, rgb, self.alpha)
        factor = 2 ** (self.num_stages - 1 - self.stage)
        if full_size and factor > 1:
            rgb = F.interpolate(rgb, scale_factor=factor, mode="nearest")
        return rgb


class Discriminator(nn.Module):
    """image (N, 3, r, r) at the current stage's side r -> one critic score per image."""

    def __init__(self, width: int, resolution: int):
        super().__init__()
        s0, self.num_stages = base_size(resolution), num_stages(resolution)
        self.stage, self.alpha = 0, 1.0  # set by the family from its step counter
        ch = [channels(width, k) for k in range(self.num_stages)]
        self.from_rgb = nn.ModuleList(nn.Sequential(*_conv_act(3, c, 1)) for c in ch)
        # blocks[k - 1] takes stage k's side and channels to stage k - 1's.
        self.blocks = nn.ModuleList(
            nn.Sequential(*_conv_act(ch[k], ch[k]), *_conv_act(ch[k], ch[k - 1]), nn.AvgPool2d(2))
            for k in range(1, self.num_stages)
        )
        # The paper's last block: minibatch stddev, conv 3x3, conv s0 x s0 (valid) = dense, dense.
        self.last = nn.Sequential(MinibatchStd(), *_conv_act(ch[0] + 1, ch[0]), nn.Flatten(),
                                  EqualLinear(ch[0] * s0 * s0, ch[0]), nn.LeakyReLU(0.2),
                                  EqualLinear(ch[0], 1, gain=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.from_rgb[self.stage](x)
        if self.stage > 0:
            h = self.blocks[self.stage - 1](h)
            if self.alpha < 1.0:
                h = torch.lerp(self.from_rgb[self.stage - 1](F.avg_pool2d(x, 2)), h, self.alpha)
        for k in range(self.stage - 1, 0, -1):
            h = self.blocks[k - 1](h)
        return self.last(h).flatten()


@register
class PGGAN(GAN):
    """Progressive growing with WGAN-GP + drift; the growth stage follows `steps_done`."""

    name = "pggan"
    memory_slope_mib = 8.9e-5  # MiB per image x pixel x width channel (base.GAN)
    # Blocks not grown yet (and the old toRGB/fromRGB once a fade-in ends) get no gradient.
    ddp_kwargs = {"find_unused_parameters": True}

    def __init__(self, cfg: GANConfig, resolution: int, seed: int, device: str = "cpu"):
        super().__init__(cfg, resolution, seed, device)
        self.steps_done = 0  # train_step calls so far: the clock of the growth schedule
        self._apply_schedule()

    def build(self) -> dict[str, nn.Module]:
        c, r = self.cfg, self.gen_resolution
        return {"G": Generator(c.z_dim, c.width, r), "D": Discriminator(c.width, r)}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam with beta2 0.99 for G and D (module docstring); the SR stage adds its own."""
        betas = (self.cfg.beta1, BETA2)
        return {k: torch.optim.Adam(self.nets[k].parameters(), lr=self.cfg.lr, betas=betas)
                for k in ("G", "D")}

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        return torch.stack([torch.randn(self.cfg.z_dim, generator=g) for g in rngs])

    def _apply_schedule(self) -> tuple[int, float]:
        """Set G's and D's stage and alpha from the step counter; returns them."""
        stage, alpha = schedule(self.steps_done, self.cfg.steps, num_stages(self.gen_resolution))
        nets = [unwrap(self.nets["G"]), unwrap(self.nets["D"])]
        if getattr(self, "G_ema", None) is not None:
            nets.append(self.G_ema)
        for net in nets:
            net.stage, net.alpha = stage, alpha
        return stage, alpha

    def can_stop(self) -> bool:
        """Only a fully grown G (last stage, faded in) may stop early."""
        stages = num_stages(self.gen_resolution)
        return schedule(self.steps_done, self.cfg.steps, stages) == (stages - 1, 1.0)

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        G, D = self.nets["G"], self.nets["D"]
        stage, alpha = self._apply_schedule()
        real = real_at_stage(real, stage, alpha, num_stages(self.gen_resolution))
        n = real.shape[0]
        z = torch.randn(n, self.cfg.z_dim, generator=gen).to(real.device)
        fake = G(z, full_size=False)
        if self.cfg.r1 > 0:
            return self._logistic_r1_step(real, fake, gen)
        # D step: real, fake and penalty terms, each forward followed by its backward (DDP).
        self.opts["D"].zero_grad(set_to_none=True)
        score_real = D(self.augment(real, gen))
        loss_real = (DRIFT * score_real.square() - score_real).mean()
        loss_real.backward()
        loss_fake = D(self.augment(fake.detach(), gen)).mean()
        loss_fake.backward()
        eps = torch.rand(n, 1, 1, 1, generator=gen).to(real.device)
        mixed = torch.lerp(real, fake.detach().to(real.dtype), eps).requires_grad_(True)
        score_mixed = D(self.augment(mixed, gen))
        (grad,) = torch.autograd.grad(score_mixed.sum(), mixed, create_graph=True)
        penalty = GP_WEIGHT * (grad.flatten(1).norm(dim=1) - 1).square().mean()
        # The zero term reaches the biases the penalty does not depend on, so DDP, which saw
        # them used in this forward, gets a gradient for every one of them.
        (penalty + 0.0 * score_mixed.sum()).backward()
        self.opts["D"].step()
        # G step: maximize the critic's score of the fakes.
        self.opts["G"].zero_grad(set_to_none=True)
        loss_g = -D(self.augment(fake, gen)).mean()
        loss_g.backward()
        self.opts["G"].step()
        self.steps_done += 1
        self._apply_schedule()  # sampling between steps uses the stage the next step trains
        return {"loss/G": loss_g.item(), "loss/D": (loss_real + loss_fake + penalty).item(),
                "loss/GP": penalty.item()}

    def _logistic_r1_step(self, real: torch.Tensor, fake: torch.Tensor,
                          gen: torch.Generator) -> dict[str, float]:
        """Non-saturating logistic loss with the R1 penalty gamma / 2 * |grad D(real)|^2, on
        every `r1_every`-th step and then weighted by `r1_every` (StyleGAN2's lazy R1)."""
        D = self.nets["D"]
        every = max(self.cfg.r1_every, 1)
        regularize = self.steps_done % every == 0
        self.opts["D"].zero_grad(set_to_none=True)
        real_in = self.augment(real, gen).detach().requires_grad_(regularize)
        score_real = D(real_in)
        loss_real = F.softplus(-score_real).mean()
        penalty = torch.zeros((), device=real.device)
        if regularize:
            (grad,) = torch.autograd.grad(score_real.sum(), real_in, create_graph=True)
            penalty = self.cfg.r1 / 2 * every * grad.flatten(1).square().sum(dim=1).mean()
        (loss_real + penalty).backward()
        loss_fake, loss_g = nonsaturating_fake_and_g_step(D, fake, self.augment, self.opts, gen)
        self.steps_done += 1
        self._apply_schedule()
        # 0 between penalties, so a logged mean over steps is the amortized penalty
        return {"loss/G": loss_g.item(), "loss/D": (loss_real + loss_fake).item(),
                "loss/R1": penalty.item()}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.steps_done = int(state["steps_done"])
        self._apply_schedule()
