"""Utilization and Ray overhead of a finished sweep, read back from its MLflow runs.

    python benchmarks/sweep_utilization.py --name laptop-2026-11-26 [--cores 2]

- utilization: the sum over child runs of (run duration x CPUs the run reserved), divided by
  (sweep wall time x cores);
- Ray Train start-up and tear-down per GAN training: the wall of `TorchTrainer.fit()`
  (`time/train_s`) minus the wall of the worker's own training loop (`time/worker_loop_s`,
  logged by rank 0), summed; its share of the sweep's wall counts the trainings that run side by
  side (`--cores` / CPUs per training) as sharing it;
- raygan's loop against a plain PyTorch loop: the time in `TorchTrainer.fit()` beyond what a
  plain loop of the same family, width and batch needs for the same steps (measured here, one
  thread, `--plain-steps` steps), summed and set against the sweep's wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402
from gan_throughput import throughput  # noqa: E402

from raygan.eval.quality import GATE_GAP  # noqa: E402
from raygan.gans.train import smoothed  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", required=True, help="sweep name (MLflow parent run)")
    p.add_argument("--uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--experiment", default="raygan")
    p.add_argument("--plain-steps", type=int, default=50,
                   help="steps of the plain-loop reference per GAN setting (50)")
    args = p.parse_args()
    torch.set_num_threads(1)

    client = MlflowClient(args.uri)
    exp = client.get_experiment_by_name(args.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    (parent,) = [r for r in runs if r.info.run_name == args.name and
                 "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    wall = (parent.info.end_time - parent.info.start_time) / 1000
    busy, overhead, per_gan = 0.0, 0.0, {}
    startup_s, gan_cpus = 0.0, 1
    sample_s = fit_s = in_trial_s = 0.0
    plain_cache: dict[tuple, float] = {}
    for r in children:
        if r.info.end_time is None:
            continue
        dur = (r.info.end_time - r.info.start_time) / 1000
        prm = r.data.params
        if r.data.tags.get("raygan.kind") == "gan":
            cpus = int(prm["num_workers"]) * int(prm["cpus_per_worker"])
            key = (prm["gan"], int(prm["resolution"]), int(prm["width"]), int(prm["batch_size"]),
                   prm.get("amp", "False") == "True", prm.get("diffaugment", ""),
                   prm.get("channels_last", "False") == "True")
            if key not in plain_cache:  # the same loop and settings, without Ray
                plain_cache[key] = throughput(key[0], key[1], args.plain_steps, key[2], key[3],
                                              amp=key[4], diffaugment=key[5],
                                              channels_last=key[6])
            # Early stopping: the steps the run trained, not its upper bound.
            steps = int(r.data.metrics.get("steps_trained", prm["steps"]))
            batch = int(prm["batch_size"])
            train_s = r.data.metrics.get("time/train_s", dur)
            sample_s += r.data.metrics.get("time/sample_s", 0.0)
            in_trial_s += dur - train_s - r.data.metrics.get("time/sample_s", 0.0)
            plain_s = steps * batch / plain_cache[key]
            overhead += max(train_s - plain_s, 0.0)
            loop_s = r.data.metrics.get("time/worker_loop_s")
            if loop_s is not None:
                startup_s += train_s - loop_s
                gan_cpus = cpus
            gaps = smoothed([m.value for m in sorted(
                client.get_metric_history(r.info.run_id, "quality/gap"), key=lambda m: m.step)])
            steps_seen = sorted(m.step for m in client.get_metric_history(r.info.run_id,
                                                                           "quality/gap"))
            at_gate = next((st for st, g in zip(steps_seen, gaps, strict=True) if g <= GATE_GAP),
                           None)
            per_gan[r.info.run_name] = {
                "fit_s": round(train_s, 1), "plain_loop_s": round(plain_s, 1),
                "worker_loop_s": round(loop_s, 1) if loop_s is not None else None,
                "ray_img_per_s": round(steps * batch / train_s, 1),
                "plain_img_per_s": round(plain_cache[key], 1),
                "steps_trained": steps, "step_at_gate": at_gate,
                # time to the gate: the share of fit() up to that step
                "s_to_gate": round(train_s * at_gate / steps, 1) if at_gate else None}
        else:
            cpus = float(prm.get("clf.cpus", 1))
            fit_s += r.data.metrics.get("time/fit_s", 0.0)
            in_trial_s += dur - r.data.metrics.get("time/fit_s", dur)
        busy += dur * cpus
    os_cpu = parent.data.metrics.get("time/machine_cpu_s")
    figures = {
        "sweep_wall_s": round(wall, 1), "cores": args.cores,
        "busy_cpu_s": round(busy, 1),
        "utilization": round(busy / (wall * args.cores), 3),
        "machine_cpu_s (from /proc/stat)": os_cpu,
        "utilization_os": round(os_cpu / (wall * args.cores), 3) if os_cpu else None,
        "ray_train_startup_teardown_s_total": round(startup_s, 1),
        "ray_train_startup_share_of_wall": round(startup_s / (args.cores // gan_cpus) / wall, 3),
        "ray_train_overhead_s": round(overhead, 1),
        "gan_sampling_s_total": round(sample_s, 1),
        "classifier_fit_s_total": round(fit_s, 1),
        "in_run_other_s_total (data fetch, object store, MLflow logging)": round(in_trial_s, 1),
        "ray_train_overhead_share_of_wall": round(overhead / wall, 3),
        "gan_trainings": per_gan,
    }
    notes = ("Busy time counts each MLflow child run's duration times the CPUs it reserved, so "
             "a reserved but idle core counts as busy; utilization_os counts the CPU-seconds "
             "the machine actually spent during the sweep (user + system from /proc/stat, "
             "logged by the sweep), which includes anything else that ran. The plain loop runs "
             "alone on one thread; in the sweep two trainings share the machine, so part of the "
             "measured overhead is contention rather than Ray.")
    path = save(f"sweep_utilization.{args.name}",  # one result file per sweep
                f"python benchmarks/sweep_utilization.py --name {args.name}", figures, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
