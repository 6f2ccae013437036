"""Render BENCHMARKS.md from the result files that the benchmark scripts wrote.

    python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TITLES = {
    "gan_throughput": "GAN training throughput per family (plain loop, no Ray)",
    "sweep_wall_time": "End-to-end wall time of the sweep profiles",
    "data_load": "Dataset load: cold (JPEG decoding) and warm (array cache)",
    "dcgan_step_32px": "DCGAN step at 32 px (the laptop profile: width 32, batch 64): raygan "
                       "against a plain PyTorch loop in fp32, channels_last and bf16",
    "sweep_utilization": "Sweep utilization and Ray Train overhead (from a finished sweep's runs)",
    "ddp_scaling": "DDP on CPU: 1 worker (2 threads) against 2 workers (1 thread each)",
    "dcgan_step": "DCGAN step at 64 px: raygan against a plain PyTorch loop; FLOP/s against peak",
    "peak_memory": "Peak memory of one GAN worker / classifier trial (fits raygan's reservations)",
    "classifier_fit": "Classifiers: fit time of one laptop-profile trial (oversample, N=200, "
                      "32 px) and peak memory, per registered classifier",
    "gan_curves": "GAN quality curves and CAS on the real data (32 px; the laptop profile's steps)",
    "seed_switches": "Seeds per hour: packing and speed switches, paired whole-process wall "
                     "ratios (A / B)",
    "seed_cost": "The cost of one seed of the laptop grid, stage by stage and family by family",
    "pggan_r1": "PGGAN: lazy R1 (every 16 steps) against R1 on every step, full-size networks at "
                "the laptop settings",
    "ddpm_step": "Diffusion family (ddpm) at 32 px: a training step (batch 32, bf16 and fp32) and "
                 "a DDIM sampling step, per UNet width",
    "ddpm_curves": "Diffusion family (ddpm): quality curve (gap of the probe's 10-step samples) "
                   "and the final gap at 10, 25 and 50 DDIM steps, per learning rate",
    "ddpm_sample_steps": "Diffusion family (ddpm): CAS of one trained model's fill sampled in "
                         "different numbers of DDIM steps",
}


def _ddpm_curves(r: dict) -> list[str]:
    rows = ["| date | N | width | lr | EMA | steps | gap by step | final gap at 10 / 25 / 50 "
            "steps | wall s | command |", "|---|---|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        curve = ", ".join(f"{st}: {g:.2f}" for st, g, _ in run["curve"])
        rows.append(f"| {run['date']} | {run['budget']} | {run['width']} | {run['lr']:g} | "
                    f"{run['ema']} | {run['steps']} | {curve} | {run['gap_at_10_steps']} / "
                    f"{run['gap_at_25_steps']} / {run['gap_at_50_steps']} | {run['wall_s']} | "
                    f"`{run['command']}` |")
    return rows


def _ddpm_sample_steps(r: dict) -> list[str]:
    rows = ["| date | N | seed | DDIM steps | images | sampling s | CAS AUC | command |",
            "|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        for row in run["rows"]:
            rows.append(f"| {run['date']} | {run['budget']} | {run['seed']} | "
                        f"{row['sample_steps']} | {row['images']} | {row['sample_s']} | "
                        f"{row['cas_auc']} | `{run['command']}` |")
        if run.get("notes"):
            rows += ["", f"{run['date']}: {run.get('gan_pt', '')}; {run['notes']}"]
    return rows


def _runs(r: dict) -> list[str]:
    """A result file that holds one entry per run (gan_curves): a table, one row per run."""
    rows = ["| run | date | bf16 | EMA | steps | final quality/gap | CAS AUC (raw G) | "
            "CAS AUC (EMA G) | command |", "|---|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        curve = run.get("gap_curve") or []
        gap = f"{curve[-1][1]:.2f}" if curve else ""
        rows.append(f"| {run['job']} | {run['date']} | {run['amp']} | {run['ema']} | "
                    f"{run['steps']} | {gap} | {run.get('cas_auc_raw', '')} | "
                    f"{run.get('cas_auc_ema', '')} | `{run['command']}` |")
    return rows


def _rows(figures: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for k, v in figures.items():
        if isinstance(v, dict):
            rows += _rows(v, f"{prefix}{k} / ")
        else:
            rows.append((f"{prefix}{k}", str(v)))
    return rows


def main() -> None:
    parts = ["# Benchmarks", "",
             "Written by `python benchmarks/report.py` from `benchmarks/results/*.json`; each "
             "section names the date, machine and command of its measurement. Timing never "
             "decides a test: these figures live here only.", ""]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        base, _, variant = r["name"].partition(".")  # e.g. sweep_utilization.<sweep name>
        title = TITLES.get(base, base) + (f": sweep `{variant}`" if variant else "")
        if "runs" in r:
            render = {"ddpm_curves": _ddpm_curves,
                      "ddpm_sample_steps": _ddpm_sample_steps}.get(base, _runs)
            parts += [f"## {title}", "", f"- machine: {r['machine']}", "", *render(r), "",
                      r.get("notes", ""), ""]
            continue
        parts += [f"## {title}", "",
                  f"- date: {r['date']}", f"- machine: {r['machine']}", f"- torch: {r['torch']}",
                  f"- command: `{r['command']}`", "", "| what | value |", "|---|---|"]
        parts += [f"| {k} | {v} |" for k, v in _rows(r["figures"])]
        if r.get("notes"):
            parts += ["", r["notes"]]
        parts.append("")
    (HERE.parent / "BENCHMARKS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
