"""GAN families behind one plug-in interface; importing this module registers all of them."""

from raygan.gans import cyclegan, dcgan, fastgan, infogan, pggan  # noqa: F401  (registers)
from raygan.gans.base import GAN, REGISTRY, build_gan, register
from raygan.gans.train import fit_gan

__all__ = ["GAN", "REGISTRY", "build_gan", "fit_gan", "register"]
