"""Fit time and peak memory of each registered classifier: one classifier trial of the laptop
profile (oversample at N=200, seed 0, 32 px, the profile's epochs and patience, 1 thread as a
trial runs) on the real data, and the peak RSS of a fresh process fitting one epoch at 32 and
64 px (batch 64) on random images, for `raygan/orchestrate/memory.py`.

    RAYGAN_DATA=... [RAYGAN_EXTERNAL=...] python benchmarks/classifier_fit.py
    # writes benchmarks/results/classifier_fit.json

The trial's test AUC (and, with RAYGAN_EXTERNAL, its AUC on that set) are one seed's: they say
that the model learns, not which model is better.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from common import save

NUM_TRAIN = 2637  # every training image, which a classifier trial holds
CHILD = """
import json, resource, sys
import numpy as np, torch
torch.set_num_threads(1)
name, res = sys.argv[1], int(sys.argv[2])
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
from raygan.classifiers import fit_classifier
from raygan.config import ClassifierConfig
base = rss()
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (NUM_TRAIN, 3, res, res), dtype=np.uint8)
y = (rng.random(len(x)) < 0.5).astype(np.int64)
fit_classifier(ClassifierConfig(name=name, epochs=1, batch_size=64), x, y, x[:200], y[:200], 0)
print(json.dumps({"base": base, "peak": rss()}))
""".replace("NUM_TRAIN", str(NUM_TRAIN))


def peak_memory(name: str, res: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, name, str(res)], capture_output=True,
                         text=True, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return {"import_mib": round(row["base"] / 2**20), "peak_mib": round(row["peak"] / 2**20)}


def _card(root: str) -> str:
    """The ISIC 2017 card of docs/cards with its paths made absolute for the folder `root`."""
    import tempfile
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs/cards/isic2017.toml").read_text()
    text = text.replace('"images"', json.dumps(f"{root}/images"), 1)
    text = text.replace('"labels.csv"', json.dumps(f"{root}/labels.csv"), 1)
    path = Path(tempfile.mkdtemp()) / "isic2017.toml"
    path.write_text(text)
    return str(path)


def fit_trial(name: str) -> dict:
    """One laptop-profile classifier trial of oversample-n200-s0 with classifier `name`."""
    import dataclasses

    import torch

    from raygan.cell import Cell
    from raygan.classifiers import fit_classifier, predict_proba
    from raygan.data import carve_validation, cell_split
    from raygan.data.arms import training_set
    from raygan.data.sources import external_set, load_source
    from raygan.eval.leakage import without_external_duplicates
    from raygan.metrics import binary_metrics
    from raygan.profiles import profile_config

    torch.set_num_threads(1)
    cfg = profile_config("laptop")
    ccfg = dataclasses.replace(cfg.classifier, name=name)
    ds = load_source(None, cfg.resolution, None, cfg.test_fraction, cfg.split_seed)
    pools = carve_validation(ds.train.y, cfg.val_fraction, cfg.split_seed, cfg.validation,
                             ds.train.groups)
    cell = Cell("oversample", 200, 0)
    x, y = training_set(cell, ds.train.x, pools, pools.fill_target(cfg.fill_target))
    val = cell_split(pools, 200, 0).val
    t0 = time.perf_counter()
    fit = fit_classifier(ccfg, x, y, ds.train.x[val], ds.train.y[val], 0)
    fit_s = time.perf_counter() - t0
    row = {"fit_s": round(fit_s, 1), "epochs_run": len(fit.history),
           "s_per_epoch": round(fit_s / len(fit.history), 1), "best_epoch": fit.best_epoch,
           "train_images": len(y),
           "test_auc": round(binary_metrics(ds.test.y, predict_proba(fit.model, ds.test.x))
                             ["auc"], 3)}
    if os.environ.get("RAYGAN_EXTERNAL"):
        ext = external_set(_card(os.environ["RAYGAN_EXTERNAL"]), cfg.resolution)
        ext, _, _ = without_external_duplicates(ds.train, ext, False)  # as a sweep tests it
        row["external_images"] = len(ext)
        row["external_auc"] = round(binary_metrics(ext.y, predict_proba(fit.model, ext.x))
                                    ["auc"], 3)
    return row


def main() -> None:
    from raygan.classifiers import REGISTRY

    figures = {}
    for name in REGISTRY:
        figures[name] = {"laptop trial oversample-n200-s0": fit_trial(name)}
        for res in (32, 64):
            m = peak_memory(name, res)
            figures[name][f"peak {res} px, batch 64"] = (f"{m['peak_mib']} MiB "
                                                        f"({m['import_mib']} MiB after imports)")
        print(name, figures[name], flush=True)
    save("classifier_fit",
         "RAYGAN_DATA=... RAYGAN_EXTERNAL=... python benchmarks/classifier_fit.py",
         figures, "1 thread, as a classifier trial runs; fit_s is the whole fit_classifier call "
         "(training and the per-epoch validation), with the profile's early stopping; the "
         "machine was shared with other users' test suites and sweeps, so wall times are "
         "upper bounds")


if __name__ == "__main__":
    main()
