"""The cost of one seed of the laptop grid, stage by stage and family by family, beside the
figures of laptop-5 (the 2026-12-01 run that the `laptop` profile's step limits came from).

    # one seed of the laptop grid, then its figures (run it on an otherwise idle machine):
    RAYGAN_DATA=... python sweeps/full_grid.py --profile laptop --name seed-cost
    python benchmarks/seed_cost.py --name seed-cost [--uri sqlite:///mlflow.db]

Read back from the sweep's MLflow runs: the sweep's wall and its two stages (`time/*` of the
parent run), and per GAN family the trainings, the steps each trained (the stop rule ends most
before their limit), the wall of each `TorchTrainer.fit()` (`time/train_s`: training, probes,
checkpoints, and Ray Train's start and stop) and the final quality gap. The sum of a family's
training walls is its share of the GAN stage's slot time (trainings run side by side, one per
core).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

# laptop-5, seed 0 (2026-12-01 22:57-23:54, idle 2-core AMD EPYC, no GPU; docs/results.md,
# docs/performance.md): the sweep, its stages, and the steps and training wall of each family
# as laptop-4/5 measured them (two trainings side by side)
LAPTOP5 = {
    "sweep_min": 57.6, "gan_stage_min": 50.8, "classifier_stage_min": 6.7,
    "families": {
        "dcgan": "2200-2400 steps, 320-340 s each",
        "pggan": "2500 steps, 540-580 s each",
        "infogan": "2500 steps, 540-580 s each",
        "cyclegan": "1000 steps",
        "fastgan": "500 steps",
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", required=True, help="sweep name (MLflow parent run)")
    p.add_argument("--uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    p.add_argument("--experiment", default="raygan")
    p.add_argument("--note", default="", help="what else ran on the machine, if anything")
    args = p.parse_args()
    client = MlflowClient(args.uri)
    exp = client.get_experiment_by_name(args.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=50000)
    parents = [r for r in runs if r.info.run_name == args.name
               and "mlflow.parentRunId" not in r.data.tags]
    if len(parents) != 1:
        sys.exit(f"error: {len(parents)} sweeps named {args.name!r} in {args.uri}")
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    wall_min = (parent.info.end_time - parent.info.start_time) / 60000
    m = parent.data.metrics
    stages = {k: round(m[f"time/{k}_s"] / 60, 1) for k in ("gan_stage", "classifier_stage")
              if f"time/{k}_s" in m}
    fams: dict[str, list] = defaultdict(list)
    for r in children:
        if r.data.tags.get("raygan.kind") != "gan" or r.info.status != "FINISHED":
            continue
        rm = r.data.metrics
        fams[r.data.params["gan"]].append((int(rm.get("steps_trained", 0)),
                                           rm.get("time/train_s", 0.0),
                                           rm.get("quality/final_gap", float("nan"))))
    figures = {"sweep_min": round(wall_min, 1), **{f"{k}_min": v for k, v in stages.items()}}
    print(f"sweep {args.name}: {wall_min:.1f} min (laptop-5 seed 0: {LAPTOP5['sweep_min']})")
    for k, v in stages.items():
        print(f"  {k}: {v} min (laptop-5: {LAPTOP5[k + '_min']})")
    slot_s = 0.0
    for fam in sorted(fams):
        rows = fams[fam]
        steps = [s for s, _, _ in rows]
        walls = [w for _, w, _ in rows]
        slot_s += sum(walls)
        figures[fam] = {"trainings": len(rows), "steps": f"{min(steps)}-{max(steps)}",
                        "train_s": f"{min(walls):.0f}-{max(walls):.0f}",
                        "train_s_sum": round(sum(walls)),
                        "final_gaps": " / ".join(f"{g:.2f}" for _, _, g in rows)}
        print(f"  {fam:9s} {len(rows)} trainings, {min(steps)}-{max(steps)} steps, "
              f"{min(walls):.0f}-{max(walls):.0f} s each ({sum(walls):.0f} s in all); "
              f"laptop-5: {LAPTOP5['families'].get(fam, '-')}")
    figures["gan_training_s_sum"] = round(slot_s)
    print(f"  GAN trainings: {slot_s:.0f} s of slot time in all")
    save("seed_cost", f"python benchmarks/seed_cost.py --name {args.name}", figures,
         notes=args.note)


if __name__ == "__main__":
    main()
