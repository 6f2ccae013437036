"""Quality curve of the diffusion family on the real data, without Ray: the quality probe's
gap (as the probe samples: `probe_sample_steps` = 10 DDIM steps, from the EMA) every `--every`
steps, then the final EMA's gap at 10, 25 and 50 DDIM steps, with a sample grid of each.

    RAYGAN_DATA=... python benchmarks/ddpm_curves.py --width 16 --steps 1500

32 px, N = 200 real malignant images of seed 0, batch 32, bf16, Adam beta1 0.9, one thread (as
a laptop-profile worker). Each run appends to benchmarks/results/ddpm_curves.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from raygan.config import GANConfig  # noqa: E402
from raygan.data import carve_validation, load_dataset  # noqa: E402
from raygan.data.splits import budget_subset  # noqa: E402
from raygan.eval.plots import grid_png  # noqa: E402
from raygan.eval.quality import QualityProbe  # noqa: E402
from raygan.gans import build_gan, fit_gan  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--budget", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--every", type=int, default=250, help="steps between quality probes")
    p.add_argument("--out", default=str(RESULTS / "ddpm_curves"), help="folder for sample grids")
    args = p.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset(os.environ.get("RAYGAN_DATA", "data/skin-cancer-mvb"), 32)
    pools = carve_validation(ds.train.y, 0.15, 0)
    x = ds.train.x
    real = x[budget_subset(pools, args.budget, 0)]
    cfg = GANConfig(width=args.width, batch_size=32, steps=args.steps, lr=args.lr, beta1=0.9,
                    ema=args.ema, amp=True, log_every=50, checkpoint_every=10**9,
                    eval_every=args.every, probe_sample_steps=10)
    gan = build_gan("ddpm", cfg, 32, seed=0)
    probe = QualityProbe(real, x[pools.benign], seed=0)
    t0 = time.perf_counter()
    history = fit_gan(gan, real, seed=0, probe=probe)
    entry = {"width": args.width, "steps": args.steps, "budget": args.budget, "lr": args.lr,
             "ema": args.ema, "wall_s": round(time.perf_counter() - t0, 1),
             "load_at_start": round(os.getloadavg()[0], 1),
             "curve": [(r["step"], round(r["quality/gap"], 3), round(r["loss/denoise"], 4))
                       for r in history if "quality/gap" in r]}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for k in (10, 25, 50):
        gan.cfg = dataclasses.replace(cfg, sample_steps=k)
        fake = gan.generate(256, 9_999_999)
        entry[f"gap_at_{k}_steps"] = round(probe.measure_images(fake)["quality/gap"], 3)
        (Path(args.out) / f"ddpm-w{args.width}-n{args.budget}-s{args.steps}-lr{args.lr:g}-k{k}.png"
         ).write_bytes(grid_png(fake[:64]))
    print(json.dumps(entry), flush=True)
    path = RESULTS / "ddpm_curves.json"
    data = json.loads(path.read_text()) if path.exists() else {
        "name": "ddpm_curves", "machine": machine(), "runs": []}
    data["runs"].append({"date": time.strftime("%Y-%m-%d"),
                         "command": "python benchmarks/ddpm_curves.py " + " ".join(sys.argv[1:]),
                         **entry})
    path.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
