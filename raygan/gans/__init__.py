"""GAN families behind one plug-in interface; importing this module registers all of them."""

# Registration order is the order of the grid's GAN arms (the order the study added them), so
# these imports keep it rather than the alphabet.
from raygan.gans import dcgan, pggan, cyclegan, infogan, fastgan  # noqa: F401, I001  (registers)
from raygan.gans.base import GAN, REGISTRY, build_gan, register
from raygan.gans.train import fit_gan

GAN_ARMS = tuple(cls.arm for cls in REGISTRY.values())  # `gan:<family>` of every family

__all__ = ["GAN", "GAN_ARMS", "REGISTRY", "build_gan", "fit_gan", "register"]
