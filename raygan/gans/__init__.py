"""Generator families (the GANs and a diffusion model) behind one plug-in interface; importing
this module registers all of them."""

# Registration order is the order of the grid's generated-fill arms (the order the study added
# its GANs, then raygan's additions), so these imports keep it rather than the alphabet.
from raygan.gans import dcgan, pggan, cyclegan, infogan, fastgan, ddpm  # noqa: F401, I001
from raygan.gans.base import GAN, REGISTRY, build_gan, register
from raygan.gans.train import fit_gan

# The arm of every family: `gan:<family>` of the GANs, `diffusion:ddpm`
GENERATED_ARMS = tuple(cls.arm for cls in REGISTRY.values())
# ... of those that the CPU profiles run by default (`cpu_default`)
CPU_ARMS = tuple(cls.arm for cls in REGISTRY.values() if cls.cpu_default)

__all__ = ["CPU_ARMS", "GAN", "GENERATED_ARMS", "REGISTRY", "build_gan", "fit_gan", "register"]
