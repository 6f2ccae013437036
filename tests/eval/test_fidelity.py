"""raygan.eval.fidelity: Fréchet distance and KID against closed forms and hand-worked cases,
the memorization check, the optional Inception FID, the in-project feature extractor and CAS."""

from __future__ import annotations

import io
import sys
import types

import numpy as np
import pytest
import torch

from raygan.classifiers import REGISTRY as CLASSIFIERS
from raygan.classifiers import build_classifier
from raygan.config import ClassifierConfig
from raygan.errors import RayganError
from raygan.eval.fidelity import (
    NEAR_COPY_RMS,
    FeatureExtractor,
    frechet_distance,
    kid,
    near_copy_share,
    nearest_real_distances,
    optional_inception_fid,
    real_nn_baseline,
)
from raygan.fidelity_stage import cas, train_feature_extractor
from raygan.metrics import binary_metrics


def _toy(n: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Noisy uint8 NCHW images; label 1 has a dark centre (as in the CNN tests)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(60, 140, (n, 3, size, size)).astype(np.uint8)
    q = size // 4
    x[y == 1, :, q : size - q, q : size - q] //= 3
    return x, y.astype(np.int64)


def _psd_sqrt_trace(sigma_a: np.ndarray, sigma_b: np.ndarray) -> float:
    """Tr((S_a S_b)^(1/2)) as Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), via symmetric eigh only."""
    w, v = np.linalg.eigh(sigma_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ sigma_b @ root_a)
    return float(np.sqrt(np.clip(inner, 0, None)).sum())


def _fd_reference(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + np.trace(sa) + np.trace(sb) - 2 * _psd_sqrt_trace(sa, sb))


# --- Fréchet distance -----------------------------------------------------------------------


def test_frechet_identical_sets_is_zero():
    a = np.random.default_rng(0).normal(size=(400, 8))
    assert abs(frechet_distance(a, a)) < 1e-8


def test_frechet_mean_shift_adds_its_squared_norm_and_grows():
    a = np.random.default_rng(1).normal(size=(300, 6))
    direction = np.ones(6) / np.sqrt(6)
    values = [frechet_distance(a, a + s * direction) for s in (0.0, 0.5, 1.0, 2.0)]
    # Same covariance, so only ||mu_a - mu_b||^2 = s^2 remains.
    np.testing.assert_allclose(values, [0.0, 0.25, 1.0, 4.0], atol=1e-8)
    assert values == sorted(values)


def test_frechet_1d_closed_form():
    rng = np.random.default_rng(2)
    a, b = rng.normal(1.0, 2.0, 500), rng.normal(-0.5, 0.5, 700)
    s1, s2 = a.var(ddof=1), b.var(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + s1 + s2 - 2 * np.sqrt(s1 * s2)
    assert frechet_distance(a[:, None], b[:, None]) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)  # 1-D input: d = 1


def test_frechet_2d_by_hand():
    # a: mean (1, 1), covariance (4/3) I.  b: mean (2, 2), covariance diag(4/3, 16/3).
    # FD = 2 + [4/3 + 4/3 - 2 * 4/3] + [4/3 + 16/3 - 2 * 8/3] = 2 + 0 + 4/3 = 10/3.
    a = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype=float)
    b = np.array([[1, 0], [3, 0], [1, 4], [3, 4]], dtype=float)
    assert frechet_distance(a, b) == pytest.approx(10 / 3, rel=1e-10)


def test_frechet_matches_symmetric_reference_for_non_commuting_covariances():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 0.3
    assert frechet_distance(a, b) == pytest.approx(_fd_reference(a, b), rel=1e-7)


def test_frechet_singular_covariances_stay_finite():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 10)), rng.normal(size=(6, 10))  # fewer rows than dimensions
    value = frechet_distance(a, b)
    assert np.isfinite(value)
    assert value == pytest.approx(_fd_reference(a, b), rel=1e-3)


def test_frechet_rejects_bad_input():
    with pytest.raises(ValueError, match="dimensions"):
        frechet_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 2)), np.zeros((4, 2)))


# --- KID --------------------------------------------------------------------------------------


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def test_kid_full_sets_equal_the_hand_written_u_statistic():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(6, 2)), rng.normal(0.7, 1.0, size=(6, 2))
    m = len(a)
    k_aa = sum(_poly_kernel(a[i : i + 1], a[j : j + 1])[0, 0]
               for i in range(m) for j in range(m) if i != j)
    k_bb = sum(_poly_kernel(b[i : i + 1], b[j : j + 1])[0, 0]
               for i in range(m) for j in range(m) if i != j)
    k_ab = sum(_poly_kernel(a[i : i + 1], b[j : j + 1])[0, 0] for i in range(m) for j in range(m))
    expected = (k_aa + k_bb) / (m * (m - 1)) - 2 * k_ab / m**2
    mean, std = kid(a, b, subsets=1, subset_size=m)
    assert mean == pytest.approx(expected, rel=1e-12) and std == 0.0


def test_kid_same_distribution_near_zero_shifted_positive():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    same, same_std = kid(a, b)
    shifted, _ = kid(a, b + 0.5)
    assert abs(same) < 3 * same_std / np.sqrt(50) + 1e-3
    assert shifted > 50 * abs(same) and shifted > 0.05


def test_kid_matches_population_mmd_in_1d():
    # For d = 1 the kernel (xy + 1)^3 has the feature map (x^3, sqrt3 x^2, sqrt3 x, 1), so
    # MMD^2 = (E x^3 - E y^3)^2 + 3 (E x^2 - E y^2)^2 + 3 (E x - E y)^2: only moments up to 3
    # count. x = +-1 (equal shares) has the moments of N(0, 1) up to 3, and y = x + 0.5 those of
    # N(0.5, 1), so MMD^2 = (mu^3 + 3 mu)^2 + 3 mu^4 + 3 mu^2 = 3.578125 at mu = 0.5. With all
    # 2000 points in one subset, the U-statistic is off from it only by O(1/n).
    a = np.tile([-1.0, 1.0], 1000)[:, None]
    mean, _ = kid(a, a + 0.5, subsets=1, subset_size=len(a))
    assert mean == pytest.approx(3.578125, rel=1e-2)
    # Same set twice, by hand: k = 8 for equal signs, 0 otherwise; the within-set means skip the
    # diagonal, 8 (k - 1) / (2k - 1) each, the cross mean keeps it, 4. So 2 * 8 * 999 / 1999 - 8.
    same, _ = kid(a, a.copy(), subsets=1, subset_size=len(a))
    assert same == pytest.approx(-8 / 1999, rel=1e-12)


def test_kid_is_unbiased_even_for_tiny_subsets():
    # Averaged over subset draws, the unbiased estimate equals the U-statistic of the full sets
    # whatever the subset size; the biased (V-statistic) version is far off at size 8.
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(400, 1)), rng.normal(size=(400, 1))
    n = len(a)
    k_aa, k_bb, k_ab = _poly_kernel(a, a), _poly_kernel(b, b), _poly_kernel(a, b)
    full_u = ((k_aa.sum() - np.trace(k_aa)) + (k_bb.sum() - np.trace(k_bb))) / (n * (n - 1))
    full_u -= 2 * k_ab.mean()
    subsets, m = 4000, 8
    mean, std = kid(a, b, subsets=subsets, subset_size=m, seed=3)
    se = std / np.sqrt(subsets)
    assert abs(mean - full_u) < 4 * se
    # The V-statistic adds (mean k(x, x) - mean k(x, x')) / m per set, about 2 * (28 - 4) / 8.
    v_bias = (np.trace(k_aa) / n + np.trace(k_bb) / n) / m - (
        (k_aa.sum() - np.trace(k_aa)) + (k_bb.sum() - np.trace(k_bb))
    ) / (n * (n - 1) * m)
    assert v_bias > 20 * se


def test_kid_clips_subset_size_to_the_smaller_set():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(200, 4))
    assert kid(a, b, subset_size=100, seed=2) == kid(a, b, subset_size=30, seed=2)


# --- memorization -----------------------------------------------------------------------------


def test_nearest_real_distance_is_zero_for_copies_and_share_is_one():
    real, _ = _toy(40, 10, size=32)
    fake = real[[3, 3, 17, 39]].copy()
    d = nearest_real_distances(fake, real)
    np.testing.assert_array_equal(d, 0.0)
    assert near_copy_share(d) == 1.0


def test_noise_images_are_not_near_copies():
    real, _ = _toy(40, 11, size=32)
    noise = np.random.default_rng(12).integers(0, 256, (25, 3, 32, 32)).astype(np.uint8)
    d = nearest_real_distances(noise, real)
    assert d.min() > 10 * NEAR_COPY_RMS
    assert near_copy_share(d) == 0.0


def test_nearest_real_distances_match_brute_force_and_resize():
    rng = np.random.default_rng(13)
    real = rng.integers(0, 256, (30, 3, 8, 8)).astype(np.uint8)
    fake = rng.integers(0, 256, (12, 3, 8, 8)).astype(np.uint8)
    diff = fake[:, None].astype(float) / 255 - real[None].astype(float) / 255
    expected = np.sqrt((diff**2).mean(axis=(2, 3, 4))).min(1)
    np.testing.assert_allclose(nearest_real_distances(fake, real, size=8), expected, rtol=1e-10)
    # Resizing happens on both sides, so a copy stays at distance 0 at any compare size.
    assert nearest_real_distances(real[:2], real, size=4).max() == 0.0


def test_real_nn_baseline_excludes_self():
    real, _ = _toy(20, 14, size=16)
    real[7] = real[2]  # one exact duplicate pair, like train/malignant in skin-cancer-mvb
    base = real_nn_baseline(real, size=16)
    flat = real.reshape(len(real), -1).astype(float) / 255
    d = np.sqrt(((flat[:, None] - flat[None]) ** 2).mean(-1))
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(base, d.min(1), rtol=1e-10)
    assert base[2] == base[7] == 0.0 and (np.delete(base, [2, 7]) > 0).all()


def test_near_copy_share_threshold_and_errors():
    assert near_copy_share(np.array([0.0, 0.01, 0.05, 0.2]), threshold=0.05) == 0.75
    with pytest.raises(ValueError):
        near_copy_share(np.array([]))


# --- optional Inception FID -------------------------------------------------------------------


def test_inception_fid_without_weights_returns_none(tmp_path):
    x, _ = _toy(4, 15)
    with pytest.warns(UserWarning, match="no local weights"):
        assert optional_inception_fid(x, x, None) is None
    with pytest.warns(UserWarning, match="no local weights"):
        assert optional_inception_fid(x, x, str(tmp_path / "missing.pth")) is None


def test_inception_fid_without_packages_returns_none(tmp_path, monkeypatch):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"not really weights")
    for name in ("torchmetrics", "torchmetrics.image", "torchmetrics.image.fid", "torch_fidelity"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    x, _ = _toy(4, 16)
    with pytest.warns(UserWarning, match="neither torchmetrics"):
        assert optional_inception_fid(x, x, str(weights)) is None


def test_inception_fid_uses_torchmetrics_with_the_local_weights(tmp_path, monkeypatch):
    calls = {}

    class FakeFID:
        def __init__(self, feature, feature_extractor_weights_path):
            calls["init"] = (feature, feature_extractor_weights_path)
            calls["updates"] = []

        def update(self, images, real):
            calls["updates"].append((images.dtype, tuple(images.shape), real))

        def compute(self):
            return torch.tensor(12.5)

    fid_module = types.ModuleType("torchmetrics.image.fid")
    fid_module.FrechetInceptionDistance = FakeFID
    monkeypatch.setitem(sys.modules, "torchmetrics", types.ModuleType("torchmetrics"))
    monkeypatch.setitem(sys.modules, "torchmetrics.image", types.ModuleType("torchmetrics.image"))
    monkeypatch.setitem(sys.modules, "torchmetrics.image.fid", fid_module)
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"x")
    real, _ = _toy(5, 17)
    fake, _ = _toy(3, 18)
    assert optional_inception_fid(real, fake, str(weights)) == 12.5
    assert calls["init"] == (2048, str(weights))
    assert calls["updates"] == [
        (torch.uint8, (5, 3, 16, 16), True), (torch.uint8, (3, 3, 16, 16), False)
    ]


# --- feature extractor and CAS ----------------------------------------------------------------


@pytest.fixture(scope="module")
def extractor_data():
    x, y = _toy(48, 20)
    xv, yv = _toy(24, 21)
    return x, y, xv, yv


def test_feature_extractor_shape_and_determinism(extractor_data):
    x, y, xv, yv = extractor_data
    fe = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1)
    f1 = fe.features(xv)
    assert f1.shape == (len(xv), 128) and f1.dtype == np.float32
    assert (f1 >= 0).all() and f1.any()  # after ReLU, and not dead
    np.testing.assert_array_equal(f1, fe.features(xv))
    # Batching does not matter beyond float rounding (conv kernels differ by batch size).
    np.testing.assert_allclose(f1, fe.features(xv, batch=5), rtol=1e-4, atol=1e-6)
    again = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1)
    np.testing.assert_array_equal(f1, again.features(xv))
    other = train_feature_extractor(x, y, xv, yv, seed=1, epochs=1)
    assert not np.array_equal(f1, other.features(xv))


def test_feature_extractor_state_dict_round_trip(extractor_data):
    x, y, xv, yv = extractor_data
    fe = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1)
    buf = io.BytesIO()
    torch.save(fe.state_dict(), buf)
    buf.seek(0)
    restored = FeatureExtractor.from_state_dict(torch.load(buf))
    assert restored.resolution == 16 and restored.dim == 128
    np.testing.assert_array_equal(fe.features(xv), restored.features(xv))


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_registry_classifier_serves_as_extractor(extractor_data, name):
    x, y, xv, yv = extractor_data
    fe = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1, classifier=name)
    f = fe.features(xv)
    assert f.shape == (len(xv), fe.dim) and fe.model.name == name and f.any()
    np.testing.assert_array_equal(f, train_feature_extractor(
        x, y, xv, yv, seed=0, epochs=1, classifier=name).features(xv))
    buf = io.BytesIO()
    torch.save(fe.state_dict(), buf)
    buf.seek(0)
    restored = FeatureExtractor.from_state_dict(torch.load(buf, weights_only=True))
    assert restored.model.name == name
    np.testing.assert_array_equal(f, restored.features(xv))
    with pytest.raises(RayganError, match="unknown classifier 'vgg'"):
        train_feature_extractor(x, y, xv, yv, seed=0, epochs=1, classifier="vgg")


def test_an_extractor_file_saved_before_extractors_named_their_classifier_loads(extractor_data):
    x, y, xv, yv = extractor_data
    fe = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1)
    old = {"resolution": 16, "channels": (32, 64), "hidden": 128,  # the format of such files
           "weights": fe.model.state_dict()}
    restored = FeatureExtractor.from_state_dict(old)
    assert restored.model.name == "cnn"
    np.testing.assert_array_equal(fe.features(xv), restored.features(xv))


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_cas_trains_the_named_classifier_from_initial_weights(name):
    x, y = _toy(48, 26)
    xv, yv = _toy(16, 27)
    cfg = ClassifierConfig(name=name, epochs=1, patience=1, batch_size=16, lr=0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)  # weights that neither seed's initialization gives
        init = build_classifier(name, 16).state_dict()
    a = cas(x[y == 1], x[y == 0], xv, yv, xv, yv, cfg, seed=0, init=init)
    b = cas(x[y == 1], x[y == 0], xv, yv, xv, yv, cfg, seed=0)
    c = cas(x[y == 1], x[y == 0], xv, yv, xv, yv, cfg, seed=1, init=init)
    # lr 0: the scores are those of the initial weights, whatever the seed (dropout is off in
    # eval), and not those of the seeded initialization.
    assert a == c and a != b


def test_feature_extractor_rejects_wrong_images(extractor_data):
    x, y, xv, yv = extractor_data
    fe = train_feature_extractor(x, y, xv, yv, seed=0, epochs=1)
    with pytest.raises(ValueError, match="16 px"):
        fe.features(_toy(2, 22, size=32)[0])
    with pytest.raises(ValueError, match="uint8 NCHW"):
        fe.features(xv.astype(np.float32))


def test_cas_on_separable_toy_data():
    x, y = _toy(96, 23)
    xv, yv = _toy(32, 24)
    xt, yt = _toy(48, 25)
    cfg = ClassifierConfig(epochs=3, patience=3, batch_size=16)
    fake_malignant, real_benign = x[y == 1], x[y == 0]  # "generated" images that match the real
    out = cas(fake_malignant, real_benign, xv, yv, xt, yt, cfg, seed=0)
    assert set(out) == set(binary_metrics(yt, np.full(len(yt), 0.5)))
    assert out["auc"] > 0.9
    assert out == cas(fake_malignant, real_benign, xv, yv, xt, yt, cfg, seed=0)
    with pytest.raises(ValueError, match="one resolution"):
        cas(_toy(4, 26, size=32)[0], real_benign, xv, yv, xt, yt, cfg, seed=0)
