"""DCGAN (Radford et al. 2016): strided (transposed) convolutions, batch norm, Adam 2e-4 / 0.5."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from raygan.gans.base import LatentGAN, register
from raygan.gans.layers import base_size, nonsaturating_fake_and_g_step


def _init(m: nn.Module) -> None:
    # The DCGAN paper's init: N(0, 0.02) for convs, N(1, 0.02) for batch-norm scales.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, z_dim, 1, 1) -> image (N, 3, R, R) in [-1, 1]."""

    def __init__(self, z_dim: int, width: int, resolution: int):
        super().__init__()
        s0 = base_size(resolution)
        n_up = int(math.log2(resolution // s0))
        ch = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)
        ]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """image (N, 3, R, R) -> one real/fake logit per image."""

    def __init__(self, width: int, resolution: int):
        super().__init__()
        s0 = base_size(resolution)
        n_down = int(math.log2(resolution // s0))
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(3, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, s0, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


@register
class DCGAN(LatentGAN):
    """The study's DCGAN; the non-saturating loss with separate real and fake D batches."""

    name = "dcgan"
    memory_slope_mib = 1.6e-5  # MiB per image x pixel x width channel (base.GAN)
    generator_cls, discriminator_cls = Generator, Discriminator

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        G, D = self.nets["G"], self.nets["D"]
        n = real.shape[0]
        z = torch.randn(n, self.cfg.z_dim, 1, 1, generator=gen).to(real.device)
        fake = G(z)
        # D step: real and fake in separate batches (and backward passes), as in the DCGAN paper;
        # each forward is followed by its own backward, which DDP requires.
        self.opts["D"].zero_grad(set_to_none=True)
        loss_real = F.softplus(-D(self.augment(real, gen))).mean()
        loss_real.backward()
        # then the fake batch, D's update, and G's step on the non-saturating loss -log D(G(z))
        loss_fake, loss_g = nonsaturating_fake_and_g_step(D, fake, self.augment, self.opts, gen)
        return {"loss/G": loss_g.item(), "loss/D": (loss_real + loss_fake).item()}
