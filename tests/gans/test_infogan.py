"""InfoGAN: half-size generation upscaled by SR, codes that steer G, and a Q that reads them."""

import numpy as np
import pytest
import torch

from raygan.config import GANConfig
from raygan.gans.base import build_gan
from raygan.gans.infogan import NUM_CATEGORIES, NUM_CONT, InfoGAN

CFG = GANConfig(z_dim=16, width=8, batch_size=16)
MI_STEPS = 100


@pytest.mark.parametrize("resolution", [32, 64])
def test_generates_at_half_size_and_samples_at_full_size(resolution):
    gan = build_gan("infogan", CFG, resolution, seed=0)
    assert gan.gen_resolution == resolution // 2
    assert set(gan.nets) == {"G", "D", "Q", "SR_G", "SR_D"}
    gan.nets["G"].eval()
    with torch.no_grad():
        fake = gan.nets["G"](gan.generator_input([torch.Generator().manual_seed(0)]))
    assert fake.shape == (1, 3, resolution // 2, resolution // 2)
    assert gan.generate(3, seed=0).shape == (3, 3, resolution, resolution)


def test_generator_input_holds_z_one_hot_category_and_bounded_codes():
    gan = build_gan("infogan", CFG, 32, seed=0)
    x = gan.generator_input([torch.Generator().manual_seed(i) for i in range(50)]).flatten(1)
    assert x.shape == (50, CFG.z_dim + NUM_CATEGORIES + NUM_CONT)
    one_hot = x[:, CFG.z_dim : CFG.z_dim + NUM_CATEGORIES]
    assert torch.equal(one_hot.sum(1), torch.ones(50)) and set(one_hot.unique().tolist()) == {0, 1}
    assert len(one_hot.argmax(1).unique()) > 1
    cont = x[:, -NUM_CONT:]
    assert cont.min() >= -1 and cont.max() <= 1


def test_categorical_code_changes_the_output():
    gan = build_gan("infogan", CFG, 32, seed=0)
    G = gan.nets["G"].eval()
    z, cont = torch.randn(1, CFG.z_dim).expand(NUM_CATEGORIES, -1), torch.zeros(NUM_CATEGORIES, 2)
    with torch.no_grad():
        fake = G(InfoGAN.latent(z, torch.arange(NUM_CATEGORIES), cont)).flatten(1)
    assert torch.cdist(fake, fake).add(torch.eye(NUM_CATEGORIES)).min() > 1e-3


@pytest.fixture(scope="module")
def trained() -> tuple[InfoGAN, list[float]]:
    """InfoGAN after MI_STEPS family steps (the SR stage is tested in test_sr.py) on 16 images."""
    gan = build_gan("infogan", GANConfig(z_dim=16, width=8, batch_size=16, lr=1e-3), 32, seed=0)
    real = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mi = [gan.train_step(real, torch.Generator().manual_seed(s))["loss/MI"]
          for s in range(MI_STEPS)]
    return gan, mi


def test_mi_loss_decreases(trained):
    _, mi = trained
    assert np.isfinite(mi).all()
    assert np.mean(mi[25:30]) < np.mean(mi[:5])
    assert np.mean(mi[-10:]) < 0.75 * np.mean(mi[:5])


def test_q_recovers_the_category_of_generated_samples(trained):
    gan, _ = trained
    for m in gan.nets.values():
        m.eval()
    z, category, cont = gan.codes(200, torch.Generator().manual_seed(123))
    with torch.no_grad():
        _, feat = gan.nets["D"](gan.nets["G"](InfoGAN.latent(z, category, cont)))
        q_cat, _ = gan.nets["Q"](feat)
    accuracy = (q_cat.argmax(1) == category).float().mean().item()
    assert accuracy > 3 / NUM_CATEGORIES  # chance is 1 / NUM_CATEGORIES
