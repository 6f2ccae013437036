"""The sweep report: writes report.md with its tables, plots and CSVs from `numbers`,
`markdown` and `plots`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from raygan.artifacts import PAIRS_DIR, REPORT_FILE, SAMPLES_DIR, SUMMARY_FILE
from raygan.cell import Cell, Gate
from raygan.eval.bundle import FIDELITY_KEYS
from raygan.eval.convergence import (
    GATE_TEXT,
    convergence_png,
    gate_cas_table,
    gate_conclusion,
    gate_table,
)
from raygan.eval.grid import GridStatus, unknown_grid_reason
from raygan.eval.markdown import (
    HOLM_TEXT,
    VERDICT_METHOD,
    _cas_note,
    across_seeds_table,
    cas_grid,
    compact_table,
    comparison_table,
    conclusions,
    fidelity_correlation_table,
    fidelity_table,
    gate_grid,
    study_table,
    summary_table,
    threshold_table,
    unseen_note,
    verdict_count_text,
    verdict_table,
)
from raygan.eval.memorization import (
    COPIED_FILL,
    NEAR_COPY_RMS,
    NEAR_COPY_SIZE,
    PAIRS_SHOWN,
    copied,
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
from raygan.eval.probes import probe_section, probe_sentences, split_probes
from raygan.eval.quality import GATE_GAP
from raygan.eval.verdicts import Primary, primary_family, secondary_families

__all__ = ["TestSet", "check_paired", "set_title", "write_report"]

NEAR_COPIES_TEXT = (f"Near-copies: share of generated images within {NEAR_COPY_RMS:g} per-pixel "
                    f"RMS ({NEAR_COPY_SIZE} px, [0, 1] scale) of one of the N real training "
                    "images of their cell, as close as a second photo of the same lesion (fresh "
                    "real images: about 1 %).")
COPIES_NONE = (f"No fill holds {COPIED_FILL:.0%} or more near-copies of its cell's training "
               "images.")


def copies_sentence(fidelity: list[dict[str, Any]]) -> str:
    """The sentence that names every run whose fill is made of training copies; '' if none."""
    runs = [r for r in fidelity if "near_copies" in r and copied(r["near_copies"])]
    if not runs:
        return ""
    cells = ", ".join(f"{r['arm']} N={r['budget']} seed {r['seed']} ({r['near_copies']:.0%})"
                      for r in runs)
    return (f"{len(runs)} generated fill{'s are' if len(runs) > 1 else ' is'} made of training "
            f"copies ({COPIED_FILL:.0%} or more of the images are near-copies of the cell's N "
            f"real training images): {cells}. A fill made of training copies is not a "
            "synthetic fill: its arm oversamples the real images through a generator, and its "
            "comparisons say nothing about synthesis.")


def prdc_note(fidelity: list[dict[str, Any]]) -> list[str]:
    """The paragraph that explains precision, recall, density, coverage and the
    nearest-neighbour ratio, or says that the sweep's fidelity section did not measure them."""
    if not any("recall" in r for r in fidelity):
        return ["Precision, recall, density and coverage, and the nearest-neighbour ratio of "
                "the memorization check, were not measured for this sweep (its fidelity "
                "section predates them); `raygan report --name NAME --fidelity` on the sweep "
                "measures them.", ""]
    k = int(next(r["prdc_k"] for r in fidelity if "prdc_k" in r))
    sizes = sorted({int(r["prdc_images"]) for r in fidelity if "prdc_images" in r})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"
    return [f"Precision, recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. "
            f"2020), k = {k}, in the same features: each run's fill against as many real "
            "malignant training images that its generator never saw (outside its cell's "
            f"budget; {size} of each per run). Precision is the share of generated images "
            "inside the real images' k-nearest-neighbour balls (realism), recall the share of "
            "real images inside the generated images' balls (diversity), density the mean "
            "number of real balls a generated image falls in over k (about 1 for two samples of "
            "one distribution), coverage the share of real balls that hold a generated image. "
            "Recall is the number that tells a collapsed generator, or one that repeats a few "
            "training images, from a diverse one: repeats shrink the generated balls to "
            "nothing, so recall falls to 0 while precision stays high. A generator that hands "
            "back each of many training images about once reads as diverse to all four (they "
            "are real images); the near-copies and the NN ratio catch it. NN ratio: each "
            "generated image's distance to its nearest "
            "training image (pixels, as for near-copies) over the median distance of the "
            "held-out real images to the same training images; 1 = as far from the training "
            "set as a fresh lesion, 0 = a copy (minimum and median over the fill).", ""]


def _pairs_section(out: Path, fidelity: list[dict[str, Any]], pairs: dict[Cell, bytes] | None,
                   paths: list) -> list[str]:
    """Each run's closest (generated, training) pairs, written to out/pairs/ (the report folder
    alone: a results folder keeps no images); a results folder's report says where they are."""
    if not pairs:
        return ["The closest (generated, training) pairs of each run are images, which a "
                "results folder does not keep: `raygan report --name NAME --fidelity` on the "
                "sweep draws them into its report folder.", ""]
    (out / PAIRS_DIR).mkdir(exist_ok=True)
    md = ["### Closest (generated, training) pairs", "",
          f"Per run, the {PAIRS_SHOWN} generated images nearest to a training image of their "
          "cell: each generated image (left) beside its nearest training image (right), "
          "captioned with its rank, RMS distance and NN ratio. A fill of copies shows the same "
          "picture twice.", ""]
    for cell in sorted(pairs, key=lambda c: c.sort_key):
        path = out / PAIRS_DIR / f"{cell.run_name.replace(':', '_')}.png"
        path.write_bytes(pairs[cell])
        paths.append(path)
        md += [f"**{cell.run_name}**", "", f"![{cell.run_name}]({PAIRS_DIR}/{path.name})", ""]
    return md


def set_title(ts: TestSet) -> str:
    """A test set's name and size, as its section and plot panels name it. An external set's
    also gives its duplicate audit, the classes of the duplicates, and the prevalence of the
    images tested, computed after the audit (and before it, where the audit dropped some)."""
    size = f"{len(ts.y)} images ({int(ts.y.sum())} malignant)"
    if ts.leaks is not None:
        return (f"Test split without re-captured lesions (sensitivity): {size}; {ts.leaks} "
                f"test image{'s' if ts.leaks != 1 else ''} that re-capture a training lesion "
                "dropped by the leakage audit")
    if not ts.external:
        return f"Test split: {size}"
    head = f"External test set {ts.name}: {size}"
    prevalence = f"prevalence {100 * ts.y.mean():.1f} %"
    if ts.duplicates is None:
        return f"{head}; number of duplicates of training images unknown; {prevalence}"
    n, mal, kept = ts.duplicates, ts.duplicates_malignant, ts.kept_duplicates
    audit = (f"{n} duplicate{'s' if n != 1 else ''} of training images "
             f"{'kept' if kept else 'dropped'} by the duplicate audit")
    if not n or kept or mal is None:
        classes = "" if not n or mal is None else f" ({mal} malignant)"
        after = "" if not n or kept else " after the audit"
        return f"{head}; {audit}{classes}; {prevalence}{after}"
    if mal in (0, n):  # the audit took images of one class: the set it leaves is label-selected
        classes = (f", {'all ' if n > 1 else ''}{'malignant' if mal else 'benign'}: "
                   "a label-selected subset")
    else:
        classes = f" ({mal} malignant, {n - mal} benign)"
    before = 100 * (ts.y.sum() + mal) / (len(ts.y) + n)
    return f"{head}; {audit}{classes}; {prevalence} after the audit ({before:.1f} % before)"


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


def no_comparison(trials: list, primary: Primary, grid: GridStatus | None) -> str:
    """Why no generative arm of `trials` is compared with the primary reference: an arm the
    sweep's grid does not hold (design), or one it holds that has not finished (partial)."""
    return (grid.why_no_comparison(trials, primary.ref, primary.metric) if grid is not None
            else unknown_grid_reason(trials, primary.ref))


def _set_section(ts: TestSet, rows: list[dict[str, Any]], comps: list[dict[str, Any]],
                 gate_line: list[str], primary: list[dict[str, Any]],
                 secondary: dict[str, list[dict[str, Any]]], primary_cmp: Primary,
                 grid: GridStatus | None) -> list[str]:
    """The markdown of one test set: results, thresholds, verdicts, and the secondary views."""
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
    other = next((fam for name, fam in secondary.items()
                  if name.startswith("the primary comparison in")), [])
    label = ("primary" if ts.name == "test"  # the sweep's own split; the others are secondary
             else "secondary: the primary comparison on this test set")
    lines = conclusions(primary, other, label) or [
        "No generative arm is compared with the primary reference here: "
        f"{no_comparison(ts.trials, primary_cmp, grid)}."]
    md += ["### Conclusions", "", *[f"- {c}" for c in lines], *gate_line, ""]
    for name, fam in secondary.items():
        if fam:
            md += [f"### Secondary: {name}", "",
                   f"Its own Holm family of {len(fam)}: {verdict_count_text(fam)}.", "",
                   verdict_table(fam), ""]
    across = across_seeds_table(comps)
    if across:
        md += ["### Across seeds, seed variance only (secondary view)", "",
               "Each arm against `real` and `oversample` at the same budget: the per-seed "
               "differences (same seed, same test images), their mean with its 95% Student-t "
               "interval, the paired Wilcoxon signed-rank test and the paired t-test. These "
               "treat the test images as fixed: every seed is scored on the same ones, so they "
               "answer 'on these images' and not 'on new patients'; the verdicts above cover "
               "both. With fewer than 6 seeds a two-sided Wilcoxon p cannot fall below 0.05. "
               "comparisons.csv also holds the percentile bootstrap of the mean "
               "(`*_boot_lo`, `*_boot_hi`): with 3 seeds it covers about 75%, so it is not "
               "shown here; and the smallest difference each test detects with 80% power at "
               f"the alpha of its Holm family's first step (`mdd_*_holm`). {HOLM_TEXT}.",
               "", across, ""]
    for metric in ("auc", "acc"):
        note = unseen_note(comps, metric)
        if note:
            md += [note, ""]
    md += ["### Per-seed comparisons, test images only (secondary view)", "",
           "Each arm against `real` and `oversample` at the same budget and seed, on the same "
           f"test images: DeLong test for the AUC difference, McNemar test for accuracy. "
           f"{HOLM_TEXT}.", "",
           comparison_table(comps), ""]
    return md


def write_report(trials: list[Trial], y: np.ndarray, out_dir, title: str,
                 grids: dict[str, bytes] | None = None, notes: list[str] | None = None,
                 fidelity: list[dict[str, Any]] | None = None,
                 gates: list[Gate] | None = None,
                 curves: dict[Cell, list[tuple[int, float]]] | None = None,
                 external: list[TestSet] | None = None,
                 primary: Primary | None = None, classifier: str = "",
                 grid: GridStatus | None = None,
                 pairs: dict[Cell, bytes] | None = None) -> list:
    """Write report.md, budget_plot.png, comparisons.csv and sample grids to `out_dir`;
    returns the paths written. `trials` and `y` are the sweep's own test split; each of
    `external` is another test set (an external collection, or the split without its leaked
    images), reported the same way in a section of its own, with its own Holm families.
    `primary` is the comparison the sweep declared (raygan's default where it declared none):
    the report leads with its verdicts on the test split. `classifier` names the model every
    trial of the sweep trained (one per sweep: its conclusions are that classifier's). `grid`
    is the sweep's grid against its finished runs: a partial one titles the report partial and
    lists the missing cells. `pairs` holds, per generated run, the PNG of its closest
    (generated, training) pairs (the fidelity stage's; a results folder keeps no images)."""
    import csv
    import dataclasses

    sets = [TestSet("test", y, trials), *(external or [])]
    for ts in sets:
        check_paired(ts.trials, ts.y, ts.name if ts.external else "")
    # Shortcut probes have their own section and stay out of every other table and family.
    probe_sets = [(_short(ts), ts.y, ts.trials) for ts in sets]
    probes = probe_section(probe_sets)
    sets = [dataclasses.replace(ts, trials=split_probes(ts.trials)[0]) for ts in sets]
    trials = sets[0].trials
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rows_of = {ts.name: per_trial(ts.trials, ts.y) for ts in sets}
    comps_of = {ts.name: comparisons(ts.trials, ts.y) for ts in sets}
    primary = primary or Primary(declared=False)
    primary_of = {ts.name: primary_family(ts.trials, ts.y, primary) for ts in sets}
    secondary_of = {ts.name: secondary_families(ts.trials, ts.y, primary, ts.name == "test")
                    for ts in sets}
    rows = rows_of["test"]
    paths = [out / "budget_plot.png", out / "comparisons.csv", out / "verdicts.csv"]
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
    vkeys = ["test_set", "family", "budget", "arm", "ref", "metric", "n", "d", "se", "df", "lo",
             "hi", "sim_lo", "sim_hi", "s2", "cov", "margin", "p", "p_holm", "p_equiv",
             "p_equiv_holm", "p_noninf", "p_noninf_holm", "higher", "lower", "verdict",
             "seeds_verdict", "seeds_equiv", "family_size"]
    with paths[2].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=vkeys, extrasaction="ignore")
        w.writeheader()
        for ts in sets:
            fams = {("primary" if ts.name == "test" else "primary comparison on this test set"):
                    primary_of[ts.name], **secondary_of[ts.name]}
            for fam, fam_rows in fams.items():
                w.writerows({"test_set": ts.name, "family": fam, **r} for r in fam_rows)
    seeds = sorted({t.seed for t in trials})
    gate_line = [f"- {gate_conclusion(gates)}"] if gates is not None else []
    copied_runs = copies_sentence(fidelity or [])
    if copied_runs:
        gate_line.append(f"- {copied_runs}")
    md = [*_head(f"raygan report: {title}", grid, title),
          f"{len(trials)} classifier trials; {len(seeds)} seed(s) ({', '.join(map(str, seeds))});"
          f" {len(sets)} test set{'s' if len(sets) > 1 else ''}: "
          f"{'; '.join(_short(ts) for ts in sets)}. Each test set has its section below, with "
          "its own paired tests and Holm correction.", "",
          *([f"Classifier of every trial: {classifier}. Every verdict below is this "
             "classifier's; a sweep with another --classifier answers for its own.", ""]
            if classifier else []),
          *primary_section(primary, primary_of["test"], no_comparison(trials, primary, grid)),
          "![accuracy and AUC against budget, one row per test set](budget_plot.png)", ""]
    for ts in sets:
        md += _set_section(ts, rows_of[ts.name], comps_of[ts.name], gate_line,
                           primary_of[ts.name], secondary_of[ts.name], primary, grid)
    md += probes
    md += ["## The published study beside this run", "",
           "Only the figures the study's text states, against the test split; AUC (hard) is "
           "its convention.", "", study_table(rows), ""]
    if gates:
        cas = {Cell(r["arm"], r["budget"], r["seed"]): r["cas_auc"] for r in fidelity or []
               if "cas_auc" in r}
        copies = {Cell(r["arm"], r["budget"], r["seed"]): r["near_copies"]
                  for r in fidelity or [] if "near_copies" in r}
        md += ["## GAN quality gate", "", GATE_TEXT, "", gate_table(gates, cas, copies), ""]
        if copies:
            md += [copied_runs or COPIES_NONE, ""]
        by_band = gate_cas_table(gates, cas)
        if by_band:
            md += ["What the gate says about CAS: the GAN runs by their final gap, with their "
                   "mean CAS AUC (a negative rho: runs closer to the real images fill better).",
                   "", by_band, ""]
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
            w = csv.DictWriter(f, fieldnames=list(FIDELITY_KEYS), extrasaction="ignore")
            w.writeheader()
            w.writerows(fidelity)
        md += ["## Fidelity against downstream AUC", "",
               "Fréchet distance and KID on the features of the study's CNN trained in-project "
               "on the real training split (no Inception weights can be downloaded here): a "
               "relative measure between arms of this report, not comparable to published FID "
               f"values. {NEAR_COPIES_TEXT}", "",
               *prdc_note(fidelity), *_cas_note(fidelity, rows),
               fidelity_table(fidelity), "", "![fidelity against AUC](fidelity_plot.png)", "",
               *_pairs_section(out, fidelity, pairs, paths)]
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
    lead = probe_sentences(probe_sets)
    probe_lead = ("\n## Shortcut probes (in no comparison)\n\n"
                  + "".join(f"- {line}\n" for line in lead)) if lead else ""
    summary.write_text(summary_md(title, sets, rows_of, gates, fidelity, primary, primary_of,
                                  secondary_of, grid) + probe_lead)
    return [report, *paths, summary]


def summary_md(title: str, sets: list[TestSet], rows_of: dict[str, list[dict[str, Any]]],
               gates: list[Gate] | None,
               fidelity: list[dict[str, Any]] | None,
               primary: Primary | None = None,
               primary_of: dict[str, list[dict[str, Any]]] | None = None,
               secondary_of: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
               grid: GridStatus | None = None) -> str:
    """The report at a glance: the primary comparison's verdicts first; then per test set
    accuracy / AUC (mean ± SD across seeds), its budget plot and the primary comparison's
    verdicts there and in the other metric (secondary); the published study's figures beside
    ours; the quality gate per GAN and budget, and CAS per GAN and budget."""
    seeds = sorted({t.seed for t in sets[0].trials})
    several = len(seeds) > 1
    primary = primary or Primary(declared=False)
    primary_of, secondary_of = primary_of or {}, secondary_of or {}
    md = [*_head(f"{title} at a glance", grid, title),
          f"{len(seeds)} seed(s). The full report, with every family, interval and the "
          "secondary views, is report.md.", "",
          *primary_section(primary, primary_of.get("test", []),
                           no_comparison(sets[0].trials, primary, grid))]
    for ts in sets:
        md += [f"## {set_title(ts)}", "",
               "Accuracy / ROC AUC at threshold 0.5"
               + (", mean ± SD across seeds" if several else "") + ":", "",
               compact_table(rows_of[ts.name]), "",
               f"![accuracy and AUC against N]({budget_plot_file(ts)})", ""]
        if ts.name != "test" and primary_of.get(ts.name):
            fam = primary_of[ts.name]
            md += ["The primary comparison on this test set (secondary; its own Holm family: "
                   f"{verdict_count_text(fam)}):", "", verdict_table(fam), ""]
        for name, fam in secondary_of.get(ts.name, {}).items():
            if name.startswith("the primary comparison in") and fam:
                md += [f"Secondary: {name} (its own Holm family: {verdict_count_text(fam)}):",
                       "", verdict_table(fam), ""]
        if not ts.external and ts.leaks is None:
            md += ["The published study beside this run (its text's figures; AUC (hard) is "
                   "its convention):", "", study_table(rows_of[ts.name]), ""]
    if gates:
        md += [f"## GAN quality gate (final quality/gap; gate {GATE_GAP:g})", "",
               gate_grid(gates), ""]
    cas = cas_grid(fidelity or [])
    if cas:
        md += ["## CAS AUC (real benign + generated malignant only; the real test split)", "",
               cas, ""]
    return "\n".join(md)


def _head(heading: str, grid: GridStatus | None, sweep: str) -> list[str]:
    """A report's title, which a partial report's grid makes `Partial report: k of n cells
    missing`, followed there by the section that lists the missing cells."""
    if grid is None or not grid.partial:
        return [f"# {heading}", ""]
    return [f"# {grid.headline()}: {heading}", "", *grid.missing_section(sweep)]


def primary_section(primary: Primary, rows: list[dict[str, Any]], why_none: str = "") -> list[str]:
    """The report's lead: the primary comparison, its method, its verdicts and the seeds the
    undecided cells would need; without a cell to decide, `why_none` says why."""
    md = ["## Primary comparison", "", f"Declared: {primary.describe()}. One Holm family of "
          f"{len(rows)} tests; every other comparison in this report is secondary.", "",
          VERDICT_METHOD, ""]
    if not rows:
        return [*md, f"No generative arm is compared with `{primary.ref}`: "
                f"{why_none or 'the trials hold no such pair of cells'}; nothing to decide.", ""]
    one_seed = [*md, ONE_SEED_NOTE, ""] if max(int(r["n"]) for r in rows) < 2 else md
    return [*one_seed, f"Verdicts: {verdict_count_text(rows)}.", "", verdict_table(rows), ""]


ONE_SEED_NOTE = ("**One seed:** with a single seed the seed-to-seed variance cannot be estimated, "
                 "so every interval below holds the test images' variance alone (DeLong) and "
                 "is too narrow for what a new set of seeds would show; read these verdicts as "
                 "provisional, and run more seeds (`raygan run --resume --seeds ...`) before "
                 "relying on them.")
