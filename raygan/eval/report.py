"""The sweep report: confidence intervals, paired comparisons, per-budget conclusions, plots.

Pure functions over per-trial test scores; `sweeps/report.py` reads them from MLflow. Every
comparison pits an arm against `real` and against `oversample` at the same budget and seed, on
the same test images, so the tests are paired.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raygan.errors import RayganError
from raygan.eval.convergence import GATE_TEXT, convergence_png, gate_conclusion, gate_table
from raygan.eval.metrics import binary_metrics
from raygan.eval.stats import (
    bootstrap_mean_ci,
    delong_auc_ci,
    delong_test,
    holm,
    mcnemar_test,
    paired_tests,
    wilson_ci,
)

REFERENCES = ("real", "oversample")  # every other arm is compared with these
ALPHA = 0.05  # family-wise error rate of each Holm family below
# Holm families: (level, p-value keys). Each family is one kind of evidence and is adjusted
# on its own; the conclusions draw on exactly one of them (the across-seed t-tests when there
# are several seeds, else the per-seed tests), so their family-wise error rate is ALPHA.
HOLM_FAMILIES = (("seed", ("p_auc", "p_acc")),       # DeLong (AUC) and McNemar (accuracy)
                 ("seeds", ("p_ttest", "p_acc_ttest")),  # paired t-tests across seeds
                 ("seeds", ("p_auc", "p_acc")))      # paired Wilcoxon tests across seeds
HOLM_TEXT = ("Holm correction within each family of tests over all comparisons of this report "
             "(per-seed DeLong and McNemar tests; across-seed t-tests; across-seed Wilcoxon "
             f"tests), alpha = {ALPHA}")
# The published study's figures that its text states (test accuracy / AUC, the AUC from hard
# labels). Cells it does not state stay empty rather than being guessed.
PUBLISHED = {("real", 200): {"acc": 0.62}, ("gan:pggan", 200): {"acc": 0.73},
             ("all-real", "all"): {"acc": 0.83, "auc_hard": 0.83}}


@dataclass(frozen=True)
class Trial:
    """One finished classifier trial: its cell and its per-image test probabilities."""

    arm: str
    budget: int | str  # 'all' for all-real
    seed: int
    p: np.ndarray = field(repr=False)  # P(malignant) per test image, test-split order


def _budget_key(b: Any) -> float:
    return math.inf if b == "all" else float(b)


def _arms(rows: list[dict[str, Any]]) -> list[str]:
    """Arms in the grid's order: baselines, GAN families, all-real."""
    from raygan.config import ALL_ARMS

    names = set(r["arm"] for r in rows)
    return sorted(names, key=lambda a: (ALL_ARMS.index(a) if a in ALL_ARMS else len(ALL_ARMS), a))


def check_paired(trials: list[Trial], y: np.ndarray) -> None:
    """Every trial scored the same test images: one score per label of `y`."""
    for t in trials:
        if len(t.p) != len(y):
            raise RayganError(
                f"run {t.arm}-n{t.budget}-s{t.seed} holds {len(t.p)} test scores but the test "
                f"set has {len(y)} images: it was tested on other data and cannot be paired; "
                "report with the --data the sweep ran on")


def per_trial(trials: list[Trial], y: np.ndarray) -> list[dict[str, Any]]:
    """Metrics of each trial with a DeLong CI for AUC and a Wilson CI for accuracy."""
    rows = []
    for t in trials:
        m = binary_metrics(y, t.p)
        auc, lo, hi = delong_auc_ci(y, t.p, ALPHA)
        correct = int(((t.p >= 0.5).astype(int) == y).sum())
        acc_lo, acc_hi = wilson_ci(correct, len(y), ALPHA)
        rows.append({"arm": t.arm, "budget": t.budget, "seed": t.seed, **m,
                     "auc_lo": lo, "auc_hi": hi, "acc_lo": acc_lo, "acc_hi": acc_hi})
    return rows


def comparisons(trials: list[Trial], y: np.ndarray) -> list[dict[str, Any]]:
    """Every arm against each reference, per budget and seed (DeLong, McNemar), and across
    seeds (paired Wilcoxon and t on the per-seed AUC and accuracy differences, bootstrap CIs of
    their means); p-values Holm-adjusted within each of HOLM_FAMILIES."""
    by_cell = {(t.arm, t.budget, t.seed): t for t in trials}
    metrics = {cell: binary_metrics(y, t.p) for cell, t in by_cell.items()}
    out: list[dict[str, Any]] = []
    groups: dict[tuple, list[tuple[float, ...]]] = defaultdict(list)
    for (arm, budget, seed), t in sorted(by_cell.items(), key=lambda kv: (
            _budget_key(kv[0][1]), kv[0][0], kv[0][2])):
        for ref in REFERENCES:
            r = by_cell.get((ref, budget, seed))
            if r is None or ref == arm or arm in REFERENCES[: REFERENCES.index(ref)]:
                continue
            d_auc, _, p_auc = delong_test(y, t.p, r.p)
            b, c, p_acc = mcnemar_test(y, (t.p >= 0.5).astype(int), (r.p >= 0.5).astype(int))
            d_acc = (b - c) / len(y)
            out.append({"level": "seed", "budget": budget, "seed": seed, "arm": arm, "ref": ref,
                        "d_auc": d_auc, "p_auc": p_auc, "d_acc": d_acc, "p_acc": p_acc})
            a_m, r_m = metrics[(arm, budget, seed)], metrics[(ref, budget, seed)]
            groups[(budget, arm, ref)].append((a_m["auc"], r_m["auc"], a_m["acc"], r_m["acc"]))
    for (budget, arm, ref), pairs in groups.items():
        if len(pairs) < 2:
            continue
        a_auc, r_auc, a_acc, r_acc = np.array(pairs).T
        test = paired_tests(a_auc, r_auc)
        mean, lo, hi = bootstrap_mean_ci(a_auc - r_auc, ALPHA)
        test_acc = paired_tests(a_acc, r_acc)
        mean_acc, lo_acc, hi_acc = bootstrap_mean_ci(a_acc - r_acc, ALPHA)
        out.append({"level": "seeds", "budget": budget, "seed": f"{len(pairs)} seeds",
                    "arm": arm, "ref": ref, "d_auc": mean, "d_auc_lo": lo, "d_auc_hi": hi,
                    "p_auc": test["wilcoxon_p"], "p_ttest": test["ttest_p"],
                    "d_acc": mean_acc, "d_acc_lo": lo_acc, "d_acc_hi": hi_acc,
                    "p_acc": test_acc["wilcoxon_p"], "p_acc_ttest": test_acc["ttest_p"]})
    for level, keys in HOLM_FAMILIES:
        members = [(c, k) for c in out if c["level"] == level for k in keys]
        for (c, k), adj in zip(members, holm([c[k] for c, k in members]), strict=True):
            c[k + "_holm"] = float(adj)
    return out


def conclusions(comps: list[dict[str, Any]]) -> list[str]:
    """One sentence per budget: does any GAN beat `oversample` in test AUC, and in accuracy,
    after Holm?

    Across seeds the decision uses the paired t-test: with fewer than 6 seeds a two-sided
    Wilcoxon test cannot reach p < 0.05 at all (3 seeds: p >= 0.25), so it is reported beside
    it, with how many seeds the GAN won on its own (DeLong, Holm-adjusted). With one seed the
    decision is the per-seed test on the test images (DeLong for AUC, McNemar for accuracy)."""
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
            how = "across seeds (paired t-test)"
            keys = {"auc": ("d_auc", "p_ttest_holm", "p_auc_holm"),
                    "acc": ("d_acc", "p_acc_ttest_holm", "p_acc_holm")}
        else:
            how = "on the test set (DeLong / McNemar)"
            keys = {"auc": ("d_auc", "p_auc_holm", "p_auc_holm"),
                    "acc": ("d_acc", "p_acc_holm", "p_acc_holm")}
        parts = []
        for metric, (d_key, key, seed_key) in keys.items():
            best = max(pool, key=lambda c, d_key=d_key: c[d_key])
            wins = sorted({c["arm"] for c in pool if c[d_key] > 0 and c[key] < ALPHA})
            name, label = ("AUC", "dAUC") if metric == "auc" else ("accuracy", "dAcc")
            detail = (f"best {best['arm']}: {label} = {best[d_key]:+.3f}, "
                      f"adjusted p = {best[key]:.2g}")
            if across:
                seeds = [c for c in gan if c["level"] == "seed" and c["arm"] == best["arm"]]
                won = sum(c[d_key] > 0 and c[seed_key] < ALPHA for c in seeds)
                wil = best["p_auc" if metric == "auc" else "p_acc"]
                detail += f"; Wilcoxon p = {wil:.2g}; significant in {won} of {len(seeds)} seeds"
            if wins:
                parts.append(f"{', '.join(wins)} beat oversample in test {name} ({detail})")
            else:
                parts.append(f"no GAN beats oversample in test {name} ({detail})")
        lines.append(f"N={budget}, {how}, Holm-adjusted at {ALPHA}: {parts[0]}; {parts[1]}.")
    return lines


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _pfmt(p: float) -> str:
    return "" if p is None or math.isnan(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


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
    """Mean per-seed differences with bootstrap 95% CIs, paired Wilcoxon and t-test p-values
    and the Holm-adjusted t-test p-value, for AUC and accuracy; empty with one seed."""
    rows = sorted((c for c in comps if c["level"] == "seeds"), key=lambda c: (
        _budget_key(c["budget"]), c["ref"], c["arm"]))
    if not rows:
        return ""
    lines = ["| N | arm | vs | seeds | dAUC [95% CI] | Wilcoxon p | t p | t p Holm | "
             "dAcc [95% CI] | Wilcoxon p | t p | t p Holm |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in rows:
        lines.append(
            f"| {c['budget']} | {c['arm']} | {c['ref']} | {c['seed'].split()[0]} | "
            f"{c['d_auc']:+.3f} [{c['d_auc_lo']:+.3f}, {c['d_auc_hi']:+.3f}] | "
            f"{_pfmt(c['p_auc'])} | {_pfmt(c['p_ttest'])} | {_pfmt(c['p_ttest_holm'])} | "
            f"{c['d_acc']:+.3f} [{c['d_acc_lo']:+.3f}, {c['d_acc_hi']:+.3f}] | "
            f"{_pfmt(c['p_acc'])} | {_pfmt(c['p_acc_ttest'])} | "
            f"{_pfmt(c['p_acc_ttest_holm'])} |")
    return "\n".join(lines)


def budget_plot_png(rows: list[dict[str, Any]]) -> bytes:
    """Test accuracy and AUC against budget for every arm. One seed: 95% CI bands of the run
    (Wilson, DeLong). Several seeds: the mean, each seed as a dot, and a 95% t-interval of the
    mean across seeds (training variance; the test set is the same for every seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats as sps

    n_seeds = len({r["seed"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    arms = _arms([r for r in rows if r["budget"] != "all"])
    if n_seeds > 1:
        titles = [f"test accuracy (mean of {n_seeds} seeds, 95% t-interval)",
                  f"test AUC (mean of {n_seeds} seeds, 95% t-interval)"]
    else:
        titles = ["test accuracy (Wilson 95% CI)", "test AUC (DeLong 95% CI)"]
    for ax, (metric, lo_k, hi_k), title in zip(axes, [
            ("acc", "acc_lo", "acc_hi"), ("auc", "auc_lo", "auc_hi")], titles, strict=True):
        for k, arm in enumerate(arms):
            by_b: dict[int, list[dict]] = defaultdict(list)
            for r in rows:
                if r["arm"] == arm:
                    by_b[r["budget"]].append(r)
            bs = sorted(by_b)
            vals = [np.array([r[metric] for r in by_b[b]]) for b in bs]
            mean = [float(v.mean()) for v in vals]
            if n_seeds > 1:
                half = [float(sps.t.ppf(1 - ALPHA / 2, len(v) - 1) * v.std(ddof=1)
                              / math.sqrt(len(v))) if len(v) > 1 else 0.0 for v in vals]
                lo = [m - h for m, h in zip(mean, half, strict=True)]
                hi = [m + h for m, h in zip(mean, half, strict=True)]
            else:
                lo = [r[lo_k] for b in bs for r in by_b[b]]
                hi = [r[hi_k] for b in bs for r in by_b[b]]
            style = "--" if not arm.startswith("gan:") else "-"
            (line,) = ax.plot(bs, mean, style, marker="o", label=arm)
            ax.fill_between(bs, lo, hi, color=line.get_color(), alpha=0.12)
            if n_seeds > 1:  # each seed, nudged sideways per arm so the dots do not overlap
                nudge = 1 + 0.015 * (k - len(arms) / 2)
                for b, v in zip(bs, vals, strict=True):
                    ax.scatter([b * nudge] * len(v), v, s=6, color=line.get_color(), alpha=0.6)
        ref = [r[metric] for r in rows if r["arm"] == "all-real"]
        if ref:
            ax.axhline(float(np.mean(ref)), color="k", lw=0.8, ls=":", label="all-real")
        ax.set(xscale="log", xlabel="real malignant images N", title=title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_report(trials: list[Trial], y: np.ndarray, out_dir, title: str,
                 grids: dict[str, bytes] | None = None, notes: list[str] | None = None,
                 fidelity: list[dict[str, Any]] | None = None,
                 gates: list[dict[str, Any]] | None = None,
                 curves: dict[tuple[str, int, int], list] | None = None) -> list:
    """Write report.md, budget_plot.png, comparisons.csv and sample grids to `out_dir`;
    returns the paths written."""
    import csv

    check_paired(trials, y)
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rows = per_trial(trials, y)
    comps = comparisons(trials, y)
    paths = [out / "budget_plot.png", out / "comparisons.csv"]
    paths[0].write_bytes(budget_plot_png(rows))
    keys = ["level", "budget", "seed", "arm", "ref", "d_auc", "d_auc_lo", "d_auc_hi", "p_auc",
            "p_auc_holm", "p_ttest", "p_ttest_holm", "d_acc", "d_acc_lo", "d_acc_hi", "p_acc",
            "p_acc_holm", "p_acc_ttest", "p_acc_ttest_holm"]
    with paths[1].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(comps)
    seeds = sorted({t.seed for t in trials})
    if len(seeds) > 1:
        cells = ("mean test accuracy ± SD across seeds / mean ROC AUC from probabilities ± SD / "
                 "mean AUC from hard labels (the study's convention, = balanced accuracy)")
    else:
        cells = ("test accuracy [95% Wilson CI] / ROC AUC from probabilities [95% DeLong CI] / "
                 "AUC from hard labels (the study's convention, = balanced accuracy)")
    md = [f"# raygan report: {title}", "",
          f"{len(trials)} classifier trials; {len(seeds)} seed(s) ({', '.join(map(str, seeds))});"
          f" {len(y)} test images ({int(y.sum())} malignant). Cells: {cells}.", "",
          summary_table(rows), "",
          "![accuracy and AUC against budget](budget_plot.png)", "",
          "## Conclusions", "", *[f"- {c}" for c in conclusions(comps)],
          *([f"- {gate_conclusion(gates)}"] if gates is not None else []), "",
          "## The published study beside this run", "",
          "Only the figures the study's text states; AUC (hard) is its convention.", "",
          study_table(rows), ""]
    if gates:
        cas = {(r["arm"], r["budget"], r["seed"]): r["cas_auc"] for r in fidelity or []
               if "cas_auc" in r}
        md += ["## GAN quality gate", "", GATE_TEXT, "", gate_table(gates, cas), ""]
        if curves and any(curves.values()):
            path = out / "convergence.png"
            path.write_bytes(convergence_png(curves))
            paths.append(path)
            md += ["![quality/gap against step](convergence.png)", ""]
    across = across_seeds_table(comps)
    if across:
        md += ["## Across seeds", "",
               "Each arm against `real` and `oversample` at the same budget: the per-seed "
               "differences (same seed, same test images), their mean with a bootstrap 95% CI, "
               "the paired Wilcoxon signed-rank test and the paired t-test. With fewer than 6 "
               "seeds a two-sided Wilcoxon p cannot fall below 0.05, so conclusions use the "
               f"t-test. {HOLM_TEXT}.",
               "", across, ""]
    md += ["## Per-seed comparisons", "",
           "Each arm against `real` and `oversample` at the same budget and seed, on the same "
           f"test images: DeLong test for the AUC difference, McNemar test for accuracy. "
           f"{HOLM_TEXT}.", "",
           comparison_table(comps), ""]
    if fidelity:
        path = out / "fidelity_plot.png"
        path.write_bytes(fidelity_plot_png(fidelity))
        paths.append(path)
        paths.append(out / "fidelity.csv")
        with paths[-1].open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["arm", "budget", "seed", "fd", "kid", "near_copies",
                                              "cas_auc", "cas_acc", "test_auc", "converged"],
                               extrasaction="ignore")
            w.writeheader()
            w.writerows(fidelity)
        md += ["## Fidelity against downstream AUC", "",
               "Fréchet distance and KID on the features of the study's CNN trained in-project "
               "on the real training split (no Inception weights can be downloaded here): a "
               "relative measure between arms of this report, not comparable to published FID "
               "values. Near-copies: share of generated images whose nearest of the N real "
               "training images is closer than the typical real-to-real distance.", "",
               *_cas_note(fidelity, rows),
               fidelity_table(fidelity), "", "![fidelity against AUC](fidelity_plot.png)", ""]
        corrs = fidelity_correlations(fidelity)
        if corrs:
            md += ["Rank correlation of each fidelity measure with the test AUC of the GAN's "
                   "arm, over the GAN runs at each budget (no multiple-testing correction: "
                   "descriptive).", "", fidelity_correlation_table(corrs), ""]
    if grids:
        md += ["## Samples", ""]
        for name, png in sorted(grids.items()):
            path = out / "samples" / f"{name.replace(':', '_')}.png"
            path.write_bytes(png)
            paths.append(path)
            md += [f"**{name}**", "", f"![{name}](samples/{path.name})", ""]
    if notes:
        md += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    report = out / "report.md"
    report.write_text("\n".join(md))
    return [report, *paths]


def fidelity_rows(fakes: dict[tuple[str, int, int], np.ndarray], real_malignant: np.ndarray,
                  budget_images: dict[tuple[int, int], np.ndarray], extractor,
                  test_auc: dict[tuple[str, int, int], float]) -> list[dict[str, Any]]:
    """Per GAN cell (gan, budget, seed): domain-feature Fréchet distance and KID of its fill
    against every real malignant training image, its share of near-copies of its own N
    training images, and the downstream test AUC of its arm."""
    from raygan.eval.fidelity import frechet_distance, kid, near_copy_share, nearest_real_distances

    real_feat = extractor.features(real_malignant)
    rows = []
    for (gan, budget, seed), fake in sorted(fakes.items()):
        feat = extractor.features(fake)
        kid_mean, _ = kid(feat, real_feat, subsets=20, subset_size=min(100, len(fake)))
        rows.append({"arm": f"gan:{gan}", "budget": budget, "seed": seed,
                     "fd": frechet_distance(feat, real_feat), "kid": kid_mean,
                     "near_copies": near_copy_share(nearest_real_distances(
                         fake, budget_images[(budget, seed)])),
                     "test_auc": test_auc.get((f"gan:{gan}", budget, seed), math.nan)})
    return rows


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


def fidelity_correlations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget, Spearman's rho (and its p) between each fidelity measure and the test AUC of
    the GAN's arm, over that budget's GAN runs (every GAN and seed). Lower FD and KID mean
    closer to real, so a negative rho for them means "closer images, better classifier"."""
    from scipy.stats import spearmanr

    out = []
    for budget in sorted({r["budget"] for r in rows}, key=_budget_key):
        rs = [r for r in rows if r["budget"] == budget and not math.isnan(r["test_auc"])]
        for measure in ("fd", "kid", "cas_auc"):
            rs_m = [r for r in rs if measure in r and not math.isnan(r[measure])]
            a, b = [r[measure] for r in rs_m], [r["test_auc"] for r in rs_m]
            if len(rs_m) < 3 or len(set(a)) < 2 or len(set(b)) < 2:  # rho is undefined
                continue
            res = spearmanr(a, b)
            out.append({"budget": budget, "measure": measure, "n": len(rs_m),
                        "rho": float(res.statistic), "p": float(res.pvalue)})
    return out


def fidelity_correlation_table(corrs: list[dict[str, Any]]) -> str:
    names = {"fd": "domain FD", "kid": "KID", "cas_auc": "CAS AUC"}
    lines = ["| N | measure | GAN runs | Spearman rho with test AUC | p |", "|---|---|---|---|---|"]
    for c in corrs:
        lines.append(f"| {c['budget']} | {names[c['measure']]} | {c['n']} | {c['rho']:+.2f} | "
                     f"{_pfmt(c['p'])} |")
    return "\n".join(lines)


def fidelity_plot_png(rows: list[dict[str, Any]]) -> bytes:
    """Domain-feature FD (and CAS AUC, when measured) against downstream test AUC, one point
    per GAN run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("fd", "domain-feature Fréchet distance to real malignant (lower = closer)")]
    if any("cas_auc" in r for r in rows):
        panels.append(("cas_auc", "CAS AUC: trained on generated malignant + real benign"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (key, xlabel) in zip(axes[0], panels, strict=True):
        for arm in _arms(rows):
            rs = [r for r in rows if r["arm"] == arm and key in r]
            ax.scatter([r[key] for r in rs], [r["test_auc"] for r in rs], label=arm)
            for r in rs:
                ax.annotate(str(r["budget"]), (r[key], r["test_auc"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.set(xlabel=xlabel, ylabel="downstream test AUC of the GAN's arm",
               title="fidelity against usefulness (labels: N)")
        if key == "fd" and all(r["fd"] > 0 for r in rows):
            ax.set_xscale("log")  # a few unstable runs sit orders of magnitude out
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def sweep_fidelity(cfg, dataset, checkpoints: dict[tuple[str, int, int], str],
                   trials: list[Trial], y: np.ndarray, max_images: int = 500,
                   extractor_epochs: int = 10, with_cas: bool = False,
                   log=None, extractor_file=None) -> list[dict[str, Any]]:
    """`fidelity_rows` for a finished sweep: each GAN is rebuilt from its checkpoint file and
    resamples (up to `max_images` of) the very fill its arm trained on.

    With `with_cas`, each row also gets the GAN's Classification Accuracy Score: the sweep's
    classifier (same config, the run's seed) trained on real benign training images plus as
    many generated malignant images as there are real malignant training images, so the class
    ratio is the `all-real` arm's and that arm's test AUC is the score of real images.

    The feature extractor is trained once per sweep and kept in `extractor_file` (when given):
    its training is not bit-for-bit repeatable on CPU (it varies with the thread count, and
    was seen to vary with machine load), so a report written again reuses it and repeats the
    distances exactly."""
    import torch

    from raygan.data import carve_validation, cell_split
    from raygan.eval.fidelity import FeatureExtractor, cas, train_feature_extractor
    from raygan.gans.checkpoint import load_checkpoint, sample_checkpoint

    x, y_train = dataset.train.x, dataset.train.y
    groups = dataset.train.groups
    pools = carve_validation(y_train, cfg.val_fraction, cfg.split_seed, cfg.validation, groups)
    fill = cfg.fill_target or pools.num_malignant
    # The feature extractor is a measuring instrument of the report (distances), never a model
    # that a cell selects, so it trains on the study's split whatever the sweep's validation.
    study = carve_validation(y_train, cfg.val_fraction, cfg.split_seed, "study", groups)
    train = np.concatenate([study.benign, study.malignant])
    if extractor_file is not None and Path(extractor_file).is_file():
        state = torch.load(extractor_file, map_location="cpu", weights_only=True)
        if state["resolution"] != cfg.resolution:
            raise RayganError(f"{extractor_file} was trained at {state['resolution']} px, the "
                             f"sweep runs at {cfg.resolution} px; delete it to train a new one")
        extractor = FeatureExtractor.from_state_dict(state)
        if log:
            log(f"feature extractor: reused {extractor_file}")
    else:
        extractor = train_feature_extractor(x[train], y_train[train], x[study.val],
                                            y_train[study.val], seed=0, epochs=extractor_epochs)
        if extractor_file is not None:
            torch.save(extractor.state_dict(), extractor_file)
    fakes, budget_images, cas_scores = {}, {}, {}
    for i, (key, path) in enumerate(sorted(checkpoints.items())):
        gan, budget, seed = key
        cell = cell_split(pools, budget, seed)  # what the GAN trained on, and its cell's val
        # Sampling is seeded per image, so the first images are the very fill the arm used.
        n_fid = max(1, min(fill - len(cell.malignant), max_images))
        fake = sample_checkpoint(gan, cfg.gan_config(gan, budget), cfg.resolution, seed,
                                 load_checkpoint(path), x[cell.benign],
                                 max(n_fid, pools.num_malignant if with_cas else 0))
        fakes[key] = fake[:n_fid]
        budget_images[(budget, seed)] = x[cell.malignant]
        if with_cas:  # CAS early-stops on the cell's validation images, as its arm did
            cas_scores[key] = cas(fake[:pools.num_malignant], x[cell.benign], x[cell.val],
                                  y_train[cell.val], dataset.test.x, y, cfg.classifier, seed)
            if log:
                log(f"CAS {i + 1}/{len(checkpoints)}: {gan} N={budget} seed {seed}: "
                    f"AUC {cas_scores[key]['auc']:.3f}")
    test_auc = {(t.arm, t.budget, t.seed): binary_metrics(y, t.p)["auc"] for t in trials}
    rows = fidelity_rows(fakes, x[pools.malignant], budget_images, extractor, test_auc)
    for r in rows:
        score = cas_scores.get((r["arm"].removeprefix("gan:"), r["budget"], r["seed"]))
        if score:
            r["cas_auc"], r["cas_acc"] = score["auc"], score["acc"]
    return rows
