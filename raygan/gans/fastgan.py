"""FastGAN (Liu et al. 2021): skip-layer excitation in G, a self-supervised auto-encoding D.

Why this family for raygan's budgets (10-500 real malignant images per GAN):
- few-shot by design: the paper's data sets hold about 100 to 1000 images, our budgets' range,
  where an unaugmented StyleGAN2 collapses; D's reconstruction task regularizes it on exactly
  the few real images it would otherwise memorize;
- fast on small compute: the paper trains it from scratch in hours on one consumer GPU (one
  conv per upsampling stage, one scale, no progressive growing), so a sweep's many GANs
  (arms x budgets x seeds) stay affordable;
- no pretrained weights: everything trains from scratch, which the offline cluster requires
  (the paper's LPIPS reconstruction loss needs pretrained VGG weights; we use L1 instead);
- made for DiffAugment: the paper trains with it. Here it stays the base class's external
  switch, off unless asked: `GANConfig(diffaugment="color,translation,cutout")` turns it on.

Left out of the paper's model, for speed and reproducibility: the second conv and the noise
injection of every other G block (noise would come from the global RNG, so an image could not
be reproduced from its own seed), and D's second, low-resolution image branch and SLE modules
(the reconstruction task carries the few-shot regularization on its own).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from raygan.gans.base import LatentGAN, register
from raygan.gans.layers import base_size

MAX_MULT = 8  # channels are width * 2^depth, capped at width * MAX_MULT (as in dcgan.py)
SLE_GAP = 4  # stages between an SLE's source and target: the paper's 4 -> 64, 8 -> 128 px


def channels(width: int, depth: int) -> int:
    """Channels of a stage `depth` halvings away from full resolution."""
    return width * min(2**depth, MAX_MULT)


def quadrant(x: torch.Tensor, part: int) -> torch.Tensor:
    """Quarter `part` of NCHW `x`: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right."""
    h = x.shape[-1] // 2
    row, col = divmod(part, 2)
    return x[..., row * h : (row + 1) * h, col * h : (col + 1) * h]


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, pad: int = 0) -> nn.Module:
    # Spectral norm on every conv of G and D, as in the paper's code: it keeps few-shot D stable.
    return spectral_norm(nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """Nearest x2, conv3x3, batch norm, GLU: the paper's upsampling block."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         _conv(c_in, 2 * c_out, 3, 1, 1), nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1))


class SLE(nn.Module):
    """Skip-layer excitation: a low-resolution map gates a high-resolution map channel-wise."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), _conv(c_low, c_high, 4),
                                  nn.LeakyReLU(0.1), _conv(c_high, c_high, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class Generator(nn.Module):
    """z (N, z_dim, 1, 1) -> image (N, 3, R, R) in [-1, 1]."""

    def __init__(self, z_dim: int, width: int, resolution: int):
        super().__init__()
        s0 = base_size(resolution)
        n_up = int(math.log2(resolution // s0))
        ch = [channels(width, n_up - k) for k in range(n_up + 1)]  # stage k: side s0 * 2^k
        self.init = nn.Sequential(
            spectral_norm(nn.ConvTranspose2d(z_dim, 2 * ch[0], s0, 1, 0, bias=False)),
            nn.BatchNorm2d(2 * ch[0]), nn.GLU(dim=1))
        self.ups = nn.ModuleList(_up(ch[k - 1], ch[k]) for k in range(1, n_up + 1))
        # SLE pairs: stage k - gap gates stage k for every k >= gap. The gap is the paper's 4
        # stages (16x the side) where G is that deep, else as deep as it goes, so every size has
        # at least one pair; sources stay <= 16 px. Pairs (source -> target side): 16: 4 -> 16;
        # 32: 4 -> 32; 64: 4 -> 64; 128: 4 -> 64, 8 -> 128; 112: 7 -> 112; 224: 7 -> 112, 14 -> 224.
        self.gap = min(SLE_GAP, n_up)
        self.sle = nn.ModuleDict({str(s0 * 2**k): SLE(ch[k - self.gap], ch[k])
                                  for k in range(self.gap, n_up + 1)})
        self.to_rgb = nn.Sequential(_conv(ch[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        feats = [self.init(z)]
        for k, up in enumerate(self.ups, start=1):
            x = up(feats[-1])
            side = str(x.shape[-1])
            feats.append(self.sle[side](feats[k - self.gap], x) if side in self.sle else x)
        return self.to_rgb(feats[-1])


class DownBlock(nn.Module):
    """The paper's residual /2 block: a conv4x4-s2 + conv3x3 path averaged with avgpool + 1x1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(
            _conv(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2),
            _conv(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))
        self.skip = nn.Sequential(nn.AvgPool2d(2), _conv(c_in, c_out, 1), nn.BatchNorm2d(c_out),
                                  nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) / 2


class Decoder(nn.Module):
    """D's self-supervision head: features (N, C, s, s) -> image (N, 3, s * 2^n_up, ...)."""

    def __init__(self, c_in: int, width: int, n_up: int):
        super().__init__()
        # G's channel ladder counted from the output, not D's wide low-resolution stages: at
        # 64 px this halves the cost the decoders would have at D's widths.
        ch = [c_in] + [channels(width, n_up - k) for k in range(1, n_up + 1)]
        layers: list[nn.Module] = [_up(ch[k - 1], ch[k]) for k in range(1, n_up + 1)]
        layers += [_conv(ch[-1], 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)


class Discriminator(nn.Module):
    """image (N, 3, R, R) -> patch logits (N, P); with `part`, also two reconstructions.

    Residual blocks halve the image down to `low` px (8, or 7 on the 224 = 7 * 32 ladder). On
    real images, one decoder redraws the whole image at `rec` px from the `low` map, the other
    the quarter `part` of the image, also at `rec` px, from that quarter of the 2 * `low` map.
    """

    def __init__(self, width: int, resolution: int):
        super().__init__()
        self.low = 8 if base_size(resolution) == 4 else 7
        self.rec = min(4 * self.low, resolution)  # 32 px (28 on the 224 ladder) or the input
        n_down = int(math.log2(resolution // self.low))
        self.stem = nn.Sequential(_conv(3, width, 3, 1, 1), nn.LeakyReLU(0.2))
        self.downs = nn.ModuleList(DownBlock(channels(width, k - 1), channels(width, k))
                                   for k in range(1, n_down + 1))
        c_low, c_mid = channels(width, n_down), channels(width, n_down - 1)
        self.head = nn.Sequential(_conv(c_low, c_low, 1), nn.BatchNorm2d(c_low),
                                  nn.LeakyReLU(0.2), _conv(c_low, 1, 4))
        n_up = int(math.log2(self.rec // self.low))
        self.decode_whole = Decoder(c_low, width, n_up)
        self.decode_part = Decoder(c_mid, width, n_up)

    def forward(
        self, x: torch.Tensor, part: int | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mid = self.stem(x)
        for down in self.downs[:-1]:
            mid = down(mid)
        low = self.downs[-1](mid)
        logits = self.head(low).flatten(1)
        if part is None:
            return logits
        return logits, self.decode_whole(low), self.decode_part(quadrant(mid, part))


def reconstruction_loss(
    seen: torch.Tensor, whole: torch.Tensor, part_rec: torch.Tensor, part: int
) -> torch.Tensor:
    """L1 of D's two reconstructions against the real images it saw, area-resized to match.

    The paper uses LPIPS here; its pretrained VGG weights cannot be downloaded on the cluster,
    so plain L1 stands in.
    """
    size = whole.shape[-2:]
    return (F.l1_loss(whole, F.interpolate(seen, size=size, mode="area"))
            + F.l1_loss(part_rec, F.interpolate(quadrant(seen, part), size=size, mode="area")))


@register
class FastGAN(LatentGAN):
    """FastGAN with the hinge loss; D also learns to auto-encode the real images it sees.

    Optimizers are the base class's Adam(cfg.lr, (cfg.beta1, 0.999)): at the config defaults,
    the paper's 2e-4 and (0.5, 0.999). The paper's code jitters the hinge margin to U(0.8, 1);
    the plain hinge of its text is used here.
    """

    name = "fastgan"
    memory_slope_mib = 2.3e-4  # MiB per image x pixel x width channel (base.GAN)
    generator_cls, discriminator_cls = Generator, Discriminator
    # D's decoders run on real batches only, so the fake and G-step backward passes give them
    # no gradients; without this flag DDP fails on the next step (checked with gloo). G never
    # has unused parameters, so DDP only warns that the flag is needless there.
    ddp_kwargs = {"find_unused_parameters": True}

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        G, D = self.nets["G"], self.nets["D"]
        z = torch.randn(real.shape[0], self.cfg.z_dim, 1, 1, generator=gen).to(real.device)
        fake = G(z)
        part = int(torch.randint(4, (1,), generator=gen))
        # D step, real then fake, each forward followed by its backward (DDP's rule). The
        # decoders redraw the augmented image, the one D's features describe (as in the paper).
        self.opts["D"].zero_grad(set_to_none=True)
        seen = self.augment(real, gen)
        logits, whole, part_rec = D(seen, part)
        loss_real = F.relu(1.0 - logits).mean()
        loss_rec = reconstruction_loss(seen, whole, part_rec, part)
        (loss_real + loss_rec).backward()
        loss_fake = F.relu(1.0 + D(self.augment(fake.detach(), gen))).mean()
        loss_fake.backward()
        self.opts["D"].step()
        # G step: the hinge generator loss -D(G(z)).
        self.opts["G"].zero_grad(set_to_none=True)
        loss_g = -D(self.augment(fake, gen)).mean()
        loss_g.backward()
        self.opts["G"].step()
        return {"loss/G": loss_g.item(), "loss/D": (loss_real + loss_fake).item(),
                "loss/rec": loss_rec.item()}
