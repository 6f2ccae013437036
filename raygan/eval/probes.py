"""The report's shortcut-probe section: how much of each test set's AUC a classifier reaches
without the lesion (raygan/data/probes.py), beside the full image's, the `oversample` arm whose
training set every probe shares. Probes are measurements of the data, not arms under test: no
verdict family holds them, and the report's other tables leave them out."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from raygan.cell import PROBE_PREFIX, budget_key
from raygan.data.probes import PROBES, probe_name

# Below 0.5 + NEAR_CHANCE the full image's AUC is too close to chance for a probe's share of
# its margin to mean anything (a ratio of two small, noisy margins: -111 % on ISIC 2017).
NEAR_CHANCE = 0.1
REFERENCE = "oversample"  # the arm whose training set each probe trains on, on full images


def is_probe(arm: str) -> bool:
    """Whether `arm` is a shortcut probe."""
    return arm.startswith(PROBE_PREFIX)


def split_probes(trials: list) -> tuple[list, list]:
    """(the arms' trials, the probes' trials)."""
    return ([t for t in trials if not is_probe(t.arm)], [t for t in trials if is_probe(t.arm)])


def _ordered(probes: set[str]) -> list[str]:
    """Probes in the order PROBES lists them, whatever order their trials came in."""
    rank = list(PROBES)
    return sorted(probes, key=lambda a: (rank.index(probe_name(a)) if probe_name(a) in rank
                                         else len(rank), a))


def probe_rows(trials: list, y: np.ndarray) -> list[dict[str, Any]]:
    """Per arm (each probe and REFERENCE) and budget: the mean and SD across seeds of the
    test AUC, and the seeds; only the budgets and seeds where the probe and REFERENCE both ran."""
    auc = defaultdict(dict)
    for t in trials:
        if is_probe(t.arm) or t.arm == REFERENCE:
            auc[(t.arm, t.budget)][t.seed] = float(roc_auc_score(y, t.p))
    rows = []
    for (arm, budget), by_seed in auc.items():
        ref = auc.get((REFERENCE, budget), {})
        seeds = sorted(set(by_seed) & set(ref))
        if not is_probe(arm) or not seeds:
            continue
        for name, values in ((arm, [by_seed[s] for s in seeds]),
                             (REFERENCE, [ref[s] for s in seeds])):
            rows.append({"arm": name, "budget": budget, "n": len(seeds),
                         "auc": float(np.mean(values)), "sd": float(np.std(values, ddof=1))
                         if len(values) > 1 else float("nan"), "seeds": tuple(seeds),
                         "probe": arm})
    return rows


def _mean_over_budgets(rows: list[dict[str, Any]], probe: str, arm: str) -> float:
    """The mean AUC of `arm` over every (budget, seed) that `probe` was compared in."""
    sel = [r for r in rows if r["probe"] == probe and r["arm"] == arm]
    return float(np.average([r["auc"] for r in sel], weights=[r["n"] for r in sel]))


def probe_sentences(sets: list[tuple[str, np.ndarray, list]]) -> list[str]:
    """One sentence per probe: its AUC against the full image's on each test set (`sets`:
    (label, labels, trials)), mean over budgets and seeds, and the share of the full image's
    AUC above chance that it reaches."""
    rows_of = {label: probe_rows(trials, y) for label, y, trials in sets}
    probes = _ordered({r["probe"] for rows in rows_of.values() for r in rows})
    out = []
    for probe in probes:
        parts = []
        for label, rows in rows_of.items():
            if not any(r["probe"] == probe for r in rows):
                continue
            p, f = _mean_over_budgets(rows, probe, probe), _mean_over_budgets(rows, probe,
                                                                               REFERENCE)
            share = (f"; {100 * (p - 0.5) / (f - 0.5):.0f} % of its margin above chance"
                     if f >= 0.5 + NEAR_CHANCE else
                     "; the full image is itself within "
                     f"{NEAR_CHANCE:g} of chance there, so no share of it is given")
            parts.append(f"AUC {p:.2f} of the full image's {f:.2f} on {label}{share}")
        what = PROBES.get(probe_name(probe), ("?", None))[0]
        out.append(f"`{probe}` (sees {what}): {'; '.join(parts)}.")
    return out


def probe_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one row per budget, the full image's AUC (REFERENCE) and each probe's, mean ±
    SD across seeds."""
    probes = _ordered({r["probe"] for r in rows})
    budgets = sorted({r["budget"] for r in rows}, key=budget_key)
    cell = {(r["arm"] if r["arm"] != REFERENCE else (REFERENCE, r["probe"]), r["budget"]): r
            for r in rows}
    head = ["N", f"`{REFERENCE}` (full image)", *[f"`{p}`" for p in probes]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in budgets:
        ref = next((cell[((REFERENCE, p), b)] for p in probes if ((REFERENCE, p), b) in cell),
                   None)
        vals = [_fmt(ref), *[_fmt(cell.get((p, b))) for p in probes]]
        lines.append(f"| {b} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _fmt(r: dict[str, Any] | None) -> str:
    if r is None:
        return ""
    return f"{r['auc']:.3f}" + (f" ± {r['sd']:.3f}" if np.isfinite(r["sd"]) else "")


def probe_section(sets: list[tuple[str, np.ndarray, list]]) -> list[str]:
    """The report's markdown section on the probes of `sets` ((label, labels, trials) per test
    set); empty when no probe ran."""
    if not any(is_probe(t.arm) for _, _, trials in sets for t in trials):
        return []
    md = ["## Shortcut probes (measurements of the data; in no comparison)", "",
          "Each probe trains on its cell's `oversample` training set, with the same budgets, "
          "seeds and validation split, and sees every image (training, validation, each test "
          "set) through its view: what it scores above chance (AUC 0.5) is reachable without "
          "the lesion. Test AUC, mean ± SD across seeds, beside the full image's (`oversample`)"
          " on the same seeds. How much of each test set's AUC needs no lesion:", "",
          *[f"- {s}" for s in probe_sentences(sets)], ""]
    for label, y, trials in sets:
        rows = probe_rows(trials, y)
        if rows:
            md += [f"### {label}", "", probe_table(rows), ""]
    return md
