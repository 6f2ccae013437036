"""Across sweeps (`raygan report --compare B`): the primary comparison's verdicts of two sweeps
side by side, cell by cell, on each test set both tested; typically the same grid trained with
two classifiers on the same GANs (`raygan run --gans-from`).

Descriptive only: the two sweeps share their test images and, with --gans-from, their GANs,
so their verdicts are not independent, and no test across the two is made here."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygan.cell import budget_key

ACROSS_CSV = "across_sweeps.csv"  # the section's rows, next to report.md


@dataclass(frozen=True)
class Side:
    """One sweep of the comparison: its name, its classifier, its primary rows per test set."""

    sweep: str
    classifier: str
    rows: dict[str, list[dict[str, Any]]]  # test set -> primary family rows (verdicts.decide)


def _key(r: dict[str, Any]) -> tuple:
    return (r["arm"], r["ref"], r["metric"], r["budget"])


def paired_cells(a: list[dict[str, Any]], b: list[dict[str, Any]]
                 ) -> tuple[list[tuple[dict, dict]], list[tuple], list[tuple]]:
    """(the cells of both, as (row of a, row of b) in budget and arm order; the keys of cells
    only in a; those only in b)."""
    rows_a, rows_b = {_key(r): r for r in a}, {_key(r): r for r in b}
    order = sorted(set(rows_a) | set(rows_b), key=lambda k: (budget_key(k[3]), k[0], k[1]))
    both = [(rows_a[k], rows_b[k]) for k in order if k in rows_a and k in rows_b]
    return (both, [k for k in order if k not in rows_b], [k for k in order if k not in rows_a])


def across_rows(a: Side, b: Side) -> list[dict[str, Any]]:
    """One row per cell of both sweeps and test set: each sweep's verdict, difference and
    interval, and whether the verdicts agree (the rows of the section and its CSV)."""
    out = []
    for name, rows in a.rows.items():
        if name not in b.rows:
            continue
        for ra, rb in paired_cells(rows, b.rows[name])[0]:
            out.append({"test_set": name, "budget": ra["budget"], "arm": ra["arm"],
                        "ref": ra["ref"], "metric": ra["metric"],
                        "sweep_a": a.sweep, "classifier_a": a.classifier, "n_a": ra["n"],
                        "verdict_a": ra["verdict"], "d_a": ra["d"], "lo_a": ra["lo"],
                        "hi_a": ra["hi"],
                        "sweep_b": b.sweep, "classifier_b": b.classifier, "n_b": rb["n"],
                        "verdict_b": rb["verdict"], "d_b": rb["d"], "lo_b": rb["lo"],
                        "hi_b": rb["hi"], "d_b_minus_a": rb["d"] - ra["d"],
                        "agree": ra["verdict"] == rb["verdict"]})
    return out


def _cell(k: tuple) -> str:
    return f"`{k[0]}` at N={k[3]}"


def across_section(a: Side, b: Side) -> list[str]:
    """The report's "Across sweeps" section: a table per test set, one sentence each on
    whether the primary verdicts agree, and the cells left out because one sweep lacks them."""
    who = (f"`{a.sweep}` ({a.classifier})", f"`{b.sweep}` ({b.classifier})")
    md = ["## Across sweeps", "",
          f"The primary comparison's verdicts of this sweep, {who[0]}, beside those of "
          f"{who[1]}, cell by cell. Descriptive: the two sweeps share their test images (and, "
          "with --gans-from, their GANs), so their verdicts are not independent and no test "
          "across them is made; each verdict is its own sweep's, Holm-adjusted in its own "
          "family. Differences are arm minus reference, 95 % intervals."]
    rows = across_rows(a, b)
    for name, rows_a in a.rows.items():
        if name not in b.rows:
            md += ["", f"`{b.sweep}` was not tested on `{name}`: left out."]
            continue
        both, only_a, only_b = paired_cells(rows_a, b.rows[name])
        mine = [r for r in rows if r["test_set"] == name]
        md += ["", f"### {'Test split' if name == 'test' else name}", ""]
        if mine:
            md += [f"| N | arm | vs | {who[0]} | difference [95 % CI] | {who[1]} | "
                   f"difference [95 % CI] | `{b.sweep}` − `{a.sweep}` |",
                   "|---|---|---|---|---|---|---|---|"]
            md += [f"| {r['budget']} | `{r['arm']}` | `{r['ref']}` | {r['verdict_a']} | "
                   f"{r['d_a']:+.3f} [{r['lo_a']:+.3f}, {r['hi_a']:+.3f}] | {r['verdict_b']} | "
                   f"{r['d_b']:+.3f} [{r['lo_b']:+.3f}, {r['hi_b']:+.3f}] | "
                   f"{r['d_b_minus_a']:+.3f} |" for r in mine]
            agree = sum(r["agree"] for r in mine)
            differ = [f"`{r['arm']}` at N={r['budget']} ({r['verdict_a']} / {r['verdict_b']})"
                      for r in mine if not r["agree"]]
            md += ["", f"The primary verdicts {'agree' if not differ else 'do not all agree'} "
                   f"across classifiers ({a.classifier} / {b.classifier}): {agree} of "
                   f"{len(both)} cells agree, {len(differ)} differ"
                   + (f": {', '.join(differ)}." if differ else ".")]
        else:
            md += ["No cell of the primary comparison is in both sweeps."]
        for sweep, keys in ((a.sweep, only_a), (b.sweep, only_b)):
            if keys:
                md += ["", f"Left out, only in `{sweep}`: {', '.join(map(_cell, keys))}."]
    extra = [n for n in b.rows if n not in a.rows]
    if extra:
        md += ["", f"`{b.sweep}` also tested {', '.join(f'`{n}`' for n in extra)}, which this "
               "sweep did not: left out."]
    return md


def write_across_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows of `across_rows` as CSV at `path`."""
    keys = ["test_set", "budget", "arm", "ref", "metric", "sweep_a", "classifier_a", "n_a",
            "verdict_a", "d_a", "lo_a", "hi_a", "sweep_b", "classifier_b", "n_b", "verdict_b",
            "d_b", "lo_b", "hi_b", "d_b_minus_a", "agree"]
    with Path(path).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return Path(path)
