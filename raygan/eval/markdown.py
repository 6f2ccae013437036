"""The report's text: markdown tables and the per-budget conclusions, from `numbers`' rows."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from raygan.cell import Gate, budget_key, is_generated
from raygan.eval.numbers import ALPHA, POWER, PUBLISHED, _arms
from raygan.eval.verdicts import ALPHA as VERDICT_ALPHA
from raygan.eval.verdicts import MAX_SEEDS, verdict_counts

HOLM_TEXT = ("Holm correction within each family of tests over all comparisons on this test set "
             "(per-seed DeLong and McNemar tests; across-seed t-tests; across-seed Wilcoxon "
             f"tests), alpha = {ALPHA}; an undefined p-value (a t-test whose differences are all "
             "equal, a Wilcoxon test whose differences are all zero) is left out of its family")
UNDEFINED = "t-test undefined (all differences equal)"  # a paired t-test with zero variance


def _seeds_text(n: int | None, have: int) -> str:
    """A seeds-needed figure: the count, 'more than MAX_SEEDS', or why none is given."""
    if have < 2:
        return "needs 2 seeds to plan"
    return f"> {MAX_SEEDS}" if n is None else str(n)


def verdict_sentence(r: dict[str, Any]) -> str:
    """One cell's verdict with its evidence: difference, 95 % and simultaneous intervals,
    Holm-adjusted p, seed counts, and the seeds a missing verdict would need."""
    name = "dAUC" if r["metric"] == "auc" else "dAcc"
    evidence = (f"{name} = {r['d']:+.3f} [95% CI {r['lo']:+.3f}, {r['hi']:+.3f}; simultaneous "
                f"{r['sim_lo']:+.3f}, {r['sim_hi']:+.3f}], higher in {r['higher']} and lower in "
                f"{r['lower']} of {r['n']} seeds")
    v = r["verdict"]
    if v == "equivalent":
        head = f"equivalent to {r['ref']} within ±{r['margin']:g}"
        evidence += f", TOST p (Holm) = {r['p_equiv_holm']:.2g}"
    elif v in ("better", "worse"):
        head = f"{v} than {r['ref']}"
        evidence += f", p (Holm) = {r['p_holm']:.2g}"
    elif v == "non-inferior":
        head = f"non-inferior to {r['ref']} (not worse by {r['margin']:g} or more)"
        evidence += f", p (Holm) = {r['p_noninf_holm']:.2g}"
    else:
        head = f"inconclusive against {r['ref']}"
        evidence += (f"; seeds for a verdict: {_seeds_text(r['seeds_verdict'], r['n'])} at the "
                     f"observed difference, {_seeds_text(r['seeds_equiv'], r['n'])} to show "
                     "equivalence if the true difference is 0")
    return f"{r['arm']} {head} ({evidence})"


def conclusions(primary: list[dict[str, Any]], secondary: list[dict[str, Any]] | None = None,
                label: str = "primary") -> list[str]:
    """One line per budget: each generative fill's verdict against the reference in the
    primary family (`label` names it), then, marked secondary, in the other metric. Verdict
    words only: better, worse, equivalent, non-inferior, inconclusive."""
    lines = []
    budgets = sorted({r["budget"] for r in [*primary, *(secondary or [])]}, key=budget_key)
    for budget in budgets:
        parts = []
        for rows, tag in ((primary, label), (secondary or [], "secondary")):
            cells = sorted((r for r in rows if r["budget"] == budget), key=lambda r: r["arm"])
            if cells:
                metric = "AUC" if cells[0]["metric"] == "auc" else "accuracy"
                parts.append(f"{metric} ({tag}; Holm family of {cells[0]['family_size']}, alpha "
                             f"{VERDICT_ALPHA}): " + "; ".join(verdict_sentence(r)
                                                               for r in cells))
        if parts:
            lines.append(f"N={budget}: " + ". ".join(parts) + ".")
    return lines


def verdict_table(rows: list[dict[str, Any]]) -> str:
    """A family's cells: difference with 95 % and simultaneous intervals, Holm-adjusted p for
    no difference and for equivalence, seeds higher, the verdict and the seeds a verdict needs
    (at the observed difference / for equivalence if the true difference is 0)."""
    if not rows:
        return ""
    name = "dAUC" if rows[0]["metric"] == "auc" else "dAcc"
    k = rows[0]["family_size"]
    lines = [f"| N | arm | vs | {name} | 95% CI | simultaneous {1 - VERDICT_ALPHA / k:.2%} CI | "
             "p (Holm) | TOST p (Holm) | seeds higher | verdict | seeds needed (observed / 0) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (budget_key(r["budget"]), r["ref"], r["arm"])):
        verdict = r["verdict"] if r["verdict"] == "inconclusive" else f"**{r['verdict']}**"
        needed = (f"{_seeds_text(r['seeds_verdict'], r['n'])} / "
                  f"{_seeds_text(r['seeds_equiv'], r['n'])}")
        lines.append(
            f"| {r['budget']} | {r['arm']} | {r['ref']} | {r['d']:+.3f} | "
            f"[{r['lo']:+.3f}, {r['hi']:+.3f}] | [{r['sim_lo']:+.3f}, {r['sim_hi']:+.3f}] | "
            f"{_pfmt(r['p_holm'])} | {_pfmt(r['p_equiv_holm'])} | {r['higher']} of {r['n']} | "
            f"{verdict} | {needed} |")
    return "\n".join(lines)


def verdict_count_text(rows: list[dict[str, Any]]) -> str:
    """'0 better, 2 worse, ...' over a family's cells."""
    return ", ".join(f"{n} {v}" for v, n in verdict_counts(rows).items())


VERDICT_METHOD = (
    "Each cell compares an arm with its reference over the seeds both ran, on the same test "
    "images. Its difference, 95% interval and p-values treat seeds and test images both as "
    "random (Obuchowski-Rockette with Hillis' degrees of freedom, halved for few seeds; "
    "docs/statistics.md): the interval says what a new set of seeds on new patients from this "
    "population would show. A family is Holm-adjusted for each hypothesis; the simultaneous "
    "interval (Bonferroni over the family) is the one to read when reading several cells "
    "together. Verdicts: **equivalent** (TOST inside ±margin), **better** / **worse** (the "
    "difference is resolved and not inside the margin), **non-inferior** (not worse by the "
    "margin), or inconclusive, with the seeds the planner says a verdict would need (80% "
    "power at alpha over the family's size; '> 200' where seeds alone cannot get there, "
    "because the test images' own variance is too large for the margin).")


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
    budgets = sorted({r["budget"] for r in rows}, key=budget_key)
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
        for b in sorted({r["budget"] for r in rows}, key=budget_key):
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
            budget_key(c["budget"]), c["ref"], c["arm"], str(c["seed"]))):
        lines.append(f"| {c['budget']} | {c['seed']} | {c['arm']} | {c['ref']} | "
                     f"{_fmt(c['d_auc'])} | {_pfmt(c['p_auc'])} | "
                     f"{_pfmt(c.get('p_auc_holm', math.nan))} | {_fmt(c['d_acc'])} | "
                     f"{_pfmt(c['p_acc'])} | {_pfmt(c.get('p_acc_holm', math.nan))} |")
    return "\n".join(lines)


def across_seeds_table(comps: list[dict[str, Any]]) -> str:
    """Mean per-seed differences with their 95% t-intervals, paired Wilcoxon and t-test
    p-values and the Holm-adjusted t-test p-value, for AUC and accuracy; empty with one seed."""
    rows = sorted((c for c in comps if c["level"] == "seeds"), key=lambda c: (
        budget_key(c["budget"]), c["ref"], c["arm"]))
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


def near_copy_cell(share: float) -> str:
    """A run's share of near-copies, marked where the fill is made of training copies."""
    from raygan.eval.memorization import COPIED_FILL, copied

    mark = f" (**training copies**: {COPIED_FILL:.0%} or more)" if copied(share) else ""
    return f"{share:.1%}{mark}"


def _measured(rows: list[dict[str, Any]], key: str) -> bool:
    return any(key in r for r in rows)


def fidelity_table(rows: list[dict[str, Any]]) -> str:
    """One row per generated run: domain FD, KID, precision / recall / density / coverage (where
    measured), near-copies, the nearest-neighbour ratio (where measured), CAS (where measured),
    the arm's test AUC and the gate's verdict."""
    with_cas, with_prdc = _measured(rows, "cas_auc"), _measured(rows, "recall")
    with_ratio = _measured(rows, "nn_ratio_median")
    head = ("| arm | N | seed | domain FD | KID |"
            + (" precision | recall | density | coverage |" if with_prdc else "")
            + " near-copies |" + (" NN ratio min / median |" if with_ratio else "")
            + (" CAS AUC |" if with_cas else ""))
    lines = [head + " test AUC | GAN converged |", "|---" * (head.count("|") + 1) + "|"]
    for r in rows:
        cas = f" {_fmt(r.get('cas_auc', math.nan))} |" if with_cas else ""
        prdc = "".join(f" {_fmt(r.get(k, math.nan), 2)} |"
                       for k in ("precision", "recall", "density", "coverage")) if with_prdc else ""
        ratio = (f" {_fmt(r.get('nn_ratio_min', math.nan), 2)} / "
                 f"{_fmt(r.get('nn_ratio_median', math.nan), 2)} |") if with_ratio else ""
        lines.append(f"| {r['arm']} | {r['budget']} | {r['seed']} | {r['fd']:.2f} | "
                     f"{r['kid']:.4f} |{prdc} {near_copy_cell(r['near_copies'])} |{ratio}{cas} "
                     f"{_fmt(r['test_auc'])} | {r.get('converged', 'unknown')} |")
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
    names = {"fd": "domain FD", "kid": "KID", "recall": "recall", "coverage": "coverage",
             "cas_auc": "CAS AUC"}
    lines = ["| N | measure | GAN runs | Spearman rho with test AUC | p |", "|---|---|---|---|---|"]
    for c in corrs:
        lines.append(f"| {c['budget']} | {names[c['measure']]} | {c['n']} | {c['rho']:+.2f} | "
                     f"{_pfmt(c['p'])} |")
    return "\n".join(lines)



# --- at a glance: the compact tables that docs/results.md quotes (summary.md) -------------

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
                 sorted({r["budget"] for r in rows}, key=budget_key))


def gate_grid(gates: list[Gate]) -> str:
    """GAN x budget: the quality gate's verdicts. One seed: the final gap and steps trained
    ("stopped at" where the stop rule ended it). Several: how many seeds passed, and the gaps.
    A final gap below the real-vs-real range is marked "possible memorization" (the verdict
    stands), with a line under the grid that says what the mark means."""
    from raygan.eval.convergence import MEMORIZATION, MEMORIZATION_NOTE
    from raygan.eval.quality import possible_memorization

    cells: dict[tuple, list[Gate]] = defaultdict(list)
    for g in gates:
        cells[(g.arm, g.budget)].append(g)
    keyed = {}
    for key, gs in cells.items():
        gs = sorted(gs, key=lambda g: g.seed)
        gaps = [f"{g.gap:.2f}" if math.isfinite(g.gap) else "?" for g in gs]
        copies = [g.seed for g in gs if possible_memorization(g.gap)]
        if len(gs) == 1:
            g = gs[0]
            steps = f"stopped at {g.steps}" if g.stopped_early else str(g.steps)
            verdict = "" if g.converged == "yes" else f" **{g.converged}**"
            mark = f", {MEMORIZATION}" if copies else ""
            keyed[key] = f"{gaps[0]}, {steps}{verdict}{mark}"
        else:
            passed = sum(g.converged == "yes" for g in gs)
            mark = (f"; {MEMORIZATION}: seed{'s' if len(copies) > 1 else ''} "
                    f"{', '.join(map(str, copies))}" if copies else "")
            keyed[key] = f"{passed} of {len(gs)} pass ({' / '.join(gaps)}){mark}"
    grid = _grid(keyed, sorted({a for a, _ in cells}),
                 sorted({b for _, b in cells}, key=budget_key))
    if any(possible_memorization(g.gap) for g in gates):
        grid += f"\n\n{MEMORIZATION_NOTE}"
    return grid


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
                 sorted({b for _, b in cells}, key=budget_key))


def unseen_note(comps: list[dict[str, Any]], metric: str, ref: str = "oversample") -> str:
    """What the secondary view's tests (across seeds: the paired t-test; one seed: DeLong or
    McNemar) could not see: over the GAN-against-`ref` cells that are not significant, the
    range of the smallest difference each test detects with POWER at the alpha its Holm family
    decides with first (ALPHA over the family's size); empty when every cell is significant."""
    across = any(c["level"] == "seeds" for c in comps)
    level, key = ("seeds", "p_ttest" if metric == "auc" else "p_acc_ttest") if across else (
        "seed", f"p_{metric}")
    rows = [c for c in _gan_rows(comps, level, ref) if not c[key + "_holm"] < ALPHA
            and math.isfinite(c.get(f"mdd_{metric}_holm", math.nan))]
    if not rows:
        return ""
    mdd = [c[f"mdd_{metric}_holm"] for c in rows]
    family = rows[0][key + "_family"]
    test = "paired t-test" if across else ("DeLong test" if metric == "auc" else "McNemar test")
    label = "AUC" if metric == "auc" else "accuracy"
    note = (f"Where it is not significant, the {test} detects a difference in {label} of "
            f"{min(mdd):.3f} to {max(mdd):.3f} or more with {POWER:.0%} power at alpha "
            f"{ALPHA}/{family} = {ALPHA / family:.2g} (Holm's first step over its family of "
            f"{family}); smaller differences go unseen")
    if across:
        from scipy.stats import chi2

        df = rows[0]["n"] - 1
        lo, hi = math.sqrt(df / chi2.ppf(0.975, df)), math.sqrt(df / chi2.ppf(0.025, df))
        note += (f". The seed-to-seed SD behind it has {df} degrees of freedom, so the true "
                 f"detectable difference may be {lo:.1f} to {hi:.1f} times these (95% "
                 "interval of the SD)")
    return note + ". Not significant is not no effect: only an equivalence verdict says that."


def _gan_rows(comps: list[dict[str, Any]], level: str, ref: str) -> list[dict[str, Any]]:
    """The comparisons of each generated fill (`gan:*`, `diffusion:*`) against `ref` at one
    level ("seed" or "seeds")."""
    return [c for c in comps if c["level"] == level and c["ref"] == ref
            and is_generated(c["arm"])]


def _pfmt_adj(p: float) -> str:
    """An adjusted p-value for a table cell, bold where it is below ALPHA."""
    if p is None or math.isnan(p):
        return "undefined"
    text = f"{p:.2g}"
    return f"**{text}**" if p < ALPHA else text
