"""The report's view of GAN convergence: the quality-gate table, what the conclusions rest on,
and the convergence figure (quality/gap against step, one line per family)."""

from __future__ import annotations

import io
import math

from raygan.cell import Cell, Gate
from raygan.eval.quality import GATE_GAP, MEMORIZATION_GAP, REAL_GAP_RANGE, possible_memorization

MEMORIZATION = "possible memorization"  # the mark of a final gap below MEMORIZATION_GAP
MEMORIZATION_NOTE = (f"A final gap below {MEMORIZATION_GAP:g}, under the range that real malignant "
                     "images from outside the budget read "
                     f"({REAL_GAP_RANGE[0]:+.2f} to {REAL_GAP_RANGE[1]:+.2f}), is marked "
                     f"'{MEMORIZATION}': the floor compares two halves of the images the GAN "
                     "trained on, so samples that copy them can read below 0. The mark is extra "
                     "information; the run passes or fails the gate as before.")
GATE_TEXT = (f"A GAN run passes the quality gate when its final `quality/gap` is at most "
             f"{GATE_GAP:g}: its samples are at most {GATE_GAP:g} times as far from its N real "
             "malignant images, above the real-vs-real floor, as real benign lesions are (0 = as "
             "close as more real malignant images, 1 = as far as real benign lesions; "
             f"raygan/eval/quality.py). {GATE_GAP:g} is a permissive threshold chosen by raygan, "
             "not a guarantee that the samples are no farther than benign lesions: a run "
             f"between 1 and {GATE_GAP:g} passes although its samples are farther. The stop rule "
             f"(`stop_below`, by default {GATE_GAP:g}) stops a run only at or below the gate, so "
             f"every run that stopped early passes by construction. {MEMORIZATION_NOTE}")


def gate_table(gates: list[Gate], cas: dict[Cell, float] | None = None,
               copies: dict[Cell, float] | None = None) -> str:
    """One row per generated run: steps trained, early stop, final gap (marked where it reads
    below the real-vs-real range), verdict (and CAS AUC; and the fill's share of near-copies of
    its training images, marked where the fill is made of training copies)."""
    from raygan.eval.markdown import near_copy_cell

    head = "| GAN | N | seed | steps (max) | stopped early | final gap | converged |"
    sep = "|---|---|---|---|---|---|---|"
    if cas:
        head, sep = head + " CAS AUC |", sep + "---|"
    if copies:
        head, sep = head + " near-copies |", sep + "---|"
    lines = [head, sep]
    for g in gates:
        gap = "" if not math.isfinite(g.gap) else f"{g.gap:.2f}"
        if possible_memorization(g.gap):
            gap += f" ({MEMORIZATION})"
        row = (f"| {g.arm} | {g.budget} | {g.seed} | {g.steps} ({g.max_steps}) |"
               f" {'yes' if g.stopped_early else 'no'} | {gap} | {g.converged} |")
        if cas:
            value = cas.get(g.cell)
            row += f" {value:.3f} |" if value is not None else " |"
        if copies:
            share = copies.get(g.cell)
            row += f" {near_copy_cell(share)} |" if share is not None else " |"
        lines.append(row)
    return "\n".join(lines)


GAP_BANDS = ((-math.inf, 1.0, "gap <= 1 (no farther than benign)"),
             (1.0, GATE_GAP, f"1 < gap <= {GATE_GAP:g}"),
             (GATE_GAP, math.inf, f"gap > {GATE_GAP:g} (fails)"))


def gate_cas_table(gates: list[Gate], cas: dict[Cell, float]) -> str:
    """What the gate says about CAS: per budget, the GAN runs in each band of final gap (no
    farther than benign lesions; passing but farther; failing) with their mean CAS AUC, and
    Spearman's rho between gap and CAS over the budget's runs. Empty without CAS."""
    from scipy.stats import spearmanr

    runs = [(g.budget, g.gap, cas[g.cell]) for g in gates
            if g.cell in cas and math.isfinite(g.gap) and math.isfinite(cas[g.cell])]
    if not runs:
        return ""
    budgets = sorted({b for b, _, _ in runs}, key=float)
    lines = ["| N | " + " | ".join(name for _, _, name in GAP_BANDS)
             + " | Spearman rho (gap, CAS) |", "|---|" + "---|" * (len(GAP_BANDS) + 1)]
    for b in budgets:
        rs = [(gap, c) for bb, gap, c in runs if bb == b]
        cells = []
        for lo, hi, _ in GAP_BANDS:
            band = [c for gap, c in rs if lo < gap <= hi]
            cells.append(f"{len(band)} run{'s' if len(band) > 1 else ''}, CAS "
                         f"{sum(band) / len(band):.3f}" if band else "none")
        gaps, cass = [g for g, _ in rs], [c for _, c in rs]
        rho = (f"{spearmanr(gaps, cass).statistic:+.2f} ({len(rs)} runs)"
               if len(rs) >= 3 and len(set(gaps)) > 1 and len(set(cass)) > 1 else "")
        lines.append(f"| {b} | " + " | ".join(cells) + f" | {rho} |")
    return "\n".join(lines)


def gate_conclusion(gates: list[Gate]) -> str:
    """One sentence: did every GAN run pass the gate, which cells rest on one that did not, and
    which runs read below the real-vs-real range (possible memorization)."""
    if not gates:
        return "No GAN run was trained in this sweep."
    bad = [g for g in gates if g.converged == "no"]
    unknown = [g for g in gates if g.converged == "unknown"]
    passed = len(gates) - len(bad) - len(unknown)
    early = sum(g.stopped_early and g.converged == "yes" for g in gates)
    text = (f"{passed} of {len(gates)} GAN runs passed the quality gate (final gap at most "
            f"{GATE_GAP:g}, a permissive threshold"
            + (f"; {early} of them stopped early, and the stop rule stops a run only at or "
               "below the gate, so those pass by construction)" if early else ")"))
    if bad:
        cells = ", ".join(f"{g.arm} N={g.budget} seed {g.seed}" for g in bad)
        text += (f"; {len(bad)} did not converge ({cells}): every comparison of those arms at "
                 "those budgets rests on a GAN that did not train, and says nothing about "
                 "trained GANs")
    if unknown:
        text += f"; {len(unknown)} had no quality probe (eval_every = 0 or too few images)"
    copies = [g for g in gates if possible_memorization(g.gap)]
    if copies:
        runs = ", ".join(f"{g.arm} N={g.budget} seed {g.seed} ({g.gap:.2f})"
                         for g in copies)
        text += (f"; {len(copies)} read below the real-vs-real range (final gap below "
                 f"{MEMORIZATION_GAP:g}), {MEMORIZATION}: {runs}; their samples are closer to "
                 "the GAN's training images than fresh real malignant images are, which the gate "
                 "does not penalize")
    return text + "."


def convergence_png(curves: dict[Cell, list[tuple[int, float]]]) -> bytes:
    """quality/gap against optimizer step: one panel per budget, one colour per family, every
    seed a line; the floor (0), the benign yardstick (1) and the gate marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({c.budget for c in curves})
    arms = sorted({c.arm for c in curves})
    colours = {a: plt.cm.tab10(i) for i, a in enumerate(arms)}
    fig, axes = plt.subplots(1, max(len(budgets), 1), figsize=(4.6 * max(len(budgets), 1), 3.8),
                             squeeze=False, sharey=True)
    for ax, budget in zip(axes[0], budgets, strict=False):
        for cell, points in sorted(curves.items(), key=lambda kv: kv[0].sort_key):
            if cell.budget != budget or not points:
                continue
            steps, gaps = zip(*points, strict=True)
            first = min(c.seed for c in curves if c.arm == cell.arm and c.budget == budget)
            ax.plot(steps, gaps, color=colours[cell.arm], lw=1.2, alpha=0.9,
                    label=cell.arm if cell.seed == first else None)
        ax.axhline(0.0, color="k", lw=0.8, ls="--", label="floor: real vs real")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="benign lesions")
        if GATE_GAP != 1.0:
            ax.axhline(GATE_GAP, color="r", lw=0.8, ls="-.", label="gate")
        ax.set(title=f"N = {budget}", xlabel="optimizer step", yscale="symlog")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("quality/gap (lower = closer to real malignant)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
