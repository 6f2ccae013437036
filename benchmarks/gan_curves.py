"""Quality curves of GAN families on the real data, without Ray: quality/gap every 100 steps of
the raw G (and of its EMA when --ema > 0), then the CAS AUC of each, and a sample grid.

    RAYGAN_DATA=... python benchmarks/gan_curves.py dcgan@500 fastgan@50 --amp
    python benchmarks/gan_curves.py pggan@500 --amp --pggan-steps 2000 --pggan-lr 5e-4

The laptop profile's step bounds come from these curves (32 px, DiffAugment, one thread per
training). Results append to benchmarks/results/gan_curves.json, one entry per run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from raygan.config import ClassifierConfig, GANConfig  # noqa: E402
from raygan.data import carve_validation, load_dataset  # noqa: E402
from raygan.data.splits import budget_subset  # noqa: E402
from raygan.eval.plots import grid_png  # noqa: E402
from raygan.eval.quality import QualityProbe  # noqa: E402
from raygan.fidelity_stage import cas  # noqa: E402
from raygan.gans import build_gan, fit_gan  # noqa: E402
from raygan.gans.train import final_quality  # noqa: E402
from raygan.profiles import FEW_SHOT_AUG

FAMILIES = {  # the laptop profile's widths and batches
    "dcgan": {"width": 32, "batch_size": 64, "steps": 3000},
    "pggan": {"width": 16, "batch_size": 32, "steps": 1500, "beta1": 0.0},
    "fastgan": {"width": 16, "batch_size": 32, "steps": 1200},
    "infogan": {"width": 16, "batch_size": 32, "steps": 1500},
    "cyclegan": {"width": 16, "batch_size": 8, "steps": 1500},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("jobs", nargs="+", help="family@budget, e.g. dcgan@500")
    p.add_argument("--amp", action="store_true", help="bf16 autocast")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of G (0 = off)")
    p.add_argument("--pggan-steps", type=int, default=1500)
    p.add_argument("--pggan-lr", type=float, default=1e-3)
    p.add_argument("--out", default=str(RESULTS / "gan_curves"), help="folder for sample grids")
    args = p.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset(os.environ.get("RAYGAN_DATA", "data/skin-cancer-mvb"), 32)
    pools = carve_validation(ds.train.y, 0.15, 0)
    x, y = ds.train.x, ds.train.y
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for job in args.jobs:
        fam, n = job.split("@")
        n = int(n)
        over = dict(FAMILIES[fam])
        if fam == "pggan":
            over.update(steps=args.pggan_steps, lr=args.pggan_lr)
        cfg = GANConfig(log_every=50, checkpoint_every=10**9, eval_every=100, ema=args.ema,
                        amp=args.amp, diffaugment=FEW_SHOT_AUG, **over)
        real = x[budget_subset(pools, n, 0)]
        gan = build_gan(fam, cfg, 32, seed=0)
        gan.set_context(x[pools.benign])
        probe = QualityProbe(real, x[pools.benign], seed=0)

        def both(g, probe=probe):
            ema, g.G_ema = g.G_ema, None
            out = {k.replace("quality/", "raw/"): v for k, v in probe(g).items()}
            g.G_ema = ema
            if ema is not None:
                out.update(probe(g))
            else:
                out["quality/gap"] = out["raw/gap"]
            return out

        t0 = time.perf_counter()
        history = fit_gan(gan, real, seed=0, probe=both)
        entry = {"job": job, "amp": args.amp, "ema": args.ema, "steps": history[-1]["step"],
                 "train_s": round(time.perf_counter() - t0, 1),
                 "gap_curve": [(r["step"], round(r["raw/gap"], 3)) for r in history
                               if "raw/gap" in r],
                 "final_gap": final_quality([{"step": r["step"], "quality/gap": r["raw/gap"]}
                                             for r in history if "raw/gap" in r])}
        for which in ("raw", "ema") if gan.G_ema is not None else ("raw",):
            if which == "raw":
                gan.G_ema = None
            fake = gan.generate(pools.num_malignant, 0)
            tag = f"{fam}-n{n}-{which}{'-bf16' if args.amp else ''}"
            (Path(args.out) / f"{tag}.png").write_bytes(grid_png(fake[:64]))
            entry[f"cas_auc_{which}"] = round(cas(fake, x[pools.benign], x[pools.val],
                                                  y[pools.val], ds.test.x, ds.test.y,
                                                  ClassifierConfig(), 0)["auc"], 3)
        print(json.dumps(entry), flush=True)
        path = RESULTS / "gan_curves.json"
        data = json.loads(path.read_text()) if path.exists() else {
            "name": "gan_curves", "machine": machine(), "runs": []}
        data["runs"].append({"date": time.strftime("%Y-%m-%d"),
                             "command": "python benchmarks/gan_curves.py " + " ".join(
                                 sys.argv[1:]), **entry})
        path.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
