"""The results table: arm x budget, accuracy / AUC (mean over seeds), as text, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from typing import Any

from raygan.cell import Cell, budget_key

COLUMNS = ("arm", "budget", "seed", "test/acc", "test/auc", "test/auc_hard", "test/sensitivity",
           "test/specificity", "test/balanced_acc", "val/auc", "best_epoch", "gan_gap",
           "gan_converged", "error")


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """One line per trial, failed trials included with their error."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in sorted(rows, key=lambda r: (r["arm"], budget_key(r["budget"]), r["seed"])):
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def summary(rows: list[dict[str, Any]]) -> tuple[list[str], list[Any], dict]:
    """(arms, budgets, {(arm, budget): (mean acc, mean auc, n ok, n failed)})."""
    cells: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cells[(r["arm"], r["budget"])].append(r)
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    budgets = sorted({r["budget"] for r in rows}, key=budget_key)
    out = {}
    for key, rs in cells.items():
        ok = [r for r in rs if not r.get("error")]
        acc = sum(r["test/acc"] for r in ok) / len(ok) if ok else math.nan
        auc = sum(r["test/auc"] for r in ok) / len(ok) if ok else math.nan
        out[key] = (acc, auc, len(ok), len(rs) - len(ok))
    return arms, budgets, out


def markdown(rows: list[dict[str, Any]]) -> str:
    """Arm x budget table of test accuracy / AUC (from probabilities), mean over seeds."""
    arms, budgets, cells = summary(rows)
    lines = ["| arm | " + " | ".join(f"N={b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for arm in arms:
        vals = []
        for b in budgets:
            if (arm, b) not in cells:
                vals.append("")
                continue
            acc, auc, n_ok, n_fail = cells[(arm, b)]
            text = "failed" if n_ok == 0 else f"{acc:.3f} / {auc:.3f}"
            if n_fail and n_ok:
                text += f" ({n_fail} failed)"
            n_bad = sum(r.get("gan_converged") == "no" for r in rows
                        if r["arm"] == arm and r["budget"] == b)
            if n_bad:
                text += f" (GAN not converged in {n_bad} seed{'s' if n_bad > 1 else ''})"
            vals.append(text)
        lines.append(f"| {arm} | " + " | ".join(vals) + " |")
    if any(r.get("gan_converged") == "no" for r in rows):
        lines.append("")
        lines.append("(GAN not converged): the GAN behind that fill failed the quality gate "
                     "(final quality/gap above the threshold in raygan/eval/quality.py).")
    errors = [r for r in rows if r.get("error")]
    if errors:
        lines.append("")
        lines.append("Failed trials:")
        for r in errors:
            lines.append(f"- {Cell(r['arm'], r['budget'], r['seed']).run_name}: {r['error']}")
    return "\n".join(lines) + "\n"
