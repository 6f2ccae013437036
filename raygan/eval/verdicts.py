"""Verdicts: the primary comparison declared before a sweep, decided with seeds and test images
both random, and the same machinery for every secondary comparison.

A comparison cell is one arm against a reference arm at one budget on one test set, over the
seeds both ran. Its difference, interval and p-values come from `stats.crossed_difference`
(Obuchowski-Rockette with Hillis' degrees of freedom). A family of cells is adjusted by Holm,
once for each hypothesis a verdict can rest on (no difference; equivalence within the margin,
TOST; non-inferiority), and each cell gets exactly one verdict word:

- `equivalent`: TOST rejects |difference| >= margin (the difference is inside +-margin);
- `better` / `worse`: the two-sided test rejects no difference, and the cell is not
  equivalent (a difference the test resolves inside the margin is called equivalent: the
  margin is the smallest difference declared to matter);
- `non-inferior`: neither of the above, but the arm is not worse by the margin or more;
- `inconclusive`: none of these.

"Not significant" is never a verdict: a cell without one says how many seeds it would need.
Shortcut probes (`probe:*`) are measurements of the data, not arms under test: no family, primary
or secondary, holds them (the report gives them a section of their own, eval/probes.py), and
`classic+gan:*` / `classic+diffusion:*` arms, which add classic augmentation to a fill, stay out
of the primary family that the sweep declared over the plain fills (every `gan:*` and
`diffusion:*` arm): they are in the exploratory one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from raygan.cell import PROBE_PREFIX, budget_key, is_generated
from raygan.config import PRIMARY_REFS, check_primary
from raygan.eval.stats import (
    FIGURES_OF_MERIT,
    crossed_difference,
    difference_ci,
    difference_tests,
    holm,
    seeds_needed,
)

ALPHA = 0.05  # family-wise error rate of every family of verdicts
POWER = 0.8  # the power the seeds planner plans for
DEFAULT_PRIMARY = "auc:oversample"  # each generative fill against oversampling, in test AUC
DEFAULT_MARGIN = 0.02  # +-AUC (or accuracy) within which two arms count as equivalent
MAX_SEEDS = 200  # the planner's horizon: beyond it a cell reads "more than 200"
VERDICTS = ("better", "worse", "equivalent", "non-inferior", "inconclusive")
REFERENCES = PRIMARY_REFS  # arms a primary comparison can be against


@dataclass(frozen=True)
class Primary:
    """The primary comparison: every generative arm against `ref` in `metric` at each budget,
    on the sweep's own test split, one Holm family; `margin` for equivalence."""

    metric: str = "auc"  # auc | acc
    ref: str = "oversample"  # the reference arm
    margin: float = DEFAULT_MARGIN  # in units of the metric
    declared: bool = True  # False: the sweep stored none, raygan's default stands in

    @classmethod
    def parse(cls, spec: str, margin: float = DEFAULT_MARGIN, declared: bool = True) -> Primary:
        """`METRIC:REF` (e.g. auc:oversample) and a margin, checked as a sweep's config is."""
        metric, ref = check_primary(spec, margin)
        return cls(metric, ref, float(margin), declared)

    @classmethod
    def of_config(cls, cfg: Any) -> Primary:
        """The primary comparison a sweep declared; raygan's default, marked undeclared, for a
        sweep whose config.json predates the declaration."""
        declared = getattr(cfg, "primary_declared", True)
        return cls.parse(cfg.primary, cfg.margin, declared)

    @property
    def spec(self) -> str:
        return f"{self.metric}:{self.ref}"

    def describe(self) -> str:
        name = "AUC" if self.metric == "auc" else "accuracy at 0.5"
        when = ("declared before the run" if self.declared
                else "not declared by this sweep: raygan's default stands in")
        return (f"each generative fill against `{self.ref}`, test {name}, at each budget, on "
                f"the sweep's test split; margin ±{self.margin:g}; {when}")


def is_generative(arm: str) -> bool:
    """An arm that fills with a generator's images: a GAN's (`gan:*`) or a diffusion
    model's (`diffusion:*`); its classic-augmented `classic+` arm is not one."""
    return is_generated(arm)


def crossed_rows(trials: list, y: np.ndarray, metric: str, ref: str,
                 arms: Any = is_generative) -> list[dict[str, Any]]:
    """Each arm (those for which `arms(arm)` holds) against `ref` at each budget, over the
    seeds both ran: the crossed difference, its 95 % interval and raw p-values (no difference,
    non-inferiority and equivalence at `margin` come later, in `decide`)."""
    by_cell = {(t.arm, t.budget, t.seed): t for t in trials
               if not t.arm.startswith(PROBE_PREFIX)}
    cells: dict[tuple, list[int]] = defaultdict(list)
    for arm, budget, seed in by_cell:
        if arm != ref and arms(arm) and (ref, budget, seed) in by_cell:
            cells[(arm, budget)].append(seed)
    rows = []
    for (arm, budget), seeds in sorted(cells.items(),
                                       key=lambda kv: (budget_key(kv[0][1]), kv[0][0])):
        seeds = sorted(seeds)
        a = np.stack([by_cell[(arm, budget, s)].p for s in seeds])
        b = np.stack([by_cell[(ref, budget, s)].p for s in seeds])
        r = {k: np.asarray(v) for k, v in crossed_difference(y, a, b, metric).items()}
        lo, hi = difference_ci(r["d"], r["se"], r["df"], ALPHA)
        d_seed = r["d_seed"]
        rows.append({"arm": arm, "ref": ref, "budget": budget, "metric": metric,
                     "n": len(seeds), "d": float(r["d"]), "se": float(r["se"]),
                     "df": float(r["df"]), "lo": float(lo), "hi": float(hi),
                     "s2": float(r["s2"]), "cov": float(r["cov"]),
                     "higher": int((d_seed > 0).sum()), "lower": int((d_seed < 0).sum())})
    return rows


def decide(rows: list[dict[str, Any]], margin: float, alpha: float = ALPHA
           ) -> list[dict[str, Any]]:
    """One family: Holm-adjusted p-values for no difference (`p_holm`), equivalence
    (`p_equiv_holm`) and non-inferiority (`p_noninf_holm`), the verdict, the family's
    simultaneous (Bonferroni) interval, and the seeds each cell would need (at alpha over the
    family's size, Holm's strictest step): for equivalence if the true difference is 0
    (`seeds_equiv`), and for a verdict if it is the observed one (`seeds_verdict`)."""
    if not rows:
        return []
    k = len(rows)
    d = np.array([r["d"] for r in rows])
    se = np.array([r["se"] for r in rows])
    df = np.array([r["df"] for r in rows])
    tests = difference_tests(d, se, df, margin)
    adj = {key: holm(tests[key]) for key in ("p", "p_equiv", "p_noninf")}
    sim_lo, sim_hi = difference_ci(d, se, df, alpha / k)
    out = []
    for i, r in enumerate(rows):
        row = {**r, "margin": margin, "family_size": k, "p": float(tests["p"][i]),
               "p_equiv": float(tests["p_equiv"][i]), "p_noninf": float(tests["p_noninf"][i]),
               "p_holm": float(adj["p"][i]), "p_equiv_holm": float(adj["p_equiv"][i]),
               "p_noninf_holm": float(adj["p_noninf"][i]),
               "sim_lo": float(sim_lo[i]), "sim_hi": float(sim_hi[i])}
        if row["p_equiv_holm"] < alpha:
            verdict = "equivalent"
        elif row["p_holm"] < alpha:
            verdict = "better" if row["d"] > 0 else "worse"
        elif row["p_noninf_holm"] < alpha:
            verdict = "non-inferior"
        else:
            verdict = "inconclusive"
        row["verdict"] = verdict
        level = alpha / k
        row["seeds_equiv"] = (seeds_needed(r["s2"], r["cov"], margin, level, POWER, 0.0,
                                           "equivalence", MAX_SEEDS) if r["n"] > 1 else None)
        goal = "difference" if abs(r["d"]) >= margin else "equivalence"
        row["seeds_verdict"] = (seeds_needed(r["s2"], r["cov"], margin, level, POWER, r["d"],
                                             goal, MAX_SEEDS) if r["n"] > 1 else None)
        out.append(row)
    return out


def primary_family(trials: list, y: np.ndarray, primary: Primary) -> list[dict[str, Any]]:
    """The primary comparison's cells on a test set, decided as one family (budget 'all' has
    no fill and stays out)."""
    rows = [r for r in crossed_rows(trials, y, primary.metric, primary.ref)
            if r["budget"] != "all"]
    return decide(rows, primary.margin)


def secondary_families(trials: list, y: np.ndarray, primary: Primary, is_primary_set: bool
                       ) -> dict[str, list[dict[str, Any]]]:
    """The secondary families of a test set, each decided on its own: the primary comparison
    itself where this is not the primary test set, the same comparison in the other metric,
    and every other arm against `real` and against the primary reference (exploratory)."""
    other = next(m for m in FIGURES_OF_MERIT if m != primary.metric)
    families: dict[str, list[dict[str, Any]]] = {}
    if not is_primary_set:
        families["primary comparison on this test set"] = primary_family(trials, y, primary)
    families[f"the primary comparison in {_metric_name(other)}"] = decide(
        [r for r in crossed_rows(trials, y, other, primary.ref) if r["budget"] != "all"],
        primary.margin)
    for metric in FIGURES_OF_MERIT:
        rows = []
        for ref in dict.fromkeys((primary.ref, "real")):
            rows += [r for r in crossed_rows(trials, y, metric, ref,
                                             lambda a, ref=ref: not is_generative(a)
                                             or ref != primary.ref)
                     if r["budget"] != "all"]
        if rows:
            families[f"every other arm against real and {primary.ref}, "
                     f"{_metric_name(metric)} (exploratory)"] = decide(rows, primary.margin)
    return families


def _metric_name(metric: str) -> str:
    return "AUC" if metric == "auc" else "accuracy"


def verdict_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many cells got each verdict, in VERDICTS order."""
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
