"""docs/performance.md quotes the CAS of the committed one-seed run results/seed-24 beside
laptop-5's; the quoted figures must be what the folder holds."""

import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_cas_table_quotes_the_committed_seed_24_folder():
    rows = list(csv.DictReader((ROOT / "results/seed-24/fidelity.csv").open()))
    gates = {(r["arm"], r["budget"]): r for r in
             csv.DictReader((ROOT / "results/seed-24/gates.csv").open())}
    held = {(r["arm"].split(":")[1], r["budget"]): r for r in rows}
    assert len(held) == 15  # five families x three budgets, one seed
    doc = (ROOT / "docs/performance.md").read_text()
    quoted = re.findall(r"^\| (\w+) \| (\d+) \| [^|]+ \| (\d+) \| [\d.]+ ± [\d.]+ \| ([\d.]+) \|",
                        doc, re.M)
    assert len(quoted) == 15
    for family, budget, steps, cas in quoted:
        row = held[(family.lower(), budget)]
        assert f"{float(row['cas_auc']):.3f}" == cas, (family, budget)
        assert gates[(row["arm"], budget)]["steps"] == steps, (family, budget)
