"""The convergence probe: its features, its halves, the gap's scale and the gate."""

import math

import numpy as np
import pytest

from raygan.config import GANConfig
from raygan.eval.quality import GATE_GAP, QualityProbe, RandomFeatures, halves, verdict
from raygan.gans import build_gan


def _blobs(n: int, dark: bool, seed: int) -> np.ndarray:
    """Light skin with a soft blob: dark and large ('malignant') or pale and small."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    out = np.empty((n, 3, 32, 32), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(10, 22, 2)
        r = rng.uniform(7, 10) if dark else rng.uniform(2, 4)
        alpha = np.clip(r - np.hypot(yy - cy, xx - cx), 0, 1)
        color = np.array([90, 55, 35]) if dark else np.array([220, 180, 160])
        img = np.array([236, 196, 186])[:, None, None] * (1 - alpha) + color[:, None, None] * alpha
        out[i] = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    return out


def test_random_features_are_fixed_and_size_agnostic():
    x = _blobs(5, True, 0)
    a, b = RandomFeatures()(x), RandomFeatures()(x)
    np.testing.assert_array_equal(a, b)  # the same weights in every process
    assert a.shape == (5, RandomFeatures().dim)
    big = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
    assert RandomFeatures()(big).shape == a.shape


def test_halves_are_disjoint_cover_and_seeded():
    a, b = halves(11, seed=3)
    assert len(a) == 6 and len(b) == 5 and not set(a) & set(b)
    assert sorted([*a, *b]) == list(range(11))
    np.testing.assert_array_equal(halves(11, 3)[0], a)
    assert not np.array_equal(halves(11, 4)[0], a)
    assert not np.array_equal(halves(11, 3, split=1)[0], a)


def test_gap_reads_zero_for_more_real_one_for_the_reference_and_high_for_noise():
    real, benign = _blobs(60, True, 0), _blobs(60, False, 1)
    probe = QualityProbe(real, benign, seed=0)
    more_real = probe.measure_images(_blobs(60, True, 2))["quality/gap"]
    reference = probe.measure_images(_blobs(60, False, 3))["quality/gap"]
    noise = np.random.default_rng(5).integers(0, 256, (60, 3, 32, 32), dtype=np.uint8)
    assert abs(more_real) < 0.3
    assert reference == pytest.approx(1.0, abs=0.3)  # fresh images of the yardstick's kind
    noise_gap = probe.measure_images(noise)["quality/gap"]
    assert noise_gap > 1.5  # farther than the other class
    assert verdict(more_real) == "yes" and verdict(noise_gap) == "no"


def test_an_untrained_generator_fails_the_gate():
    real, benign = _blobs(40, True, 0), _blobs(40, False, 1)
    gan = build_gan("dcgan", GANConfig(z_dim=8, width=8), 32, seed=0)
    result = QualityProbe(real, benign, seed=0)(gan)
    assert result["quality/gap"] > GATE_GAP
    assert set(result) >= {"quality/fd", "quality/fd_floor", "quality/fd_reference",
                           "quality/kid", "quality/kid_floor"}


def test_verdict_edges():
    assert verdict(None) == "unknown" and verdict(math.nan) == "unknown"
    assert verdict(GATE_GAP) == "yes" and verdict(GATE_GAP + 1e-9) == "no"


def test_probe_needs_enough_images():
    with pytest.raises(ValueError, match="at least 4 real"):
        QualityProbe(_blobs(3, True, 0), _blobs(10, False, 1), seed=0)
    with pytest.raises(ValueError, match="reference needs at least"):
        QualityProbe(_blobs(20, True, 0), _blobs(5, False, 1), seed=0)
