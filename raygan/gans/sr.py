"""ESRGAN-style x2 super-resolution (Wang et al. 2018), trained in-project next to a GAN family.

A family that generates at half resolution gets this stage: an RRDB generator `SR_G` upscales
its samples (as a residual over bicubic upscaling), and a VGG-style discriminator `SR_D` judges
them with ESRGAN's relativistic average GAN loss (RaGAN). Both train on (downscaled, original)
pairs of real images inside the family's own training steps (`GAN.step`), since pretrained
ESRGAN weights cannot be downloaded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raygan.config import GANConfig
from raygan.gans.diffaugment import diff_augment
from raygan.gans.layers import unwrap

RES_SCALE = 0.2  # ESRGAN's residual scaling: keeps a deep trunk without batch norm stable
W_L1 = 1.0  # pixel loss weight (ESRGAN: 1e-2 beside a VGG perceptual loss we cannot load here)
W_ADV = 5e-3  # RaGAN weight (ESRGAN's); once SR_D wins, it trades some L1 for texture
LR, BETAS = 1e-4, (0.9, 0.999)  # ESRGAN's Adam settings for both SR networks
D_STAGES = 4  # stride-2 stages of SR_D: 16 px -> 1 px, so any input of 16 px or more works


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class DenseBlock(nn.Module):
    """Residual dense block: 5 densely connected convs, output scaled by RES_SCALE plus input."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, 1, 1) for i in range(5)
        )
        for conv in self.convs:
            # ESRGAN's init: Kaiming scaled by 0.1, so each block starts close to the identity.
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:-1]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return x + RES_SCALE * self.convs[-1](torch.cat(feats, 1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks inside a scaled residual."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.blocks = nn.Sequential(DenseBlock(nf, gc), DenseBlock(nf, gc), DenseBlock(nf, gc))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RES_SCALE * self.blocks(x)


class RRDBNet(nn.Module):
    """image (N, 3, r, r) in [-1, 1] -> image (N, 3, 2r, 2r) in [-1, 1]."""

    def __init__(self, nf: int, gc: int, num_blocks: int):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.trunk = nn.Sequential(*(RRDB(nf, gc) for _ in range(num_blocks)))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.up_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.hr_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)
        # Small last layer: the network starts as the bicubic upscale (see forward).
        self.conv_last.weight.data.mul_(0.1)
        nn.init.zeros_(self.conv_last.bias)

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(low)
        feat = feat + self.trunk_conv(self.trunk(feat))  # ESRGAN's long skip over the trunk
        feat = F.leaky_relu(self.up_conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        residual = self.conv_last(F.leaky_relu(self.hr_conv(feat), 0.2))
        # Unlike ESRGAN, the network learns only a residual over the bicubic upscale (a global
        # skip as in VDSR, Kim et al. 2016): ESRGAN trains ~10^6 steps, this stage gets the
        # family's few thousand, and so starts at bicubic quality instead of noise. The skip
        # enters before a tanh, not ESRGAN's clamp: outputs stay in [-1, 1] in training too
        # (SR_D sees them), and tanh never zeroes the gradient of an overshooting pixel.
        bicubic = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False)
        # atanh needs |x| < 1; +-0.999 still maps to uint8 255 / 0 (bicubic may overshoot).
        return torch.tanh(torch.atanh(bicubic.clamp(-0.999, 0.999)) + residual)


class VGGDiscriminator(nn.Module):
    """image (N, 3, R, R), R >= 16 -> one logit per image (ESRGAN's VGG-style D, pooled)."""

    def __init__(self, nf: int):
        super().__init__()
        layers: list[nn.Module] = []
        ch_in = 3
        for stage in range(D_STAGES):
            ch = nf * 2**stage
            layers += [nn.Conv2d(ch_in, ch, 3, 1, 1), _lrelu(),
                       nn.Conv2d(ch, ch, 4, 2, 1), _lrelu()]
            ch_in = ch
        self.features = nn.Sequential(*layers)
        # Global pooling instead of ESRGAN's fixed 4x4 flatten: one D for every resolution.
        # No batch norm (ESRGAN has it): real and fake share one forward pass, which RaGAN and
        # DDP both want, and batch statistics would then mix the two.
        self.linear = nn.Linear(ch_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x).mean(dim=(2, 3))).flatten()


class SuperResolver:
    """The x2 SR stage from `low_res` to `2 * low_res`: builds, trains and applies SR_G / SR_D.

    Losses: ESRGAN's RaGAN for SR_D and SR_G plus an L1 pixel loss. ESRGAN also uses a VGG
    perceptual loss, which needs pretrained VGG weights that cannot be downloaded here; without
    it, L1 carries the fidelity, so it gets weight 1.0 (ESRGAN: 1e-2) beside ESRGAN's 5e-3
    adversarial weight, from the first step. ESRGAN's L1-only warm-up keeps the GAN phase from
    starting on noise-like outputs; here SR_G starts at the bicubic upscale (see RRDBNet), so
    the warm-up is left out, and with it a step counter that checkpoints would have to carry.
    """

    keys: tuple[str, ...] = ("SR_G", "SR_D")

    def __init__(self, cfg: GANConfig, low_res: int):
        self.cfg, self.low_res = cfg, low_res

    def build(self) -> dict[str, nn.Module]:
        """SR_G (RRDB generator) and SR_D (VGG-style discriminator), sized by `cfg.width`."""
        nf = self.cfg.width
        # ESRGAN's 23 RRDBs serve x4 on DIV2K over ~10^6 steps; here the task is x2, with a few
        # thousand steps on <= 500 images, run inside every family step: a short trunk suffices
        # (even so, SR costs more than a DCGAN-sized family per step); 4 blocks above width 32.
        num_blocks = 2 if nf <= 32 else 4
        return {"SR_G": RRDBNet(nf, max(nf // 2, 1), num_blocks), "SR_D": VGGDiscriminator(nf)}

    def build_optimizers(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """ESRGAN's Adam (lr 1e-4, betas 0.9 / 0.999) for SR_G and SR_D."""
        return {k: torch.optim.Adam(nets[k].parameters(), lr=LR, betas=BETAS) for k in self.keys}

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """DiffAugment before every SR_D call when `cfg.diffaugment` names a policy."""
        return diff_augment(x, self.cfg.diffaugment, gen) if self.cfg.diffaugment else x

    def train_step(
        self,
        nets: dict[str, nn.Module],
        opts: dict[str, torch.optim.Optimizer],
        low: torch.Tensor,
        high: torch.Tensor,
        gen: torch.Generator,
    ) -> dict[str, float]:
        """One step of SR_D then SR_G on (downscaled, original) real pairs, floats in [-1, 1]."""
        G, D = nets["SR_G"], nets["SR_D"]
        n = high.shape[0]
        fake = G(low)
        # D step: RaGAN, real judged against the mean fake and vice versa. Real and fake go
        # through D in one forward, followed by its backward, as DDP requires.
        opts["SR_D"].zero_grad(set_to_none=True)
        d_real, d_fake = D(self.augment(torch.cat([high, fake.detach()]), gen)).split(n)
        loss_d = (F.softplus(-(d_real - d_fake.mean())).mean()
                  + F.softplus(d_fake - d_real.mean()).mean()) / 2
        loss_d.backward()
        opts["SR_D"].step()
        # G step: the symmetric RaGAN loss (real logits fixed, as in ESRGAN) plus L1.
        opts["SR_G"].zero_grad(set_to_none=True)
        d_real, d_fake = D(self.augment(torch.cat([high, fake]), gen)).split(n)
        d_real = d_real.detach()
        loss_adv = (F.softplus(d_real - d_fake.mean()).mean()
                    + F.softplus(-(d_fake - d_real.mean())).mean()) / 2
        loss_l1 = F.l1_loss(fake, high)
        loss_g = W_L1 * loss_l1 + W_ADV * loss_adv
        loss_g.backward()
        opts["SR_G"].step()
        return {"loss/SR_G": loss_g.item(), "loss/SR_D": loss_d.item(),
                "loss/SR_L1": loss_l1.item()}

    def upscale(self, nets: dict[str, nn.Module], low: torch.Tensor) -> torch.Tensor:
        """(N, 3, r, r) -> (N, 3, 2r, 2r), floats in [-1, 1]; nets are already in eval mode."""
        return unwrap(nets["SR_G"])(low)

