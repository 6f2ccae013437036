"""Calibration of the crossed comparison (seeds and test images both random) by simulation with
a known truth: type-I error, interval coverage, and power against the seeds planner.

Each check allows three Monte Carlo standard errors; 2,000 replications keep the file at a few
seconds (every draw is vectorised). benchmarks/calibration.py runs the same scenarios with more
replications for docs/statistics.md."""

import math

import numpy as np
import pytest

from raygan.eval.calibration import Scenario, calibrate, simulate
from raygan.eval.stats import crossed_difference, crossed_power, delong_test, seeds_needed

REPS = 2000
ALPHA = 0.05
# Test images carry much of the variance (image_sd) or little; seeds vary a lot or little.
NULLS = [Scenario(seeds=3), Scenario(seeds=3, image_sd=0.0), Scenario(seeds=10, images=200),
         Scenario(seeds=10, images=200, seed_sd=0.05)]
# A small-variance design where equivalence within 0.02 AUC is reachable with 10 seeds.
TIGHT = dict(images=400, seed_sd=0.05, image_sd=0.2, noise_sd=0.5)


def _tol(share: float) -> float:
    return 3.0 * math.sqrt(share * (1.0 - share) / REPS)


@pytest.mark.parametrize("sc", NULLS, ids=lambda s: f"S{s.seeds}-img{s.image_sd}-seed{s.seed_sd}")
def test_type_one_error_and_coverage_under_the_null(sc):
    r = calibrate(sc, REPS, alpha=ALPHA, seed=1)
    assert r["truth"] == 0.0
    assert r["reject"] <= ALPHA + _tol(ALPHA)
    assert r["cover"] >= 0.92


def test_the_seed_only_t_test_is_anticonservative_when_test_images_carry_the_variance():
    """Why the crossed test exists: scored on one shared test set, the across-seed t-test
    treats a difference of that set as a true effect."""
    r = calibrate(Scenario(seeds=10, images=200, seed_sd=0.05), REPS, alpha=ALPHA, seed=2)
    assert r["naive_reject"] > ALPHA + _tol(ALPHA)
    assert r["reject"] <= ALPHA + _tol(ALPHA)


@pytest.mark.parametrize("sc", [Scenario(seeds=3, shift=0.4), Scenario(seeds=10, images=200,
                                                                         shift=0.35)],
                         ids=["S3", "S10"])
def test_coverage_and_power_under_a_known_shift(sc):
    r = calibrate(sc, REPS, alpha=ALPHA, seed=3)
    assert r["truth"] > 0.04
    assert r["cover"] >= 0.92
    assert abs(r["reject"] - r["power_difference"]) <= _tol(r["power_difference"]) + 0.02


def test_equivalence_power_matches_the_planner_and_the_margin_holds_its_size():
    inside = calibrate(Scenario(seeds=10, **TIGHT), REPS, margin=0.0175, alpha=ALPHA, seed=4)
    assert 0.3 < inside["power_equivalence"] < 0.95  # a case where power is informative
    assert abs(inside["equivalent"] - inside["power_equivalence"]) <= (
        _tol(inside["power_equivalence"]) + 0.02)
    # True difference on the margin: TOST may conclude equivalence at most alpha of the time.
    edge = Scenario(seeds=10, shift=0.115, **TIGHT)
    r = calibrate(edge, REPS, margin=edge.true_auc_difference(), alpha=ALPHA, seed=5)
    assert r["equivalent"] <= ALPHA + _tol(ALPHA)


def test_one_seed_is_the_delong_test():
    rng = np.random.default_rng(0)
    y, a, b = simulate(Scenario(seeds=1, images=120, shift=0.3), 1, rng)
    r = crossed_difference(y, a[0], b[0])
    d, z, _ = delong_test(y, a[0, 0], b[0, 0])
    assert r["d"] == pytest.approx(d)
    assert r["se"] == pytest.approx(abs(d / z))
    assert math.isinf(float(r["df"]))


def test_seeds_needed_grows_with_seed_variance_and_stops_at_the_test_sets_floor():
    few = seeds_needed(s2=0.0001, cov=0.00001, margin=0.02, alpha=0.05 / 9)
    more = seeds_needed(s2=0.0004, cov=0.00001, margin=0.02, alpha=0.05 / 9)
    assert few is not None and more is not None and 2 <= few < more
    # The shared test-image variance alone (SE >= sqrt(cov) = 0.02) leaves the margin
    # out of reach whatever the seeds.
    assert seeds_needed(s2=0.0004, cov=0.0004, margin=0.02, alpha=0.05 / 9) is None


@pytest.mark.parametrize("goal,true_diff", [("equivalence", 0.0), ("equivalence", 0.012),
                                            ("difference", 0.03), ("difference", -0.05)])
def test_seeds_needed_is_the_fewest_seeds_whose_power_reaches_the_goal(goal, true_diff):
    """seeds_needed evaluates crossed_power at every count of seeds at once: it must give the
    first count at which crossed_power itself reaches 80 %, or None when none up to the cap."""
    for s2, cov in ((0.0001, 0.00001), (0.0009, 0.00004), (0.00002, 0.0), (0.0004, 0.0004)):
        powers = [crossed_power(n, s2, cov, 0.02, 0.05 / 6, true_diff, goal)
                  for n in range(2, 81)]
        first = next((n for n, p in zip(range(2, 81), powers, strict=True) if p >= 0.8), None)
        got = seeds_needed(s2, cov, 0.02, 0.05 / 6, 0.8, true_diff, goal, max_seeds=80)
        assert got == first, (s2, cov)
    assert seeds_needed(0.0001, 0.0, 0.02, 0.05, goal=goal, true_diff=true_diff,
                        max_seeds=1) is None
