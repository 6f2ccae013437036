"""A sweep's results folder: everything its report computes from, small enough to commit and
read without MLflow, the data or any training.

    config.json           the sweep's resolved config (its declared primary comparison included)
    sets.json             each test set: name, kind, audit counts, its scores file; the notes
    scores/<set>.csv      one row per test image: a short digest of its file name (`image`, so no
                          dataset file name is stored), its label, and one column per classifier
                          trial (`<arm>-n<budget>-s<seed>`) with P(malignant)
    trials.csv            each trial's cell and validation threshold (Youden's J)
    gates.csv             each GAN run's quality gate: steps, final gap, verdict
    curves.csv            each GAN run's quality/gap against step
    fidelity.csv          per generated run (when the report measured them): FD, KID,
                          precision, recall, density, coverage (and their k and sample size),
                          near-copies of its training images (and of held-out real ones), the
                          nearest-neighbour ratio's minimum, 5th percentile and median, CAS

Scores, labels and numbers only: never an image (the closest generated/training pairs stay in
the report folder), never a file name of the data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raygan.cell import Cell, Gate, parse_budget
from raygan.errors import RayganError
from raygan.eval.numbers import TestSet, Trial

FORMAT = 1  # sets.json's `format`: bump when a file's layout changes
GATE_KEYS = ("arm", "budget", "seed", "steps", "max_steps", "stopped_early", "gap", "converged")
# A folder written before precision/recall/density/coverage and the nearest-neighbour ratios
# lacks their columns; its report says they were not measured.
FIDELITY_KEYS = ("arm", "budget", "seed", "fd", "kid", "near_copies", "real_near_copies",
                 "nn_ratio_min", "nn_ratio_p05", "nn_ratio_median", "precision", "recall",
                 "density", "coverage", "prdc_k", "prdc_images", "cas_auc", "cas_acc",
                 "test_auc", "converged")


@dataclass
class Results:
    """What a results folder holds, as the report takes it."""

    config: dict[str, Any]
    sets: list[TestSet]  # the test split first
    gates: list[Gate] = field(default_factory=list)
    curves: dict[Cell, list[tuple[int, float]]] = field(default_factory=dict)
    fidelity: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)  # the report's notes (e.g. all-real's count)


def image_digest(name: str) -> str:
    """A short, stable stand-in for an image's file name (12 hex digits of its SHA-256)."""
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def _run(t: Trial) -> str:
    return t.cell.run_name


def _num(v: Any) -> str:
    """A number as text that reads back to the same float32 score or float64 metric."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        return "nan" if math.isnan(v) else repr(float(v))
    return str(v)


def write_results(folder: str | Path, config_json: str, sets: list[TestSet],
                  gates: list[Gate] | None = None,
                  curves: dict[Cell, list[tuple[int, float]]] | None = None,
                  fidelity: list[dict[str, Any]] | None = None,
                  notes: list[str] | None = None) -> list[Path]:
    """Write a results folder (see the module's docstring); returns the files written."""
    out = Path(folder)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    paths = [out / "config.json", out / "sets.json", out / "trials.csv"]
    paths[0].write_text(config_json if config_json.endswith("\n") else config_json + "\n")
    meta = []
    for ts in sets:
        file = f"scores/{ts.name}.csv"
        trials = sorted(ts.trials, key=lambda t: t.cell.sort_key)
        ids = list(ts.ids)
        if len(ids) != len(ts.y):
            ids = [str(i) for i in range(len(ts.y))]  # no names known: the position stands in
        with (out / file).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "label", *(_run(t) for t in trials)])
            cols = np.stack([np.asarray(t.p, dtype=np.float64) for t in trials], axis=1)
            for i, (img, label) in enumerate(zip(ids, ts.y, strict=True)):
                w.writerow([img, int(label), *(f"{v:.9g}" for v in cols[i])])
        paths.append(out / file)
        meta.append({"name": ts.name, "file": file, "images": len(ts.y),
                     "malignant": int(np.sum(ts.y)), "external": ts.external,
                     "duplicates": ts.duplicates, "kept_duplicates": ts.kept_duplicates,
                     "duplicates_malignant": ts.duplicates_malignant,
                     "leaks": ts.leaks})
    paths[1].write_text(json.dumps({"format": FORMAT, "sets": meta, "notes": notes or []},
                                   indent=2) + "\n")
    with paths[2].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "arm", "budget", "seed", "threshold"])
        for t in sorted(sets[0].trials, key=lambda t: t.cell.sort_key):
            w.writerow([_run(t), t.arm, t.budget, t.seed, _num(float(t.threshold))])
    gate_rows = [{"arm": g.arm, "budget": g.budget, "seed": g.seed, "steps": g.steps,
                  "max_steps": g.max_steps, "stopped_early": g.stopped_early, "gap": g.gap,
                  "converged": g.converged} for g in gates or []]
    for name, keys, rows in (("gates.csv", GATE_KEYS, gate_rows),
                             ("fidelity.csv", FIDELITY_KEYS, fidelity)):
        if rows:
            with (out / name).open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(keys), extrasaction="ignore")
                w.writeheader()
                w.writerows({k: _num(r[k]) for k in keys if k in r} for r in rows)
            paths.append(out / name)
    if curves:
        with (out / "curves.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arm", "budget", "seed", "step", "gap"])
            for cell, points in sorted(curves.items(), key=lambda kv: kv[0].sort_key):
                w.writerows([cell.arm, cell.budget, cell.seed, step, _num(float(gap))]
                            for step, gap in points)
        paths.append(out / "curves.csv")
    return paths


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row of gates.csv or fidelity.csv with its numbers and flags typed back."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or v == "":
            continue
        if k == "budget":
            out[k] = parse_budget(v)
        elif k in ("seed", "steps", "max_steps", "prdc_k", "prdc_images"):
            out[k] = int(v)
        elif k == "stopped_early":
            out[k] = v == "True"
        elif k in ("arm", "converged"):
            out[k] = v
        else:
            out[k] = float(v)
    return out


def _gate(row: dict[str, Any]) -> Gate:
    """A typed row of gates.csv as a `Gate` (a gap left empty reads as NaN)."""
    return Gate(Cell(row["arm"], row["budget"], row["seed"]), row["steps"], row["max_steps"],
                row["stopped_early"], row.get("gap", math.nan), row["converged"])


def read_results(folder: str | Path) -> Results:
    """A results folder as the report takes it; a RayganError naming the file when one is
    missing or malformed."""
    root = Path(folder)
    if not (root / "sets.json").is_file() or not (root / "config.json").is_file():
        raise RayganError(f"{root} is not a raygan results folder (sets.json or config.json "
                          "missing); pass the folder `raygan report` wrote, e.g. "
                          "runs/NAME/results")
    try:
        meta = json.loads((root / "sets.json").read_text())
        config = json.loads((root / "config.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, this raygan reads {FORMAT}")
        thresholds = {}
        with (root / "trials.csv").open(newline="") as f:
            for r in csv.DictReader(f):
                thresholds[r["run"]] = float(r["threshold"])
        sets = []
        for m in meta["sets"]:
            with (root / m["file"]).open(newline="") as f:
                rows = list(csv.reader(f))
            head, body = rows[0], rows[1:]
            if head[:2] != ["image", "label"] or len(body) != m["images"]:
                raise ValueError(f"{m['file']}: expected {m['images']} rows under image, label")
            y = np.array([int(r[1]) for r in body])
            scores = np.array([[float(v) for v in r[2:]] for r in body], dtype=np.float64)
            trials = []
            for j, run in enumerate(head[2:]):
                cell = Cell.from_run_name(run)
                trials.append(Trial(cell, scores[:, j],
                                    thresholds.get(run, math.nan)))
            sets.append(TestSet(m["name"], y, trials, m["external"], m["duplicates"],
                                m["kept_duplicates"], m["leaks"],
                                duplicates_malignant=m.get("duplicates_malignant"),
                                ids=tuple(r[0] for r in body)))
        gates, fidelity, curves = [], None, {}
        if (root / "gates.csv").is_file():
            with (root / "gates.csv").open(newline="") as f:
                gates = [_gate(_typed(r)) for r in csv.DictReader(f)]
        if (root / "fidelity.csv").is_file():
            with (root / "fidelity.csv").open(newline="") as f:
                fidelity = [_typed(r) for r in csv.DictReader(f)]
        if (root / "curves.csv").is_file():
            with (root / "curves.csv").open(newline="") as f:
                for r in csv.DictReader(f):
                    key = Cell(r["arm"], parse_budget(r["budget"]), int(r["seed"]))
                    curves.setdefault(key, []).append((int(r["step"]), float(r["gap"])))
    except (OSError, ValueError, KeyError, IndexError, json.JSONDecodeError) as exc:
        raise RayganError(f"results folder {root} is incomplete or malformed ({exc}); write it "
                          "again with raygan report --name NAME") from None
    return Results(config, sets, gates, curves, fidelity, list(meta.get("notes", [])))
