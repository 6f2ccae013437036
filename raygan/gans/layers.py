"""Helpers that the GAN families share: the first feature map's size, the bare module inside a
DDP wrapper, and the non-saturating loss's fake and generator step."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # a family's `augment`


def base_size(resolution: int) -> int:
    """Side of the first feature map: 4 for powers of two, 7 for 224 (= 7 x 32)."""
    for s in (4, 7):
        n = resolution // s
        if resolution % s == 0 and n & (n - 1) == 0 and n >= 2:
            return s
    raise ValueError(f"resolution {resolution} is neither 4 * 2^k nor 7 * 2^k")


def unwrap(module: nn.Module) -> nn.Module:
    """The bare module inside a DDP wrapper (or the module itself)."""
    return module.module if hasattr(module, "module") else module


def nonsaturating_fake_and_g_step(
    D: nn.Module, fake: torch.Tensor, augment: Augment, opts: dict[str, torch.optim.Optimizer],
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The end of a non-saturating GAN step: D's fake term softplus(D(fake)), its backward and
    D's update, then G's step on -log D(G(z)) = softplus(-D(fake)). D's real term (and any
    penalty) comes before, into the same gradients. Returns (D's fake loss, G's loss)."""
    loss_fake = F.softplus(D(augment(fake.detach(), gen))).mean()
    loss_fake.backward()  # each forward followed by its own backward, as DDP requires
    opts["D"].step()
    opts["G"].zero_grad(set_to_none=True)
    loss_g = F.softplus(-D(augment(fake, gen))).mean()
    loss_g.backward()
    opts["G"].step()
    return loss_fake, loss_g
