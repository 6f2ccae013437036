"""Tests for raygan.eval.stats against hand-worked values and independent references."""

import math

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.metrics import roc_auc_score

from raygan.eval.stats import (
    bootstrap_mean_ci,
    delong_auc_ci,
    delong_test,
    holm,
    mcnemar_test,
    min_detectable_diff,
    normal_min_detectable,
    paired_tests,
    t_mean_ci,
    wilson_ci,
)

Z95 = 1.959963984540054


def _slow_delong(y_true, scores):
    """O(m*n) DeLong reference: AUCs and covariance matrix from the pairwise kernel."""
    y = np.asarray(y_true)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    v10s, v01s, aucs = [], [], []
    for s in scores:
        x, yneg = s[y == 1], s[y == 0]
        psi = (x[:, None] > yneg[None, :]) + 0.5 * (x[:, None] == yneg[None, :])
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    v10, v01 = np.array(v10s), np.array(v01s)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.cov(v10, ddof=1).reshape(len(aucs), -1) / m
    cov = cov + np.cov(v01, ddof=1).reshape(len(aucs), -1) / n
    return np.array(aucs), cov


def _toy_scores(n=120, seed=1, ties=True):
    """Labels and two correlated, imperfect score vectors (rounded so ties occur)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    y[:2], y[2:4] = 0, 1
    base = y + rng.normal(0.0, 1.0, size=n)
    a = base + rng.normal(0.0, 0.5, size=n)
    b = base + rng.normal(0.0, 1.0, size=n)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return y, a, b


# ---------------------------------------------------------------- Wilson


def test_wilson_hand_worked_81_of_263():
    # p = 81/263 = 0.30798, z^2 = 3.8415: centre 0.31075, half-width 0.05546.
    lo, hi = wilson_ci(81, 263)
    assert lo == pytest.approx(0.255289, abs=1e-6)
    assert hi == pytest.approx(0.366210, abs=1e-6)


@pytest.mark.parametrize(("k", "n", "alpha"), [(81, 263, 0.05), (3, 17, 0.1), (50, 50, 0.01)])
def test_wilson_closed_form(k, n, alpha):
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (k + z**2 / 2) / (n + z**2)
    half = z * math.sqrt(n) / (n + z**2) * math.sqrt(p * (1 - p) + z**2 / (4 * n))
    lo, hi = wilson_ci(k, n, alpha)
    assert lo == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert hi == pytest.approx(min(1.0, centre + half), abs=1e-12)


def test_wilson_inverts_score_test():
    # Each Wilson bound p0 is where the score statistic |p_hat - p0| / se(p0) equals z.
    k, n = 81, 263
    p_hat = k / n

    def score(p0):
        return abs(p_hat - p0) / math.sqrt(p0 * (1 - p0) / n) - Z95

    lo_ref = optimize.brentq(score, 1e-9, p_hat)
    hi_ref = optimize.brentq(score, p_hat, 1 - 1e-9)
    lo, hi = wilson_ci(k, n)
    assert lo == pytest.approx(lo_ref, abs=1e-9)
    assert hi == pytest.approx(hi_ref, abs=1e-9)


def test_wilson_edges():
    lo, hi = wilson_ci(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(Z95**2 / (10 + Z95**2), abs=1e-12)
    lo, hi = wilson_ci(10, 10)
    assert hi == 1.0
    assert lo == pytest.approx(10 / (10 + Z95**2), abs=1e-12)
    with pytest.raises(ValueError):
        wilson_ci(11, 10)
    with pytest.raises(ValueError):
        wilson_ci(0, 0)


# ---------------------------------------------------------------- DeLong


def test_delong_auc_matches_sklearn_and_slow_variance():
    y, a, _ = _toy_scores()
    auc, lo, hi = delong_auc_ci(y, a)
    assert auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    ref_auc, ref_cov = _slow_delong(y, a)
    assert auc == pytest.approx(ref_auc[0], abs=1e-12)
    se = math.sqrt(ref_cov[0, 0])
    assert lo == pytest.approx(auc - Z95 * se, abs=1e-9)
    assert hi == pytest.approx(auc + Z95 * se, abs=1e-9)


def test_delong_auc_ci_alpha_and_clipping():
    y, a, _ = _toy_scores(seed=3)
    _, lo95, hi95 = delong_auc_ci(y, a, alpha=0.05)
    _, lo80, hi80 = delong_auc_ci(y, a, alpha=0.2)
    assert lo95 < lo80 < hi80 < hi95
    # Nearly separable small sample: the upper normal bound would exceed 1.
    y2 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s2 = np.array([0.1, 0.2, 0.3, 0.65, 0.6, 0.7, 0.8, 0.9])
    auc, lo, hi = delong_auc_ci(y2, s2)
    assert auc == pytest.approx(roc_auc_score(y2, s2))
    assert hi == 1.0 and 0.0 <= lo < auc
    # Perfect separation has zero DeLong variance.
    assert delong_auc_ci(y2, np.arange(8.0)) == (1.0, 1.0, 1.0)


def test_delong_needs_two_per_class():
    with pytest.raises(ValueError):
        delong_auc_ci([0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError):
        delong_auc_ci([0, 2, 1, 0], [0.1, 0.2, 0.3, 0.4])


def test_delong_test_matches_slow_reference():
    y, a, b = _toy_scores(n=150, seed=7)
    diff, z, p = delong_test(y, a, b)
    ref_auc, cov = _slow_delong(y, np.vstack([a, b]))
    assert diff == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert diff == pytest.approx(ref_auc[0] - ref_auc[1], abs=1e-12)
    z_ref = (ref_auc[0] - ref_auc[1]) / math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert z == pytest.approx(z_ref, rel=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z_ref)), rel=1e-9)
    # Swapping the predictors flips the sign but not the p-value.
    diff2, z2, p2 = delong_test(y, b, a)
    assert (diff2, z2) == pytest.approx((-diff, -z))
    assert p2 == pytest.approx(p)


def test_delong_test_identical_scores_p_is_one():
    y, a, _ = _toy_scores()
    assert delong_test(y, a, a) == (0.0, 0.0, 1.0)
    # A strictly monotone transform ranks every case the same way.
    assert delong_test(y, a, 3 * a + 1)[2] == 1.0


def test_delong_test_clearly_different_predictors():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    good = y + rng.normal(0.0, 0.3, size=y.size)
    noise = rng.normal(0.0, 1.0, size=y.size)
    diff, z, p = delong_test(y, good, noise)
    assert diff > 0.3 and z > 0
    assert p < 1e-12


def test_delong_test_zero_variance_with_different_aucs_is_undefined():
    # Perfect ranking vs. a constant score: AUCs 1.0 and 0.5, but every structural
    # component is constant, so the estimated variance is 0 and the test is undefined.
    y = np.array([0, 0, 0, 1, 1, 1])
    diff, z, p = delong_test(y, np.arange(6.0), np.zeros(6))
    assert diff == pytest.approx(0.5)
    assert math.isnan(z) and math.isnan(p)


# ---------------------------------------------------------------- McNemar


def _mcnemar_data(b, c, both_right=30, both_wrong=5):
    """Binary labels/predictions with exactly b (only A right) and c (only B right) pairs."""
    y = np.ones(b + c + both_right + both_wrong, dtype=int)
    pa = np.concatenate([np.ones(b), np.zeros(c), np.ones(both_right), np.zeros(both_wrong)])
    pb = np.concatenate([np.zeros(b), np.ones(c), np.ones(both_right), np.zeros(both_wrong)])
    return y, pa.astype(int), pb.astype(int)


def test_mcnemar_exact_matches_binomtest():
    y, pa, pb = _mcnemar_data(b=3, c=11)
    b, c, p = mcnemar_test(y, pa, pb)
    assert (b, c) == (3, 11)
    assert p == pytest.approx(stats.binomtest(3, 14, 0.5).pvalue, rel=1e-12)
    # Two-sided exact p for p = 0.5 is 2 * P(X <= 3), X ~ Bin(14, 1/2) = 2 * 470 / 16384.
    assert p == pytest.approx(2 * 470 / 2**14, rel=1e-12)


def test_mcnemar_chi_square_hand_computation():
    y, pa, pb = _mcnemar_data(b=10, c=25)  # b + c = 35 >= 25 -> chi-square by default
    b, c, p = mcnemar_test(y, pa, pb)
    assert (b, c) == (10, 25)
    stat = (abs(10 - 25) - 1) ** 2 / 35  # = 196 / 35 = 5.6
    assert stat == pytest.approx(5.6)
    assert p == pytest.approx(stats.chi2.sf(5.6, 1), rel=1e-12)
    assert p == pytest.approx(math.erfc(math.sqrt(5.6 / 2)), rel=1e-12)


def test_mcnemar_exact_flag_overrides_default():
    y, pa, pb = _mcnemar_data(b=10, c=25)
    _, _, p_exact = mcnemar_test(y, pa, pb, exact=True)
    assert p_exact == pytest.approx(stats.binomtest(10, 35, 0.5).pvalue, rel=1e-12)
    y, pa, pb = _mcnemar_data(b=3, c=11)
    _, _, p_chi = mcnemar_test(y, pa, pb, exact=False)
    assert p_chi == pytest.approx(stats.chi2.sf(49 / 14, 1), rel=1e-12)
    # With b == c the corrected statistic is clipped at 0 rather than (0 - 1)^2 / (b + c).
    y, pa, pb = _mcnemar_data(b=15, c=15)
    assert mcnemar_test(y, pa, pb) == (15, 15, 1.0)


def test_mcnemar_no_discordant_pairs_and_multiclass():
    y, pa, _ = _mcnemar_data(b=4, c=0)
    assert mcnemar_test(y, pa, pa) == (0, 0, 1.0)
    y = np.array([0, 1, 2, 2, 1])
    pa = np.array([0, 1, 2, 0, 0])  # right on 0, 1, 2
    pb = np.array([1, 1, 2, 2, 0])  # right on 1, 2, 3
    b, c, _ = mcnemar_test(y, pa, pb)
    assert (b, c) == (1, 1)


# ---------------------------------------------------------------- paired per-seed tests


def test_paired_tests_matches_scipy():
    rng = np.random.default_rng(5)
    a = 0.80 + rng.normal(0.0, 0.02, size=10)
    b = a - 0.01 + rng.normal(0.0, 0.01, size=10)
    res = paired_tests(a, b)
    assert res["n"] == 10
    assert res["mean_diff"] == pytest.approx(np.mean(a - b), abs=1e-15)
    assert res["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-12)
    assert res["ttest_p"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)


def test_paired_tests_degenerate_inputs():
    same = paired_tests([0.7, 0.8, 0.9], [0.7, 0.8, 0.9])
    assert same["mean_diff"] == 0.0 and same["sd_diff"] == 0.0 and same["n"] == 3
    # Zero differences: t is 0/0 and Wilcoxon drops every pair; both undefined, not p = 1.
    assert math.isnan(same["ttest_p"]) and math.isnan(same["wilcoxon_p"])
    one = paired_tests([0.9], [0.8])
    assert one["n"] == 1 and one["mean_diff"] == pytest.approx(0.1)
    assert math.isnan(one["wilcoxon_p"]) and math.isnan(one["ttest_p"])
    empty = paired_tests([], [])
    assert empty["n"] == 0 and math.isnan(empty["mean_diff"])
    assert math.isnan(empty["wilcoxon_p"]) and math.isnan(empty["ttest_p"])
    with pytest.raises(ValueError):
        paired_tests([1.0, 2.0], [1.0])


def test_paired_t_test_of_equal_nonzero_differences_is_undefined():
    a = [0.75, 0.5, 0.875]
    b = [x - 0.125 for x in a]  # dyadic, so every difference is exactly 0.125
    assert stats.ttest_rel(a, b).pvalue == 0.0  # scipy's artefact that raygan must not report
    res = paired_tests(a, b)
    assert math.isnan(res["ttest_p"]) and res["sd_diff"] == 0.0
    # Wilcoxon is defined here (all three ranks positive: p = 2 / 2**3).
    assert res["wilcoxon_p"] == pytest.approx(0.25, abs=1e-12)
    assert res["mean_diff"] == 0.125


@pytest.mark.parametrize(("n", "alpha"), [(2, 0.05), (3, 0.05), (5, 0.1), (12, 0.01)])
def test_t_mean_ci_matches_scipy(n, alpha):
    d = np.random.default_rng(n).normal(0.01, 0.03, size=n)
    mean, lo, hi = t_mean_ci(d, alpha)
    ref_lo, ref_hi = stats.t.interval(1 - alpha, n - 1, loc=d.mean(), scale=stats.sem(d))
    assert mean == pytest.approx(d.mean(), abs=1e-15)
    assert lo == pytest.approx(ref_lo, abs=1e-12) and hi == pytest.approx(ref_hi, abs=1e-12)
    with pytest.raises(ValueError):
        t_mean_ci([0.1])


def test_t_interval_covers_where_the_three_seed_bootstrap_does_not():
    # 2000 simulated studies of 3 seeds each, true mean 0: the t-interval covers ~95 %, the
    # percentile bootstrap (about the min-max of three values) ~75 %.
    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 1.0, size=(2000, 3))
    t_cover = np.mean([lo <= 0.0 <= hi for _, lo, hi in map(t_mean_ci, samples)])
    boot_cover = np.mean([lo <= 0.0 <= hi for _, lo, hi in (
        bootstrap_mean_ci(s, n_boot=200, seed=i) for i, s in enumerate(samples))])
    assert abs(t_cover - 0.95) < 0.02
    assert boot_cover < 0.8


def test_min_detectable_diff_has_the_stated_power():
    n, sd = 5, 0.03
    mdd = min_detectable_diff(n, sd)
    crit = stats.t.ppf(0.975, n - 1)
    nc = mdd / sd * math.sqrt(n)
    assert stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc) == pytest.approx(
        0.8, abs=1e-9)
    # Monte Carlo: a true difference of mdd is found by scipy's t-test in ~80 % of studies.
    rng = np.random.default_rng(1)
    d = rng.normal(mdd, sd, size=(20000, n))
    hits = np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05)
    assert abs(hits - 0.8) < 0.015
    # Many pairs: the noncentral t approaches the normal formula.
    big = min_detectable_diff(4000, 1.0)
    assert big == pytest.approx(normal_min_detectable(1 / math.sqrt(4000)), rel=1e-3)
    assert min_detectable_diff(3, sd) > min_detectable_diff(10, sd)  # fewer seeds, less power
    assert math.isnan(min_detectable_diff(1, sd)) and min_detectable_diff(4, 0.0) == 0.0


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_mean_ci_contains_mean_and_is_deterministic():
    rng = np.random.default_rng(11)
    d = rng.normal(0.02, 0.05, size=30)
    mean, lo, hi = bootstrap_mean_ci(d, n_boot=2000, seed=3)
    assert mean == pytest.approx(d.mean(), abs=1e-15)
    assert lo < mean < hi
    assert bootstrap_mean_ci(d, n_boot=2000, seed=3) == (mean, lo, hi)
    assert bootstrap_mean_ci(d, n_boot=2000, seed=4) != (mean, lo, hi)
    # Width is close to the normal-theory interval for the mean.
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert hi - lo == pytest.approx(2 * Z95 * se, rel=0.15)
    # A smaller alpha gives a wider interval from the same draws.
    _, lo99, hi99 = bootstrap_mean_ci(d, alpha=0.01, n_boot=2000, seed=3)
    assert lo99 < lo and hi < hi99


def test_bootstrap_mean_ci_edges():
    assert bootstrap_mean_ci([0.25], n_boot=50) == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])


# ---------------------------------------------------------------- Holm


def test_holm_hand_worked():
    # Sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06.
    adj = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)


def test_holm_caps_at_one_and_skips_nan():
    adj = holm([0.5, np.nan, 0.2, 0.01])
    # Three valid p-values: 0.01*3 = 0.03, 0.2*2 = 0.4, 0.5*1 -> max(0.5, 0.4) = 0.5.
    np.testing.assert_allclose(adj, [0.5, np.nan, 0.4, 0.03], rtol=1e-12)
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])
    assert holm([]).shape == (0,)
    with pytest.raises(ValueError):
        holm([0.5, 1.5])
