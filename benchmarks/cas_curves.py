"""Quality and CAS along a GAN's training: the evidence behind the stop rule and the step
ceilings of the `laptop` profile.

    RAYGAN_DATA=... python benchmarks/cas_curves.py --family dcgan --budget 200 --seed 0 \
        --steps 2500 --every 250 --out /path/curves.jsonl
    python benchmarks/cas_curves.py --summarize /path/*.jsonl   # the table, beside laptop-5

Trains one GAN of the profile's cell (family, budget, seed) in this process, on the very images
its sweep cell trains on (budget validation, the same split), with the profile's settings but
without the stop rule, up to `--steps`. Every `--every` steps it resamples the cell's fill from
the weights of that step and scores it with CAS exactly as `raygan report --cas` does (the
profile's classifier on real benign + generated malignant training images, early-stopped on the
cell's validation images, AUC on the test split). One JSON line per snapshot: step, the probe's
raw and smoothed quality/gap at that step, CAS AUC and accuracy, and the wall seconds of
training so far. Training is deterministic per seed, so the steps before a stop are the steps
a sweep's run trains.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from raygan.data import carve_validation, cell_split, load_dataset
from raygan.eval.quality import QualityProbe
from raygan.fidelity_stage import cas
from raygan.gans import build_gan, fit_gan
from raygan.gans.checkpoint import sample_checkpoint
from raygan.gans.train import probe_values, smoothed
from raygan.profiles import profile_config

# CAS AUC of laptop-5 (3 seeds, mean and SD; 2026-12-02, 2-core AMD EPYC, docs/results.md) at
# the step each run ended: DCGAN 1600-2500 by the stop rule, PGGAN and InfoGAN 2500, CycleGAN
# 1000, FastGAN 500.
LAPTOP5_CAS = {
    ("cyclegan", 50): (0.771, 0.030), ("cyclegan", 200): (0.815, 0.039),
    ("cyclegan", 500): (0.802, 0.025),
    ("dcgan", 50): (0.836, 0.029), ("dcgan", 200): (0.849, 0.025), ("dcgan", 500): (0.853, 0.034),
    ("fastgan", 50): (0.811, 0.023), ("fastgan", 200): (0.815, 0.032),
    ("fastgan", 500): (0.809, 0.080),
    ("infogan", 50): (0.770, 0.081), ("infogan", 200): (0.805, 0.047),
    ("infogan", 500): (0.820, 0.048),
    ("pggan", 50): (0.795, 0.027), ("pggan", 200): (0.823, 0.035), ("pggan", 500): (0.823, 0.033),
}


def summarize(files: list[str]) -> None:
    """Per family and budget: CAS at each snapshot, and the earliest snapshot from which no later
    one falls more than laptop-5's seed SD below (a) this run's last snapshot and (b) laptop-5's
    mean at the end of training. A higher CAS is no loss, so both bounds are one-sided."""
    rows = [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line]
    cells = sorted({(r["family"], r["budget"], r["seed"]) for r in rows})
    print("| family | N | seed | CAS by step (smoothed gap) | laptop-5 CAS | earliest step, "
          "(a) vs its last | (b) vs laptop-5 |")
    print("|---|---|---|---|---|---|---|")

    def earliest(curve, floor):
        for i, (step, _, _) in enumerate(curve):
            if all(c >= floor for _, c, _ in curve[i:]):
                return step
        return "none"

    for fam, n, seed in cells:
        curve = sorted((r["step"], r["cas_auc"], r["gap_smoothed"]) for r in rows
                       if (r["family"], r["budget"], r["seed"]) == (fam, n, seed))
        mean, sd = LAPTOP5_CAS.get((fam, n), (float("nan"), float("nan")))
        steps = ", ".join(f"{st}: {c:.3f} ({g:.2f})" for st, c, g in curve)
        print(f"| {fam} | {n} | {seed} | {steps} | {mean:.3f} ± {sd:.3f} | "
              f"{earliest(curve, curve[-1][1] - sd)} | {earliest(curve, mean - sd)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--summarize", nargs="+", metavar="JSONL",
                   help="print the table of finished runs' files instead of training")
    p.add_argument("--family")
    p.add_argument("--budget", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="0 = the profile's ceiling")
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", default="laptop")
    p.add_argument("--out")
    args = p.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if not (args.family and args.budget and args.out):
        p.error("--family, --budget and --out are needed to train")
    torch.set_num_threads(args.threads)
    sweep = profile_config(args.profile)
    base = sweep.gan_config(args.family, args.budget)
    cfg = dataclasses.replace(base, steps=args.steps or base.steps, stop_patience=0,
                              checkpoint_every=args.every)
    data = load_dataset(None, sweep.resolution, sweep.geometry)
    y_train = data.train.y
    pools = carve_validation(y_train, sweep.val_fraction, sweep.split_seed, sweep.validation,
                             data.train.groups)
    split = cell_split(pools, args.budget, args.seed)
    real, benign = data.train.x[split.malignant], data.train.x[split.benign]
    gan = build_gan(args.family, cfg, sweep.resolution, args.seed)
    gan.set_context(benign)
    probe = QualityProbe(real, benign, args.seed) if cfg.eval_every else None
    out = Path(args.out)
    train_s = 0.0
    t0 = time.perf_counter()

    def snapshot(step: int, history: list[dict[str, float]]) -> None:
        nonlocal train_s, t0
        train_s += time.perf_counter() - t0
        values = probe_values(history)
        fake = sample_checkpoint(args.family, cfg, sweep.resolution, args.seed,
                                 {"gan": gan.state_dict()}, benign, pools.num_malignant)
        score = cas(fake, benign, data.train.x[split.val], y_train[split.val], data.test.x,
                    data.test.y, sweep.classifier, args.seed)
        row = {"family": args.family, "budget": args.budget, "seed": args.seed, "step": step,
               "gap": values[-1] if values else None,
               "gap_smoothed": smoothed(values)[-1] if values else None,
               "cas_auc": score["auc"], "cas_acc": score["acc"], "train_s": round(train_s, 1)}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
        t0 = time.perf_counter()

    fit_gan(gan, real, args.seed, on_checkpoint=snapshot, probe=probe)


if __name__ == "__main__":
    main()
