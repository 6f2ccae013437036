"""Peak resident memory of one GAN training and one classifier trial, each in a fresh process.

    python benchmarks/peak_memory.py          # writes benchmarks/results/peak_memory.json
    python benchmarks/peak_memory.py ddpm     # measures one family; its rows replace its old ones

Each point trains a few steps in-process on random images (1 thread) and reads the process's
peak RSS (`resource.getrusage`). `raygan/orchestrate/memory.py` fits its per-family formula
to these figures: what each Ray Train worker and classifier trial reserves through Ray's
`memory` resource.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from common import RESULTS, save

FAMILIES = ("dcgan", "pggan", "cyclegan", "infogan", "fastgan", "ddpm")
POINTS = [(res, width, batch) for res in (32, 64) for width, batch in ((8, 16), (16, 16), (16, 64))]
NUM_BENIGN = 1224  # benign training images, the context of cyclegan / the SR stage
NUM_TRAIN = 2637  # every training image, which a classifier trial holds

CHILD = """
import json, resource, sys
import numpy as np, torch
torch.set_num_threads(1)
kind, name, res, width, batch = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
rng = np.random.default_rng(0)
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if kind == "gan":
    from raygan.config import GANConfig
    from raygan.gans import build_gan, fit_gan
    base = rss()
    cfg = GANConfig(width=width, batch_size=batch, steps=3, checkpoint_every=3, log_every=1)
    gan = build_gan(name, cfg, res, 0)
    gan.set_context(rng.integers(0, 256, (NUM_BENIGN, 3, res, res), dtype=np.uint8))
    fit_gan(gan, rng.integers(0, 256, (200, 3, res, res), dtype=np.uint8), 0)
    gan.generate(64, 0)
else:
    from raygan.classifiers import fit_classifier
    from raygan.config import ClassifierConfig
    base = rss()
    x = rng.integers(0, 256, (NUM_TRAIN, 3, res, res), dtype=np.uint8)
    y = (rng.random(len(x)) < 0.5).astype(np.int64)
    fit_classifier(ClassifierConfig(epochs=1, batch_size=batch), x, y, x[:200], y[:200], 0)
print(json.dumps({"base": base, "peak": rss()}))
""".replace("NUM_BENIGN", str(NUM_BENIGN)).replace("NUM_TRAIN", str(NUM_TRAIN))


def measure(kind: str, name: str, res: int, width: int, batch: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, name, str(res), str(width),
                          str(batch)], capture_output=True, text=True, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return {"kind": kind, "name": name, "resolution": res, "width": width, "batch": batch,
            "import_mib": round(row["base"] / 2**20), "peak_mib": round(row["peak"] / 2**20)}


def label(row: dict) -> str:
    if row["kind"] == "classifier":
        return f"{row['name']} {row['resolution']} px, batch {row['batch']}"
    return f"{row['name']} {row['resolution']} px, width {row['width']}, batch {row['batch']}"


def main(families: list[str]) -> None:
    path = RESULTS / "peak_memory.json"
    if families:  # these families alone: every other row stays as it was measured
        result = json.loads(path.read_text())
        today = dt.date.today().isoformat()
        rows = [r for r in result["rows"] if r["name"] not in families]
        rows += [{**measure("gan", fam, *p), "date": today} for fam in families for p in POINTS]
    else:
        rows = [measure("classifier", "cnn", res, 0, 64) for res in (32, 64)]
        rows += [measure("gan", fam, *p) for fam in FAMILIES for p in POINTS]
    for row in rows:
        print(row, flush=True)
    figures = {label(r): f"{r['peak_mib']} MiB peak ({r['import_mib']} MiB after imports)"
               for r in rows}
    if families:
        result["notes"] += f"; {', '.join(families)} measured on {today} (those rows say so)"
    else:
        result = json.loads(save("peak_memory", "python benchmarks/peak_memory.py", figures,
                                 "peak RSS of a fresh process: imports, one model, 3 steps on "
                                 "random images, 1 thread").read_text())
    path.write_text(json.dumps({**result, "figures": figures, "rows": rows}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
