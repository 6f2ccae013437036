"""The GAN plug-in interface every family follows, and the registry that maps names to families."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from raygan.cell import GAN_ARM_PREFIX, GENERATED_PREFIXES, family_arm
from raygan.config import GANConfig
from raygan.gans.diffaugment import diff_augment
from raygan.gans.layers import unwrap
from raygan.gans.sr import SuperResolver
from raygan.images import resize, to_uint8

REGISTRY: dict[str, type[GAN]] = {}
SAMPLE_CHUNK = 64  # images per generator call when sampling; fixed so pixels never depend on n


def register(cls: type[GAN]) -> type[GAN]:
    """Class decorator: make a family available as its arm `<cls.arm_prefix><cls.name>`
    (`gan:dcgan`, `diffusion:ddpm`). The registry keeps the order of registration, which is the
    order of the grid's generated-fill arms (see __init__.py)."""
    if cls.name in REGISTRY:
        raise ValueError(f"GAN {cls.name!r} is registered twice")
    if not getattr(cls, "memory_slope_mib", 0) > 0:
        raise ValueError(f"GAN {cls.name!r} declares no memory_slope_mib (see base.GAN)")
    if cls.arm_prefix not in GENERATED_PREFIXES:
        raise ValueError(f"family {cls.name!r}: arm prefix {cls.arm_prefix!r} is none of "
                         f"{', '.join(GENERATED_PREFIXES)} (raygan/cell.py)")
    if family_arm(cls.name) != cls.arm_prefix + cls.name:
        raise ValueError(f"family {cls.name!r}: its arm {cls.arm_prefix + cls.name!r} is not "
                         f"{family_arm(cls.name)!r}; name it in raygan/cell.py FAMILY_PREFIXES")
    cls.arm = cls.arm_prefix + cls.name
    REGISTRY[cls.name] = cls
    return cls


def build_gan(name: str, cfg: GANConfig, resolution: int, seed: int, device: str = "cpu") -> GAN:
    """A freshly initialized GAN of family `name`; the same seed gives the same weights."""
    return REGISTRY[name](cfg, resolution, seed, device)


def latent_seed(seed: int, index: int) -> int:
    """The RNG seed of image `index` under `seed`: one stream per image, whatever the batching."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)


class GAN:
    """Base of every family: networks in `nets`, optimizers in `opts`, one `train_step`, `generate`.

    Subclasses set `name`, implement `build` (networks at `self.gen_resolution`), `train_step`
    and `generator_input`. Images cross this interface as uint8 NCHW tensors/arrays; floats in
    [-1, 1] exist only inside. Every `D(x)` of a family is written `D(self.augment(x, gen))`.

    Two switches work for every family: `cfg.diffaugment` (see diffaugment.py) and `cfg.upscale`
    (or a family's `native_scale = 0.5`): the family then trains and generates at half
    resolution, and an ESRGAN-style super-resolution stage (sr.py), trained in the same steps on
    (downscaled, original) pairs of real images, brings its samples to full size.
    """

    name: ClassVar[str]
    # What kind of model the family is, as its arm says: `gan:` or `diffusion:` (cell.py)
    arm_prefix: ClassVar[str] = GAN_ARM_PREFIX
    arm: ClassVar[str]  # `<arm_prefix><name>`: the grid arm filled with its images (register)
    # Whether the CPU profiles (laptop, overnight) put the family's arm in their grid; False
    # for a family too costly there, which a CPU sweep runs only when `--arms` names it
    cpu_default: ClassVar[bool] = True
    # MiB of a CPU worker's peak memory per (image of its batch x pixel x channel of `width`):
    # the activation term that orchestrate/memory.py reserves from Ray for each worker. Each
    # family's figure is the larger of its two slopes measured by benchmarks/peak_memory.py.
    memory_slope_mib: ClassVar[float]
    generator_key: ClassVar[str] = "G"  # which entry of `nets` makes images
    needs_context: ClassVar[bool] = False  # True: needs `set_context` (e.g. benign sources)
    native_scale: ClassVar[float] = 1.0  # 0.5: always generate at half size and upscale
    ddp_kwargs: ClassVar[dict[str, Any]] = {}  # e.g. find_unused_parameters for growing nets
    # Images each DDP worker needs per step (config.validate holds a batch to it): 2 where a
    # batch norm sees one value per channel (a 1 x 1 map) and cannot normalize a single image
    min_worker_batch: ClassVar[int] = 1

    def __init__(self, cfg: GANConfig, resolution: int, seed: int, device: str = "cpu"):
        self.cfg, self.resolution, self.seed, self.device = cfg, resolution, seed, device
        self.probing = False  # True while the quality probe samples (`probe_sampling`)
        self.upscaled = cfg.upscale or self.native_scale < 1.0
        self.gen_resolution = resolution // 2 if self.upscaled else resolution
        self.context: torch.Tensor | None = None
        self.sr = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # weights depend on the seed alone, not on global RNG state
            nets = self.build()
            if self.upscaled:
                self.sr = SuperResolver(cfg, self.gen_resolution)
                nets.update(self.sr.build())
            self.nets: dict[str, nn.Module] = {k: m.to(device) for k, m in nets.items()}
        if cfg.channels_last:
            for m in self.nets.values():
                m.to(memory_format=torch.channels_last)
        if cfg.compile:
            for m in self.nets.values():
                m.compile()  # in place: parameters and state-dict keys stay the module's own
        # The moving average of G that sampling uses (`cfg.ema`); never trained, never wrapped.
        self.G_ema: nn.Module | None = None
        if cfg.ema > 0:
            self.G_ema = copy.deepcopy(self.nets[self.generator_key]).requires_grad_(False)
        self.opts: dict[str, torch.optim.Optimizer] = self.build_optimizers()
        if self.sr is not None:
            self.opts.update(self.sr.build_optimizers(self.nets))

    # --- what a family implements -------------------------------------------------------------
    def build(self) -> dict[str, nn.Module]:
        """The family's networks, by name (`G`, `D`, ...)."""
        raise NotImplementedError

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam (config lr and beta1) per family network; the SR stage brings its own."""
        sr_keys = set(self.sr.keys) if self.sr is not None else set()
        return {
            k: torch.optim.Adam(m.parameters(), lr=self.cfg.lr, betas=(self.cfg.beta1, 0.999))
            for k, m in self.nets.items() if k not in sr_keys
        }

    def train_step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        """One optimizer step of every network on `real` (float [-1, 1]); returns named losses."""
        raise NotImplementedError

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        """The generator's input for one image per RNG (latents, codes, or source images)."""
        raise NotImplementedError

    def sample(self, G: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """Images (float, [-1, 1]) that generator `G` makes of `generator_input`'s `inputs`:
        one forward pass for a GAN; a family that samples iteratively (ddpm) overrides it and
        must keep each image a function of its own input alone (no further randomness)."""
        return G(inputs)

    # --- shared machinery ---------------------------------------------------------------------
    def set_training_images(self, images: torch.Tensor) -> None:
        """The real images (uint8 NCHW) that `fit_gan` trains on, before its first step, on
        every worker alike: a family may fix statistics of them in its state (ddpm: their mean
        colour); a GAN needs none."""

    def set_context(self, images: np.ndarray) -> None:
        """Real images from outside the budget that a family may use (benign training images)."""
        self.context = torch.from_numpy(np.array(images, copy=True))

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """DiffAugment before every D call when `cfg.diffaugment` names a policy; else identity."""
        return diff_augment(x, self.cfg.diffaugment, gen) if self.cfg.diffaugment else x

    @contextmanager
    def probe_sampling(self) -> Iterator[None]:
        """While inside, `generate` samples for the quality probe (eval/quality.py): a family
        may sample more cheaply there (ddpm: `probe_sample_steps` denoising steps instead of
        `sample_steps`); a GAN samples exactly as always."""
        before, self.probing = self.probing, True
        try:
            yield
        finally:
            self.probing = before

    def can_stop(self) -> bool:
        """Whether the stop rule may end training now (PGGAN: only once fully grown)."""
        return True

    def step(self, real: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
        """One training step of the family and, when upscaling, of the SR stage on `real`."""
        if self.cfg.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        autocast = (torch.autocast(device_type, dtype=torch.bfloat16) if self.cfg.amp
                    else nullcontext())
        with autocast:
            if not self.upscaled:
                losses = self.train_step(real, gen)
            else:
                low = resize(real, self.gen_resolution)
                losses = self.train_step(low, gen)
                losses.update(self.sr.train_step(self.nets, self.opts, low, real, gen))
        if self.G_ema is not None:
            self.update_ema()
        return losses

    @torch.no_grad()
    def update_ema(self) -> None:
        """G_ema <- decay * G_ema + (1 - decay) * G; buffers (batch-norm statistics) copied."""
        G = unwrap(self.nets[self.generator_key])
        for p_ema, p in zip(self.G_ema.parameters(), G.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - self.cfg.ema)
        for b_ema, b in zip(self.G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)
        for attr in ("stage", "alpha"):  # growth state of progressive generators
            if hasattr(G, attr):
                setattr(self.G_ema, attr, getattr(G, attr))

    def wrap(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """Wrap every network, e.g. with Ray Train's `prepare_model` for DDP."""
        # DDP wraps the same parameter tensors, so the optimizers (and their state) stay valid.
        self.nets = {k: fn(m) for k, m in self.nets.items()}

    @torch.no_grad()
    def generate(self, count: int, seed: int, start: int = 0) -> np.ndarray:
        """Images `start .. start+count-1` of `seed`, uint8 NCHW; the same however they are split.

        Each image's input comes from its own RNG, and the network always runs on the same
        fixed, index-aligned chunks, so an image never depends on batch size or worker count.
        """
        G = self.G_ema if self.G_ema is not None else unwrap(self.nets[self.generator_key])
        modes = {k: m.training for k, m in self.nets.items()}
        for m in [*self.nets.values(), G]:
            m.eval()
        out = []
        first = (start // SAMPLE_CHUNK) * SAMPLE_CHUNK
        for lo in range(first, start + count, SAMPLE_CHUNK):
            rngs = [torch.Generator().manual_seed(latent_seed(seed, i))
                    for i in range(lo, lo + SAMPLE_CHUNK)]
            fake = self.sample(G, self.generator_input(rngs).to(self.device))
            if self.sr is not None:
                fake = self.sr.upscale(self.nets, fake)
            imgs = to_uint8(fake).cpu()
            keep_lo, keep_hi = max(start - lo, 0), min(start + count - lo, SAMPLE_CHUNK)
            out.append(imgs[keep_lo:keep_hi])
        for k, m in self.nets.items():
            m.train(modes[k])
        return torch.cat(out).numpy() if out else np.zeros((0, 3, self.resolution,
                                                            self.resolution), np.uint8)

    def state_dict(self) -> dict:
        """Weights and optimizer states of every network (plain tensors: weights_only loads it)."""
        state = {
            "nets": {k: unwrap(m).state_dict() for k, m in self.nets.items()},
            "opts": {k: o.state_dict() for k, o in self.opts.items()},
        }
        if self.G_ema is not None:
            state["ema"] = self.G_ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` saved."""
        for k, m in self.nets.items():
            unwrap(m).load_state_dict(state["nets"][k])
        for k, o in self.opts.items():
            o.load_state_dict(state["opts"][k])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["ema"])


class LatentGAN(GAN):
    """A family whose `G(z_dim, width, R)` maps latents z (N, z_dim, 1, 1) to images and whose
    `D(width, R)` judges images (DCGAN, FastGAN): subclasses name the two network classes."""

    generator_cls: ClassVar[type[nn.Module]]
    discriminator_cls: ClassVar[type[nn.Module]]

    def build(self) -> dict[str, nn.Module]:
        c, r = self.cfg, self.gen_resolution
        return {"G": self.generator_cls(c.z_dim, c.width, r),
                "D": self.discriminator_cls(c.width, r)}

    def generator_input(self, rngs: list[torch.Generator]) -> torch.Tensor:
        return torch.stack([torch.randn(self.cfg.z_dim, 1, 1, generator=g) for g in rngs])
