"""The report's numbers: per-trial intervals and paired comparisons, Holm-adjusted.

Pure functions over per-trial test scores (no text, no plots); `sweeps/report.py` reads the scores
from MLflow. Every comparison pits an arm against `real` and against `oversample` at the same
budget and seed, on the same test images, so the tests are paired.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raygan.cell import Trial, budget_key
from raygan.errors import RayganError
from raygan.eval.stats import (
    bootstrap_mean_ci,
    delong_auc_ci,
    delong_diff_se,
    delong_test,
    holm,
    mcnemar_test,
    min_detectable_diff,
    normal_min_detectable,
    paired_tests,
    t_mean_ci,
    wilson_ci,
)
from raygan.metrics import binary_metrics, metrics_at

REFERENCES = ("real", "oversample")  # every other arm is compared with these
ALPHA = 0.05  # family-wise error rate of each Holm family below
POWER = 0.8  # power at which a non-significant comparison states its detectable difference
# Holm families: (level, p-value keys). Each family is one kind of evidence and is adjusted
# on its own; the conclusions draw on exactly one of them (the across-seed t-tests when there
# are several seeds, else the per-seed tests), so their family-wise error rate is ALPHA.
HOLM_FAMILIES = (("seed", ("p_auc", "p_acc")),       # DeLong (AUC) and McNemar (accuracy)
                 ("seeds", ("p_ttest", "p_acc_ttest")),  # paired t-tests across seeds
                 ("seeds", ("p_auc", "p_acc")))      # paired Wilcoxon tests across seeds
# The published study's figures that its text states (test accuracy / AUC, the AUC from hard
# labels). Cells it does not state stay empty rather than being guessed.
PUBLISHED = {("real", 200): {"acc": 0.62}, ("gan:pggan", 200): {"acc": 0.73},
             ("all-real", "all"): {"acc": 0.83, "auc_hard": 0.83}}


@dataclass(frozen=True)
class TestSet:
    """One test set of a report: its labels and every trial's scores on it, paired."""

    __test__ = False  # a report's test set, not a pytest test class
    name: str  # how the report titles it: `test` (in-distribution) or the external set's NAME
    y: np.ndarray = field(repr=False)  # labels, in the order of each trial's scores
    trials: list[Trial] = field(repr=False)  # every trial, scored on this set
    external: bool = False  # another collection, not the sweep's own test split
    duplicates: int | None = None  # external images that duplicate a training image (None: unknown)
    kept_duplicates: bool = False  # they were kept (keep_external_duplicates), not dropped
    # The in-distribution split less its images that re-capture a training lesion (the leakage
    # audit's sensitivity set): how many were dropped; None for any other set.
    leaks: int | None = None
    duplicates_malignant: int | None = None  # how many `duplicates` are malignant (None: unknown)
    ids: tuple[str, ...] = ()  # a stable id per image (bundle.image_digest of its file name)


def _arms(rows: list[dict[str, Any]]) -> list[str]:
    """Arms in the grid's order: baselines, GAN families, all-real."""
    from raygan.profiles import ALL_ARMS

    names = set(r["arm"] for r in rows)
    return sorted(names, key=lambda a: (ALL_ARMS.index(a) if a in ALL_ARMS else len(ALL_ARMS), a))


def check_paired(trials: list[Trial], y: np.ndarray, external: str = "") -> None:
    """Every trial scored the same test images: one score per label of `y` (of the external
    set `external`, when named)."""
    for t in trials:
        if len(t.p) == len(y):
            continue
        run = f"run {t.arm}-n{t.budget}-s{t.seed}"
        if external:
            raise RayganError(
                f"{run} holds {len(t.p)} scores on external set {external!r}, which now has "
                f"{len(y)} images after the duplicate audit: the set changed since the sweep "
                "tested it; restore it, or test the new one under another name with "
                "--external-test")
        raise RayganError(
            f"{run} holds {len(t.p)} test scores but the test set has {len(y)} images: it was "
            "tested on other data and cannot be paired; report with the --data the sweep ran on")


def per_trial(trials: list[Trial], y: np.ndarray) -> list[dict[str, Any]]:
    """Metrics of each trial with a DeLong CI for AUC and a Wilson CI for accuracy, and, where
    the trial has a validation threshold, its metrics there (`youden/acc`, ...)."""
    rows = []
    for t in trials:
        m = binary_metrics(y, t.p)
        if not math.isnan(t.threshold):
            m.update(metrics_at(y, t.p, t.threshold))
        auc, lo, hi = delong_auc_ci(y, t.p, ALPHA)
        correct = int(((t.p >= 0.5).astype(int) == y).sum())
        acc_lo, acc_hi = wilson_ci(correct, len(y), ALPHA)
        rows.append({"arm": t.arm, "budget": t.budget, "seed": t.seed, **m,
                     "auc_lo": lo, "auc_hi": hi, "acc_lo": acc_lo, "acc_hi": acc_hi})
    return rows


def comparisons(trials: list[Trial], y: np.ndarray) -> list[dict[str, Any]]:
    """Every arm against each reference, per budget and seed (DeLong, McNemar), and across
    seeds (paired Wilcoxon and t on the per-seed AUC and accuracy differences, the t-interval
    of their mean and, labelled apart, the percentile bootstrap); p-values Holm-adjusted within
    each of HOLM_FAMILIES, undefined (NaN) p-values left out of their family. `mdd_*`: the
    smallest difference each test detects with probability POWER at ALPHA (before Holm)."""
    by_cell = {(t.arm, t.budget, t.seed): t for t in trials}
    metrics = {cell: binary_metrics(y, t.p) for cell, t in by_cell.items()}
    out: list[dict[str, Any]] = []
    groups: dict[tuple, list[tuple[float, ...]]] = defaultdict(list)
    for (arm, budget, seed), t in sorted(by_cell.items(), key=lambda kv: (
            budget_key(kv[0][1]), kv[0][0], kv[0][2])):
        for ref in REFERENCES:
            r = by_cell.get((ref, budget, seed))
            if r is None or ref == arm or arm in REFERENCES[: REFERENCES.index(ref)]:
                continue
            d_auc, _, p_auc = delong_test(y, t.p, r.p)
            b, c, p_acc = mcnemar_test(y, (t.p >= 0.5).astype(int), (r.p >= 0.5).astype(int))
            d_acc = (b - c) / len(y)
            # Normal-approximation SEs under no difference: DeLong's for the AUC, and
            # sqrt(discordant pairs) / n for accuracy (McNemar).
            mdd_auc = normal_min_detectable(delong_diff_se(y, t.p, r.p), ALPHA, POWER)
            mdd_acc = normal_min_detectable(math.sqrt(max(b + c, 1)) / len(y), ALPHA, POWER)
            out.append({"level": "seed", "budget": budget, "seed": seed, "arm": arm, "ref": ref,
                        "d_auc": d_auc, "p_auc": p_auc, "mdd_auc": mdd_auc,
                        "se_auc": delong_diff_se(y, t.p, r.p),
                        "d_acc": d_acc, "p_acc": p_acc, "mdd_acc": mdd_acc,
                        "se_acc": math.sqrt(max(b + c, 1)) / len(y)})
            a_m, r_m = metrics[(arm, budget, seed)], metrics[(ref, budget, seed)]
            groups[(budget, arm, ref)].append((a_m["auc"], r_m["auc"], a_m["acc"], r_m["acc"]))
    for (budget, arm, ref), pairs in groups.items():
        if len(pairs) < 2:
            continue
        a_auc, r_auc, a_acc, r_acc = np.array(pairs).T
        row = {"level": "seeds", "budget": budget, "seed": f"{len(pairs)} seeds", "n": len(pairs),
               "arm": arm, "ref": ref}
        for key, a, r, p_key, t_key in (("auc", a_auc, r_auc, "p_auc", "p_ttest"),
                                        ("acc", a_acc, r_acc, "p_acc", "p_acc_ttest")):
            test = paired_tests(a, r)
            mean, lo, hi = t_mean_ci(a - r, ALPHA)
            _, boot_lo, boot_hi = bootstrap_mean_ci(a - r, ALPHA)
            row.update({f"d_{key}": mean, f"d_{key}_lo": lo, f"d_{key}_hi": hi,
                        f"d_{key}_boot_lo": boot_lo, f"d_{key}_boot_hi": boot_hi,
                        f"sd_{key}": test["sd_diff"], p_key: test["wilcoxon_p"],
                        t_key: test["ttest_p"],
                        f"mdd_{key}": min_detectable_diff(len(pairs), test["sd_diff"], ALPHA,
                                                          POWER)})
        out.append(row)
    for level, keys in HOLM_FAMILIES:
        members = [(c, k) for c in out if c["level"] == level for k in keys]
        size = sum(not math.isnan(c[k]) for c, k in members)
        for (c, k), adj in zip(members, holm([c[k] for c, k in members]), strict=True):
            c[k + "_holm"] = float(adj)
            c[k + "_family"] = size
    # The detectable differences at the alpha the decision uses: Holm's first step, ALPHA over
    # the family's size (the t-tests' family for the across-seed rows, the per-seed tests' for
    # the others).
    for c in out:
        for metric, key in (("auc", "p_ttest"), ("acc", "p_acc_ttest")):
            if c["level"] == "seeds":
                level = ALPHA / max(c[key + "_family"], 1)
                c[f"mdd_{metric}_holm"] = min_detectable_diff(c["n"], c[f"sd_{metric}"], level,
                                                              POWER)
            else:
                level = ALPHA / max(c[f"p_{metric}_family"], 1)
                c[f"mdd_{metric}_holm"] = normal_min_detectable(c[f"se_{metric}"], level, POWER)
    return out



def fidelity_correlations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget, Spearman's rho (and its p) between each fidelity measure and the test AUC of
    the GAN's arm, over that budget's GAN runs (every GAN and seed). Lower FD and KID mean
    closer to real, so a negative rho for them means "closer images, better classifier"."""
    from scipy.stats import spearmanr

    out = []
    for budget in sorted({r["budget"] for r in rows}, key=budget_key):
        rs = [r for r in rows if r["budget"] == budget and not math.isnan(r["test_auc"])]
        for measure in ("fd", "kid", "recall", "coverage", "cas_auc"):
            rs_m = [r for r in rs if measure in r and not math.isnan(r[measure])]
            a, b = [r[measure] for r in rs_m], [r["test_auc"] for r in rs_m]
            if len(rs_m) < 3 or len(set(a)) < 2 or len(set(b)) < 2:  # rho is undefined
                continue
            res = spearmanr(a, b)
            out.append({"budget": budget, "measure": measure, "n": len(rs_m),
                        "rho": float(res.statistic), "p": float(res.pvalue)})
    return out

