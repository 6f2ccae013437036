"""Calibration of the crossed comparison by simulation (raygan/eval/calibration.py): type-I
error, interval coverage and power against the planner, with the across-seed t-test beside it.

    python benchmarks/calibration.py [--reps 10000]

Writes benchmarks/results/calibration.json; docs/statistics.md quotes it. The same scenarios, with
fewer replications, are tests/eval/test_calibration.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from common import save

from raygan.eval.calibration import Scenario, calibrate

TIGHT = dict(images=400, seed_sd=0.05, image_sd=0.2, noise_sd=0.5)
SCENARIOS = [  # (what it shows, scenario, margin)
    ("null, 3 seeds, test images carry much of the variance", Scenario(seeds=3), 0.02),
    ("null, 3 seeds, no test-image disagreement", Scenario(seeds=3, image_sd=0.0), 0.02),
    ("null, 10 seeds", Scenario(seeds=10, images=200), 0.02),
    ("null, 10 seeds, little seed variance", Scenario(seeds=10, images=200, seed_sd=0.05), 0.02),
    ("null, 10 seeds, 660 images (the dataset's test split)",
     Scenario(seeds=10, images=660, seed_sd=0.1, image_sd=0.3), 0.02),
    ("shift, 3 seeds", Scenario(seeds=3, shift=0.4), 0.02),
    ("shift, 10 seeds", Scenario(seeds=10, images=200, shift=0.35), 0.02),
    ("equivalence reachable, 10 seeds", Scenario(seeds=10, **TIGHT), 0.0175),
    ("true difference on the margin, 10 seeds", Scenario(seeds=10, shift=0.115, **TIGHT), None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10000, help="replications per scenario")
    args = ap.parse_args()
    rows = []
    for what, sc, margin in SCENARIOS:
        start = time.perf_counter()
        margin = sc.true_auc_difference() if margin is None else margin
        r = calibrate(sc, args.reps, margin=margin, alpha=0.05, seed=11)
        rows.append({"scenario": what, **dataclasses.asdict(sc), "margin": margin,
                     **{k: round(v, 4) for k, v in r.items()},
                     "seconds": round(time.perf_counter() - start, 1)})
        print(rows[-1], flush=True)
    save("calibration", f"python benchmarks/calibration.py --reps {args.reps}",
         {"reps": args.reps, "alpha": 0.05, "rows": rows},
         "reject: two-sided test at alpha; cover: 95% interval holds the truth; equivalent: TOST "
         "at the margin; naive_reject: the across-seed paired t-test; power_*: the planner")


if __name__ == "__main__":
    main()
