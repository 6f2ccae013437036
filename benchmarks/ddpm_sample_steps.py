"""CAS of one trained diffusion model's fill, sampled in different numbers of DDIM steps.

    RAYGAN_DATA=... python benchmarks/ddpm_sample_steps.py GAN_PT 10 50

GAN_PT is a finished `diffusion:ddpm` run's gan.pt at N = 500, seed 0 of the laptop profile (its
MLflow artifact, e.g. from `full_grid.py --name ddpm-500 --budgets 500 --arms
oversample,diffusion:ddpm`). For each step count the cell's fill is sampled as a sweep samples
it (`sample_checkpoint`, the laptop profile's settings but `sample_steps`) and scored with CAS as
`raygan report --cas` scores it. Two threads. Appends to benchmarks/results/ddpm_sample_steps.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from raygan.data import carve_validation, cell_split, load_dataset  # noqa: E402
from raygan.fidelity_stage import cas  # noqa: E402
from raygan.gans.checkpoint import sample_checkpoint  # noqa: E402
from raygan.profiles import profile_config  # noqa: E402

BUDGET, SEED = 500, 0


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
    sweep = profile_config("laptop")
    base = sweep.gan_config("ddpm", BUDGET)
    data = load_dataset(None, sweep.resolution, sweep.geometry)
    pools = carve_validation(data.train.y, sweep.val_fraction, sweep.split_seed,
                             sweep.validation, data.train.groups)
    split = cell_split(pools, BUDGET, SEED)
    benign = data.train.x[split.benign]
    rows = []
    for k in (int(a) for a in sys.argv[2:]):
        t0 = time.perf_counter()
        fake = sample_checkpoint("ddpm", dataclasses.replace(base, sample_steps=k),
                                 sweep.resolution, SEED, state, benign, pools.num_malignant)
        sample_s = time.perf_counter() - t0
        score = cas(fake, benign, data.train.x[split.val], data.train.y[split.val], data.test.x,
                    data.test.y, sweep.classifier, SEED)
        rows.append({"sample_steps": k, "images": len(fake), "sample_s": round(sample_s, 1),
                     "cas_auc": round(score["auc"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    path = RESULTS / "ddpm_sample_steps.json"
    data_out = json.loads(path.read_text()) if path.exists() else {
        "name": "ddpm_sample_steps", "machine": machine(), "runs": []}
    data_out["runs"].append({"date": time.strftime("%Y-%m-%d"), "budget": BUDGET, "seed": SEED,
                             "command": "python benchmarks/ddpm_sample_steps.py GAN_PT "
                                        + " ".join(sys.argv[2:]), "rows": rows})
    path.write_text(json.dumps(data_out, indent=1))


if __name__ == "__main__":
    main()
