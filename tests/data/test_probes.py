"""Shortcut probes: what each one's classifier can see, and the colour probe's model."""

import numpy as np
import pytest
import torch

from raygan.classifiers.colour import fit_colour, load_colour
from raygan.config import PROBE_NAMES
from raygan.data.probes import (
    BORDER_FRACTION,
    NEUTRAL,
    PROBE_ARMS,
    PROBES,
    colour_features,
    keep_mask,
    probe_view,
)
from raygan.errors import RayganError

RES = 32


def _pair(rng: np.random.Generator, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two random images that differ exactly on the pixels `where` holds."""
    a = rng.integers(0, 256, (1, 3, RES, RES), dtype=np.uint8)
    b = a.copy()
    b[:, :, where] = 255 - a[:, :, where]
    return a, b


def test_probe_names_are_the_configs():
    assert tuple(PROBES) == PROBE_NAMES
    assert PROBE_ARMS == tuple(f"probe:{p}" for p in PROBE_NAMES)


@pytest.mark.parametrize("arm,share", [("probe:occlude-25", 0.25), ("probe:occlude-50", 0.50)])
def test_an_occluded_probe_cannot_see_the_centre(arm, share):
    keep = keep_mask(arm, RES)
    hidden = ~keep
    assert abs(hidden.mean() - share) < 0.02  # the disk covers its share of the area
    assert hidden[RES // 2, RES // 2] and keep[0, 0] and keep[-1, -1]  # centre hidden, corners kept
    a, b = _pair(np.random.default_rng(0), hidden)
    assert (a != b).any()
    assert (probe_view(arm, a) == probe_view(arm, b)).all()  # only the centre differs: same input
    assert (probe_view(arm, a)[:, :, hidden] == NEUTRAL).all()
    assert (probe_view(arm, a)[:, :, keep] == a[:, :, keep]).all()  # the rest as it was
    c, d = _pair(np.random.default_rng(1), keep)  # differing outside the disk: it sees that
    assert (probe_view(arm, c) != probe_view(arm, d)).any()


def test_the_border_probe_keeps_only_the_outer_ring():
    keep = keep_mask("probe:border", RES)
    w = round(RES * BORDER_FRACTION)
    ring = np.ones((RES, RES), bool)
    ring[w:-w, w:-w] = False
    assert (keep == ring).all()
    a, b = _pair(np.random.default_rng(2), ~ring)
    assert (probe_view("probe:border", a) == probe_view("probe:border", b)).all()
    assert (probe_view("probe:border", a)[:, :, ring] == a[:, :, ring]).all()


def test_colour_features_do_not_change_under_a_pixel_permutation():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 3, RES, RES), dtype=np.uint8)
    perm = rng.permutation(RES * RES)
    shuffled = x.reshape(4, 3, -1)[:, :, perm].reshape(x.shape)
    assert (shuffled != x).any()
    np.testing.assert_allclose(colour_features(shuffled), colour_features(x))
    # ... but a change of colour changes them
    assert not np.allclose(colour_features(x // 2), colour_features(x))
    assert (probe_view("probe:colour", x) == x).all()  # no spatial mask: the features decide


def test_arms_that_are_not_probes_see_the_images_unchanged():
    x = np.random.default_rng(4).integers(0, 256, (2, 3, RES, RES), dtype=np.uint8)
    for arm in ("oversample", "gan:dcgan", "classic+gan:dcgan"):
        assert probe_view(arm, x) is x


def test_an_unknown_probe_is_refused():
    with pytest.raises(RayganError, match="unknown probe 'probe:nose'; known probes: probe:"):
        keep_mask("probe:nose", RES)


def _colour_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class shows only in their redness; their layout is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(0, 200, (n, 3, RES, RES)).astype(np.int64)
    x[:, 0] += 40 * y[:, None, None]
    return x.astype(np.uint8), y


def test_the_colour_probe_learns_colour_and_its_state_round_trips(tmp_path):
    x, y = _colour_data(80, 0)
    x_val, y_val = _colour_data(40, 1)
    fit = fit_colour(x, y, x_val, y_val, seed=0)
    assert fit.best_val["auc"] > 0.95  # the class is in the colour
    state = fit.model.state(RES, 0.4)
    torch.save(state, tmp_path / "c.pt")
    back = torch.load(tmp_path / "c.pt", weights_only=True)  # tensors, numbers, strings only
    assert back["probe"] == "probe:colour" and back["threshold"] == pytest.approx(0.4)
    np.testing.assert_allclose(load_colour(back).predict_proba(x_val),
                               fit.model.predict_proba(x_val), rtol=1e-6)
