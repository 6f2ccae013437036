"""The report's text: markdown tables and the per-budget conclusions, from `numbers`' rows."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from raygan.eval.numbers import ALPHA, POWER, PUBLISHED, _arms, _budget_key

HOLM_TEXT = ("Holm correction within each family of tests over all comparisons on this test set "
             "(per-seed DeLong and McNemar tests; across-seed t-tests; across-seed Wilcoxon "
             f"tests), alpha = {ALPHA}; an undefined p-value (a t-test whose differences are all "
             "equal, a Wilcoxon test whose differences are all zero) is left out of its family")
UNDEFINED = "t-test undefined (all differences equal)"  # a paired t-test with zero variance


def conclusions(comps: list[dict[str, Any]]) -> list[str]:
    """One sentence per budget: each GAN against `oversample` in test AUC and in accuracy,
    after Holm: significantly better, significantly worse, or not significant with the
    smallest difference its test could have detected (at POWER, ALPHA before Holm), or the
    test undefined.

    Across seeds the decision uses the paired t-test: with fewer than 6 seeds a two-sided
    Wilcoxon test cannot reach p < 0.05 at all (3 seeds: p >= 0.25), so it is left to the
    table. With one seed the decision is the per-seed test on the test images (DeLong for AUC,
    McNemar for accuracy)."""
    lines = []
    budgets = sorted({c["budget"] for c in comps}, key=_budget_key)
    for budget in budgets:
        gan = [c for c in comps if c["budget"] == budget and c["ref"] == "oversample"
               and c["arm"].startswith("gan:")]
        across = [c for c in gan if c["level"] == "seeds"]
        pool = across or gan
        if not pool:
            continue
        if across:
            how = f"across {pool[0]['n']} seeds (paired t-test)"
            keys = {"auc": ("p_ttest", "p_auc"), "acc": ("p_acc_ttest", "p_acc")}
        else:
            how = "on the test set (DeLong / McNemar)"
            keys = {"auc": ("p_auc", "p_auc"), "acc": ("p_acc", "p_acc")}
        parts = []
        for metric, (key, seed_key) in keys.items():
            name, label = ("AUC", "dAUC") if metric == "auc" else ("accuracy", "dAcc")
            clauses = []
            for c in sorted(pool, key=lambda c: c["arm"]):
                d, p, p_adj = c[f"d_{metric}"], c[key], c[key + "_holm"]
                detail = f"{label} = {d:+.3f}"
                if across:
                    detail += (f" [95% t-interval {c[f'd_{metric}_lo']:+.3f}, "
                               f"{c[f'd_{metric}_hi']:+.3f}]")
                    seeds = [s for s in gan if s["level"] == "seed" and s["arm"] == c["arm"]]
                    higher = sum(s[f"d_{metric}"] > 0 for s in seeds)
                    lower = sum(s[f"d_{metric}"] < 0 for s in seeds)
                    won = sum(s[f"d_{metric}"] > 0 and s[seed_key + "_holm"] < ALPHA
                              for s in seeds)
                    lost = sum(s[f"d_{metric}"] < 0 and s[seed_key + "_holm"] < ALPHA
                               for s in seeds)
                    per_seed = (f"; higher in {higher}, lower in {lower} of {len(seeds)} seeds; "
                                f"per seed on the test images significantly better in {won}, "
                                f"worse in {lost} of {len(seeds)}")
                else:
                    per_seed = ""
                test = "t-test" if across else ("DeLong test" if metric == "auc"
                                                else "McNemar test")
                if math.isnan(p):
                    why = UNDEFINED if across else f"{test} undefined (zero estimated variance)"
                    clauses.append(f"{c['arm']}: {why} ({detail}{per_seed})")
                elif p_adj < ALPHA:
                    side = "better" if d > 0 else "worse"
                    clauses.append(f"{c['arm']} significantly {side} than oversample ({detail}, "
                                   f"adjusted p = {p_adj:.2g}{per_seed})")
                else:
                    clauses.append(
                        f"{c['arm']} not significantly different from oversample ({detail}, "
                        f"adjusted p = {p_adj:.2g}{per_seed}; the {test} detects |{label}| >= "
                        f"{c[f'mdd_{metric}']:.3f} with {POWER:.0%} power at alpha {ALPHA} "
                        "before Holm, smaller differences go unseen)")
            parts.append(f"test {name}: " + "; ".join(clauses))
        lines.append(f"N={budget}, {how}, Holm-adjusted at {ALPHA}: {parts[0]}. {parts[1]}.")
    return lines


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _pfmt(p: float, why: str = "") -> str:
    """A p-value to three places; NaN (a test that is undefined) as 'undefined (why)'."""
    if p is None or math.isnan(p):
        return f"undefined ({why})" if why else "undefined"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Arm x budget: mean test accuracy / AUC / AUC from hard labels, with 95% CIs for one seed
    (Wilson, DeLong) or the standard deviation across seeds for several."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["arm"], r["budget"])].append(r)
    arms = _arms(rows)
    budgets = sorted({r["budget"] for r in rows}, key=_budget_key)
    lines = ["| arm | " + " | ".join(f"N={b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for arm in arms:
        vals = []
        for b in budgets:
            rs = cells.get((arm, b))
            if not rs:
                vals.append("")
                continue
            acc = np.mean([r["acc"] for r in rs])
            auc = np.mean([r["auc"] for r in rs])
            hard = np.mean([r["auc_hard"] for r in rs])
            if len(rs) == 1:
                r = rs[0]
                vals.append(f"{acc:.3f} [{r['acc_lo']:.2f}, {r['acc_hi']:.2f}] / {auc:.3f} "
                            f"[{r['auc_lo']:.2f}, {r['auc_hi']:.2f}] / {hard:.3f}")
            else:
                sd = {k: float(np.std([r[k] for r in rs], ddof=1)) for k in ("acc", "auc")}
                vals.append(f"{acc:.3f} ± {sd['acc']:.3f} / {auc:.3f} ± {sd['auc']:.3f} / "
                            f"{hard:.3f}")
        lines.append(f"| {arm} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


YOUDEN = ("acc", "balanced_acc", "sensitivity", "specificity")  # the threshold's metrics


def threshold_table(rows: list[dict[str, Any]]) -> str:
    """Arm x budget: accuracy, balanced accuracy, sensitivity and specificity at 0.5 beside
    the same at each trial's validation threshold (Youden's J), means over seeds, with the
    thresholds' mean; empty when no trial has a validation threshold."""
    if not any("youden/threshold" in r for r in rows):
        return ""
    names = {"acc": "acc", "balanced_acc": "balanced acc", "sensitivity": "sensitivity",
             "specificity": "specificity"}
    head = " | ".join(f"{names[m]} (0.5) | {names[m]} (Youden)" for m in YOUDEN)
    lines = [f"| arm | N | {head} | Youden threshold |", "|---|---|" + "---|" * 9]
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["arm"], r["budget"])].append(r)
    for arm in _arms(rows):
        for b in sorted({r["budget"] for r in rows}, key=_budget_key):
            rs = cells.get((arm, b))
            if not rs:
                continue

            def mean(key: str, rs: list[dict] = rs) -> str:
                vals = [r[key] for r in rs if key in r]
                return _fmt(float(np.mean(vals))) if vals else ""

            vals = " | ".join(f"{mean(m)} | {mean('youden/' + m)}" for m in YOUDEN)
            lines.append(f"| {arm} | {b} | {vals} | {mean('youden/threshold')} |")
    return "\n".join(lines)


def study_table(rows: list[dict[str, Any]]) -> str:
    """The published figures beside ours, in the study's convention (AUC from hard labels)."""
    lines = ["| cell | study acc | ours acc | study AUC (hard) | ours AUC (hard) | ours AUC |",
             "|---|---|---|---|---|---|"]
    for (arm, budget), pub in PUBLISHED.items():
        rs = [r for r in rows if r["arm"] == arm and r["budget"] == budget]
        ours = ({k: float(np.mean([r[k] for r in rs])) for k in ("acc", "auc_hard", "auc")}
                if rs else {})
        lines.append(f"| {arm} N={budget} | {_fmt(pub.get('acc', math.nan))} | "
                     f"{_fmt(ours.get('acc', math.nan))} | "
                     f"{_fmt(pub.get('auc_hard', math.nan))} | "
                     f"{_fmt(ours.get('auc_hard', math.nan))} | "
                     f"{_fmt(ours.get('auc', math.nan))} |")
    return "\n".join(lines)


def comparison_table(comps: list[dict[str, Any]]) -> str:
    """Per-seed comparisons on the same test images, with raw and Holm-adjusted p-values."""
    lines = ["| N | seed | arm | vs | dAUC | p (AUC) | p Holm | dAcc | p (acc) | p Holm |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in sorted((c for c in comps if c["level"] == "seed"), key=lambda c: (
            _budget_key(c["budget"]), c["ref"], c["arm"], str(c["seed"]))):
        lines.append(f"| {c['budget']} | {c['seed']} | {c['arm']} | {c['ref']} | "
                     f"{_fmt(c['d_auc'])} | {_pfmt(c['p_auc'])} | "
                     f"{_pfmt(c.get('p_auc_holm', math.nan))} | {_fmt(c['d_acc'])} | "
                     f"{_pfmt(c['p_acc'])} | {_pfmt(c.get('p_acc_holm', math.nan))} |")
    return "\n".join(lines)


def across_seeds_table(comps: list[dict[str, Any]]) -> str:
    """Mean per-seed differences with their 95% t-intervals, paired Wilcoxon and t-test
    p-values and the Holm-adjusted t-test p-value, for AUC and accuracy; empty with one seed."""
    rows = sorted((c for c in comps if c["level"] == "seeds"), key=lambda c: (
        _budget_key(c["budget"]), c["ref"], c["arm"]))
    if not rows:
        return ""
    lines = ["| N | arm | vs | seeds | dAUC [95% t-interval] | Wilcoxon p | t p | t p Holm | "
             "dAcc [95% t-interval] | Wilcoxon p | t p | t p Holm |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    zero, equal = "all differences zero", "all differences equal"
    for c in rows:
        lines.append(
            f"| {c['budget']} | {c['arm']} | {c['ref']} | {c['n']} | "
            f"{c['d_auc']:+.3f} [{c['d_auc_lo']:+.3f}, {c['d_auc_hi']:+.3f}] | "
            f"{_pfmt(c['p_auc'], zero)} | {_pfmt(c['p_ttest'], equal)} | "
            f"{_pfmt(c['p_ttest_holm'])} | "
            f"{c['d_acc']:+.3f} [{c['d_acc_lo']:+.3f}, {c['d_acc_hi']:+.3f}] | "
            f"{_pfmt(c['p_acc'], zero)} | {_pfmt(c['p_acc_ttest'], equal)} | "
            f"{_pfmt(c['p_acc_ttest_holm'])} |")
    return "\n".join(lines)


def fidelity_table(rows: list[dict[str, Any]]) -> str:
    with_cas = any("cas_auc" in r for r in rows)
    head = "| arm | N | seed | domain FD | KID | near-copies |" + (" CAS AUC |" if with_cas else "")
    lines = [head + " test AUC | GAN converged |", "|---" * (head.count("|") + 1) + "|"]
    for r in rows:
        cas = f" {_fmt(r.get('cas_auc', math.nan))} |" if with_cas else ""
        lines.append(f"| {r['arm']} | {r['budget']} | {r['seed']} | {r['fd']:.2f} | "
                     f"{r['kid']:.4f} | {r['near_copies']:.1%} |{cas} {_fmt(r['test_auc'])} | "
                     f"{r.get('converged', 'unknown')} |")
    return "\n".join(lines)


def _cas_note(fidelity: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """The paragraph that explains the CAS column, with the `all-real` arm (its `per_trial`
    rows) as its yardstick."""
    if not any("cas_auc" in r for r in fidelity):
        return []
    aucs = [r["auc"] for r in rows if r["arm"] == "all-real"]
    ref = f" (test AUC {np.mean(aucs):.3f})" if aucs else ""
    return ["CAS (Classification Accuracy Score): the test AUC of the study's CNN trained on "
            "real benign images and generated malignant images only, as many as there are real "
            "malignant training images. The `all-real` arm is the same classifier trained on "
            f"the real malignant images{ref}.", ""]



def fidelity_correlation_table(corrs: list[dict[str, Any]]) -> str:
    names = {"fd": "domain FD", "kid": "KID", "cas_auc": "CAS AUC"}
    lines = ["| N | measure | GAN runs | Spearman rho with test AUC | p |", "|---|---|---|---|---|"]
    for c in corrs:
        lines.append(f"| {c['budget']} | {names[c['measure']]} | {c['n']} | {c['rho']:+.2f} | "
                     f"{_pfmt(c['p'])} |")
    return "\n".join(lines)



# --- at a glance: the compact tables that the README quotes (report/summary.md) -------------

def _grid(keyed: dict[tuple[str, Any], str], arms: list[str], budgets: list) -> str:
    """An arm x budget markdown table of preformatted cells (blank where a cell is absent)."""
    lines = ["| arm | " + " | ".join(f"N={b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for arm in arms:
        lines.append(f"| {arm} | " + " | ".join(keyed.get((arm, b), "") for b in budgets) + " |")
    return "\n".join(lines)


def _mean_sd(values: list[float]) -> str:
    mean = float(np.mean(values))
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ± {np.std(values, ddof=1):.3f}"


def compact_table(rows: list[dict[str, Any]]) -> str:
    """Arm x budget: test accuracy / ROC AUC, as a mean ± SD across seeds (the value itself
    with one seed)."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["arm"], r["budget"])].append(r)
    keyed = {k: f"{_mean_sd([r['acc'] for r in rs])} / {_mean_sd([r['auc'] for r in rs])}"
             for k, rs in cells.items()}
    return _grid(keyed, _arms(rows),
                 sorted({r["budget"] for r in rows}, key=_budget_key))


def gate_grid(gates: list[dict[str, Any]]) -> str:
    """GAN x budget: the quality gate's verdicts. One seed: the final gap and steps trained
    ("stopped at" where the stop rule ended it). Several: how many seeds passed, and the gaps."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for g in gates:
        cells[(g["arm"], g["budget"])].append(g)
    keyed = {}
    for key, gs in cells.items():
        gs = sorted(gs, key=lambda g: g["seed"])
        gaps = [f"{g['gap']:.2f}" if math.isfinite(g["gap"]) else "?" for g in gs]
        if len(gs) == 1:
            g = gs[0]
            steps = f"stopped at {g['steps']}" if g["stopped_early"] else str(g["steps"])
            verdict = "" if g["converged"] == "yes" else f" **{g['converged']}**"
            keyed[key] = f"{gaps[0]}, {steps}{verdict}"
        else:
            passed = sum(g["converged"] == "yes" for g in gs)
            keyed[key] = f"{passed} of {len(gs)} pass ({' / '.join(gaps)})"
    return _grid(keyed, sorted({a for a, _ in cells}),
                 sorted({b for _, b in cells}, key=_budget_key))


def cas_grid(fidelity: list[dict[str, Any]]) -> str:
    """GAN x budget: CAS AUC, mean ± SD across seeds; empty without CAS."""
    cells: dict[tuple, list[float]] = defaultdict(list)
    for r in fidelity:
        if "cas_auc" in r and math.isfinite(r["cas_auc"]):
            cells[(r["arm"], r["budget"])].append(r["cas_auc"])
    if not cells:
        return ""
    keyed = {k: _mean_sd(v) for k, v in cells.items()}
    return _grid(keyed, sorted({a for a, _ in cells}),
                 sorted({b for _, b in cells}, key=_budget_key))


def effect_grid(comps: list[dict[str, Any]], metric: str, ref: str = "oversample") -> str:
    """GAN x budget: each GAN fill minus `ref` in test AUC (`metric` "auc") or accuracy
    ("acc"), with the test that decides it and its Holm-adjusted p (the report's families).
    Several seeds: the mean difference, its 95% t-interval and how many seeds lie above;
    one seed: the difference on the test images (DeLong, McNemar). Empty without GAN arms."""
    across, single = _gan_rows(comps, "seeds", ref), _gan_rows(comps, "seed", ref)
    keyed = {}
    for c in across or single:
        d = c[f"d_{metric}"]
        if across:
            key = "p_ttest" if metric == "auc" else "p_acc_ttest"
            seeds = [s for s in single if s["arm"] == c["arm"] and s["budget"] == c["budget"]]
            higher = sum(s[f"d_{metric}"] > 0 for s in seeds)
            cell = (f"{d:+.3f} [{c[f'd_{metric}_lo']:+.3f}, {c[f'd_{metric}_hi']:+.3f}], "
                    f"p {_pfmt_adj(c[key + '_holm'])}, higher in {higher} of {len(seeds)}")
        else:
            cell = f"{d:+.3f}, p {_pfmt_adj(c[f'p_{metric}_holm'])}"
        keyed[(c["arm"], c["budget"])] = cell
    if not keyed:
        return ""
    return _grid(keyed, sorted({a for a, _ in keyed}),
                 sorted({b for _, b in keyed}, key=_budget_key))


def unseen_note(comps: list[dict[str, Any]], metric: str, ref: str = "oversample") -> str:
    """What `effect_grid`'s tests could not see: over its cells that are not significant, the
    range of the smallest difference each test detects with POWER at ALPHA (before Holm);
    empty when every cell is significant."""
    across = any(c["level"] == "seeds" for c in comps)
    level, key = ("seeds", "p_ttest" if metric == "auc" else "p_acc_ttest") if across else (
        "seed", f"p_{metric}")
    mdd = [c[f"mdd_{metric}"] for c in _gan_rows(comps, level, ref)
           if not c[key + "_holm"] < ALPHA and math.isfinite(c.get(f"mdd_{metric}", math.nan))]
    if not mdd:
        return ""
    test = "paired t-test" if across else ("DeLong test" if metric == "auc" else "McNemar test")
    label = "AUC" if metric == "auc" else "accuracy"
    return (f"Where it is not significant, the {test} detects a difference in {label} of "
            f"{min(mdd):.3f} to {max(mdd):.3f} or more with {POWER:.0%} power at alpha "
            f"{ALPHA} (before Holm); smaller differences go unseen.")


def _gan_rows(comps: list[dict[str, Any]], level: str, ref: str) -> list[dict[str, Any]]:
    """The comparisons of each GAN fill against `ref` at one level ("seed" or "seeds")."""
    return [c for c in comps if c["level"] == level and c["ref"] == ref
            and c["arm"].startswith("gan:")]


def _pfmt_adj(p: float) -> str:
    """An adjusted p-value for a table cell, bold where it is below ALPHA."""
    if p is None or math.isnan(p):
        return "undefined"
    text = f"{p:.2g}"
    return f"**{text}**" if p < ALPHA else text
