"""Significance tests and confidence intervals for comparing classifiers (numpy/scipy only)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "bootstrap_mean_ci",
    "delong_auc_ci",
    "delong_test",
    "holm",
    "mcnemar_test",
    "paired_tests",
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
    """Wilson score interval (lo, hi) for a binomial proportion such as accuracy."""
    alpha = _check_alpha(alpha)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    p_hat = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p_hat + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p_hat * (1.0 - p_hat) / n + z2 / (4.0 * n * n)) / denom
    # At 0 or n successes the exact bound is 0 or 1; pin it so rounding cannot leave
    # it a hair off (or outside [0, 1]).
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)
    return float(lo), float(hi)


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
    """Paired per-seed comparison of a - b: mean_diff, wilcoxon_p, ttest_p and n."""
    xa = _as_1d(a, "a")
    xb = _as_1d(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must have the same length, got {xa.size} and {xb.size}")
    _check_finite(xa, "a")
    _check_finite(xb, "b")
    diffs = xa - xb
    n = int(diffs.size)
    mean_diff = float(diffs.mean()) if n else math.nan
    if n < 2:
        # Neither test is defined for fewer than two pairs.
        return {"mean_diff": mean_diff, "wilcoxon_p": math.nan, "ttest_p": math.nan, "n": n}
    if np.all(diffs == 0.0):
        # scipy warns (Wilcoxon) or returns NaN (t-test) here; identical results mean
        # no evidence of a difference, so p = 1.
        return {"mean_diff": mean_diff, "wilcoxon_p": 1.0, "ttest_p": 1.0, "n": n}
    wilcoxon_p = float(stats.wilcoxon(xa, xb).pvalue)
    ttest_p = float(stats.ttest_rel(xa, xb).pvalue)
    return {"mean_diff": mean_diff, "wilcoxon_p": wilcoxon_p, "ttest_p": ttest_p, "n": n}


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
