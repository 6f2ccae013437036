"""The sweep report: writes report.md with its tables, plots and CSVs from `numbers`,
`markdown` and `plots`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from raygan.artifacts import REPORT_FILE, SAMPLES_DIR, SUMMARY_FILE
from raygan.eval.convergence import GATE_TEXT, convergence_png, gate_conclusion, gate_table
from raygan.eval.markdown import (
    HOLM_TEXT,
    _cas_note,
    across_seeds_table,
    cas_grid,
    compact_table,
    comparison_table,
    conclusions,
    effect_grid,
    fidelity_correlation_table,
    fidelity_table,
    gate_grid,
    study_table,
    summary_table,
    threshold_table,
    unseen_note,
)
from raygan.eval.numbers import (
    TestSet,
    Trial,
    check_paired,
    comparisons,
    fidelity_correlations,
    per_trial,
)
from raygan.eval.plots import budget_plot_png, fidelity_plot_png

__all__ = ["TestSet", "check_paired", "set_title", "write_report"]


def set_title(ts: TestSet) -> str:
    """A test set's name and size, as its section and plot panels name it."""
    size = f"{len(ts.y)} images ({int(ts.y.sum())} malignant)"
    if ts.leaks is not None:
        return (f"Test split without re-captured lesions (sensitivity): {size}; {ts.leaks} "
                f"test image{'s' if ts.leaks != 1 else ''} that re-capture a training lesion "
                "dropped by the leakage audit")
    if not ts.external:
        return f"Test split: {size}"
    audit = ("number of duplicates of training images unknown" if ts.duplicates is None else
             f"{ts.duplicates} duplicate{'s' if ts.duplicates != 1 else ''} of training images "
             f"{'kept' if ts.kept_duplicates else 'dropped'} by the duplicate audit")
    return f"External test set {ts.name}: {size}; {audit}"


def _short(ts: TestSet) -> str:
    """A test set's name and size in a few words, for the plot's panels and the summary."""
    if ts.leaks is not None:
        return f"test split without re-captures ({len(ts.y)} images)"
    return f"{ts.name} ({len(ts.y)} images)" if ts.external else f"test split ({len(ts.y)} images)"


def budget_plot_file(ts: TestSet) -> str:
    """The file name of one test set's budget plot (the test split's, the split without
    re-captures, or an external set's by its name)."""
    if ts.leaks is not None:
        return "budget_plot_no_recaptures.png"
    return f"budget_plot_{ts.name}.png" if ts.external else "budget_plot_test.png"


def _set_section(ts: TestSet, rows: list[dict[str, Any]], comps: list[dict[str, Any]],
                 gate_line: list[str]) -> list[str]:
    """The markdown of one test set: results, thresholds, conclusions and paired tests."""
    if len({t.seed for t in ts.trials}) > 1:
        cells = ("mean accuracy ± SD across seeds / mean ROC AUC from probabilities ± SD / "
                 "mean AUC from hard labels (the study's convention, = balanced accuracy)")
    else:
        cells = ("accuracy [95% Wilson CI] / ROC AUC from probabilities [95% DeLong CI] / "
                 "AUC from hard labels (the study's convention, = balanced accuracy)")
    md = [f"## {set_title(ts)}", "", f"Cells: {cells}, at threshold 0.5.", "",
          summary_table(rows), ""]
    thresholds = threshold_table(rows)
    if thresholds:
        md += ["### At a threshold chosen on validation (Youden's J)", "",
               "Prevalence differs between test sets, so a fixed 0.5 threshold carries the "
               "training data's calibration to them. Each trial's threshold maximises "
               "sensitivity + specificity - 1 on its own validation split; the metrics there "
               "(Youden) stand beside those at 0.5 (mean over seeds; AUC does not depend on "
               "the threshold).", "", thresholds, ""]
    lines = conclusions(comps) or ["No GAN arm is compared with `oversample` here: the grid "
                                   "lacks one or the other."]
    md += ["### Conclusions", "", *[f"- {c}" for c in lines], *gate_line, ""]
    across = across_seeds_table(comps)
    if across:
        md += ["### Across seeds", "",
               "Each arm against `real` and `oversample` at the same budget: the per-seed "
               "differences (same seed, same test images), their mean with its 95% Student-t "
               "interval, the paired Wilcoxon signed-rank test and the paired t-test. With "
               "fewer than 6 seeds a two-sided Wilcoxon p cannot fall below 0.05, so "
               "conclusions use the t-test. comparisons.csv also holds the percentile "
               "bootstrap of the mean (`*_boot_lo`, `*_boot_hi`): with few seeds it is not a "
               "95% interval (with 3 seeds it is about the min-max of the three differences "
               "and covers about 75%), so it is not shown here; and the smallest difference "
               f"each test detects with 80% power (`mdd_*`). {HOLM_TEXT}.",
               "", across, ""]
    md += ["### Per-seed comparisons", "",
           "Each arm against `real` and `oversample` at the same budget and seed, on the same "
           f"test images: DeLong test for the AUC difference, McNemar test for accuracy. "
           f"{HOLM_TEXT}.", "",
           comparison_table(comps), ""]
    return md


def write_report(trials: list[Trial], y: np.ndarray, out_dir, title: str,
                 grids: dict[str, bytes] | None = None, notes: list[str] | None = None,
                 fidelity: list[dict[str, Any]] | None = None,
                 gates: list[dict[str, Any]] | None = None,
                 curves: dict[tuple[str, int, int], list] | None = None,
                 external: list[TestSet] | None = None) -> list:
    """Write report.md, budget_plot.png, comparisons.csv and sample grids to `out_dir`;
    returns the paths written. `trials` and `y` are the sweep's own test split; each of
    `external` is another test set (an external collection, or the split without its leaked
    images), reported the same way in a section of its own, with its own Holm families."""
    import csv

    sets = [TestSet("test", y, trials), *(external or [])]
    for ts in sets:
        check_paired(ts.trials, ts.y, ts.name if ts.external else "")
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rows_of = {ts.name: per_trial(ts.trials, ts.y) for ts in sets}
    comps_of = {ts.name: comparisons(ts.trials, ts.y) for ts in sets}
    rows = rows_of["test"]
    paths = [out / "budget_plot.png", out / "comparisons.csv"]
    paths[0].write_bytes(budget_plot_png({_short(ts): rows_of[ts.name] for ts in sets}))
    for ts in sets:  # one figure per test set too, for a section of its own
        path = out / budget_plot_file(ts)
        path.write_bytes(budget_plot_png({_short(ts): rows_of[ts.name]}))
        paths.append(path)
    keys = ["test_set", "level", "budget", "seed", "n", "arm", "ref",
            *[k.format(m) for m in ("auc", "acc") for k in (
                "d_{}", "d_{}_lo", "d_{}_hi", "d_{}_boot_lo", "d_{}_boot_hi", "sd_{}", "mdd_{}")],
            "p_auc", "p_auc_holm", "p_ttest", "p_ttest_holm", "p_acc", "p_acc_holm",
            "p_acc_ttest", "p_acc_ttest_holm"]
    with paths[1].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for ts in sets:
            w.writerows({"test_set": ts.name, **c} for c in comps_of[ts.name])
    seeds = sorted({t.seed for t in trials})
    gate_line = [f"- {gate_conclusion(gates)}"] if gates is not None else []
    md = [f"# raygan report: {title}", "",
          f"{len(trials)} classifier trials; {len(seeds)} seed(s) ({', '.join(map(str, seeds))});"
          f" {len(sets)} test set{'s' if len(sets) > 1 else ''}: "
          f"{'; '.join(_short(ts) for ts in sets)}. Each test set has its section below, with "
          "its own paired tests and Holm correction.", "",
          "![accuracy and AUC against budget, one row per test set](budget_plot.png)", ""]
    for ts in sets:
        md += _set_section(ts, rows_of[ts.name], comps_of[ts.name], gate_line)
    md += ["## The published study beside this run", "",
           "Only the figures the study's text states, against the test split; AUC (hard) is "
           "its convention.", "", study_table(rows), ""]
    if gates:
        cas = {(r["arm"], r["budget"], r["seed"]): r["cas_auc"] for r in fidelity or []
               if "cas_auc" in r}
        md += ["## GAN quality gate", "", GATE_TEXT, "", gate_table(gates, cas), ""]
        if curves and any(curves.values()):
            path = out / "convergence.png"
            path.write_bytes(convergence_png(curves))
            paths.append(path)
            md += ["![quality/gap against step](convergence.png)", ""]
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
            path = out / SAMPLES_DIR / f"{name.replace(':', '_')}.png"
            path.write_bytes(png)
            paths.append(path)
            md += [f"**{name}**", "", f"![{name}]({SAMPLES_DIR}/{path.name})", ""]
    if notes:
        md += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    report = out / REPORT_FILE
    report.write_text("\n".join(md))
    summary = out / SUMMARY_FILE
    summary.write_text(summary_md(title, sets, rows_of, gates, fidelity, comps_of))
    return [report, *paths, summary]


def summary_md(title: str, sets: list[TestSet], rows_of: dict[str, list[dict[str, Any]]],
               gates: list[dict[str, Any]] | None,
               fidelity: list[dict[str, Any]] | None,
               comps_of: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """The report at a glance: per test set accuracy / AUC (mean ± SD across seeds), its
    budget plot and each GAN fill against oversampling (difference, interval, Holm-adjusted
    p, seed count); the published study's figures beside ours; the quality gate per GAN and
    budget, and CAS per GAN and budget."""
    seeds = sorted({t.seed for t in sets[0].trials})
    several = len(seeds) > 1
    md = [f"# {title} at a glance", "",
          f"{len(seeds)} seed(s); cells are accuracy / ROC AUC at threshold 0.5"
          + (", mean ± SD across seeds" if several else "") + ". The full report, with "
          "intervals, paired tests and Holm-adjusted p-values, is report.md.", ""]
    how = {m: ("mean difference across seeds [95% t-interval], the paired t-test's p after "
               "Holm (bold below 0.05), and in how many seeds the fill scored higher") if several
           else (f"difference on the test images, the {test} test's p after Holm (bold below "
                 "0.05)") for m, test in (("auc", "DeLong"), ("acc", "McNemar"))}
    for ts in sets:
        md += [f"## {set_title(ts)}", "", compact_table(rows_of[ts.name]), "",
               f"![accuracy and AUC against N]({budget_plot_file(ts)})", ""]
        comps = (comps_of or {}).get(ts.name, [])
        for metric, name in (("auc", "AUC"), ("acc", "accuracy")):
            grid = effect_grid(comps, metric)
            if grid:
                md += [f"GAN fill minus oversampling, test {name}: {how[metric]}.", "", grid, "",
                       unseen_note(comps, metric), ""]
        if not ts.external and ts.leaks is None:
            md += ["The published study beside this run (its text's figures; AUC (hard) is "
                   "its convention):", "", study_table(rows_of[ts.name]), ""]
    if gates:
        md += ["## GAN quality gate (final quality/gap; gate 1.5)", "", gate_grid(gates), ""]
    cas = cas_grid(fidelity or [])
    if cas:
        md += ["## CAS AUC (real benign + generated malignant only; the real test split)", "",
               cas, ""]
    return "\n".join(md)
