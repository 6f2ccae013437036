"""The one way to sample a cell's images from a checkpoint (GAN stage, resume, fidelity,
`raygan generate`): every family, after training, gives back the trained GAN's own images."""

import numpy as np
import pytest

from raygan.config import GANConfig
from raygan.gans import REGISTRY, build_gan, fit_gan
from raygan.gans.base import latent_seed
from raygan.gans.checkpoint import (
    GANSpec,
    latent_seeds,
    load_checkpoint,
    read_checkpoint,
    sample_checkpoint,
    sample_file,
    save_checkpoint,
)

RES = 32
CFG = GANConfig(z_dim=16, width=8, batch_size=8, steps=2, checkpoint_every=1, log_every=1)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_sample_checkpoint_gives_the_trained_gans_images(name, tmp_path):
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (8, 3, RES, RES), dtype=np.uint8)
    context = rng.integers(0, 256, (16, 3, RES, RES), dtype=np.uint8)
    gan = build_gan(name, CFG, RES, seed=3)
    gan.set_context(context)
    history = fit_gan(gan, real, seed=3)
    path = save_checkpoint(tmp_path, GANSpec(name, CFG, RES, seed=3, budget=8), gan.state_dict(),
                           2, history)
    state = load_checkpoint(tmp_path)  # from the folder, as a Ray Train checkpoint gives it
    assert state["step"] == 2 and len(state["history"]) == len(history)
    trained = gan.generate(7, seed=3)
    got = sample_checkpoint(name, CFG, RES, 3, load_checkpoint(path), context, 7)
    assert got.dtype == np.uint8 and np.array_equal(got, trained)
    # A shorter draw is a prefix: a cell's fill is the first images of any longer sample.
    assert np.array_equal(sample_checkpoint(name, CFG, RES, 3, state, context, 3), trained[:3])
    assert sample_checkpoint(name, CFG, RES, 3, state, context, 0).shape == (0, *trained.shape[1:])
    if not REGISTRY[name].needs_context:  # the file alone rebuilds the GAN, and its images
        spec, checkpoint = read_checkpoint(path)
        assert spec == GANSpec(name, CFG, RES, 3, 8)
        assert np.array_equal(sample_file(spec, checkpoint, 7), trained)
    # Not merely a GAN built from the same seed: the checkpoint's weights are used.
    fresh = build_gan(name, CFG, RES, seed=3)
    fresh.set_context(context)
    assert not np.array_equal(fresh.generate(7, seed=3), trained)


def test_latent_seeds_are_the_per_image_seeds():
    assert latent_seeds(5, 3) == [latent_seed(5, 0), latent_seed(5, 1), latent_seed(5, 2)]
    assert len(set(latent_seeds(5, 100))) == 100
