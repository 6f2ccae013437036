"""Significance tests and confidence intervals for comparing classifiers (numpy/scipy only)."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = [
    "bootstrap_mean_ci",
    "crossed_difference",
    "crossed_power",
    "delong_auc_ci",
    "delong_diff_se",
    "delong_test",
    "difference_ci",
    "difference_tests",
    "figure_of_merit",
    "hillis_df",
    "holm",
    "mcnemar_test",
    "min_detectable_diff",
    "normal_min_detectable",
    "paired_tests",
    "seeds_needed",
    "t_mean_ci",
    "wilson_ci",
]

# Below this many discordant pairs the chi-square approximation to McNemar is poor,
# so the exact binomial test is used by default.
_MCNEMAR_EXACT_BELOW = 25

# Bootstrap index matrices are drawn in chunks of at most this many entries so that
# resampling a long per-image difference vector cannot exhaust memory.
_BOOT_CHUNK_ENTRIES = 2_000_000


def _check_alpha(alpha: float) -> float:
    """Return alpha as a float after checking it lies strictly between 0 and 1."""
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def _as_1d(x, name: str, dtype=float) -> np.ndarray:
    """Convert x to a 1-D array, rejecting other shapes."""
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Reject NaN/inf, which would silently corrupt ranks and means."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval (lo, hi) for a binomial proportion such as accuracy
    (`scipy.stats.binomtest(...).proportion_ci(method="wilson")`)."""
    alpha = _check_alpha(alpha)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(1.0 - alpha, method="wilson")
    return float(ci.low), float(ci.high)


def _split_by_label(y_true, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split score rows (k, N) into positives (k, m) and negatives (k, n); label 1 is positive."""
    y = _as_1d(y_true, "y_true")
    if scores.shape[1] != y.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} entries but scores have {scores.shape[1]}")
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError("y_true must contain only 0 and 1")
    pos = y == 1.0
    m, n = int(pos.sum()), int((~pos).sum())
    # The DeLong variance uses sample variances within each class (ddof=1).
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positives and 2 negatives, got {m} and {n}")
    return scores[:, pos], scores[:, ~pos]


def _delong_components(y_true, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (k,) and DeLong structural components V10 (k, m) and V01 (k, n) via midranks."""
    # Sun & Xu (2014): with midranks, the placement of each case among the other class
    # follows from its rank in the pooled sample minus its rank within its own class,
    # which replaces the O(m*n) pairwise kernel with O((m+n) log(m+n)) sorting.
    x, y = _split_by_label(y_true, scores)
    m, n = x.shape[1], y.shape[1]
    tx = stats.rankdata(x, axis=1)
    ty = stats.rankdata(y, axis=1)
    tz = stats.rankdata(np.concatenate([x, y], axis=1), axis=1)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    # V10[i]: fraction of negatives scored below positive i (ties count one half).
    v10 = (tz[:, :m] - tx) / n
    # V01[j]: fraction of positives scored above negative j (ties count one half).
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def _scores_matrix(*scores) -> np.ndarray:
    """Stack 1-D score vectors into a finite (k, N) float matrix."""
    rows = [_as_1d(s, f"score {i}") for i, s in enumerate(scores)]
    if len({r.shape[0] for r in rows}) != 1:
        raise ValueError("score vectors must all have the same length")
    mat = np.vstack(rows)
    _check_finite(mat, "scores")
    return mat


def delong_auc_ci(y_true, y_score, alpha: float = 0.05) -> tuple[float, float, float]:
    """ROC AUC with a DeLong normal-approximation CI clipped to [0, 1]: (auc, lo, hi)."""
    alpha = _check_alpha(alpha)
    aucs, v10, v01 = _delong_components(y_true, _scores_matrix(y_score))
    m, n = v10.shape[1], v01.shape[1]
    var = np.var(v10[0], ddof=1) / m + np.var(v01[0], ddof=1) / n
    se = math.sqrt(max(float(var), 0.0))
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    auc = float(aucs[0])
    return auc, max(0.0, auc - z * se), min(1.0, auc + z * se)


def delong_test(y_true, score_a, score_b) -> tuple[float, float, float]:
    """Paired DeLong test of two correlated AUCs on one test set: (auc_a - auc_b, z, p)."""
    _, v10, v01 = _delong_components(y_true, _scores_matrix(score_a, score_b))
    m, n = v10.shape[1], v01.shape[1]
    # Work on the per-case component differences: Var(A - B) = Var(A) + Var(B) - 2Cov(A, B)
    # algebraically, but this form is exactly 0 (not rounding noise) when the two
    # predictors rank every case identically.
    d10 = v10[0] - v10[1]
    d01 = v01[0] - v01[1]
    diff = float(d10.mean())
    var = float(np.var(d10, ddof=1) / m + np.var(d01, ddof=1) / n)
    scale = float(np.var(v10, axis=1, ddof=1).sum() / m + np.var(v01, axis=1, ddof=1).sum() / n)
    if var <= 1e-12 * scale or var <= 0.0:
        if abs(diff) <= 1e-12:
            # Same ranking (e.g. identical scores): no evidence of any difference.
            return diff, 0.0, 1.0
        # The AUCs differ but the estimated variance vanishes (a degenerate sample);
        # the normal approximation says nothing here, so report the test as undefined.
        return diff, math.nan, math.nan
    z = diff / math.sqrt(var)
    p = float(2.0 * stats.norm.sf(abs(z)))
    return diff, float(z), min(1.0, p)


def delong_diff_se(y_true, score_a, score_b) -> float:
    """DeLong standard error of auc_a - auc_b on one test set (0 when both rank alike)."""
    _, v10, v01 = _delong_components(y_true, _scores_matrix(score_a, score_b))
    m, n = v10.shape[1], v01.shape[1]
    var = np.var(v10[0] - v10[1], ddof=1) / m + np.var(v01[0] - v01[1], ddof=1) / n
    return math.sqrt(max(float(var), 0.0))


def mcnemar_test(y_true, pred_a, pred_b, exact: bool | None = None) -> tuple[int, int, float]:
    """McNemar test on discordant pairs: (b = only A correct, c = only B correct, p)."""
    y = np.asarray(y_true)
    a = np.asarray(pred_a)
    bb = np.asarray(pred_b)
    if not (y.ndim == a.ndim == bb.ndim == 1) or not (y.shape == a.shape == bb.shape):
        raise ValueError("y_true, pred_a and pred_b must be 1-D with the same length")
    ok_a = a == y
    ok_b = bb == y
    b = int(np.sum(ok_a & ~ok_b))
    c = int(np.sum(~ok_a & ok_b))
    n_disc = b + c
    if n_disc == 0:
        # The classifiers never disagree on correctness: nothing to test.
        return b, c, 1.0
    if exact is None:
        exact = n_disc < _MCNEMAR_EXACT_BELOW
    if exact:
        p = stats.binomtest(b, n_disc, 0.5, alternative="two-sided").pvalue
    else:
        # Edwards' continuity correction; clipped at 0 so b == c gives stat 0 (p = 1)
        # instead of the correction overshooting to a positive statistic.
        stat = max(abs(b - c) - 1.0, 0.0) ** 2 / n_disc
        p = stats.chi2.sf(stat, df=1)
    return b, c, float(min(1.0, p))


def paired_tests(a, b) -> dict:
    """Paired per-seed comparison of a - b: mean_diff, sd_diff, wilcoxon_p, ttest_p and n.

    A p-value is NaN where its test is undefined: fewer than two pairs; the t-test when every
    difference is the same (zero variance: t is 0/0 or infinite, and scipy's p of 0 for three
    equal non-zero differences is an artefact, not evidence); Wilcoxon when every difference is
    zero (it drops zero differences and has nothing left)."""
    xa = _as_1d(a, "a")
    xb = _as_1d(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must have the same length, got {xa.size} and {xb.size}")
    _check_finite(xa, "a")
    _check_finite(xb, "b")
    diffs = xa - xb
    n = int(diffs.size)
    mean_diff = float(diffs.mean()) if n else math.nan
    sd_diff = float(diffs.std(ddof=1)) if n > 1 else math.nan
    out = {"mean_diff": mean_diff, "sd_diff": sd_diff, "wilcoxon_p": math.nan,
           "ttest_p": math.nan, "n": n}
    if n < 2:
        return out
    if np.any(diffs != 0.0):
        out["wilcoxon_p"] = float(stats.wilcoxon(xa, xb).pvalue)
    if np.any(diffs != diffs[0]):
        out["ttest_p"] = float(stats.ttest_rel(xa, xb).pvalue)
    return out


def t_mean_ci(diffs, alpha: float = 0.05) -> tuple[float, float, float]:
    """Student-t confidence interval of the mean (mean, lo, hi): mean +- t(1 - alpha/2, n - 1)
    x SD / sqrt(n). Unlike the percentile bootstrap it keeps its coverage with few values (with
    3 seeds the bootstrap interval is about the min-max of the three and covers ~75 %)."""
    alpha = _check_alpha(alpha)
    x = _as_1d(diffs, "diffs")
    _check_finite(x, "diffs")
    if x.size < 2:
        raise ValueError(f"a t-interval needs at least 2 values, got {x.size}")
    mean = float(x.mean())
    half = float(stats.t.ppf(1.0 - alpha / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def min_detectable_diff(n: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided paired t-test on `n` pairs with difference SD
    `sd` detects with probability `power` at level `alpha` (noncentral t); NaN for n < 2."""
    alpha = _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0.0:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)

    def shortfall(effect: float) -> float:  # effect in SD units
        nc = effect * math.sqrt(n)
        # The lower tail as the upper tail of -nc: nct.cdf returns NaN far in its tail.
        return float(stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc)) - power

    hi = 1.0
    while shortfall(hi) < 0.0:
        hi *= 2.0
    return float(optimize.brentq(shortfall, 0.0, hi, xtol=1e-12)) * sd


def normal_min_detectable(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest difference a two-sided z-test with standard error `se` detects with probability
    `power` (normal approximation: (z(1 - alpha/2) + z(power)) x se)."""
    alpha = _check_alpha(alpha)
    return float((stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)) * se)


def bootstrap_mean_ci(
    diffs, alpha: float = 0.05, n_boot: int = 10000, seed: int = 0
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of the mean, seeded for reproducibility: (mean, lo, hi)."""
    alpha = _check_alpha(alpha)
    x = _as_1d(diffs, "diffs")
    _check_finite(x, "diffs")
    if x.size == 0:
        raise ValueError("diffs must not be empty")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    n = x.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # Chunk size depends only on n, so the draws (and the CI) are the same for a seed.
    chunk = max(1, _BOOT_CHUNK_ENTRIES // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(x.mean()), float(lo), float(hi)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values in input order; NaNs stay NaN and are not counted."""
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    out = np.full(flat.shape, np.nan)
    valid = ~np.isnan(flat)
    pv = flat[valid]
    if np.any((pv < 0.0) | (pv > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    m = pv.size
    if m == 0:
        return out.reshape(p.shape)
    order = np.argsort(pv, kind="stable")
    # The i-th smallest p (0-based) is multiplied by the m - i hypotheses still in play;
    # the running maximum keeps adjusted values monotone in the raw p order.
    adj = np.maximum.accumulate((m - np.arange(m)) * pv[order])
    adj = np.minimum(adj, 1.0)
    restored = np.empty(m)
    restored[order] = adj
    out[valid] = restored
    return out.reshape(p.shape)


# ---- seeds and test images both random: Obuchowski-Rockette with Hillis' degrees of freedom ----
#
# A sweep scores every seed's classifiers on the same test images, so a difference between two
# arms varies with the seed (training: subset, initialisation) and with the test sample, and the
# test-sample errors of different seeds are correlated. This is the multi-reader multi-case
# (MRMC) design of diagnostic radiology with seeds in the place of readers: Obuchowski & Rockette
# (1995) model the figure of merit with correlated errors, and Hillis (2007) gives the
# denominator degrees of freedom that keep the test's size with few readers. For two arms the
# method reduces to a t statistic on the mean per-seed difference d with
#
#     SE^2 = s^2 / S + max(C, 0),    df = (S - 1) (1 + S max(C, 0) / s^2)^2
#
# (df halved: see `hillis_df`), where s^2 is the sample variance of the S per-seed differences
# (seed-to-seed spread plus the part of the test-sample error that differs between seeds) and
# C is the covariance of two different seeds' differences over test samples (the error they
# share because they see the same images), estimated here by DeLong's structural components
# (AUC) or per-image correctness (accuracy). With one seed it is the DeLong (or
# paired-proportion) z-test; with a test set so large that C vanishes, the paired t-test across
# seeds.

FIGURES_OF_MERIT = ("auc", "acc")  # what `crossed_difference` compares


def _auc_components_nd(y: np.ndarray, scores: np.ndarray
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
    """AUC (...,) and DeLong components [V10 (..., m), V01 (..., n)] of scores (..., N)."""
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    if m < 2 or n < 2:
        raise ValueError(f"AUC needs at least 2 positives and 2 negatives, got {m} and {n}")
    x, z = scores[..., pos], scores[..., ~pos]
    tx, tz = stats.rankdata(x, axis=-1), stats.rankdata(z, axis=-1)
    t = stats.rankdata(scores[..., np.concatenate([np.flatnonzero(pos), np.flatnonzero(~pos)])],
                       axis=-1)
    auc = t[..., :m].sum(axis=-1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (t[..., :m] - tx) / n
    v01 = 1.0 - (t[..., m:] - tz) / m
    return auc, [v10, v01]


def figure_of_merit(y, scores, metric: str = "auc") -> tuple[np.ndarray, list[np.ndarray]]:
    """A figure of merit of scores (..., N) against labels y (N,) and its per-image components
    (each (..., k), one array per group of images whose component means make up the figure):
    AUC with DeLong's V10 (positives) and V01 (negatives); accuracy at 0.5 with per-image
    correctness."""
    y = _as_1d(y, "y").astype(int)
    s = np.asarray(scores, dtype=float)
    if s.shape[-1] != y.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries but scores have {s.shape[-1]}")
    if metric == "auc":
        return _auc_components_nd(y, s)
    if metric == "acc":
        correct = ((s >= 0.5).astype(int) == y).astype(float)
        return correct.mean(axis=-1), [correct]
    raise ValueError(f"metric must be one of {FIGURES_OF_MERIT}, got {metric!r}")


def crossed_difference(y, scores_a, scores_b, metric: str = "auc") -> dict[str, np.ndarray]:
    """Arm a minus arm b on one test set, seeds and test images both random (Obuchowski-
    Rockette, Hillis df). scores_a, scores_b: (..., S, N), seed s of a paired with seed s of b
    (leading dimensions are independent problems, e.g. simulations). Returns arrays over the
    leading dimensions: `d` (mean difference), `se`, `df`, `s2` (variance of the per-seed
    differences; NaN with one seed), `cov` (C: covariance of two seeds' differences over test
    samples; NaN with one seed), `var_test` (mean within-seed test-sample variance) and `d_seed`
    (..., S) the per-seed differences."""
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"scores must both be (..., seeds, images), got {a.shape} and {b.shape}")
    fa, ca = figure_of_merit(y, a, metric)
    fb, cb = figure_of_merit(y, b, metric)
    d_seed = fa - fb
    S = d_seed.shape[-1]
    sigma = 0.0  # (..., S, S): test-sample covariance of the seeds' differences
    for ga, gb in zip(ca, cb, strict=True):
        g = ga - gb
        g = g - g.mean(axis=-1, keepdims=True)
        k = g.shape[-1]
        sigma = sigma + np.einsum("...si,...ti->...st", g, g) / ((k - 1) * k)
    diag = np.diagonal(sigma, axis1=-2, axis2=-1)
    var_test = diag.mean(axis=-1)
    d = d_seed.mean(axis=-1)
    if S == 1:
        nan = np.full(d.shape, np.nan)
        return {"d": d, "se": np.sqrt(var_test), "df": np.full(d.shape, np.inf), "s2": nan,
                "cov": nan, "var_test": var_test, "d_seed": d_seed}
    cov = (sigma.sum(axis=(-2, -1)) - diag.sum(axis=-1)) / (S * (S - 1))
    s2 = d_seed.var(axis=-1, ddof=1)
    c = np.maximum(cov, 0.0)
    se = np.sqrt(s2 / S + c)
    df = hillis_df(S, s2, c)
    return {"d": d, "se": se, "df": df, "s2": s2, "cov": cov, "var_test": var_test,
            "d_seed": d_seed}


def hillis_df(seeds: int, s2, cov):
    """Degrees of freedom of `crossed_difference`'s t statistic: Hillis' (2007)
    (S - 1) (1 + S C / s^2)^2, halved and never below S - 1. Unhalved it was liberal with 3
    seeds in raygan's calibration simulation (type-I error 0.084 at alpha 0.05 where the test
    images carry much of the variance); halved it held alpha within Monte Carlo error at 3, 5
    and 10 seeds (docs/statistics.md). Infinite when the per-seed differences do not vary."""
    s2, c = np.asarray(s2, float), np.maximum(np.asarray(cov, float), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ddf = (seeds - 1) * (1.0 + seeds * c / np.where(s2 > 0, s2, 1.0)) ** 2
    return np.where(s2 > 0, np.maximum(seeds - 1.0, ddf / 2.0), np.inf)


def _t_sf(x, df):
    """Upper tail of Student's t, normal where df is infinite."""
    return np.where(np.isinf(df), stats.norm.sf(x), stats.t.sf(x, np.where(np.isinf(df), 1, df)))


def _t_ppf(q: float, df):
    return np.where(np.isinf(df), stats.norm.ppf(q), stats.t.ppf(q, np.where(np.isinf(df), 1, df)))


def difference_tests(d, se, df, margin: float) -> dict[str, np.ndarray]:
    """p-values of a difference d with standard error se and df degrees of freedom: `p`
    two-sided against no difference; `p_noninf` one-sided against d <= -margin
    (non-inferiority); `p_equiv` TOST against |d| >= margin (equivalence, the larger of its two
    one-sided p-values). A zero SE gives p 0 or 1 as the point estimate lies."""
    d, se, df = np.asarray(d, float), np.asarray(se, float), np.asarray(df, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(se > 0, se, np.nan)
        p = np.where(se > 0, 2.0 * _t_sf(np.abs(d) / safe, df), np.where(d == 0, 1.0, 0.0))
        lower = np.where(se > 0, _t_sf((d + margin) / safe, df), np.where(d > -margin, 0.0, 1.0))
        upper = np.where(se > 0, _t_sf((margin - d) / safe, df), np.where(d < margin, 0.0, 1.0))
    return {"p": np.minimum(p, 1.0), "p_noninf": lower, "p_equiv": np.maximum(lower, upper)}


def difference_ci(d, se, df, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided (1 - alpha) interval of a difference: d +- t(1 - alpha/2, df) se."""
    alpha = _check_alpha(alpha)
    half = _t_ppf(1.0 - alpha / 2.0, np.asarray(df, float)) * np.asarray(se, float)
    return np.asarray(d) - half, np.asarray(d) + half


def crossed_power(seeds: int, s2: float, cov: float, margin: float, alpha: float,
                  true_diff: float = 0.0, goal: str = "equivalence") -> float:
    """Probability that `seeds` seeds reach a verdict at level `alpha` when the true difference
    is `true_diff` and the variance components are s2 (per-seed differences) and cov (shared
    test-image covariance), as `crossed_difference` estimates them: `equivalence` (TOST at
    +-margin) or `difference` (two-sided test against 0). Noncentral t with Hillis' df."""
    if seeds < 2:
        return math.nan
    c = max(cov, 0.0)
    se = math.sqrt(s2 / seeds + c)
    if se == 0.0:
        met = abs(true_diff) < margin if goal == "equivalence" else true_diff != 0.0
        return 1.0 if met else 0.0
    df = min(float(hillis_df(seeds, s2, c)), 1e6)
    if goal == "equivalence":
        crit = stats.t.ppf(1.0 - alpha, df)
        low = stats.nct.sf(crit, df, (true_diff + margin) / se)
        high = stats.nct.sf(crit, df, (margin - true_diff) / se)
        return float(max(0.0, low + high - 1.0))
    if goal == "difference":
        crit = stats.t.ppf(1.0 - alpha / 2.0, df)
        nc = abs(true_diff) / se
        return float(stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc))
    raise ValueError(f"goal must be 'equivalence' or 'difference', got {goal!r}")


def seeds_needed(s2: float, cov: float, margin: float, alpha: float, power: float = 0.8,
                 true_diff: float = 0.0, goal: str = "equivalence",
                 max_seeds: int = 200) -> int | None:
    """The fewest seeds (at least 2) whose `crossed_power` reaches `power`; None when
    `max_seeds` do not, e.g. because the test images' shared variance (cov) alone leaves the
    standard error too large for the margin: more seeds cannot help then, only more test
    images."""
    if not (math.isfinite(s2) and math.isfinite(cov)) or max_seeds < 2:
        return None
    n = np.arange(2, max_seeds + 1)
    c = max(cov, 0.0)
    se = np.sqrt(s2 / n + c)
    if se[0] == 0.0:  # no variance at all: every count of seeds reaches the verdict or none
        return 2 if crossed_power(2, s2, cov, margin, alpha, true_diff, goal) >= power else None
    # `crossed_power` at every count of seeds at once: the same formulas, one array each
    # (a report asks this of every cell of every family, and the loop dominated its time)
    df = np.minimum(hillis_df(n, s2, c).astype(float), 1e6)
    if goal == "equivalence":
        crit = stats.t.ppf(1.0 - alpha, df)
        reach = np.maximum(0.0, stats.nct.sf(crit, df, (true_diff + margin) / se)
                           + stats.nct.sf(crit, df, (margin - true_diff) / se) - 1.0)
    elif goal == "difference":
        crit = stats.t.ppf(1.0 - alpha / 2.0, df)
        nc = abs(true_diff) / se
        reach = stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc)
    else:
        raise ValueError(f"goal must be 'equivalence' or 'difference', got {goal!r}")
    hit = np.flatnonzero(reach >= power)
    return int(n[hit[0]]) if hit.size else None
