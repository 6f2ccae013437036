"""Dataset load time: cold (decode every JPEG) and warm (from the array cache).

    RAYGAN_DATA=/path/to/skin-cancer-mvb python benchmarks/data_load.py [--resolutions 32,64]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

from raygan.data import load_dataset  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--resolutions", default="32,64,224")
    args = p.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["RAYGAN_CACHE"] = cache  # an empty cache: the first load is cold
        for res in (int(r) for r in args.resolutions.split(",")):
            t0 = time.perf_counter()
            ds = load_dataset(None, res)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_dataset(None, res)
            warm = time.perf_counter() - t0
            n = len(ds.train) + len(ds.test)
            figures[f"{res}px"] = {"cold_s": round(cold, 2), "warm_s": round(warm, 3),
                                   "images": n}
            print(f"{res:4d} px: cold {cold:.2f} s, warm {warm:.3f} s ({n} images)", flush=True)
    save("data_load", "python benchmarks/data_load.py " + " ".join(sys.argv[1:]), figures)


if __name__ == "__main__":
    main()
