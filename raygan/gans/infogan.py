"""InfoGAN (Chen et al. 2016): latent codes kept recoverable from images by a Q network.

G sees z plus one 10-way categorical code and two continuous codes in [-1, 1]; Q, a head on
D's convolutional trunk, predicts the codes back from the image, and the mutual-information
bound (cross-entropy of the category, Gaussian NLL of the continuous codes) trains G and Q.
As in the study, InfoGAN generates at half the working resolution and the SR stage upscales.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raygan.gans.base import GAN, register
from raygan.gans.dcgan import Discriminator, Generator
from raygan.gans.layers import base_size

NUM_CATEGORIES = 10  # one categorical code with 10 values (the paper's MNIST digit code)
NUM_CONT = 2  # continuous codes, uniform in [-1, 1]
LAMBDA_CAT = 1.0  # weight of the categorical MI term (the paper's lambda = 1 for discrete codes)
LAMBDA_CONT = 0.1  # smaller for continuous codes, keeping their term on the GAN loss's scale


class TrunkDiscriminator(nn.Module):
    """image (N, 3, R, R) -> (real/fake logit per image, trunk features that Q reads)."""

    def __init__(self, width: int, resolution: int):
        super().__init__()
        # DCGAN's D, split before its last conv: the conv stack is the trunk shared with Q.
        net = Discriminator(width, resolution).net
        self.trunk, self.head = net[:-1], net[-1]
        self.channels, self.side = self.head.in_channels, base_size(resolution)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.trunk(x)
        return self.head(feat).flatten(), feat


class QHead(nn.Module):
    """D's trunk features -> (category logits (N, 10), continuous-code means (N, 2))."""

    def __init__(self, channels: int, side: int, hidden: int):
        super().__init__()
        # A conv over the whole (side x side) feature map is the paper's fully connected layer.
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, side, 1, 0, bias=False), nn.BatchNorm2d(hidden),
            nn.LeakyReLU(0.2, True), nn.Conv2d(hidden, NUM_CATEGORIES + NUM_CONT, 1),
        )

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(feat).flatten(1)
        return out[:, :NUM_CATEGORIES], out[:, NUM_CATEGORIES:]


def mi_loss(q_cat: torch.Tensor, q_cont: torch.Tensor, category: torch.Tensor,
            cont: torch.Tensor) -> torch.Tensor:
    """The negative MI lower bound (up to constants): CE of the category + Gaussian NLL.

    The continuous codes' posterior has a fixed unit std, so their NLL is half the squared
    error: a learned log-std can shrink without bound on a tiny dataset and swamp the GAN loss.
    """
    nll_cont = 0.5 * (q_cont - cont).pow(2).sum(dim=1).mean()
    return LAMBDA_CAT * F.cross_entropy(q_cat, category) + LAMBDA_CONT * nll_cont


@register
class InfoGAN(GAN):
    """DCGAN networks with InfoGAN codes; Q is its own network on D's trunk features.

    DDP: D returns its trunk features with the logit, and Q runs on them, so the trunk runs
    once per forward and every D forward (real or fake) uses all of D's parameters; Q runs only
    on fakes, each Q forward followed by its backward. No `find_unused_parameters` is needed.
    """

    name = "infogan"
    memory_slope_mib = 1.6e-4  # MiB per image x pixel x width channel (base.GAN)
    native_scale = 0.5  # the study's InfoGAN generates at half size; the SR stage upscales
    min_worker_batch = 2  # Q's batch norm runs on a 1 x 1 map (base.GAN)

    def build(self) -> dict[str, nn.Module]:
        c, r = self.cfg, self.gen_resolution
        D = TrunkDiscriminator(c.width, r)
        # Q's hidden layer: the paper's FC-128 at the default width of 64.
        Q = QHead(D.channels, D.side, 2 * c.width)
        return {"G": Generator(c.z_dim + NUM_CATEGORIES + NUM_CONT, c.width, r), "D": D, "Q": Q}

    def codes(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """z, category indices and continuous codes of `n` images, drawn from `gen`."""
        z = torch.randn(n, self.cfg.z_dim, generator=gen)
        category = torch.randint(0, NUM_CATEGORIES, (n,), generator=gen)
        cont = torch.rand(n, NUM_CONT, generator=gen) * 2 - 1
        return z, category, cont

    @staticmethod
    def latent(z: torch.Tensor, category: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """G's input (N, z_dim + 12, 1, 1): z, the one-hot category, the continuous codes."""
        one_hot = F.one_hot(category, NUM_CATEGORIES).to(z.dtype)
        return torch.cat([z, one_hot, cont], dim=1)[:, :, None, None]

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        return torch.cat([self.latent(*self.codes(1, g)) for g in rngs])

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        G, D, Q = self.nets["G"], self.nets["D"], self.nets["Q"]
        z, category, cont = (t.to(real.device) for t in self.codes(real.shape[0], gen))
        fake = G(self.latent(z, category, cont))
        # D and Q step: GAN loss on separate real and fake batches (DCGAN's batch norm sees
        # one kind at a time), plus the MI term on the fakes, as in the paper's reference code.
        self.opts["D"].zero_grad(set_to_none=True)
        self.opts["Q"].zero_grad(set_to_none=True)
        logit_real, _ = D(self.augment(real, gen))
        loss_real = F.softplus(-logit_real).mean()
        loss_real.backward()
        logit_fake, feat = D(self.augment(fake.detach(), gen))
        loss_fake = F.softplus(logit_fake).mean()
        (loss_fake + mi_loss(*Q(feat), category, cont)).backward()
        self.opts["D"].step()
        self.opts["Q"].step()
        # G step: non-saturating loss plus the MI term, so G keeps its codes readable by Q.
        self.opts["G"].zero_grad(set_to_none=True)
        logit, feat = D(self.augment(fake, gen))
        loss_mi = mi_loss(*Q(feat), category, cont)
        loss_g = F.softplus(-logit).mean()
        (loss_g + loss_mi).backward()
        self.opts["G"].step()
        return {"loss/G": loss_g.item(), "loss/D": (loss_real + loss_fake).item(),
                "loss/MI": loss_mi.item()}
