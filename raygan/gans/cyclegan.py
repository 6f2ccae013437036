"""CycleGAN (Zhu et al. 2017): unpaired benign -> malignant translation with cycle consistency.

`G` turns benign images into malignant ones (the samples) and `F` maps them back; `D` judges
malignant images (real vs G(benign)), `D_B` benign ones (real vs F(malignant)). As in the paper:
ResNet generators and 70x70 PatchGAN discriminators with instance norm, LSGAN losses, an L1
cycle loss (lambda 10), an identity loss (lambda 0.5 x 10), and a history pool of 50 generated
images per direction for the D updates. Benign sources are the training images of `context`, so
samples are translations of training benign images and test images never enter.
"""

from __future__ import annotations

import torch
from torch import nn

from raygan.config import GANConfig
from raygan.gans.base import GAN, register
from raygan.images import resize, to_float

POOL_SIZE = 50  # generated images kept per direction for the D updates (the paper's 50)
LAMBDA_CYCLE = 10.0  # weight of the L1 cycle loss (paper)
LAMBDA_IDENTITY = 0.5 * LAMBDA_CYCLE  # weight of the L1 identity loss (paper: 0.5 x lambda)


def num_blocks(resolution: int) -> int:
    """Residual blocks of G: the paper's 6 at 128 px and up, 3 for the 8-16 px bottleneck below."""
    return 6 if resolution >= 128 else 3


def num_patch_layers(resolution: int) -> int:
    """Strided layers of the PatchGAN: 3 (70 px receptive field) from 64 px, 2 (34 px) below."""
    return 3 if resolution >= 64 else 2


def _init(m: nn.Module) -> None:
    # The paper's init: N(0, 0.02) conv weights, zero biases.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)


def _lsgan(scores: torch.Tensor, target: float) -> torch.Tensor:
    """The least-squares GAN loss: mean squared distance of every patch score to `target`."""
    return (scores - target).square().mean()


class ResBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm, added to the input."""

    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class Generator(nn.Module):
    """image (N, 3, R, R) -> translated image, same shape, in [-1, 1]: the paper's ResNet G.

    c7s1-w, d2w, d4w, R4w x num_blocks, u2w, uw, c7s1-3 (w = width; width 64 is the paper's).
    Instance norm has no running statistics, so each image is translated on its own.
    """

    def __init__(self, width: int, resolution: int):
        super().__init__()
        if resolution % 4:
            raise ValueError(f"resolution {resolution} is not a multiple of 4 (two downsamplings)")
        ch = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ch, 7),
                                   nn.InstanceNorm2d(ch), nn.ReLU(True)]
        for _ in range(2):
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), nn.InstanceNorm2d(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResBlock(ch) for _ in range(num_blocks(resolution))]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """image (N, 3, R, R) -> a map of real/fake scores, one per overlapping patch (PatchGAN)."""

    def __init__(self, width: int, resolution: int):
        super().__init__()
        n_layers = num_patch_layers(resolution)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(3, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for i in range(1, n_layers + 1):
            out = width * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, out, 4, stride, 1), nn.InstanceNorm2d(out),
                       nn.LeakyReLU(0.2, True)]
            ch = out
        layers += [nn.Conv2d(ch, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register
class CycleGAN(GAN):
    """The study's CycleGAN: samples are G's translations of benign training images."""

    name = "cyclegan"
    memory_slope_mib = 2.6e-4  # MiB per image x pixel x width channel (base.GAN)
    needs_context = True

    def __init__(self, cfg: GANConfig, resolution: int, seed: int, device: str = "cpu"):
        super().__init__(cfg, resolution, seed, device)
        r = self.gen_resolution
        # History pools, by the discriminator they feed: "D" keeps G(benign), "D_B" F(malignant).
        self.pools = {k: torch.zeros(POOL_SIZE, 3, r, r, device=device) for k in ("D", "D_B")}
        self.pool_counts = {k: 0 for k in self.pools}

    def build(self) -> dict[str, nn.Module]:
        c, r = self.cfg, self.gen_resolution
        return {"G": Generator(c.width, r), "F": Generator(c.width, r),
                "D": Discriminator(c.width, r), "D_B": Discriminator(c.width, r)}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam for both generators and one for both discriminators, as in the paper."""
        def adam(*keys: str) -> torch.optim.Optimizer:
            params = [p for k in keys for p in self.nets[k].parameters()]
            return torch.optim.Adam(params, lr=self.cfg.lr, betas=(self.cfg.beta1, 0.999))
        return {"G": adam("G", "F"), "D": adam("D", "D_B")}

    def _context(self) -> torch.Tensor:
        """The benign source images, or a clear error when the pipeline gave none."""
        if self.context is None or len(self.context) == 0:
            raise RuntimeError("cyclegan translates benign images: call set_context(benign uint8 "
                               "NCHW images) before training or sampling")
        return self.context

    def _sources(self, idx: torch.Tensor) -> torch.Tensor:
        """Context images `idx` as floats in [-1, 1] at the generator's resolution."""
        x = to_float(self._context()[idx])
        # e.g. full-size context for a model that trains at half size
        return resize(x, self.gen_resolution)

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        n = len(self._context())
        return self._sources(torch.cat([torch.randint(n, (1,), generator=g) for g in rngs]))

    def _query_pool(self, key: str, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The paper's history pool: fakes are stored until it holds 50; after that each one,
        with probability 1/2, takes a random stored one's place and D sees that one instead."""
        pool, n = self.pools[key], fake.shape[0]
        swap = torch.rand(n, generator=gen) < 0.5
        slots = torch.randint(POOL_SIZE, (n,), generator=gen).tolist()
        out = fake.clone()
        for i in range(n):
            if self.pool_counts[key] < POOL_SIZE:
                pool[self.pool_counts[key]] = fake[i]
                self.pool_counts[key] += 1
            elif swap[i]:
                out[i] = pool[slots[i]]
                pool[slots[i]] = fake[i]
        return out

    def _d_loss(self, key: str, real: torch.Tensor, fake: torch.Tensor,
                gen: torch.Generator) -> torch.Tensor:
        """Half the LSGAN loss of discriminator `key` (the paper halves it to slow D down).

        Real and pooled fake images share one forward: instance norm is per image, so this is
        the same as two batches, and one forward then one backward is what DDP expects.
        """
        scores = self.nets[key](self.augment(torch.cat([real, self._query_pool(key, fake, gen)]),
                                             gen))
        n = real.shape[0]
        return 0.5 * (_lsgan(scores[:n], 1.0) + _lsgan(scores[n:], 0.0))

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        G, F, D, D_B = (self.nets[k] for k in ("G", "F", "D", "D_B"))
        context = self._context()
        n = real.shape[0]
        benign = self._sources(torch.randint(len(context), (n,), generator=gen)).to(real.device)
        # Generators: the objective is a sum of two halves, one per cycle, and their gradients
        # add up, so each half runs its own backward: every network's forward is then followed
        # by a backward before its next forward, as DDP requires. Instance norm is per image, so
        # the identity images ride along in the same forward.
        self.opts["G"].zero_grad(set_to_none=True)
        fake, same_real = G(torch.cat([benign, real])).chunk(2)
        loss_g = _lsgan(D(self.augment(fake, gen)), 1.0)
        cycle_benign = (F(fake) - benign).abs().mean()
        identity_real = (same_real - real).abs().mean()
        (loss_g + LAMBDA_CYCLE * cycle_benign + LAMBDA_IDENTITY * identity_real).backward()
        fake_benign, same_benign = F(torch.cat([real, benign])).chunk(2)
        loss_f = _lsgan(D_B(self.augment(fake_benign, gen)), 1.0)
        cycle_real = (G(fake_benign) - real).abs().mean()
        identity_benign = (same_benign - benign).abs().mean()
        (loss_f + LAMBDA_CYCLE * cycle_real + LAMBDA_IDENTITY * identity_benign).backward()
        self.opts["G"].step()
        # Discriminators, on fakes from the history pools; this also clears the gradients that
        # the generator step left in D and D_B.
        self.opts["D"].zero_grad(set_to_none=True)
        loss_d = self._d_loss("D", real, fake.detach(), gen)
        loss_d.backward()
        loss_d_b = self._d_loss("D_B", benign, fake_benign.detach(), gen)
        loss_d_b.backward()
        self.opts["D"].step()
        return {
            "loss/G": loss_g.item(), "loss/D": loss_d.item(),
            "loss/F": loss_f.item(), "loss/D_B": loss_d_b.item(),
            "loss/cycle": (cycle_benign + cycle_real).item(),
            "loss/identity": (identity_real + identity_benign).item(),
        }

    def state_dict(self) -> dict:
        """The base state plus the history pools (images and fill counts) for exact resumes."""
        state = super().state_dict()
        state["pools"] = {k: p.clone() for k, p in self.pools.items()}
        state["pool_counts"] = dict(self.pool_counts)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` saved."""
        super().load_state_dict(state)
        for k, pool in self.pools.items():
            pool.copy_(state["pools"][k])
            self.pool_counts[k] = int(state["pool_counts"][k])
