"""The report's view of GAN convergence: the quality-gate table, what the conclusions rest on,
and the convergence figure (quality/gap against step, one line per family)."""

from __future__ import annotations

import io
import math
from typing import Any

from raygan.eval.quality import GATE_GAP

GATE_TEXT = (f"A GAN run passes the quality gate when its final `quality/gap` is at most "
             f"{GATE_GAP:g}: its samples are no farther from its N real malignant images than "
             "real benign lesions are (0 = as close as more real malignant images; "
             "raygan/eval/quality.py).")


def gate_table(gates: list[dict[str, Any]], cas: dict[tuple, float] | None = None) -> str:
    """One row per GAN run: steps trained, early stop, final gap, verdict (and CAS AUC)."""
    head = "| GAN | N | seed | steps (max) | stopped early | final gap | converged |"
    sep = "|---|---|---|---|---|---|---|"
    if cas:
        head, sep = head + " CAS AUC |", sep + "---|"
    lines = [head, sep]
    for g in gates:
        gap = "" if not math.isfinite(g["gap"]) else f"{g['gap']:.2f}"
        row = (f"| {g['arm']} | {g['budget']} | {g['seed']} | {g['steps']} ({g['max_steps']}) |"
               f" {'yes' if g['stopped_early'] else 'no'} | {gap} | {g['converged']} |")
        if cas:
            value = cas.get((g["arm"], g["budget"], g["seed"]))
            row += f" {value:.3f} |" if value is not None else " |"
        lines.append(row)
    return "\n".join(lines)


def gate_conclusion(gates: list[dict[str, Any]]) -> str:
    """One sentence: did every GAN run pass the gate, and which cells rest on one that did not."""
    if not gates:
        return "No GAN run was trained in this sweep."
    bad = [g for g in gates if g["converged"] == "no"]
    unknown = [g for g in gates if g["converged"] == "unknown"]
    passed = len(gates) - len(bad) - len(unknown)
    text = f"{passed} of {len(gates)} GAN runs passed the quality gate"
    if bad:
        cells = ", ".join(f"{g['arm']} N={g['budget']} seed {g['seed']}" for g in bad)
        text += (f"; {len(bad)} did not converge ({cells}): every comparison of those arms at "
                 "those budgets rests on a GAN that did not train, and says nothing about "
                 "trained GANs")
    if unknown:
        text += f"; {len(unknown)} had no quality probe (eval_every = 0 or too few images)"
    return text + "."


def convergence_png(curves: dict[tuple[str, int, int], list[tuple[int, float]]]) -> bytes:
    """quality/gap against optimizer step: one panel per budget, one colour per family, every
    seed a line; the floor (0), the benign yardstick (1) and the gate marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({b for _, b, _ in curves})
    arms = sorted({a for a, _, _ in curves})
    colours = {a: plt.cm.tab10(i) for i, a in enumerate(arms)}
    fig, axes = plt.subplots(1, max(len(budgets), 1), figsize=(4.6 * max(len(budgets), 1), 3.8),
                             squeeze=False, sharey=True)
    for ax, budget in zip(axes[0], budgets, strict=False):
        for (arm, b, seed), points in sorted(curves.items()):
            if b != budget or not points:
                continue
            steps, gaps = zip(*points, strict=True)
            ax.plot(steps, gaps, color=colours[arm], lw=1.2, alpha=0.9,
                    label=arm if seed == min(s for a, bb, s in curves if a == arm and bb == b)
                    else None)
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
