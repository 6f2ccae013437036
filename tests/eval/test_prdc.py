"""Precision, recall, density and coverage (raygan.eval.fidelity.prdc, through the `prdc`
package) on constructed feature sets whose answers are known."""

import math

import numpy as np
import pytest

from raygan.eval.fidelity import PRDC_K, PRDC_KEYS, prdc


def _gauss(n, d=8, seed=0, shift=0.0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, d))


def test_identical_sets_have_full_precision_recall_and_coverage():
    real = _gauss(200)
    scores = prdc(real, real.copy())
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    assert 0.8 < scores["density"] < 1.5  # each point sits in its own ball and some neighbours'


def test_two_samples_of_one_distribution_cover_as_naeem_et_al_expect():
    # Coverage of two samples of one distribution is about 1 - 1/2^k (0.97 at k = 5), and
    # density about 1, whatever the dimension.
    scores = prdc(_gauss(500, seed=1), _gauss(500, seed=2))
    assert abs(scores["coverage"] - (1 - 0.5 ** PRDC_K)) < 0.03
    assert 0.8 < scores["density"] < 1.2
    assert scores["precision"] > 0.6 and scores["recall"] > 0.6


def test_a_collapsed_fake_set_has_no_recall():
    real = _gauss(200)
    collapsed = np.repeat(real[:1], 200, axis=0)  # one realistic image, 200 times
    scores = prdc(real, collapsed)
    assert scores["precision"] == 1.0  # every fake is realistic ...
    assert scores["recall"] == 0.0  # ... but the fake balls have radius 0: nothing recalled
    assert scores["coverage"] < 0.05  # only the balls around that one real point hold a fake


def test_a_fake_set_of_a_few_repeated_points_has_low_recall():
    # A copying generator: 200 fakes that are 10 real points, 20 times each; every fake ball
    # (its 5th neighbour is one of its own repeats) has radius 0.
    real = _gauss(200)
    copies = np.repeat(real[:10], 20, axis=0)
    fresh = _gauss(200, seed=3)
    assert prdc(real, copies)["recall"] == 0.0
    assert prdc(real, fresh)["recall"] > 0.6


def test_a_disjoint_fake_set_has_no_precision():
    scores = prdc(_gauss(200), _gauss(200, seed=1, shift=100.0))
    assert scores == dict.fromkeys(PRDC_KEYS, 0.0)


def test_real_and_fake_are_not_swapped():
    # Fakes inside a small part of the real set: precision high, recall low; swapped, the
    # other way round.
    real = _gauss(300)
    part = real[np.linalg.norm(real, axis=1) < np.median(np.linalg.norm(real, axis=1)) * 0.8]
    scores, swapped = prdc(real, part), prdc(part, real)
    assert scores["precision"] > 0.9 > 0.5 > scores["recall"]
    assert swapped["recall"] > 0.9 > 0.5 > swapped["precision"]


def test_too_few_points_give_nan_and_bad_input_is_refused():
    few = prdc(_gauss(PRDC_K + 1), _gauss(100))
    assert set(few) == set(PRDC_KEYS) and all(math.isnan(v) for v in few.values())
    assert not math.isnan(prdc(_gauss(PRDC_K + 2), _gauss(PRDC_K + 2))["precision"])
    with pytest.raises(ValueError, match="feature dimensions differ"):
        prdc(_gauss(20, d=3), _gauss(20, d=4))
    with pytest.raises(ValueError, match="NaN"):
        prdc(np.full((20, 3), np.nan), _gauss(20, d=3))
    with pytest.raises(ValueError, match="k must be at least 1"):
        prdc(_gauss(20), _gauss(20), k=0)


def test_it_prints_nothing(capsys):
    prdc(_gauss(50), _gauss(50, seed=1))  # the package prints the set sizes; the report must not
    assert capsys.readouterr().out == ""
